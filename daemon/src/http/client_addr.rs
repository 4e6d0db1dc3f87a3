//! The client address every address rule uses (spec README §2).

use std::fmt;
use std::net::IpAddr;

use http::HeaderMap;

use crate::config::IpList;

/// Who sent a request, as far as the address rules are concerned.
///
/// `Unknown` is a client a trusted proxy could not name: it sent an `X-Forwarded-For` hop that
/// is no address (`unknown`, `unix:`, `1.2.3.4:abc`). Such a client is in no allow list (admin
/// methods, `/metrics`) and is throttled in a bucket of its own: taking the proxy's own address
/// instead would hand it the proxy's privileges (spec README §2, security issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    /// A known address, IPv4-mapped IPv6 reported as IPv4.
    Ip(IpAddr),
    /// A forwarded hop that did not parse as an address.
    Unknown,
}

impl ClientAddr {
    /// The address, when known.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            ClientAddr::Ip(ip) => Some(ip),
            ClientAddr::Unknown => None,
        }
    }

    /// Whether the client lies in `list`; an unknown client lies in none.
    pub fn is_in(self, list: &IpList) -> bool {
        self.ip().is_some_and(|ip| list.contains(ip))
    }
}

impl fmt::Display for ClientAddr {
    /// The address, or `unknown`: never a value the client wrote.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Ip(ip) => ip.fmt(f),
            ClientAddr::Unknown => f.write_str("unknown"),
        }
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        ClientAddr::Ip(canonical(ip))
    }
}

/// The TCP peer, unless it is a trusted proxy: then `X-Forwarded-For` is read right to left,
/// skipping trusted proxies, and the first other address is the client. Reading from the
/// right matters: everything left of the last trusted hop was written by the client and can
/// be forged. IPv4-mapped IPv6 addresses are reported as IPv4. A hop that is no address, or a
/// header that is not text, makes the client [`ClientAddr::Unknown`].
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &IpList) -> ClientAddr {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return ClientAddr::Ip(peer);
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return ClientAddr::Unknown;
        };
        for hop in text.rsplit(',') {
            let Some(addr) = parse_hop(hop.trim()) else {
                return ClientAddr::Unknown;
            };
            client = addr;
            if !trusted.contains(addr) {
                return ClientAddr::Ip(addr);
            }
        }
    }
    ClientAddr::Ip(client)
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as IPv4, so one rule covers both spellings.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // Some proxies append the port: "1.2.3.4:5678" or "[::1]:5678".
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn list(entries: &[&str]) -> IpList {
        IpList(entries.iter().map(|e| e.parse().unwrap()).collect())
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let ip = client_address(
            "203.0.113.9".parse().unwrap(),
            &headers(&["1.1.1.1"]),
            &list(&["10.0.0.0/8"]),
        );
        assert_eq!(ip, ClientAddr::Ip("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_is_read_right_to_left_skipping_trusted_proxies() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "10.0.0.1".parse().unwrap(),
            &headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]),
            &trusted,
        );
        assert_eq!(ip, ClientAddr::Ip("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn ipv4_mapped_peer_is_compared_as_ipv4() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "::ffff:10.0.0.1".parse().unwrap(),
            &headers(&["::ffff:198.51.100.7"]),
            &trusted,
        );
        assert_eq!(ip, ClientAddr::Ip("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn all_hops_trusted_gives_the_leftmost() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "10.0.0.1".parse().unwrap(),
            &headers(&["10.0.0.3, 10.0.0.2"]),
            &trusted,
        );
        assert_eq!(ip, ClientAddr::Ip("10.0.0.3".parse().unwrap()));
    }

    #[test]
    fn an_unparsable_hop_from_a_trusted_proxy_makes_the_client_unknown() {
        let trusted = list(&["10.0.0.0/8"]);
        for xff in [
            "6.6.6.6, unknown",
            "unknown",
            "unix:",
            "1.2.3.4:abc",
            "6.6.6.6, 10.0.0.2, garbage",
        ] {
            let client = client_address("10.0.0.1".parse().unwrap(), &headers(&[xff]), &trusted);
            assert_eq!(client, ClientAddr::Unknown, "{xff}");
            assert!(!client.is_in(&trusted), "{xff}");
            assert!(!client.is_in(&IpList::loopback()), "{xff}");
        }
    }

    #[test]
    fn a_hop_with_a_port_is_still_an_address() {
        let trusted = list(&["10.0.0.0/8"]);
        let client = client_address(
            "10.0.0.1".parse().unwrap(),
            &headers(&["198.51.100.7:4711"]),
            &trusted,
        );
        assert_eq!(client, ClientAddr::Ip("198.51.100.7".parse().unwrap()));
    }
}
