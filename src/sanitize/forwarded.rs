//! Who the client is: the peer address, or what a trusted proxy in front of palisade says.
//!
//! `X-Forwarded-For` is read from the right. Each hop a trusted proxy appended is skipped; the
//! first address that is not a trusted proxy is the client. Anything a client wrote further left
//! is ignored, so a client cannot choose its own address (and so its rate-limit key).
//!
//! Trust comes in two strengths. A proxy the operator runs (a range or address in the config,
//! or the `loopback` preset) is believed on every forwarding header. A shared edge network (the
//! `cloudflare` preset) is believed only on what it overwrites itself, the address chain and
//! the scheme: anyone can put their own zone in front of an origin, and such networks pass
//! headers like `X-Real-IP` or `X-Forwarded-Host` from their clients unchanged.

use std::net::IpAddr;

use http::HeaderValue;
use ipnet::IpNet;

/// Cloudflare's published edge ranges, for `trusted_proxies = ["cloudflare"]`.
const CLOUDFLARE: &[&str] = &[
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
];

/// Loopback, for a proxy on the same machine: `trusted_proxies = ["loopback"]`.
const LOOPBACK: &[&str] = &["127.0.0.0/8", "::1/128"];

/// The most `X-Forwarded-For` entries read; a longer chain is cut at its trusted end.
const MAX_HOPS: usize = 32;

/// How far a peer's forwarding headers are believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A client: nothing it says about forwarding is believed.
    None,
    /// A shared edge network: only `X-Forwarded-For` and `X-Forwarded-Proto`.
    Address,
    /// A proxy the operator runs: every forwarding header.
    Full,
}

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    /// Proxies the operator runs.
    full: Vec<IpNet>,
    /// Shared edge networks, believed on the address chain and scheme only.
    address_only: Vec<IpNet>,
}

impl TrustedProxies {
    /// Adds a CIDR range, a single address or a preset name (`cloudflare`, `loopback`).
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        let preset = match entry {
            "cloudflare" => Some((CLOUDFLARE, Trust::Address)),
            "loopback" => Some((LOOPBACK, Trust::Full)),
            _ => None,
        };
        if let Some((ranges, trust)) = preset {
            for range in ranges {
                let network = range
                    .parse()
                    .map_err(|_| format!("bad preset range {range}"))?;
                match trust {
                    Trust::Address => self.address_only.push(network),
                    _ => self.full.push(network),
                }
            }
            return Ok(());
        }
        let network = match entry.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match entry.parse::<IpAddr>() {
                Ok(ip) => IpNet::from(canonical(ip)),
                Err(_) => {
                    return Err(format!(
                        "`{entry}` is not a CIDR range (\"10.0.0.0/8\"), an address, \
                         or a preset (\"cloudflare\", \"loopback\")"
                    ));
                }
            },
        };
        self.full.push(network);
        Ok(())
    }

    /// How far `ip`'s forwarding headers are believed.
    pub fn trust(&self, ip: IpAddr) -> Trust {
        let ip = canonical(ip);
        if self.full.iter().any(|net| net.contains(&ip)) {
            Trust::Full
        } else if self.address_only.iter().any(|net| net.contains(&ip)) {
            Trust::Address
        } else {
            Trust::None
        }
    }

    /// Whether `ip` belongs to a trusted proxy of either strength.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.trust(ip) != Trust::None
    }

    /// Whether a range is so broad (shorter than /8, or /16 for IPv6) that it must take in
    /// clients, who could then choose their own address.
    pub fn trusts_everyone(&self) -> bool {
        self.full
            .iter()
            .chain(&self.address_only)
            .any(|net| match net {
                IpNet::V4(v4) => v4.prefix_len() < 8,
                IpNet::V6(v6) => v6.prefix_len() < 16,
            })
    }

    /// The client's address, given the connection's peer and its `X-Forwarded-For` headers.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a HeaderValue>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        // Walk right to left: each trusted hop vouches for the entry to its left.
        let mut client = peer;
        let entries = forwarded_for
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("").rsplit(','))
            .take(MAX_HOPS);
        for entry in entries {
            let Some(ip) = parse_hop(entry) else {
                // A hop we cannot read: nothing to its left can be believed either.
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// Reads one `X-Forwarded-For` entry: an address, possibly bracketed or with a port.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inner, _) = rest.split_once(']')?;
        return inner.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Maps IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) to plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        let mut proxies = TrustedProxies::default();
        for entry in entries {
            proxies.add(entry).unwrap();
        }
        proxies
    }

    fn client(proxies: &TrustedProxies, peer: &str, xff: &[&str]) -> String {
        let values: Vec<HeaderValue> = xff
            .iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .collect();
        proxies
            .client_address(peer.parse().unwrap(), values.iter())
            .to_string()
    }

    #[test]
    fn untrusted_peer_cannot_choose_its_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&p, "203.0.113.9", &["1.1.1.1"]), "203.0.113.9");
    }

    #[test]
    fn rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client forged 6.6.6.6; the trusted proxy appended the real 198.51.100.7.
        assert_eq!(
            client(&p, "10.0.0.2", &["6.6.6.6, 198.51.100.7"]),
            "198.51.100.7"
        );
        assert_eq!(
            client(&p, "10.0.0.2", &["6.6.6.6", "198.51.100.7, 10.0.0.5"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn unreadable_hop_stops_the_walk() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&p, "10.0.0.2", &["6.6.6.6, garbage"]), "10.0.0.2");
        assert_eq!(client(&p, "10.0.0.2", &[]), "10.0.0.2");
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let p = proxies(&["127.0.0.1"]);
        assert_eq!(
            client(&p, "::ffff:127.0.0.1", &["198.51.100.7"]),
            "198.51.100.7"
        );
        assert!(p.contains("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn presets_and_bad_entries() {
        let p = proxies(&["cloudflare", "loopback", "10.1.0.0/16"]);
        assert_eq!(p.trust("104.16.1.1".parse().unwrap()), Trust::Address);
        assert_eq!(p.trust("127.0.0.1".parse().unwrap()), Trust::Full);
        assert_eq!(p.trust("10.1.2.3".parse().unwrap()), Trust::Full);
        assert_eq!(p.trust("8.8.8.8".parse().unwrap()), Trust::None);
        assert!(TrustedProxies::default().add("everyone").is_err());
        assert!(proxies(&["0.0.0.0/0"]).trusts_everyone());
        assert!(proxies(&["0.0.0.0/1", "128.0.0.0/1"]).trusts_everyone());
        assert!(!proxies(&["10.0.0.0/8", "cloudflare"]).trusts_everyone());
    }

    #[test]
    fn hops_with_ports_and_brackets() {
        assert_eq!(
            parse_hop(" 1.2.3.4:5678 "),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            parse_hop("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_hop("unknown"), None);
    }
}
