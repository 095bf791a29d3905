//! The hosts a node keeps connected, and when to try each again: plain state, no clock (the
//! node actor asks for a delay and schedules the attempt).

use std::time::{Duration, Instant};

use crate::lifecycle::Backoff;
use crate::outbox::ConnId;
use crate::transport::Endpoint;

/// How long a connection that initialized no replica must stay up to count as healthy. Only
/// the loss of a healthy connection (one that initialized a replica, or lived this long)
/// starts the backoff from the beginning again: a fault that ends every connection soon
/// after its handshake (an init no replica can decode, a host that drops each node) keeps
/// backing off instead of reconnecting as fast as handshakes go.
pub(crate) const HEALTHY_AFTER: Duration = Duration::from_secs(1);

/// Identifies a host the node reconnects to.
pub(crate) type HostId = usize;

/// A host the node keeps connected.
struct KnownHost {
    endpoint: Endpoint,
    conn: Option<ConnId>,
    /// When the current connection opened.
    connected_at: Option<Instant>,
    /// It was connected once: the next connection is a reconnect.
    ever_connected: bool,
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
    backoff: Backoff,
}

impl KnownHosts {
    /// Hosts retried as `backoff` says.
    pub(crate) fn new(backoff: Backoff) -> KnownHosts {
        KnownHosts {
            hosts: Vec::new(),
            backoff,
        }
    }

    pub(crate) fn add(&mut self, endpoint: Endpoint, via_locator: bool) -> HostId {
        self.hosts.push(KnownHost {
            endpoint,
            conn: None,
            connected_at: None,
            ever_connected: false,
            backoff: self.backoff.clone(),
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

    /// Whether `h` was found through the locator (not named by the user).
    pub(crate) fn via_locator(&self, h: HostId) -> bool {
        self.hosts[h].via_locator
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

    /// The attempt on `h` ended (connected or not).
    pub(crate) fn attempt_ended(&mut self, h: HostId) {
        self.hosts[h].connecting = false;
    }

    /// `h` is connected as `conn`, since `now`; true if it had been connected before (this
    /// is a reconnect).
    pub(crate) fn connected(&mut self, h: HostId, conn: ConnId, now: Instant) -> bool {
        let host = &mut self.hosts[h];
        host.conn = Some(conn);
        host.connected_at = Some(now);
        std::mem::replace(&mut host.ever_connected, true)
    }

    /// The connection to `h` was lost at `now`; `initialized`: a replica was initialized
    /// through it. A healthy one (initialized, or up for [`HEALTHY_AFTER`]) retries quickly
    /// again; any other goes on backing off.
    pub(crate) fn lost(&mut self, h: HostId, now: Instant, initialized: bool) {
        let host = &mut self.hosts[h];
        host.conn = None;
        let lived = host
            .connected_at
            .take()
            .map(|at| now.saturating_duration_since(at));
        if initialized || lived.is_some_and(|lived| lived >= HEALTHY_AFTER) {
            host.backoff.reset();
        } else if lived.is_some() {
            // It answers and drops: retrying eagerly would only make a storm of handshakes.
            host.backoff.end_eager();
        }
    }

    /// A stream to `h` opened but its session did not come up (the host, or something in
    /// between, ends it during the greeting): no eager retries, they would only repeat it.
    pub(crate) fn session_failed(&mut self, h: HostId) {
        self.hosts[h].backoff.end_eager();
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
        let mut hosts = KnownHosts::new(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(80),
        ));
        let h = hosts.add(endpoint(1), false);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(1)));
        assert_eq!(hosts.start_attempt(h), None, "already connecting");
        hosts.attempt_ended(h);
        let now = Instant::now();
        hosts.connected(h, 7, now);
        assert_eq!(hosts.start_attempt(h), None, "connected");
        hosts.lost(h, now, false);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(1)));
    }

    #[test]
    fn delays_double_and_reset_only_after_a_healthy_connection() {
        let mut hosts = KnownHosts::new(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(80),
        ));
        let h = hosts.add(endpoint(1), false);
        let ms = |n| Duration::from_millis(n);
        let mut delays: Vec<_> = (0..3)
            .map(|_| hosts.retry_delay(h, 0.0, |_| false).unwrap())
            .collect();
        // Connected, then lost a moment before it counts as healthy: no fresh start.
        let start = Instant::now();
        hosts.connected(h, 1, start);
        hosts.lost(h, start + HEALTHY_AFTER - ms(1), false);
        delays.extend((0..2).map(|_| hosts.retry_delay(h, 0.0, |_| false).unwrap()));
        assert_eq!(delays, [ms(10), ms(20), ms(40), ms(80), ms(80)]);
        // Up for exactly the healthy time: the next loss retries quickly.
        hosts.connected(h, 2, start);
        hosts.lost(h, start + HEALTHY_AFTER, false);
        assert_eq!(hosts.retry_delay(h, 0.0, |_| false), Some(ms(10)));
        hosts.retry_delay(h, 0.0, |_| false);
        // Lost at once, but it initialized a replica: healthy too.
        hosts.connected(h, 3, start);
        hosts.lost(h, start, true);
        assert_eq!(hosts.retry_delay(h, 0.0, |_| false), Some(ms(10)));
    }

    #[test]
    fn a_session_that_fails_after_its_stream_opened_ends_the_eager_phase() {
        let ms = |n| Duration::from_millis(n);
        let eager = Backoff::new(ms(1), ms(500)).eager(ms(50), Duration::from_secs(5));
        let mut hosts = KnownHosts::new(eager);
        let h = hosts.add(endpoint(3), false);
        let delays: Vec<_> = (0..8)
            .map(|_| hosts.retry_delay(h, 0.0, |_| false).unwrap())
            .collect();
        assert_eq!(delays[7], ms(50), "nothing listens: eager retries");
        hosts.session_failed(h);
        let delays: Vec<_> = (0..3)
            .map(|_| hosts.retry_delay(h, 0.0, |_| false).unwrap())
            .collect();
        assert_eq!(delays, [ms(256), ms(500), ms(500)], "backing off again");
    }

    #[test]
    fn a_host_found_through_the_locator_retires_when_no_longer_listed() {
        let mut hosts = KnownHosts::new(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(80),
        ));
        let h = hosts.add(endpoint(2), true);
        assert!(hosts.retry_delay(h, 0.0, |_| true).is_some());
        assert_eq!(hosts.retry_delay(h, 0.0, |_| false), None);
        assert_eq!(hosts.start_attempt(h), None, "retired");
        hosts.revive(h);
        assert_eq!(hosts.start_attempt(h), Some(endpoint(2)));
    }
}
