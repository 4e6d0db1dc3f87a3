//! The client address every address rule uses (spec README §2).

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::IpList;

/// The TCP peer, unless it is a trusted proxy: then `X-Forwarded-For` is read right to left,
/// skipping trusted proxies, and the first other address is the client. Reading from the
/// right matters: everything left of the last trusted hop was written by the client and can
/// be forged. IPv4-mapped IPv6 addresses are reported as IPv4.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &IpList) -> IpAddr {
    let peer = canonical(peer);
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for hop in text.rsplit(',') {
            let Some(addr) = parse_hop(hop.trim()) else {
                // An unparsable hop ends the trusted chain: the last good address stands.
                return client;
            };
            client = addr;
            if !trusted.contains(addr) {
                return addr;
            }
        }
    }
    client
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
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_for_is_read_right_to_left_skipping_trusted_proxies() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "10.0.0.1".parse().unwrap(),
            &headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]),
            &trusted,
        );
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv4_mapped_peer_is_compared_as_ipv4() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "::ffff:10.0.0.1".parse().unwrap(),
            &headers(&["::ffff:198.51.100.7"]),
            &trusted,
        );
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn all_hops_trusted_gives_the_leftmost() {
        let trusted = list(&["10.0.0.0/8"]);
        let ip = client_address(
            "10.0.0.1".parse().unwrap(),
            &headers(&["10.0.0.3, 10.0.0.2"]),
            &trusted,
        );
        assert_eq!(ip, "10.0.0.3".parse::<IpAddr>().unwrap());
    }
}
