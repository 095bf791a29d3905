//! The signatures this crate computes against the ones Qt's own `repc` writes into its
//! generated headers, for every `.rep` file under `tests/`. Needs Qt's repc
//! (`qt6-remoteobjects-dev`): without it the test says so and passes, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repc() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REPC") {
        return Some(PathBuf::from(path));
    }
    let known = Path::new("/usr/lib/qt6/libexec/repc");
    if known.exists() {
        return Some(known.to_owned());
    }
    let query = Command::new("qmake6")
        .args(["-query", "QT_HOST_LIBEXECS"])
        .output()
        .ok()?;
    let dir = String::from_utf8(query.stdout).ok()?;
    let path = Path::new(dir.trim()).join("repc");
    path.exists().then_some(path)
}

/// `(class, signature)` in the order repc's replica header declares them.
fn repc_signatures(repc: &Path, rep: &Path) -> Vec<(String, String)> {
    let out = std::env::temp_dir().join(format!(
        "aro-repc-{}-{}.h",
        std::process::id(),
        rep.file_stem().unwrap().to_string_lossy()
    ));
    let status = Command::new(repc)
        .args(["-o", "replica"])
        .arg(rep)
        .arg(&out)
        .status()
        .expect("repc runs");
    assert!(status.success(), "repc accepts {}", rep.display());
    let header = std::fs::read_to_string(&out).expect("repc wrote a header");
    let _ = std::fs::remove_file(&out);
    let mut found = Vec::new();
    let mut class = None;
    for line in header.lines() {
        if let Some(rest) = line.split("QCLASSINFO_REMOTEOBJECT_TYPE, \"").nth(1) {
            class = rest.split('"').next().map(str::to_owned);
        }
        if let Some(rest) = line.split("QCLASSINFO_REMOTEOBJECT_SIGNATURE, \"").nth(1) {
            let signature = rest.split('"').next().unwrap().to_owned();
            found.push((class.take().expect("the type comes first"), signature));
        }
    }
    found
}

#[test]
fn signatures_match_repc_for_every_rep_file() {
    let Some(repc) = repc() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but Qt's repc is missing (apt-get install qt6-remoteobjects-dev)"
        );
        eprintln!("skipped: Qt's repc not found (install qt6-remoteobjects-dev, or set REPC)");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rep") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = actix_remote_objects_rep::parse(&text)
            .unwrap_or_else(|e| panic!("{}:{e}", path.display()));
        let ours = actix_remote_objects_rep::signatures(&file);
        let theirs = repc_signatures(&repc, &path);
        assert_eq!(theirs.len(), file.classes.len(), "{}", path.display());
        for (class, signature) in theirs {
            assert_eq!(ours[&class], signature, "{}: class {class}", path.display());
            compared += 1;
        }
    }
    assert!(compared >= 5, "compared {compared} classes");
}
