//! The hosts a node keeps connected, and when to try each again: plain state, no clock (the
//! node actor asks for a delay and schedules the attempt).

use std::time::Duration;

use crate::lifecycle::Backoff;
use crate::outbox::ConnId;
use crate::transport::Endpoint;

/// Identifies a host the node reconnects to.
pub(crate) type HostId = usize;

/// A host the node keeps connected.
struct KnownHost {
    endpoint: Endpoint,
    conn: Option<ConnId>,
    backoff: Backoff,
    connecting: bool,
    /// Found through the locator (not named by the user): given up on once the locator no
    /// longer lists it.
    via_locator: bool,
    retired: bool,
}

/// Every host the node reconnects to.
pub(crate) struct KnownHosts {
    hosts: Vec<KnownHost>,
    initial: Duration,
    max: Duration,
}

impl KnownHosts {
    /// Hosts retried after `initial`, doubling up to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> KnownHosts {
        KnownHosts {
            hosts: Vec::new(),
            initial,
            max,
        }
    }

    pub(crate) fn add(&mut self, endpoint: Endpoint, via_locator: bool) -> HostId {
        self.hosts.push(KnownHost {
            endpoint,
            conn: None,
            backoff: Backoff::new(self.initial, self.max),
            connecting: false,
            via_locator,
            retired: false,
        });
        self.hosts.len() - 1
    }

    pub(crate) fn find(&self, endpoint: &Endpoint) -> Option<HostId> {
        self.hosts.iter().position(|h| h.endpoint == *endpoint)
    }

    pub(crate) fn endpoint(&self, h: HostId) -> &Endpoint {
        &self.hosts[h].endpoint
    }

    /// Starts an attempt to connect to `h`, unless it is connected, being connected, or
    /// retired: the endpoint to connect to.
    pub(crate) fn start_attempt(&mut self, h: HostId) -> Option<Endpoint> {
        let host = &mut self.hosts[h];
        if host.conn.is_some() || host.connecting || host.retired {
            return None;
        }
        host.connecting = true;
        Some(host.endpoint.clone())
    }

    /// The attempt on `h` ended, connected as `conn` or not.
    pub(crate) fn attempt_ended(&mut self, h: HostId, conn: Option<ConnId>) {
        let host = &mut self.hosts[h];
        host.connecting = false;
        if let Some(conn) = conn {
            self.connected(h, conn);
        }
    }

    /// `h` is connected as `conn`: the next loss retries quickly again.
    pub(crate) fn connected(&mut self, h: HostId, conn: ConnId) {
        let host = &mut self.hosts[h];
        host.conn = Some(conn);
        host.backoff.reset();
    }

    /// The connection `conn` to `h` was lost.
    pub(crate) fn lost(&mut self, h: HostId) {
        self.hosts[h].conn = None;
    }

    /// How long to wait before trying `h` again (`jitter` in `[0, 1)`), or `None` when it is
    /// not to be retried: found through the locator, which no longer lists it (`listed`).
    pub(crate) fn retry_delay(
        &mut self,
        h: HostId,
        jitter: f64,
        listed: impl Fn(&Endpoint) -> bool,
    ) -> Option<Duration> {
        let host = &mut self.hosts[h];
        if host.via_locator && !listed(&host.endpoint) {
            host.retired = true;
            return None;
        }
        Some(host.backoff.next_delay(jitter))
    }

    /// The locator lists a retired host again: it may be connected once more.
    pub(crate) fn revive(&mut self, h: HostId) {
        let host = &mut self.hosts[h];
        if host.retired {
            host.retired = false;
            host.backoff.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16) -> Endpoint {
        Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap()
    }

    #[test]
    fn one_attempt_at_a_time_and_none_while_connected() {
        let mut hosts = KnownHosts::new(Duration::from_millis(10), Duration::from_millis(80));
        let h = hosts.add(endpoint(1), false);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(1)));
        assert_eq!(hosts.start_attempt(h), None, "already connecting");
        hosts.attempt_ended(h, Some(7));
        assert_eq!(hosts.start_attempt(h), None, "connected");
        hosts.lost(h);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(1)));
    }

    #[test]
    fn delays_double_and_reset_on_success() {
        let mut hosts = KnownHosts::new(Duration::from_millis(10), Duration::from_millis(80));
        let h = hosts.add(endpoint(1), false);
        let delays: Vec<_> = (0..5)
            .map(|_| hosts.retry_delay(h, 0.0, |_| false).unwrap())
            .collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(delays, [ms(10), ms(20), ms(40), ms(80), ms(80)]);
        hosts.connected(h, 1);
        assert_eq!(hosts.retry_delay(h, 0.0, |_| false), Some(ms(10)));
    }

    #[test]
    fn a_host_found_through_the_locator_retires_when_no_longer_listed() {
        let mut hosts = KnownHosts::new(Duration::from_millis(10), Duration::from_millis(80));
        let h = hosts.add(endpoint(2), true);
        assert!(hosts.retry_delay(h, 0.0, |_| true).is_some());
        assert_eq!(hosts.retry_delay(h, 0.0, |_| false), None);
        assert_eq!(hosts.start_attempt(h), None, "retired");
        hosts.revive(h);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(2)));
    }
}
