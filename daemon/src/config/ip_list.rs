//! Lists of networks (`trustedProxies`, `blockIPAddresses`, the admin and `/metrics` lists).
//!
//! Every address rule in licd goes through [`IpList::contains`], so the one place that decides
//! how an IPv4 client reaching a dual-stack socket (`::ffff:a.b.c.d`) is matched is here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A list of networks, written in TOML as an array of strings: CIDRs (`"10.0.0.0/8"`,
/// `"::1/128"`) or bare addresses (`"192.0.2.7"`), which mean that one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList(pub Vec<IpNet>);

impl IpList {
    /// Whether `ip` lies in any network of the list.
    ///
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are compared as IPv4, both the address
    /// and the entries: a dual-stack listener reports IPv4 peers in that form, and an admin
    /// who writes `10.0.0.0/8` means those peers too.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| canonical_net(*net).contains(&ip))
    }

    /// `["127.0.0.0/8", "::1/128"]`: the default of the lists guarding local-only features
    /// (`/metrics`, admin methods).
    pub fn loopback() -> IpList {
        IpList(vec![
            IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
            IpNet::V6(ipnet::Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)),
        ])
    }

    /// Whether the list has no entries (an empty `trustedProxies` means "trust no proxy").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses one entry as written in the configuration file.
    ///
    /// The error text names the entry, so a typo in a long list is easy to find.
    pub fn parse_entry(entry: &str) -> Result<IpNet, String> {
        let trimmed = entry.trim();
        if let Ok(net) = trimmed.parse::<IpNet>() {
            return Ok(net);
        }
        match trimmed.parse::<IpAddr>() {
            Ok(addr) => Ok(IpNet::from(addr)),
            Err(_) => Err(format!(
                "`{entry}` is not an IP address or CIDR network \
                 (write e.g. \"10.0.0.0/8\", \"192.0.2.7\" or \"::1/128\")"
            )),
        }
    }
}

/// An IPv6 network inside `::ffff:0:0/96` rewritten as the IPv4 network it covers.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => match ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                Ok(v4net) => IpNet::V4(v4net),
                Err(_) => net,
            },
            None => net,
        },
        _ => net,
    }
}

impl<'de> serde::Deserialize<'de> for IpList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(IpListVisitor)
    }
}

/// Reads an array of strings, refusing the first bad entry by name.
struct IpListVisitor;

impl<'de> Visitor<'de> for IpListVisitor {
    type Value = IpList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of IP addresses or CIDR networks, e.g. [\"10.0.0.0/8\", \"::1\"]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IpList, A::Error> {
        let mut nets = Vec::new();
        while let Some(entry) = seq.next_element::<String>()? {
            nets.push(IpList::parse_entry(&entry).map_err(de::Error::custom)?);
        }
        Ok(IpList(nets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> IpList {
        IpList(
            entries
                .iter()
                .map(|e| IpList::parse_entry(e).unwrap())
                .collect(),
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_mapped_address_matches_ipv4_cidr() {
        let l = list(&["10.0.0.0/8"]);
        assert!(l.contains(ip("::ffff:10.1.2.3")));
        assert!(!l.contains(ip("::ffff:11.1.2.3")));
    }

    #[test]
    fn ipv4_mapped_entry_matches_ipv4_address() {
        let l = list(&["::ffff:192.168.0.0/112"]);
        assert!(l.contains(ip("192.168.4.5")));
        assert!(l.contains(ip("::ffff:192.168.4.5")));
        assert!(!l.contains(ip("192.169.0.1")));
    }

    #[test]
    fn bare_address_means_that_one_host() {
        let l = list(&["192.0.2.7", "::1"]);
        assert!(l.contains(ip("192.0.2.7")));
        assert!(!l.contains(ip("192.0.2.8")));
        assert!(l.contains(ip("::1")));
        assert!(!l.contains(ip("::2")));
    }

    #[test]
    fn ipv6_cidr_matches_ipv6_only() {
        let l = list(&["2001:db8::/32"]);
        assert!(l.contains(ip("2001:db8::42")));
        assert!(!l.contains(ip("10.0.0.1")));
    }

    #[test]
    fn empty_list_contains_nothing() {
        let l = IpList::default();
        assert!(l.is_empty());
        assert!(!l.contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_entry_is_named_in_the_error() {
        let err = IpList::parse_entry("10.0.0.300/8").unwrap_err();
        assert!(err.contains("`10.0.0.300/8`"), "{err}");
        let err = IpList::parse_entry("").unwrap_err();
        assert!(err.contains("``"), "{err}");
    }

    #[test]
    fn deserialises_from_toml_array_and_names_bad_entry() {
        #[derive(serde::Deserialize)]
        struct T {
            l: IpList,
        }
        let t: T = toml::from_str(r#"l = ["127.0.0.0/8", "::1"]"#).unwrap();
        assert_eq!(t.l.0.len(), 2);
        let err = toml::from_str::<T>(r#"l = ["127.0.0.0/8", "nonsense"]"#)
            .err()
            .unwrap();
        assert!(err.message().contains("`nonsense`"), "{err}");
    }
}
