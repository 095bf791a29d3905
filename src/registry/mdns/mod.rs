//! Zero-config discovery on a LAN with mDNS/DNS-SD (RFC 6762/6763), through the `mdns-sd`
//! crate: a host configured with `registry_url("mdns:")` announces each source it serves
//! as a service instance of type `_aro._tcp.local.`, and a node given the same URL browses
//! for them and connects to whichever host serves what it acquires — no URL at all.
//!
//! One instance per source (not one per host with every source in its TXT record), so a
//! host with a thousand sources still sends packets that fit, and a change is one record:
//! its TXT record says the source's name (`n`), API (`a`) and signature (`s`), and either
//! the scheme (`t`) the SRV port and A records complete, or the whole URL (`u`) for a host
//! that advertises one.
//!
//! Here is what needs no socket: the `mdns:` URL, the records of a source, and the sans-io
//! [`Discovered`] table, which turns resolved and removed instances into where each name is
//! served now (the first instance seen of a name wins; another takes over when it goes).

mod announce;
mod browse;

pub(crate) use announce::Announcer;
pub(crate) use browse::Browser;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::api::SourceLocation;
use crate::error::{Error, Kind};

/// The URL scheme that selects mDNS discovery.
pub(crate) const SCHEME: &str = "mdns:";

/// The service type when the URL names none.
const DEFAULT_SERVICE: &str = "aro";

/// How many instances a node keeps track of: a hostile LAN peer announcing millions of
/// them costs it no more than this.
pub(crate) const MAX_INSTANCES: usize = 100_000;

/// What an `mdns:` URL configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MdnsSettings {
    /// `_<name>._tcp.local.`: hosts and nodes of one fleet share it.
    pub(crate) service_type: String,
    /// The UDP port (5353, mDNS's own, unless the URL says otherwise: tests and development).
    pub(crate) port: u16,
    /// Only these interfaces (`lo` for loopback); empty: every interface.
    pub(crate) interfaces: Vec<String>,
}

impl MdnsSettings {
    /// Whether `url` selects mDNS.
    pub(crate) fn is_mdns(url: &str) -> bool {
        url.starts_with(SCHEME)
    }

    /// Parses `mdns:[name][?port=N&interface=IF…]`: `name` (1 to 14 letters, digits or
    /// `-`) makes the service type `_name._tcp.local.`.
    pub(crate) fn parse(url: &str) -> Result<MdnsSettings, Error> {
        let rest = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| Error::invalid_url(url, "expected mdns:"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
        let name = if name.is_empty() {
            DEFAULT_SERVICE
        } else {
            name
        };
        // DNS-SD service names: at most 15 bytes with the underscore (RFC 6763 §7.2).
        let valid_name = name.len() <= 14
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && name.bytes().any(|b| b.is_ascii_alphabetic());
        if !valid_name {
            return Err(Error::invalid_url(
                url,
                "the service name is 1 to 14 letters, digits or '-', with a letter",
            ));
        }
        let mut settings = MdnsSettings {
            service_type: format!("_{name}._tcp.local."),
            port: 5353,
            interfaces: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("port", port)) => {
                    settings.port = port
                        .parse()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| Error::invalid_url(url, "port is 1 to 65535"))?;
                }
                Some(("interface", name)) if !name.is_empty() => {
                    settings.interfaces.push(name.to_owned())
                }
                _ => return Err(Error::invalid_url(url, "expected port=N or interface=NAME")),
            }
        }
        Ok(settings)
    }
}

/// What a host announces for one source: an instance name unique to the host and source,
/// and the TXT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub(crate) instance: String,
    pub(crate) properties: Vec<(String, String)>,
    /// Where the SRV record points: the port, and the address nodes connect to (`None`:
    /// every address of the machine; or the URL in `u` says it all).
    pub(crate) port: u16,
    pub(crate) address: Option<IpAddr>,
}

/// The longest source name a TXT entry holds (`n=` and the name in 255 bytes).
const MAX_NAME: usize = 250;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A short name for the host at `url`: its mDNS host name's label.
pub(crate) fn host_label(url: &str) -> String {
    format!("aro-{:012x}", fnv1a(url.as_bytes()) & 0xffff_ffff_ffff)
}

