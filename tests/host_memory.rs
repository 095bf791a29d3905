//! What the attacks of `host_limits.rs` cost a host in memory, measured one after another in
//! a binary of its own (so the process's memory is this test's alone). The figures are
//! printed (`--nocapture`) for docs/PERFORMANCE.md; the assertions are generous bounds that
//! the old code broke by orders of magnitude.

mod support;

use std::time::Duration;

use actix_remote_objects::prelude::*;
use support::attack::*;
use support::raw::RawClient;
use support::*;

#[actix::test]
async fn attacks_cost_little_memory() {
    let _guard = init();
    idle_and_slowloris_connections().await;
    huge_announced_frames().await;
    a_peer_that_never_reads().await;
}

async fn idle_and_slowloris_connections() {
    let fds = raise_fd_limit() as usize;
    // 2 000 idle and 1 000 slowloris sockets (both ends are in this process), if the
    // open-file limit allows that many.
    let (idle, slow) = if fds >= 6500 {
        (2000, 1000)
    } else {
        (fds / 3, fds / 6)
    };
    // No timeout during the measurement: what they hold, not how long they may.
    let f = Fixture::new(
        HostConfig::default()
            .handshake_timeout(Duration::from_secs(3600))
            .max_connections(10_000),
    )
    .await;
    let rss_before = memory_kib("VmRSS:");
    let streams = idle_and_slowloris(&f, idle, slow).await;
    f.wait_for_connections(1 + idle + slow).await;
    f.check_still_serving().await;
    let held = memory_kib("VmRSS:").saturating_sub(rss_before);
    eprintln!(
        "FIGURE idle+slowloris: {idle} idle + {slow} slowloris connections: RSS +{held} KiB \
         (both ends of every socket in this process)"
    );
    assert!(held < 256 * 1024, "{held} KiB for idle connections");
    drop(streams);
    f.host.shutdown().await;
}

async fn huge_announced_frames() {
    let f = Fixture::new(HostConfig::default()).await;
    let (virt_before, rss_before) = (memory_kib("VmSize:"), memory_kib("VmRSS:"));
    let mut attackers = Vec::new();
    for _ in 0..1000 {
        let mut raw = RawClient::handshaken(&f.url).await;
        // A frame that announces 64 MiB (the maximum) and brings a kilobyte.
        let mut bytes = (64u32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 1024]);
        raw.send_raw(&bytes).await;
        attackers.push(raw);
    }
    f.check_still_serving().await;
    let virt = memory_kib("VmSize:").saturating_sub(virt_before);
    let rss = memory_kib("VmRSS:").saturating_sub(rss_before);
    eprintln!(
        "FIGURE huge frames: 1000 connections announcing 64 MiB frames: +{virt} KiB virtual, \
         +{rss} KiB RSS (the old codec reserved 1000 x 64 MiB = 64 GiB)"
    );
    assert!(
        virt < 4 * 1024 * 1024,
        "{virt} KiB of address space reserved"
    );
    assert_eq!(
        f.host.connection_count(),
        1001,
        "partial frames are no error"
    );
    f.host.shutdown().await;
}

async fn a_peer_that_never_reads() {
    let f = Fixture::new(HostConfig::default().max_queued_bytes(1 << 20)).await;
    let _stalled = non_reader(&f.url).await;
    let rss_before = memory_kib("VmRSS:");
    let mut counts = f.host.connection_counts();
    assert_eq!(next(&mut counts).await, 2);
    f.emit_blobs(400).await;
    while next(&mut counts).await != 1 {}
    let rss = memory_kib("VmRSS:").saturating_sub(rss_before);
    eprintln!(
        "FIGURE non-reader: disconnected at its 1 MiB queue limit; RSS +{rss} KiB after 25 MiB \
         of signals"
    );
    assert!(rss < 64 * 1024, "{rss} KiB");
    f.host.shutdown().await;
}
