//! Server-side request forgery protection for `http.request`: a deny-list of address ranges (private,
//! loopback, link-local, metadata, CGNAT, unique-local IPv6 …) and internal host names. On by default;
//! the local development environment turns it off so jobs can reach servers on 127.0.0.1.
//!
//! Workers cannot resolve DNS before fetching, so a public name that resolves to a private address is
//! not caught here; Cloudflare's network does not route Worker subrequests to private ranges anyway.

use std::net::IpAddr;

pub const DEFAULT_DENY: &str = "0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,169.254.0.0/16,172.16.0.0/12,\
192.0.0.0/24,192.168.0.0/16,198.18.0.0/15,224.0.0.0/4,240.0.0.0/4,::1/128,::/128,fc00::/7,fe80::/10,fec0::/10,ff00::/8,\
2001::/32";

/// Host names that always mean this machine or its platform, whatever their suffix.
const INTERNAL_NAMES: &[&str] = &["localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata.google.internal"];

/// The IPv4 address an IPv6 address carries, in the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: &std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let bits = u128::from(*ip);
    let low32 = std::net::Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, _, _] if bits > 1 => Some(low32),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low32),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low32),
        [0x2002, hi, lo, ..] => Some(std::net::Ipv4Addr::from(((hi as u32) << 16) | lo as u32)),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(ip)) => embedded_v4(ip).is_some_and(|v4| self.contains(&IpAddr::V4(v4))),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList {
    ranges: Vec<Cidr>,
}

impl DenyList {
    /// Parses a comma-separated CIDR list; `None` if any entry is invalid (a typo must not silently
    /// open the deny-list).
    pub fn parse(list: &str) -> Option<DenyList> {
        let ranges = list.split(',').filter(|s| !s.trim().is_empty()).map(Cidr::parse).collect::<Option<Vec<_>>>()?;
        Some(DenyList { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `url`'s host may be fetched.
    pub fn allows(&self, url: &url::Url) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => !self.ranges.iter().any(|c| c.contains(&IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => !self.ranges.iter().any(|c| c.contains(&IpAddr::V6(ip))),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                // A single label (`vm`, `metadata`) is resolved through the local search domain.
                !(d == "localhost"
                    || !d.contains('.')
                    || d.ends_with(".localhost")
                    || d.ends_with(".internal")
                    || d.ends_with(".local")
                    || INTERNAL_NAMES.contains(&d.as_str()))
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny() -> DenyList {
        DenyList::parse(DEFAULT_DENY).unwrap()
    }
    fn allowed(u: &str) -> bool {
        deny().allows(&url::Url::parse(u).unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_denied() {
        for u in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://localhost:8080/",
            "http://api.localhost/",
            "http://db.internal/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://[::7f00:1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[fec0::1]/",
            "http://vm/",
            "http://metadata/computeMetadata/v1/",
            "http://localhost.localdomain/",
            "http://ip6-localhost/",
        ] {
            assert!(!allowed(u), "{u} must be denied");
        }
    }

    #[test]
    fn public_addresses_and_names_are_allowed() {
        for u in [
            "https://example.com/",
            "http://93.184.216.34/",
            "https://[2606:4700::1111]/",
            "http://172.32.0.1/",
            "http://[64:ff9b::5db8:d822]/",
            "http://[2002:5db8:d822::]/",
        ] {
            assert!(allowed(u), "{u} must be allowed");
        }
    }

    #[test]
    fn an_invalid_entry_invalidates_the_list_and_an_empty_list_allows_all() {
        assert!(DenyList::parse("10.0.0.0/8,not-a-cidr").is_none());
        assert!(DenyList::parse("10.0.0.0/33").is_none());
        assert!(DenyList::parse("").unwrap().allows(&url::Url::parse("http://127.0.0.1/").unwrap()));
    }
}
