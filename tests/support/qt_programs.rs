#![allow(dead_code)]
//! The Qt programs the Qt interop tests run: whether Qt is here, and the C++ programs of
//! `tests/qt/`, built once per test binary with CMake.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Why Qt cannot be used here, if it cannot.
pub fn qt_missing() -> Option<String> {
    let python = Command::new("/usr/bin/python3")
        .args(["-c", "import PyQt6.QtRemoteObjects"])
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        return Some("PyQt6's QtRemoteObjects is not installed".into());
    }
    let cmake = Command::new("cmake").arg("--version").output();
    if !cmake.is_ok_and(|o| o.status.success()) {
        return Some("cmake is not installed".into());
    }
    if !Path::new("/usr/lib/qt6/libexec/repc").exists() {
        return Some("Qt's repc is not installed (qt6-remoteobjects-dev)".into());
    }
    None
}

/// Whether to run: false (after saying why) when Qt is missing, outside CI.
pub fn with_qt() -> bool {
    match qt_missing() {
        None => true,
        Some(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true, but {reason}: .ci/run installs Qt 6")
        }
        Some(reason) => {
            eprintln!("skipped: {reason}");
            false
        }
    }
}

/// The C++ replica programs, built once per test run.
pub fn cpp_programs() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qt");
        let build = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qt-programs");
        let run = |cmd: &mut Command| {
            let out = cmd.output().expect("cmake runs");
            assert!(
                out.status.success(),
                "{cmd:?} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("cmake")
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build)
            .arg("-DCMAKE_BUILD_TYPE=Release"));
        run(Command::new("cmake").arg("--build").arg(&build).arg("-j2"));
        build
    })
}

/// Runs a Qt program to its end; its output, which must be a success.
pub fn run_to_end(cmd: &mut Command) -> String {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("the Qt program runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} ended with {}:\n{stdout}",
        out.status
    );
    stdout
}

/// Runs the PyQt6 script `tests/qt/<script>` with `url` as its argument, to its end, off
/// the test's thread (the host it talks to runs there); its output.
pub async fn run_python_script(script: &str, url: String) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/qt")
        .join(script);
    actix_rt::task::spawn_blocking(move || {
        run_to_end(Command::new("/usr/bin/python3").arg(script).arg(url))
    })
    .await
    .expect("the script's thread ends")
}
