//! The client's address for sign-in throttling: the TCP peer, or, when the peer is a
//! trusted proxy, the address that proxy says it forwarded for.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// An IP address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(u128::from(u32::from(net)), u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_match(u128::from(net), u128::from(ip), self.prefix, 128),
            _ => false,
        }
    }
}

fn prefix_match(net: u128, ip: u128, prefix: u8, bits: u8) -> bool {
    let host_bits = u32::from(bits - prefix);
    net.checked_shr(host_bits).unwrap_or(0) == ip.checked_shr(host_bits).unwrap_or(0)
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an IP address or a CIDR block (e.g. 10.0.0.0/8)");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr.trim()).map_err(|_| bad())?.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(bad)?,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The client's address. A peer that is not a trusted proxy is the client, whatever
/// it sends. From a trusted proxy, `X-Forwarded-For` is read right to left (each proxy
/// appends the address it received from) and the first address that is not itself a
/// trusted proxy is the client; entries left of it are the client's to invent. An
/// entry that does not parse ends the walk at the last trusted hop.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>();
    let mut client = peer;
    for value in hops.iter().rev() {
        let Ok(value) = value.to_str() else { return client };
        for entry in value.rsplit(',') {
            let Ok(ip) = IpAddr::from_str(entry.trim()) else { return client };
            client = ip;
            if !is_trusted(ip) {
                return ip;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.1.2.3")));
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(!n.contains(ip("::1")));
        let n: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n.contains(ip("2001:db8:ffff::1")));
        assert!(!n.contains(ip("2001:db9::1")));
        let single: IpNet = "192.0.2.1".parse().unwrap();
        assert_eq!(single.to_string(), "192.0.2.1/32");
        assert!(single.contains(ip("192.0.2.1")) && !single.contains(ip("192.0.2.2")));
        assert!("0.0.0.0/0".parse::<IpNet>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0", "example.com", "10.0.0.0/", "/8"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&["198.51.100.9"]);
        assert_eq!(resolve(ip("203.0.113.5"), &h, &trusted), ip("203.0.113.5"), "untrusted peer: header ignored");
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.9"));
        assert_eq!(resolve(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"), "no trusted proxies configured");
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        // The client put a fake address first; the proxies appended the real hops.
        let h = headers(&["1.1.1.1, 198.51.100.9, 10.0.0.7"]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.9"));
        // The same list split over several header lines.
        let h = headers(&["1.1.1.1", "198.51.100.9, 2001:db8::5"]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.9"));
        // Garbage ends the walk at the last trusted hop.
        let h = headers(&["198.51.100.9, not-an-ip, 10.0.0.7"]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.7"));
        // Only proxies, or no header: the nearest proxy is what is known.
        assert_eq!(resolve(ip("10.0.0.1"), &headers(&["10.0.0.9"]), &trusted), ip("10.0.0.9"));
        assert_eq!(resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
    }
}
