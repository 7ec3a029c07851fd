//! The key a client address is counted under, by every limit that counts addresses
//! (sign-in throttling, the pending authorization request cap): one function, so that
//! one address is one key everywhere.

use std::net::{IpAddr, Ipv6Addr};

/// IPv4 as is (an IPv4-mapped IPv6 address too), IPv6 by its /64, the smallest block
/// one subscriber is usually given.
pub fn address_key(addr: IpAddr) -> String {
    match address_block(addr) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// The block [`address_key`] names, as an address (IPv6 with its last 64 bits zero):
/// what in-memory limits hash, with no string made per request.
pub fn address_block(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_peers_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8::1".parse().unwrap()), "2001:db8::/64");
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
