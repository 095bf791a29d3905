//! The benchmark API of `../shared/bench/qtro/bench.rep`, and helpers the bench programs
//! share with the Qt ones (`common.h`).

use actix_remote_objects::{remote_object, SharedBytes};

remote_object! {
    /// The Qt Remote Objects anchor benchmark's API, member for member (names, types,
    /// READPUSH properties), so its Qt face has bench.rep's signature and Qt's programs and
    /// these can be paired (`BENCH_DIALECT=qt`).
    pub Bench {
        /// Set by `bump` and `startCounter`.
        prop counter: i32 = 0, push;
        /// A large value for init timing (QByteArray in Qt).
        prop blob: SharedBytes, push;
        /// Emitted by `startTicks`.
        signal tick(n: i32);
        /// Returns its argument.
        slot echo(v: i32) -> i32;
        /// Adds one to `counter`.
        slot bump();
        /// Sets `counter` to base+1 … base+m, `chunk` per turn of the event loop.
        slot startCounter(m: i32, chunk: i32);
        /// Emits `tick(1..=m)`, `chunk` per turn of the event loop.
        slot startTicks(m: i32, chunk: i32);
    }
}

/// Whether to speak Qt's dialect (`BENCH_DIALECT=qt`): the host listens for Qt nodes, the
/// client connects to a Qt host, so each can be paired with Qt's benchmark programs.
pub fn qt_dialect() -> bool {
    std::env::var("BENCH_DIALECT").is_ok_and(|d| d == "qt")
}

/// CLOCK_MONOTONIC in nanoseconds: comparable across processes on this machine.
pub fn now_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// VmRSS of a process in KiB (pid 0 = this one), -1 if unreadable.
pub fn rss_kib(pid: u32) -> i64 {
    let path = if pid == 0 {
        "/proc/self/status".to_owned()
    } else {
        format!("/proc/{pid}/status")
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(-1)
}

/// `--key value` arguments, as `common.h`'s `Args`.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    pub fn str(&self, key: &str, default: &str) -> String {
        self.0
            .iter()
            .position(|a| a == key)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    pub fn num(&self, key: &str, default: i64) -> i64 {
        self.0
            .iter()
            .position(|a| a == key)
            .and_then(|i| self.0.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|a| a == key)
    }
}

pub fn transport_of(url: &str) -> &'static str {
    if url.starts_with("tcp:") {
        "tcp"
    } else {
        "local"
    }
}
