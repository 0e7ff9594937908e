//! How much of a visitor's IP address natter keeps.
//!
//! An IP address is personal data in much of the world. Operators choose, per deployment:
//! keep it ([`IpMode::Full`]), keep only the network part ([`IpMode::Truncated`], the same
//! reduction analytics tools use to be "anonymised": enough for a rough location or to spot
//! a company network, not enough to single out a household), or keep nothing
//! ([`IpMode::None`]). Location lookup happens on the full address before this is applied,
//! so truncation costs no GeoIP precision.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// What to store of a visitor's IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpMode {
    Full,
    /// Private by default: the network part only (see [`truncate_ip`]).
    #[default]
    Truncated,
    None,
}

impl IpMode {
    /// The address as it should be stored, or `None` when nothing may be kept.
    pub fn apply(self, ip: IpAddr) -> Option<String> {
        match self {
            IpMode::Full => Some(ip.to_canonical().to_string()),
            IpMode::Truncated => Some(truncate_ip(ip).to_string()),
            IpMode::None => None,
        }
    }
}

/// Zeroes the host part: IPv4 keeps its /24 (last octet zeroed), IPv6 keeps its /48 (the
/// usual size of one site's allocation). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as
/// dual-stack sockets report IPv4 peers) is treated as the IPv4 address it is; keeping its
/// /48 would keep nothing.
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let mask: u128 = !0 << (128 - 48);
            IpAddr::V6(Ipv6Addr::from(v6.to_bits() & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn truncating_an_ipv4_address_zeroes_the_last_octet() {
        assert_eq!(truncate_ip(ip("81.2.69.142")), ip("81.2.69.0"));
        assert_eq!(truncate_ip(ip("10.0.0.0")), ip("10.0.0.0"));
        assert_eq!(truncate_ip(ip("255.255.255.255")), ip("255.255.255.0"));
    }

    #[test]
    fn truncating_an_ipv6_address_keeps_the_first_48_bits() {
        assert_eq!(
            truncate_ip(ip("2001:db8:abcd:1234:5678:9abc:def0:1")),
            ip("2001:db8:abcd::")
        );
        assert_eq!(truncate_ip(ip("::1")), ip("::"));
    }

    #[test]
    fn an_ipv4_mapped_address_is_truncated_as_ipv4() {
        assert_eq!(truncate_ip(ip("::ffff:81.2.69.142")), ip("81.2.69.0"));
    }

    #[test]
    fn each_mode_stores_what_it_promises() {
        let addr = ip("2a02:d540:1:2:3:4:5:6");
        assert_eq!(
            IpMode::Full.apply(addr).as_deref(),
            Some("2a02:d540:1:2:3:4:5:6")
        );
        assert_eq!(
            IpMode::Truncated.apply(addr).as_deref(),
            Some("2a02:d540:1::")
        );
        assert_eq!(IpMode::None.apply(addr), None);
        assert_eq!(
            IpMode::Full.apply(ip("::ffff:1.2.3.4")).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            IpMode::Truncated.apply(ip("1.2.3.4")).as_deref(),
            Some("1.2.3.0")
        );
    }

    #[test]
    fn the_default_mode_is_truncated_and_modes_serialize_in_snake_case() {
        assert_eq!(IpMode::default(), IpMode::Truncated);
        assert_eq!(serde_json::to_string(&IpMode::None).unwrap(), r#""none""#);
        assert_eq!(
            serde_json::from_str::<IpMode>(r#""truncated""#).unwrap(),
            IpMode::Truncated
        );
        assert_eq!(
            serde_json::from_str::<IpMode>(r#""full""#).unwrap(),
            IpMode::Full
        );
    }
}
