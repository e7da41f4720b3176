//! Serialized tuple origins (`scheme://host[:port]`).
//!
//! The browser's URL parser turns what a page passes into an origin string
//! (`new URL(x).origin`); this module accepts only the canonical result, so a
//! page that skips that step, or lies, is rejected instead of reinterpreted.

use crate::error::{CosError, Result};
use crate::hash::truncated;
use serde::{Deserialize, Serialize};
use std::fmt;

mod host;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    /// Parses a canonical serialized origin; `reason` says what is wrong.
    pub fn parse(s: &str) -> std::result::Result<Self, &'static str> {
        if s == "null" {
            return Err("it is an opaque origin");
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err("expected scheme://host");
        };
        if !valid_scheme(scheme) {
            return Err("the scheme is not a lowercase URL scheme");
        }
        let (host, port) = split_port(rest)?;
        host::check(host)?;
        if let Some(port) = port {
            let canonical = !port.is_empty()
                && !port.starts_with('0')
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok();
            if !canonical {
                return Err("the port is not a number from 1 to 65535");
            }
            if default_port(scheme) == Some(port) {
                return Err("the default port must be omitted");
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// An origin that may use the API: http(s) only (content scripts run nowhere else).
    pub fn parse_caller(s: &str) -> Result<Self> {
        let not_allowed = || CosError::CallerNotAllowed(truncated(s));
        let origin = Self::parse(s).map_err(|_| not_allowed())?;
        match origin.scheme() {
            "http" | "https" => Ok(origin),
            _ => Err(not_allowed()),
        }
    }

    /// Parses entry `index` of a page-supplied `origins` list.
    pub fn parse_listed(index: usize, s: &str) -> Result<Self> {
        Self::parse(s).map_err(|reason| CosError::InvalidOrigin { index, value: truncated(s), reason })
    }

    pub fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(scheme, _)| scheme)
    }

    /// Host without port; IPv6 keeps its brackets.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        split_port(rest).map_or(rest, |(host, _)| host)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn split_port(rest: &str) -> std::result::Result<(&str, Option<&str>), &'static str> {
    // An IPv6 literal contains colons; the port, if any, follows the bracket.
    let host_end = if rest.starts_with('[') {
        rest.find(']').map(|i| i + 1).ok_or("unterminated IPv6 address")?
    } else {
        rest.find(':').unwrap_or(rest.len())
    };
    let (host, tail) = rest.split_at(host_end);
    match tail {
        "" => Ok((host, None)),
        _ => tail.strip_prefix(':').map(|p| (host, Some(p))).ok_or("unexpected text after the host"),
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
}

pub(crate) fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Origin {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse(&s).map_err(|reason| format!("{s:?}: {reason}"))
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> Self {
        o.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_origins() {
        for s in [
            "https://example.com",
            "http://localhost:8080",
            "http://127.0.0.1:5173",
            "https://[::1]:8443",
            "https://xn--bcher-kva.example",
            "http://sub.a.test:4000",
            "chrome-extension://abcdefghijklmnop",
        ] {
            assert!(Origin::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn rejects_non_canonical_or_opaque() {
        for s in [
            "null",
            "",
            "example.com",
            "https://Example.com",
            "HTTPS://example.com",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com:443",
            "http://example.com:80",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:08080",
            "https://example.com:",
            "https://user@example.com",
            "https://bücher.example",
            "https://",
            "https://[::1",
            "https://[::1]x",
            "*",
        ] {
            assert!(Origin::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn callers_must_be_http_or_https() {
        assert!(Origin::parse_caller("https://a.test").is_ok());
        for s in ["null", "chrome-extension://abc", "file://", "ftp://a.test", "garbage"] {
            assert_eq!(Origin::parse_caller(s).unwrap_err().dom_name(), "NotAllowedError", "{s}");
        }
    }

    #[test]
    fn parts() {
        let o = Origin::parse("https://[::1]:8443").unwrap();
        assert_eq!((o.scheme(), o.host()), ("https", "[::1]"));
        let o = Origin::parse("http://a.test:81").unwrap();
        assert_eq!((o.scheme(), o.host()), ("http", "a.test"));
    }

    #[test]
    fn listed_errors_name_the_index() {
        let e = Origin::parse_listed(3, "data:,x").unwrap_err();
        assert_eq!(e.code(), "invalid-origin");
        assert!(e.to_string().contains("origins[3]"), "{e}");
    }
}
