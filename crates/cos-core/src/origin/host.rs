//! Canonical hosts: what the URL parser leaves in an origin. A domain in
//! lowercase ASCII (empty labels included: `a..b`, `.a`, `a.` survive
//! parsing), a dotted-decimal IPv4 address, or an IPv6 address in its
//! compressed lowercase form. Any other spelling of an address is refused
//! rather than compared as text, since it could never equal a real origin.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `host` is canonical; if not, the reason.
pub(super) fn check(host: &str) -> Result<(), &'static str> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(ip) if serialize_ipv6(ip) == inner => Ok(()),
            _ => Err("the IPv6 address is not in its canonical (compressed, lowercase) form"),
        };
    }
    // Punctuation the URL parser keeps as it is in a host (Chromium does too).
    let domain_bytes = |b: u8| {
        b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'!'
                    | b'"'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'`'
                    | b'{'
                    | b'}'
                    | b'~'
            )
    };
    if host.is_empty() || !host.bytes().all(domain_bytes) {
        return Err("the host is not a canonical (lowercase, ASCII) host name or IP address");
    }
    // The URL parser reads a host whose last label is a number as an IPv4
    // address and rewrites it in dotted decimal (`127.1`, `0x7f.0.0.1` and
    // `127.0.0.1.` all become `127.0.0.1`) or rejects it (`a.123`).
    if ends_in_a_number(host) && host.parse::<Ipv4Addr>().map_or(true, |ip| ip.to_string() != host) {
        return Err("the host ends in a number but is not an IPv4 address in dotted decimal");
    }
    Ok(())
}

/// The URL Standard's "ends in a number" test, for lowercase hosts.
fn ends_in_a_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or_default();
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || last.strip_prefix("0x").is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The URL Standard's IPv6 serializer: lowercase hex pieces, the first
/// longest run of two or more zero pieces written as `::`, no dotted tail.
fn serialize_ipv6(ip: Ipv6Addr) -> String {
    let pieces = ip.segments();
    let mut compress: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pieces.len() {
        let run = pieces[i..].iter().take_while(|&&p| p == 0).count();
        if run > 1 && compress.is_none_or(|(_, longest)| run > longest) {
            compress = Some((i, run));
        }
        i += run.max(1);
    }
    let mut out = String::new();
    let mut i = 0;
    while i < pieces.len() {
        if let Some((start, run)) = compress.filter(|&(start, _)| start == i) {
            out.push_str(if start == 0 { "::" } else { ":" });
            i += run;
            continue;
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{:x}", pieces[i]);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::check;

    /// Hosts as Chromium 156 serializes them (`new URL(…).host`), and
    /// spellings it never leaves in an origin, each with what it becomes.
    #[test]
    fn canonical_hosts_only() {
        for host in [
            "example.com",
            "a_b.example",
            "xn--bcher-kva.example",
            "victim.com.",
            "a..com",
            ".victim.com",
            "victim.com..",
            ".",
            "a.0xg",
            "127.0.0.1",
            "0.0.0.0",
            "[::1]",
            "[::]",
            "[1::]",
            "[1:0:0:2::3]",
            "[2001:db8::1:0:0:1]",
            "[1:0:2:3:4:5:6:7]",
            "[::ffff:102:304]",
        ] {
            assert_eq!(check(host), Ok(()), "{host}");
        }
        for (host, becomes) in [
            ("", "(no host)"),
            ("Example.com", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("a%41.com", "aa.com"),
            ("127.0.0.1.", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("010.0.0.1", "8.0.0.1"),
            ("a.123", "(invalid URL)"),
            ("a.0x", "(invalid URL)"),
            ("1.2.3.4.5", "(invalid URL)"),
            ("[0:0::1]", "[::1]"),
            ("[::0001]", "[::1]"),
            ("[::FFFF:102:304]", "[::ffff:102:304]"),
            ("[::ffff:1.2.3.4]", "[::ffff:102:304]"),
            ("[1:0::2:0:0:3]", "[1::2:0:0:3]"),
            ("[1:0:0:0:0:0:0:2]", "[1::2]"),
            ("[1::2:3:4:5:6:7]", "[1:0:2:3:4:5:6:7]"),
            ("[::1%eth0]", "(invalid URL)"),
        ] {
            assert!(check(host).is_err(), "{host} (becomes {becomes})");
        }
    }
}
