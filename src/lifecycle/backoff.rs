//! Exponential backoff with jitter for reconnecting.

use std::time::Duration;

/// Delays between reconnect attempts: the first is short so a host that restarts at once is
/// back within tens of milliseconds, each next one doubles up to a maximum (so a dead host
/// is not hammered, unlike Qt's fixed 250 ms), and each is jittered down by up to half so
/// many nodes do not retry in lockstep.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; `jitter` in `[0, 1)` picks where in
    /// `[delay / 2, delay]` it falls.
    pub(crate) fn next_delay(&mut self, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        base.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// A connection succeeded: start again from the initial delay next time.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut b = Backoff::new(10 * MS, 100 * MS);
        let delays: Vec<_> = (0..6).map(|_| b.next_delay(0.0)).collect();
        assert_eq!(
            delays,
            [10 * MS, 20 * MS, 40 * MS, 80 * MS, 100 * MS, 100 * MS]
        );
    }

    #[test]
    fn jitter_shortens_by_at_most_half() {
        let mut b = Backoff::new(10 * MS, 100 * MS);
        assert_eq!(b.next_delay(0.999_999).as_micros(), 5_000);
        assert_eq!(b.next_delay(0.5), 15 * MS);
    }

    #[test]
    fn reset_starts_over_and_many_attempts_do_not_overflow() {
        let mut b = Backoff::new(MS, Duration::from_secs(2));
        for _ in 0..1000 {
            assert!(b.next_delay(0.0) <= Duration::from_secs(2));
        }
        b.reset();
        assert_eq!(b.next_delay(0.0), MS);
    }
}
