//! Exponential backoff with jitter for reconnecting.

use std::time::Duration;

/// Delays between reconnect attempts: the first is short so a host that restarts at once is
/// back within milliseconds, each next one doubles up to a maximum (so a dead host is not
/// hammered, unlike Qt's fixed 250 ms), and each is jittered down by up to half so many
/// nodes do not retry in lockstep.
///
/// With an eager phase ([`Backoff::eager`]), the delays stop growing at `every` until they
/// add up to `during`: a host restarted within seconds (the usual outage) is found within
/// `every` of being back, and only a longer outage backs off to the maximum.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    eager: Option<Eager>,
    /// The delays handed out since the last reset: how long the outage has lasted, without
    /// a clock (the attempts themselves are not counted).
    waited: Duration,
}

/// The eager phase of a [`Backoff`].
#[derive(Debug, Clone, Copy)]
struct Eager {
    every: Duration,
    during: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
            eager: None,
            waited: Duration::ZERO,
        }
    }

    /// Delays grow no longer than `every` (at least the initial delay, at most the maximum)
    /// until they add up to `during`.
    pub(crate) fn eager(mut self, every: Duration, during: Duration) -> Backoff {
        let every = every.clamp(self.initial, self.max);
        self.eager = Some(Eager { every, during });
        self
    }

    /// The delay before the next attempt; `jitter` in `[0, 1)` picks where in
    /// `[delay / 2, delay]` it falls.
    pub(crate) fn next_delay(&mut self, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        let mut base = self.initial.saturating_mul(factor).min(self.max);
        if let Some(eager) = self.eager.filter(|e| self.waited < e.during) {
            base = base.min(eager.every);
        }
        self.attempt = self.attempt.saturating_add(1);
        let delay = base.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0);
        self.waited = self.waited.saturating_add(delay);
        delay
    }

    /// Ends the eager phase of this outage: the host answers but its connections do not
    /// last, and trying again fast would only repeat that.
    pub(crate) fn end_eager(&mut self) {
        self.waited = Duration::MAX;
    }

    /// A connection succeeded: start again from the initial delay next time.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
        self.waited = Duration::ZERO;
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
    fn an_eager_phase_holds_the_delays_at_its_pace_then_backs_off_to_the_maximum() {
        let mut b = Backoff::new(MS, 500 * MS).eager(50 * MS, 300 * MS);
        let delays: Vec<_> = (0..14).map(|_| b.next_delay(0.0)).collect();
        // 1 + 2 + ... + 32 = 63 ms, then 50 ms each until 300 ms were waited, then the maximum.
        assert_eq!(
            delays,
            [
                MS,
                2 * MS,
                4 * MS,
                8 * MS,
                16 * MS,
                32 * MS,
                50 * MS,
                50 * MS,
                50 * MS,
                50 * MS,
                50 * MS,
                500 * MS,
                500 * MS,
                500 * MS
            ]
        );
        b.reset();
        let again: Vec<_> = (0..8).map(|_| b.next_delay(0.0)).collect();
        assert_eq!(
            &again[6..],
            [50 * MS, 50 * MS],
            "a reset starts the phase over"
        );
        b.end_eager();
        assert_eq!(
            b.next_delay(0.0),
            256 * MS,
            "ended, it doubles as without one"
        );
    }

    #[test]
    fn an_eager_pace_stays_within_the_initial_delay_and_the_maximum() {
        let mut slow = Backoff::new(100 * MS, 500 * MS).eager(50 * MS, 1000 * MS);
        assert_eq!(slow.next_delay(0.0), 100 * MS);
        assert_eq!(
            slow.next_delay(0.0),
            100 * MS,
            "never faster than the initial delay"
        );
        let mut capped = Backoff::new(MS, 20 * MS).eager(50 * MS, 1000 * MS);
        let delays: Vec<_> = (0..7).map(|_| capped.next_delay(0.0)).collect();
        assert_eq!(
            delays[5..],
            [20 * MS, 20 * MS],
            "never slower than the maximum"
        );
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