/// The records announcing `name` at `location`. A URL with an IP address and a port is
/// split into SRV and A records (an unspecified address: every address the machine has);
/// any other URL (a DNS name, a Unix socket, a scheme of the user's) goes whole in `u`.
pub(crate) fn announcement(name: &str, location: &SourceLocation) -> Result<Announcement, Error> {
    if name.len() > MAX_NAME {
        return Err(Error::new(Kind::Registry(format!(
            "a source name of {} bytes cannot be announced with mDNS (at most {MAX_NAME})",
            name.len()
        ))));
    }
    let url = &location.host_url;
    // An instance label is at most 63 bytes: the name's start, and a hash keeping it unique.
    let mut short = name.len().min(36);
    while !name.is_char_boundary(short) {
        short -= 1;
    }
    let instance = format!(
        "{}-{:08x}-{}",
        &name[..short],
        fnv1a(name.as_bytes()) as u32,
        host_label(url)
    );
    let mut properties = vec![
        ("n".to_owned(), name.to_owned()),
        ("a".to_owned(), location.api.clone()),
        ("s".to_owned(), format!("{:016x}", location.signature)),
    ];
    let (port, address) = match split_ip_url(url) {
        Some((scheme, ip, port)) => {
            properties.push(("t".to_owned(), scheme.to_owned()));
            (port, (!ip.is_unspecified()).then_some(ip))
        }
        None => {
            properties.push(("u".to_owned(), url.clone()));
            (9, None) // SRV needs a port: the discard port, unused as `u` says where
        }
    };
    Ok(Announcement {
        instance,
        properties,
        port,
        address,
    })
}

/// `tcp://1.2.3.4:5` or `tls://[::1]:5` as its parts.
fn split_ip_url(url: &str) -> Option<(&str, IpAddr, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "tcp" && scheme != "tls" {
        return None;
    }
    let address: std::net::SocketAddr = rest.parse().ok()?;
    Some((scheme, address.ip(), address.port()))
}

/// A source as a resolved instance describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) name: String,
    pub(crate) location: SourceLocation,
}

/// Reads a resolved instance's records: `property` looks a TXT key up, `addresses` are the
/// instance's A/AAAA records, `port` its SRV port. `None` if it is not one of ours.
pub(crate) fn resolve<'a>(
    property: impl Fn(&str) -> Option<&'a str>,
    addresses: &[IpAddr],
    port: u16,
) -> Option<Resolved> {
    let name = property("n").filter(|n| !n.is_empty())?.to_owned();
    let api = property("a")?.to_owned();
    let signature = u64::from_str_radix(property("s")?, 16).ok()?;
    let host_url = match property("u") {
        Some(url) => url.to_owned(),
        None => {
            let scheme = property("t").filter(|t| *t == "tcp" || *t == "tls")?;
            let ip = preferred_address(addresses)?;
            format!("{scheme}://{}", std::net::SocketAddr::new(ip, port))
        }
    };
    Some(Resolved {
        name,
        location: SourceLocation {
            api,
            signature,
            host_url,
        },
    })
}

/// The address to connect to, the same whatever order the records came in: IPv4 before
/// IPv6, a routable one before loopback and link-local, then the lowest.
fn preferred_address(addresses: &[IpAddr]) -> Option<IpAddr> {
    let rank = |ip: &IpAddr| {
        let local = match ip {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        (ip.is_ipv6(), local, *ip)
    };
    addresses.iter().min_by_key(|ip| rank(ip)).copied()
}

/// Every instance resolved on the LAN and where each name is served now. No sockets: fed
/// what the browser saw, it says what changed.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    /// Resolved instances by full name.
    instances: HashMap<String, Resolved>,
    /// The instances serving each name, in the order they were first seen: the first is
    /// where the name is served.
    by_name: BTreeMap<String, Vec<String>>,
}

impl Discovered {
    /// Where `name` is served now, if anywhere.
    pub(crate) fn current(&self, name: &str) -> Option<&SourceLocation> {
        let first = self.by_name.get(name)?.first()?;
        Some(&self.instances.get(first)?.location)
    }

