//! A host out of file descriptors: its listener's failed accepts are reported as background
//! errors, and it accepts again once descriptors are free. Alone in its binary, as the
//! descriptor limit it lowers is the whole process's.

#![cfg(target_os = "linux")]

mod support;

use std::fs::File;

use actix_remote_objects::prelude::*;
use actix_remote_objects::BackgroundError;
use support::*;

/// Lowers the process's soft descriptor limit to `limit` until dropped.
struct DescriptorLimit {
    saved: libc::rlimit,
}

impl DescriptorLimit {
    fn lower_to(limit: libc::rlim_t) -> DescriptorLimit {
        let mut saved = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: both calls read or write one rlimit the pointer owns.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut saved), 0);
            let lowered = libc::rlimit {
                rlim_cur: limit.min(saved.rlim_cur),
                rlim_max: saved.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
        }
        DescriptorLimit { saved }
    }
}

impl Drop for DescriptorLimit {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.saved) };
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[actix::test]
async fn a_host_out_of_descriptors_reports_failed_accepts_and_recovers() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let url = host.url().unwrap().to_owned();
    let address = url.strip_prefix("tcp://").unwrap().to_owned();
    let mut errors = host.background_errors();

    // Every descriptor but one taken, then that one by a client: the host's accept of it
    // has none left.
    let limit = DescriptorLimit::lower_to(open_descriptors() as libc::rlim_t + 32);
    let mut fillers = Vec::new();
    while let Ok(file) = File::open("/dev/null") {
        fillers.push(file);
    }
    fillers.pop();
    let client = std::net::TcpStream::connect(&address).unwrap();
    match next(&mut errors).await {
        BackgroundError::AcceptFailed { url: on, error } => {
            assert_eq!(on, url);
            assert!(error.is_io(), "{error}");
        }
        other => panic!("expected a failed accept, got {other:?}"),
    }

    drop(fillers);
    drop(limit);
    drop(client);
    let node = Node::connect(&url).await.unwrap();
    node.acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    host.shutdown().await;
}
