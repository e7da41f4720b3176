//! Schemeful sites, computed with the Public Suffix List.
//!
//! Two origins are same-site when their schemes match and their hosts have the
//! same registrable domain (eTLD+1). The list text ships inside the extension
//! (it is never fetched at run time) and is parsed once when the worker starts.

use crate::origin::Origin;
use std::collections::HashSet;

mod punycode;

#[derive(Debug, Default)]
pub struct SiteRules {
    exact: HashSet<String>,
    /// `*.foo` rules, stored as `foo`.
    wildcard: HashSet<String>,
    /// `!bar.foo` rules, stored as `bar.foo`.
    exception: HashSet<String>,
}

/// A schemeful site: `scheme://registrable-domain` (or the bare host).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site(String);

impl Site {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SiteRules {
    /// Parses Public Suffix List text (both ICANN and private sections, as browsers do).
    pub fn parse(list: &str) -> Self {
        let mut rules = Self::default();
        for line in list.lines() {
            let Some(rule) = line.split_whitespace().next() else { continue };
            if rule.starts_with("//") {
                continue;
            }
            let (set, rule) = if let Some(r) = rule.strip_prefix("*.") {
                (&mut rules.wildcard, r)
            } else if let Some(r) = rule.strip_prefix('!') {
                (&mut rules.exception, r)
            } else {
                (&mut rules.exact, rule)
            };
            set.insert(to_ascii(rule));
        }
        rules
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len() + self.exception.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The registrable domain of `host`, or `None` for IP addresses and hosts
    /// that are themselves public suffixes.
    pub fn registrable_domain<'h>(&self, host: &'h str) -> Option<&'h str> {
        if is_ip_literal(host) {
            return None;
        }
        let suffix_len = self.public_suffix_labels(host);
        let labels: Vec<&str> = host.split('.').collect();
        if labels.len() <= suffix_len {
            return None;
        }
        let keep = suffix_len + 1;
        let start: usize = labels[..labels.len() - keep].iter().map(|l| l.len() + 1).sum();
        Some(&host[start..])
    }

    pub fn site(&self, origin: &Origin) -> Site {
        let host = origin.host();
        let domain = self.registrable_domain(host).unwrap_or(host);
        Site(format!("{}://{}", origin.scheme(), domain))
    }

    pub fn same_site(&self, a: &Origin, b: &Origin) -> bool {
        a == b || self.site(a) == self.site(b)
    }

    /// Number of labels of the longest matching rule (the PSL algorithm; an
    /// unlisted TLD falls under the implicit `*` rule, one label).
    fn public_suffix_labels(&self, host: &str) -> usize {
        let labels: Vec<&str> = host.split('.').collect();
        let n = labels.len();
        let mut best = 1;
        for i in 0..n {
            let suffix = labels[i..].join(".");
            let count = n - i;
            if self.exception.contains(&suffix) {
                // An exception rule wins over everything and drops its leftmost label.
                return count - 1;
            }
            if self.exact.contains(&suffix) {
                best = best.max(count);
            }
            if i > 0 && self.wildcard.contains(&suffix) {
                best = best.max(count + 1);
            }
        }
        best
    }
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Hosts reach us in their ASCII (punycode) form; the list is written in Unicode.
fn to_ascii(rule: &str) -> String {
    rule.split('.')
        .map(|label| {
            if label.is_ascii() {
                label.to_ascii_lowercase()
            } else {
                format!("xn--{}", punycode::encode(&label.to_lowercase()))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
// comment
com
co.uk
uk
*.ck
!www.ck
github.io
// IDN rule, stored in Unicode like the real list
公司.cn
cn
";

    fn rules() -> SiteRules {
        SiteRules::parse(LIST)
    }

    fn site(host: &str) -> String {
        rules().site(&Origin::parse(&format!("https://{host}")).unwrap()).0
    }

    #[test]
    fn registrable_domains() {
        let r = rules();
        let cases = [
            ("example.com", Some("example.com")),
            ("a.b.example.com", Some("example.com")),
            ("com", None),
            ("example.co.uk", Some("example.co.uk")),
            ("www.example.co.uk", Some("example.co.uk")),
            ("co.uk", None),
            ("foo.bar.ck", Some("foo.bar.ck")),
            ("bar.ck", None),
            ("www.ck", Some("www.ck")),
            ("a.www.ck", Some("www.ck")),
            ("me.github.io", Some("me.github.io")),
            ("x.me.github.io", Some("me.github.io")),
            ("a.test", Some("a.test")),
            ("sub.a.test", Some("a.test")),
            ("localhost", None),
            ("127.0.0.1", None),
            ("[::1]", None),
            ("x.xn--55qx5d.cn", Some("x.xn--55qx5d.cn")),
        ];
        for (host, want) in cases {
            assert_eq!(r.registrable_domain(host), want, "{host}");
        }
    }

    #[test]
    fn sites_are_schemeful() {
        assert_eq!(site("sub.a.test"), "https://a.test");
        assert_eq!(site("localhost"), "https://localhost");
        let r = rules();
        let a = Origin::parse("https://a.test").unwrap();
        let a_http = Origin::parse("http://a.test").unwrap();
        let sub = Origin::parse("https://sub.a.test:8443").unwrap();
        let b = Origin::parse("https://b.test").unwrap();
        assert!(r.same_site(&a, &sub));
        assert!(!r.same_site(&a, &a_http));
        assert!(!r.same_site(&a, &b));
        // Private-section rules split sites, as in browsers.
        let me = Origin::parse("https://me.github.io").unwrap();
        let you = Origin::parse("https://you.github.io").unwrap();
        assert!(!r.same_site(&me, &you));
        // Ports never matter to sites.
        let l1 = Origin::parse("http://localhost:1").unwrap();
        let l2 = Origin::parse("http://localhost:2").unwrap();
        assert!(r.same_site(&l1, &l2));
    }

    #[test]
    fn parses_the_real_list_shape() {
        let r = SiteRules::parse("// ===BEGIN ICANN DOMAINS===\n\nac.uk  trailing words\n");
        assert_eq!(r.len(), 1);
        assert!(r.exact.contains("ac.uk"));
    }
}