    /// Instance `fullname` resolved as `resolved`: each name whose current location this
    /// changed (at most two: the one it served before, then the one it serves), with where
    /// it is served now. `None` when the table is full.
    pub(crate) fn resolved(
        &mut self,
        fullname: &str,
        resolved: Resolved,
    ) -> Option<Vec<(String, Option<SourceLocation>)>> {
        let old_name = match self.instances.get(fullname) {
            Some(old) if *old == resolved => return Some(Vec::new()),
            Some(old) => Some(old.name.clone()),
            None if self.instances.len() >= MAX_INSTANCES => return None,
            None => None,
        };
        let mut affected: Vec<String> = old_name.iter().cloned().collect();
        if old_name.as_ref() != Some(&resolved.name) {
            affected.push(resolved.name.clone());
        }
        let before: Vec<Option<SourceLocation>> =
            affected.iter().map(|n| self.current(n).cloned()).collect();
        if old_name.as_ref() != Some(&resolved.name) {
            if let Some(old_name) = &old_name {
                self.unlist(old_name, fullname);
            }
            let list = self.by_name.entry(resolved.name.clone()).or_default();
            list.push(fullname.to_owned());
        }
        self.instances.insert(fullname.to_owned(), resolved);
        Some(self.changes(affected, before))
    }

    /// Instance `fullname` is gone (its goodbye, or its records expired): the name whose
    /// current location this changed, if any, with where it is served now.
    pub(crate) fn removed(&mut self, fullname: &str) -> Option<(String, Option<SourceLocation>)> {
        let name = self.instances.get(fullname)?.name.clone();
        let before = self.current(&name).cloned();
        self.unlist(&name, fullname);
        self.instances.remove(fullname);
        self.changes(vec![name], vec![before]).pop()
    }

