//! `local:` sockets are safe to use on a shared machine: a path that is not a socket is
//! never deleted, the socket file is owner-only unless configured otherwise, and names that
//! are not paths live in a directory of the user's own, not the shared temporary directory.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use actix_remote_objects::prelude::*;
use support::*;

#[actix::test]
async fn a_regular_file_at_the_socket_path_is_left_intact_with_a_clear_error() {
    let _guard = init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("precious.txt");
    std::fs::write(&path, b"do not delete").unwrap();
    let error = Host::listen(&format!("local:{}", path.display()))
        .await
        .unwrap_err();
    assert!(error.is_io(), "{error}");
    assert!(error.to_string().contains("is not a socket"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"do not delete");
}

#[actix::test]
async fn the_socket_file_is_owner_only_unless_configured() {
    let _guard = init();
    let dir = tempfile::tempdir().unwrap();
    for (config, mode) in [
        (HostConfig::default(), 0o600),
        (HostConfig::default().socket_mode(0o660), 0o660),
    ] {
        let path = dir.path().join(format!("host-{mode:o}.sock"));
        let url = format!("local:{}", path.display());
        let host = Host::listen_with(&url, config).await.unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode);
        // Still reachable by its owner.
        let node = Node::connect(&url).await.unwrap();
        node.shutdown().await;
        host.shutdown().await;
        assert!(!path.exists(), "the socket file is removed on shutdown");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "no staging files left: {leftovers:?}");
}

#[actix::test]
async fn a_bare_name_lives_in_the_users_own_directory() {
    let _guard = init();
    let name = format!("aro-test-{}", std::process::id());
    let host = Host::listen(&format!("local:{name}")).await.unwrap();
    let url = host.url().unwrap().to_owned();
    let path = std::path::PathBuf::from(url.strip_prefix("local:").unwrap());
    let dir = path.parent().unwrap();
    assert_ne!(
        dir,
        std::env::temp_dir(),
        "not the shared temporary directory"
    );
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) => assert_eq!(dir, std::path::Path::new(&runtime)),
        None => {
            let meta = std::fs::metadata(dir).unwrap();
            assert_eq!(meta.mode() & 0o777, 0o700, "an owner-only directory");
            assert_eq!(meta.uid(), std::fs::metadata("/proc/self").unwrap().uid());
        }
    }
    // A node finds it by the same bare name.
    let node = Node::connect(&format!("local:{name}")).await.unwrap();
    node.shutdown().await;
    host.shutdown().await;
}
