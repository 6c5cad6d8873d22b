//! Which IP addresses are public: the rule that keeps webhook deliveries (and
//! anything else the server fetches on a user's say-so) from reaching the
//! server's own machine, its private network or a cloud metadata service.
//!
//! The rule follows the IANA special-purpose address registries: an address
//! is public when it is globally reachable unicast. For IPv6 only global
//! unicast (`2000::/3`) counts, minus its special blocks; addresses that carry
//! an IPv4 address inside them (IPv4-mapped, NAT64, 6to4) are judged by the
//! IPv4 address they lead to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public, globally reachable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// `a.b.c.d` is public unless it falls in one of these blocks.
pub fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !matches!(
        (a, b, c),
        // "This network", including the unspecified 0.0.0.0 (which Linux
        // connects to the local machine).
        (0, _, _)
            | (10, _, _)
            // Shared address space (carrier-grade NAT).
            | (100, 64..=127, _)
            | (127, _, _)
            // Link-local, including 169.254.169.254, the cloud metadata service.
            | (169, 254, _)
            | (172, 16..=31, _)
            // IETF protocol assignments; documentation (TEST-NET-1); the
            // retired 6to4 relay anycast block.
            | (192, 0, 0 | 2)
            | (192, 88, 99)
            | (192, 168, _)
            // Benchmarking.
            | (198, 18..=19, _)
            // Documentation (TEST-NET-2 and -3).
            | (198, 51, 100)
            | (203, 0, 113)
            // Multicast, reserved, and the broadcast address 255.255.255.255.
            | (224..=255, _, _)
    )
}

/// Global unicast (`2000::/3`) outside its special blocks, or an address that
/// leads to a public IPv4 address.
pub fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped, ::ffff:a.b.c.d: sockets connect to the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // The well-known NAT64 prefix 64:ff9b::/96 translates to the IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // Global unicast is 2000::/3; everything else (unspecified, loopback,
    // IPv4-compatible ::/96, local-use NAT64 64:ff9b:1::/48, discard 100::/64,
    // unique local fc00::/7, link-local fe80::/10, site-local fec0::/10,
    // multicast ff00::/8, unallocated space) is not public.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    match s[0] {
        // IETF protocol assignments 2001::/23 (Teredo, ORCHID, AMT…) and
        // documentation 2001:db8::/32.
        0x2001 => s[1] >= 0x0200 && s[1] != 0x0db8,
        // 6to4, 2002:aabb:ccdd::/48, leads to the IPv4 address aa.bb.cc.dd.
        0x2002 => is_public_v4(embedded_v4(s[1], s[2])),
        // Documentation 3fff::/20.
        0x3fff => s[1] >= 0x1000,
        _ => true,
    }
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The blocks that must be refused, written independently of the rule
    /// above as CIDR text (IANA special-purpose registries, RFC 6890 and
    /// successors), with a reason each.
    const BLOCKED: &[(&str, &str)] = &[
        ("0.0.0.0/8", "this network / unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local and cloud metadata"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "TEST-NET-1"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "TEST-NET-2"),
        ("203.0.113.0/24", "TEST-NET-3"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved and broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifiers"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
        // IPv4 blocks reached through IPv6 forms.
        ("::ffff:127.0.0.0/104", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.0/104", "IPv4-mapped private"),
        ("::ffff:169.254.0.0/112", "IPv4-mapped link-local"),
        ("::ffff:192.168.0.0/112", "IPv4-mapped private"),
        ("::ffff:0.0.0.0/104", "IPv4-mapped this network"),
        ("64:ff9b::7f00:0/104", "NAT64 of loopback"),
        ("64:ff9b::a00:0/104", "NAT64 of private"),
        ("64:ff9b::a9fe:0/112", "NAT64 of link-local"),
        ("2002:7f00::/24", "6to4 of loopback"),
        ("2002:a00::/24", "6to4 of private"),
        ("2002:c0a8::/32", "6to4 of private"),
        ("2002:a9fe::/32", "6to4 of link-local"),
        ("2002:ac10::/28", "6to4 of private"),
    ];

    fn cidr(text: &str) -> (IpAddr, u32) {
        let (ip, len) = text.split_once('/').expect("cidr");
        (ip.parse().expect("ip"), len.parse().expect("length"))
    }

    /// The address `bits` places into the host part of `text`'s block.
    fn inside(text: &str, bits: u128) -> IpAddr {
        match cidr(text) {
            (IpAddr::V4(net), len) => {
                let host = u32::MAX.checked_shr(len).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(net) | (bits as u32 & host)))
            }
            (IpAddr::V6(net), len) => {
                let host = u128::MAX.checked_shr(len).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(net) | (bits & host)))
            }
        }
    }

    #[test]
    fn well_known_addresses() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip} must be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip} is public");
        }
    }

    #[test]
    fn block_edges() {
        for (block, why) in BLOCKED {
            assert!(!is_public(inside(block, 0)), "first of {block} ({why})");
            assert!(
                !is_public(inside(block, u128::MAX)),
                "last of {block} ({why})"
            );
        }
    }

    proptest! {
        #[test]
        fn every_address_in_a_blocked_block_is_refused(
            index in 0..BLOCKED.len(),
            bits in any::<u128>(),
        ) {
            let (block, why) = BLOCKED[index];
            let ip = inside(block, bits);
            prop_assert!(!is_public(ip), "{} is in {} ({})", ip, block, why);
        }

        /// Any public IPv4 address stays public in its IPv6 forms, and any
        /// refused one stays refused.
        #[test]
        fn ipv6_forms_follow_their_ipv4_address(raw in any::<u32>()) {
            let v4 = Ipv4Addr::from(raw);
            let [a, b, c, d] = v4.octets();
            let public = is_public_v4(v4);
            prop_assert_eq!(is_public(IpAddr::V6(v4.to_ipv6_mapped())), public);
            let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0,
                u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            prop_assert_eq!(is_public(IpAddr::V6(nat64)), public);
            let six_to_four = Ipv6Addr::new(0x2002,
                u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]), 0, 0, 0, 0, 1);
            prop_assert_eq!(is_public(IpAddr::V6(six_to_four)), public);
            // IPv4-compatible addresses are deprecated: never public.
            prop_assert!(!is_public(IpAddr::V6(v4.to_ipv6_compatible())));
        }

        /// What the standard library already knows to be special is refused.
        #[test]
        fn agrees_with_the_standard_library_where_it_is_stable(raw in any::<u32>(), raw6 in any::<u128>()) {
            let v4 = Ipv4Addr::from(raw);
            if v4.is_private() || v4.is_loopback() || v4.is_link_local()
                || v4.is_broadcast() || v4.is_documentation() || v4.is_unspecified()
                || v4.is_multicast()
            {
                prop_assert!(!is_public_v4(v4));
            }
            let v6 = Ipv6Addr::from(raw6);
            if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
                || v6.is_unique_local() || v6.is_unicast_link_local()
            {
                prop_assert!(!is_public_v6(v6));
            }
        }
    }
}
