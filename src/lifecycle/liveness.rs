//! Heartbeat bookkeeping: is the peer still there?

use std::time::{Duration, Instant};

/// What to do at a heartbeat tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tick {
    /// The peer was heard from recently: ping it so it hears from us too.
    Ping,
    /// Nothing heard for too long: the connection is stalled.
    Dead,
}

/// Tracks when a peer was last heard from. Ticks come every half interval (see
/// [`Liveness::tick_period`]); a peer silent for more than one and a half intervals is dead
/// at the next tick, so a stall is detected within two intervals of the last packet.
#[derive(Debug, Clone)]
pub(crate) struct Liveness {
    interval: Duration,
    last_heard: Instant,
}

impl Liveness {
    pub(crate) fn new(interval: Duration, now: Instant) -> Liveness {
        Liveness {
            interval,
            last_heard: now,
        }
    }

    /// How often to call [`Liveness::tick`] for a heartbeat `interval`.
    pub(crate) fn tick_period(interval: Duration) -> Duration {
        interval / 2
    }

    /// Any packet from the peer counts.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    pub(crate) fn tick(&self, now: Instant) -> Tick {
        if now.saturating_duration_since(self.last_heard) > self.interval.mul_f64(1.5) {
            Tick::Dead
        } else {
            Tick::Ping
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_heard_recently_is_pinged() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut l = Liveness::new(interval, start);
        assert_eq!(l.tick(start + interval), Tick::Ping);
        l.heard(start + interval * 2);
        assert_eq!(l.tick(start + interval * 3), Tick::Ping);
    }

    #[test]
    fn silence_is_detected_within_two_intervals_of_the_last_packet() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let l = Liveness::new(interval, start);
        // Whatever the phase of the ticks relative to the last packet.
        for phase_ms in [0u64, 1, 25, 49] {
            let mut tick = start + Duration::from_millis(phase_ms);
            while l.tick(tick) == Tick::Ping {
                tick += Liveness::tick_period(interval);
            }
            assert!(
                tick - start <= interval * 2,
                "phase {phase_ms}: dead only after {:?}",
                tick - start
            );
            assert!(
                tick - start > interval,
                "phase {phase_ms}: declared dead too early"
            );
        }
    }
}
