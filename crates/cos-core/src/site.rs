//! Schemeful sites, computed the way Chromium computes them (`net::SchemefulSite`).
//!
//! Two origins are same-site when their schemes match and their hosts have the
//! same registrable domain (eTLD+1) under the Public Suffix List, private
//! section included, as browsers use it. The list is compiled into the engine
//! by the `psl` crate, which is republished whenever the list changes (its
//! version and date are in the README); hosts arrive in their ASCII form and
//! the crate matches the list's IDN rules in that form too.

use crate::origin::Origin;
use serde::Serialize;

/// The site rules: the Public Suffix List compiled into the engine. A value
/// of its own so that every rule that compares sites names where they come from.
#[derive(Debug, Default)]
pub struct SiteRules;

/// A schemeful site: `scheme://registrable-domain` (or the bare host).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Site(String);

impl Site {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SiteRules {
    /// The registrable domain of `host`, or `None` for IP addresses and hosts
    /// that are themselves public suffixes, as Chromium's
    /// `GetDomainAndRegistry` answers.
    pub fn registrable_domain<'h>(&self, host: &'h str) -> Option<&'h str> {
        if is_ip_literal(host) {
            return None;
        }
        // Chromium skips leading dots before matching: `.a.com` is in the site
        // `a.com`, and `..com`, a public suffix once they are skipped, is its own site.
        let host = host.trim_start_matches('.');
        // One trailing dot marks a fully qualified name: rules match without
        // it and the result keeps it (`a.com.` is in the site `a.com.`, not
        // `com.`). A second one leaves an empty last label, which no rule
        // matches, and Chromium gives such a host no registrable domain.
        if host.is_empty() || host.strip_suffix('.').unwrap_or(host).ends_with('.') {
            return None;
        }
        let domain = psl::domain(host.as_bytes())?;
        Some(&host[host.len() - domain.as_bytes().len()..])
    }

    pub fn site(&self, origin: &Origin) -> Site {
        let host = origin.host();
        let domain = self.registrable_domain(host).unwrap_or(host);
        Site(format!("{}://{}", origin.scheme(), domain))
    }

    pub fn same_site(&self, a: &Origin, b: &Origin) -> bool {
        a == b || self.site(a) == self.site(b)
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(host: &str) -> Origin {
        Origin::parse(&format!("https://{host}")).unwrap_or_else(|e| panic!("{host}: {e}"))
    }

    /// Each host and the site Chromium 156 gives it (the host part of
    /// `net::SchemefulSite`). The pairs with empty labels or a trailing dot
    /// were also checked in that Chromium: a `SameSite=Strict` cookie crosses
    /// between two hosts exactly when this table gives them one site.
    const SITES: &[(&str, &str)] = &[
        // Registrable domains under ICANN rules, private rules, wildcard and
        // exception rules (`*.ck`, `!www.ck`), IDN rules (`公司.cn`) and the
        // implicit `*` rule of an unlisted TLD.
        ("example.com", "example.com"),
        ("a.b.example.com", "example.com"),
        ("example.co.uk", "example.co.uk"),
        ("www.example.co.uk", "example.co.uk"),
        ("me.github.io", "me.github.io"),
        ("x.me.github.io", "me.github.io"),
        ("foo.bar.ck", "foo.bar.ck"),
        ("x.foo.bar.ck", "foo.bar.ck"),
        ("www.ck", "www.ck"),
        ("a.www.ck", "www.ck"),
        ("x.xn--55qx5d.cn", "x.xn--55qx5d.cn"),
        ("a.x.xn--55qx5d.cn", "x.xn--55qx5d.cn"),
        ("sub.a.test", "a.test"),
        ("a.b.localhost", "b.localhost"),
        // A private suffix added to the list after 2023 (the list Debian ships is older).
        ("x.a.github.app", "a.github.app"),
        // Hosts that are public suffixes, single labels and IP addresses are their own site.
        ("com", "com"),
        ("co.uk", "co.uk"),
        ("github.io", "github.io"),
        ("bar.ck", "bar.ck"),
        ("localhost", "localhost"),
        ("intranet", "intranet"),
        ("127.0.0.1", "127.0.0.1"),
        ("10.0.0.255", "10.0.0.255"),
        ("[::1]", "[::1]"),
        ("[2001:db8::1]", "[2001:db8::1]"),
        ("[::ffff:102:304]", "[::ffff:102:304]"),
        // A trailing dot: rules match without it, the site keeps it.
        ("victim.com.", "victim.com."),
        ("www.victim.com.", "victim.com."),
        ("x.www.example.co.uk.", "example.co.uk."),
        ("a.github.io.", "a.github.io."),
        ("x.a.github.io.", "a.github.io."),
        ("a.bar.ck.", "a.bar.ck."),
        ("x.www.ck.", "www.ck."),
        ("a.localhost.", "a.localhost."),
        ("com.", "com."),
        ("co.uk.", "co.uk."),
        ("github.io.", "github.io."),
        ("localhost.", "localhost."),
        // Empty labels, which the URL parser keeps.
        (".victim.com", "victim.com"),
        ("..victim.com.", "victim.com."),
        ("a..com", ".com"),
        (".com", ".com"),
        ("..com", "..com"),
        ("a..bar.ck", ".bar.ck"),
        ("a..ck", "a..ck"),
        ("victim.com..", "victim.com.."),
        ("x.victim.com..", "x.victim.com.."),
        (".", "."),
        ("..", ".."),
    ];

    #[test]
    fn sites_match_chromium() {
        for &(host, want) in SITES {
            assert_eq!(SiteRules.site(&origin(host)).as_str(), format!("https://{want}"), "{host}");
        }
    }

    #[test]
    fn trailing_dots_and_suffix_hosts_do_not_merge_sites() {
        let cross_site = [
            ("victim.com.", "attacker.com."),
            ("a.github.io.", "b.github.io."),
            ("victim.co.uk.", "attacker.co.uk."),
            ("a.bar.ck.", "b.bar.ck."),
            ("victim.com..", "attacker.com.."),
            ("victim.com", "victim.com."),
            ("victim.com.", "com."),
            ("a.github.io", "github.io"),
            ("..com", "a..com"),
            ("127.0.0.1", "127.0.0.2"),
        ];
        for (a, b) in cross_site {
            assert!(!SiteRules.same_site(&origin(a), &origin(b)), "{a} vs {b}");
        }
        let same_site = [("victim.com.", "www.victim.com."), ("victim.com", ".victim.com"), ("a..com", ".com")];
        for (a, b) in same_site {
            assert!(SiteRules.same_site(&origin(a), &origin(b)), "{a} vs {b}");
        }
    }

    #[test]
    fn sites_are_schemeful_and_portless() {
        let r = SiteRules;
        assert!(
            r.same_site(&Origin::parse("https://a.test").unwrap(), &Origin::parse("https://sub.a.test:8443").unwrap())
        );
        assert!(!r.same_site(&Origin::parse("https://a.test").unwrap(), &Origin::parse("http://a.test").unwrap()));
        assert!(
            r.same_site(&Origin::parse("http://localhost:1").unwrap(), &Origin::parse("http://localhost:2").unwrap())
        );
    }
}