    /// Takes `fullname` out of `name`'s list (and the list out, once empty).
    fn unlist(&mut self, name: &str, fullname: &str) {
        if let Some(list) = self.by_name.get_mut(name) {
            list.retain(|f| f != fullname);
            if list.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    /// Which of `names` are served elsewhere than `before`, with where.
    fn changes(
        &self,
        names: Vec<String>,
        before: Vec<Option<SourceLocation>>,
    ) -> Vec<(String, Option<SourceLocation>)> {
        names
            .into_iter()
            .zip(before)
            .filter_map(|(name, before)| {
                let now = self.current(&name).cloned();
                (now != before).then_some((name, now))
            })
            .collect()
    }

    /// The full names of the instances served at `host_url`.
    pub(crate) fn instances_at(&self, host_url: &str) -> Vec<String> {
        self.instances
            .iter()
            .filter(|(_, r)| r.location.host_url == host_url)
            .map(|(fullname, _)| fullname.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> SourceLocation {
        SourceLocation {
            api: "Printer".into(),
            signature: 0xabc,
            host_url: url.into(),
        }
    }

    fn resolved(name: &str, url: &str) -> Resolved {
        Resolved {
            name: name.into(),
            location: at(url),
        }
    }

    #[test]
    fn an_mdns_url_names_the_service_its_port_and_interfaces() {
        let plain = MdnsSettings::parse("mdns:").unwrap();
        assert_eq!(plain.service_type, "_aro._tcp.local.");
        assert_eq!((plain.port, plain.interfaces.len()), (5353, 0));
        let all = MdnsSettings::parse("mdns:lab-2?port=5454&interface=lo&interface=veth0").unwrap();
        assert_eq!(all.service_type, "_lab-2._tcp.local.");
        assert_eq!(all.port, 5454);
        assert_eq!(all.interfaces, ["lo", "veth0"]);
        assert_eq!(
            MdnsSettings::parse("mdns://fleet").unwrap().service_type,
            "_fleet._tcp.local."
        );
        for bad in [
            "mdns:a.b",
            "mdns:fifteen-letters",
            "mdns:123",
            "mdns:?port=0",
            "mdns:?port=x",
            "mdns:?colour=red",
            "tcp://x:1",
        ] {
            assert!(
                MdnsSettings::parse(bad).unwrap_err().is_invalid_url(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_source_at_an_ip_url_is_announced_as_srv_and_address_and_reads_back() {
        let a = announcement("Printer", &at("tcp://10.0.0.7:5000")).unwrap();
        assert_eq!(
            (a.port, a.address),
            (5000, Some("10.0.0.7".parse().unwrap()))
        );
        assert!(a.instance.len() <= 63, "{}", a.instance);
        let get = |key: &str| {
            a.properties
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let back = resolve(get, &["10.0.0.7".parse().unwrap()], 5000).unwrap();
        assert_eq!(back, resolved("Printer", "tcp://10.0.0.7:5000"));
        // Every address of the machine, for a host on 0.0.0.0; the node picks one.
        let any = announcement("Printer", &at("tcp://0.0.0.0:5000")).unwrap();
        assert_eq!(any.address, None);
        let addresses: Vec<IpAddr> = ["fe80::1", "127.0.0.1", "192.168.1.9", "::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let picked = resolve(get, &addresses, 5000).unwrap();
        assert_eq!(picked.location.host_url, "tcp://192.168.1.9:5000");
    }

    #[test]
    fn other_urls_are_announced_whole_and_long_names_keep_instances_short_and_unique() {
        let a = announcement("Printer", &at("tcp://printer.example:5000")).unwrap();
        assert!(a
            .properties
            .contains(&("u".into(), "tcp://printer.example:5000".into())));
        let get = |key: &str| {
            a.properties
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            resolve(get, &[], 9).unwrap().location.host_url,
            "tcp://printer.example:5000"
        );
        let long_a = "é".repeat(60) + "a";
        let long_b = "é".repeat(60) + "b";
        let (x, y) = (
            announcement(&long_a, &at("tcp://10.0.0.7:1")).unwrap(),
            announcement(&long_b, &at("tcp://10.0.0.7:1")).unwrap(),
        );
        assert!(x.instance.len() <= 63 && x.instance != y.instance);
        assert!(announcement(&"n".repeat(251), &at("tcp://10.0.0.7:1")).is_err());
        // Records that are not ours, or lie, are not sources.
        assert_eq!(resolve(|_| None, &[], 1), None);
        let bad_signature = |key: &str| match key {
            "s" => Some("not hex"),
            _ => Some("tcp"),
        };
        assert_eq!(resolve(bad_signature, &[], 1), None);
    }

    #[test]
    fn the_first_instance_of_a_name_serves_it_until_it_goes() {
        let mut lan = Discovered::default();
        let first = Some(at("tcp://10.0.0.1:1"));
        let second = Some(at("tcp://10.0.0.2:1"));
        assert_eq!(
            lan.resolved("a", resolved("Printer", "tcp://10.0.0.1:1")),
            Some(vec![("Printer".into(), first.clone())])
        );
        // A second host of the same name waits its turn; seeing the first again is nothing.
        assert_eq!(
            lan.resolved("b", resolved("Printer", "tcp://10.0.0.2:1")),
            Some(vec![])
        );
        assert_eq!(
            lan.resolved("a", resolved("Printer", "tcp://10.0.0.1:1")),
            Some(vec![])
        );
        assert_eq!(lan.instances_at("tcp://10.0.0.2:1"), ["b"]);
        assert_eq!(lan.removed("a"), Some(("Printer".into(), second)));
        assert_eq!(lan.removed("a"), None);
        assert_eq!(lan.removed("b"), Some(("Printer".into(), None)));
        assert_eq!(lan.current("Printer"), None);
    }

    #[test]
    fn an_instance_that_changes_its_records_moves_its_name() {
        let mut lan = Discovered::default();
        lan.resolved("a", resolved("Printer", "tcp://10.0.0.1:1"));
        // New address for the same instance.
        assert_eq!(
            lan.resolved("a", resolved("Printer", "tcp://10.0.0.3:1")),
            Some(vec![("Printer".into(), Some(at("tcp://10.0.0.3:1")))])
        );
        // The instance now serves another name: the old one is no longer served.
        assert_eq!(
            lan.resolved("a", resolved("Scanner", "tcp://10.0.0.3:1")),
            Some(vec![
                ("Printer".into(), None),
                ("Scanner".into(), Some(at("tcp://10.0.0.3:1")))
            ])
        );
        assert_eq!(lan.current("Printer"), None);
    }
}
