//! Allowlists: the origins one declaration lets use the feature, read from
//! the two places a declaration can be made, the document's
//! `Permissions-Policy` response header and its container's `allow`
//! attribute. What cannot be read adds no origin, so a misread entry only
//! ever narrows a list.

use super::structured_field::{parse_dictionary, Item, Member};
use super::FEATURE;
use crate::origin::{default_port, split_port, Origin};

/// An origin as the policy compares it; `None` is an opaque origin, which
/// only `*` matches.
pub type PolicyOrigin = Option<Origin>;

/// One declaration for the feature (the spec's "allowlist").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    everyone: bool,
    /// What `self` stands for: the origin of the document that declared it.
    self_origin: PolicyOrigin,
    /// What `'src'` stands for: the origin the container's `src` declares.
    src_origin: PolicyOrigin,
    origins: Vec<Expression>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expression {
    Exact(Origin),
    /// `scheme://*.host[:port]`: hosts strictly below `host` (as Chromium
    /// reads wildcards); `base` is `scheme://host[:port]`.
    Subdomains {
        base: Origin,
    },
}

impl Allowlist {
    /// The narrowest declaration, `()`: what an unobserved fact stands for.
    pub fn nobody() -> Self {
        Self::default()
    }

    /// The spec's "allowlist matches origin".
    pub fn matches(&self, origin: &PolicyOrigin) -> bool {
        if self.everyone {
            return true;
        }
        let Some(origin) = origin else { return false };
        self.self_origin.as_ref() == Some(origin)
            || self.src_origin.as_ref() == Some(origin)
            || self.origins.iter().any(|e| e.matches(origin))
    }
}

impl Expression {
    fn matches(&self, origin: &Origin) -> bool {
        match self {
            Self::Exact(o) => o == origin,
            Self::Subdomains { base } => {
                let prefix = format!("{}://", base.scheme());
                let suffix = format!(".{}", &base.as_str()[prefix.len()..]);
                origin
                    .as_str()
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(&suffix))
                    .is_some_and(|sub| !sub.is_empty() && !sub.starts_with('.') && !sub.contains([':', '[', ']']))
            }
        }
    }

    /// An origin written in a declaration (`https://a.example`, with any
    /// path ignored and the default port dropped, as the URL parser's origin
    /// would), or a subdomain wildcard; `None` for anything else (`'none'`,
    /// a bare scheme, credentials, a host the origin parser refuses).
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        if authority.contains('@') {
            return None;
        }
        let (host, port) = split_port(&authority).ok()?;
        let port = port.filter(|p| default_port(&scheme) != Some(*p)).map(|p| format!(":{p}")).unwrap_or_default();
        match host.strip_prefix("*.") {
            Some(parent) => {
                Origin::parse(&format!("{scheme}://{parent}{port}")).ok().map(|base| Self::Subdomains { base })
            }
            None => Origin::parse(&format!("{scheme}://{host}{port}")).ok().map(Self::Exact),
        }
    }
}

/// The header's declaration for the feature in a document of `document`'s
/// origin, or `None` when the header declares nothing for it. A header that
/// is not a Structured Field dictionary declares nothing: browsers ignore
/// it whole. Per the spec, only `*`, `self` and a list (of `*`, `self` and
/// origin strings) allow anyone; any other value allows nobody.
pub fn from_header(value: &str, document: &PolicyOrigin) -> Option<Allowlist> {
    let (_, member) = parse_dictionary(value)?.into_iter().find(|(key, _)| key == FEATURE)?;
    let mut list = Allowlist::nobody();
    let items = match member {
        Member::InnerList(items) => items,
        Member::Item(item @ Item::Token(_)) => vec![item],
        Member::Item(_) => Vec::new(),
    };
    for item in items {
        match item {
            Item::Token(t) if t == "*" => list.everyone = true,
            Item::Token(t) if t == "self" => list.self_origin.clone_from(document),
            Item::String(s) => list.origins.extend(Expression::parse(&s)),
            _ => {}
        }
    }
    Some(list)
}

/// The `allow` attribute's declaration for the feature, for a container in
/// a document of `container`'s origin whose `src` declares `src`; `None`
/// when the attribute does not name the feature. A bare feature name means
/// `'src'`. When the feature is named twice the first declaration counts,
/// as in Chromium.
pub fn from_allow_attribute(value: &str, container: &PolicyOrigin, src: &PolicyOrigin) -> Option<Allowlist> {
    let declaration = value
        .split(';')
        .map(|d| d.split_ascii_whitespace())
        .find_map(|mut tokens| (tokens.next() == Some(FEATURE)).then(|| tokens.collect::<Vec<&str>>()))?;
    let mut list = Allowlist::nobody();
    if declaration.is_empty() {
        list.src_origin.clone_from(src);
    }
    for target in declaration {
        if target == "*" {
            list.everyone = true;
        } else if target.eq_ignore_ascii_case("'self'") {
            list.self_origin.clone_from(container);
        } else if target.eq_ignore_ascii_case("'src'") {
            list.src_origin.clone_from(src);
        } else {
            list.origins.extend(Expression::parse(target));
        }
    }
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> PolicyOrigin {
        Some(Origin::parse(s).unwrap())
    }

    const A: &str = "https://a.example";
    const B: &str = "https://b.example";

    #[test]
    fn header_values() {
        let a = origin(A);
        let cases: &[(&str, &[(&str, bool)])] = &[
            ("cross-origin-storage=*", &[(A, true), (B, true)]),
            ("cross-origin-storage=self", &[(A, true), (B, false)]),
            ("cross-origin-storage=(self)", &[(A, true), (B, false)]),
            ("cross-origin-storage=()", &[(A, false), (B, false)]),
            (r#"cross-origin-storage=("https://b.example")"#, &[(A, false), (B, true)]),
            (r#"cross-origin-storage=(self "https://B.example:443/path")"#, &[(A, true), (B, true)]),
            (r#"cross-origin-storage=(self *)"#, &[(B, true)]),
            // Values the spec gives no meaning allow nobody.
            (r#"cross-origin-storage="https://b.example""#, &[(A, false), (B, false)]),
            ("cross-origin-storage", &[(A, false)]),
            ("cross-origin-storage=none", &[(A, false)]),
            ("cross-origin-storage=(none \"'none'\" 1)", &[(A, false)]),
            // The last value of a repeated key counts.
            ("cross-origin-storage=(), cross-origin-storage=*", &[(B, true)]),
        ];
        for (header, expectations) in cases {
            let list = from_header(header, &a).unwrap_or_else(|| panic!("{header} declares the feature"));
            for (who, allowed) in *expectations {
                assert_eq!(list.matches(&origin(who)), *allowed, "{header} for {who}");
            }
        }
    }

    #[test]
    fn headers_that_declare_nothing() {
        for header in
            ["", "camera=()", "Cross-Origin-Storage=()", "cross-origin-storage=(),", "cross-origin-storage=(self"]
        {
            assert_eq!(from_header(header, &origin(A)), None, "{header}");
        }
    }

    #[test]
    fn allow_attribute_values() {
        let (container, src) = (origin(A), origin(B));
        let cases: &[(&str, &[(&str, bool)])] = &[
            ("cross-origin-storage", &[(B, true), (A, false)]),
            ("cross-origin-storage 'src'", &[(B, true), (A, false)]),
            ("cross-origin-storage 'SELF'", &[(A, true), (B, false)]),
            ("cross-origin-storage *", &[(A, true), (B, true), ("https://c.example", true)]),
            ("cross-origin-storage 'none'", &[(A, false), (B, false)]),
            ("camera; cross-origin-storage https://c.example", &[("https://c.example", true), (B, false)]),
            ("  cross-origin-storage\thttps://b.example/x  ;camera", &[(B, true)]),
            ("cross-origin-storage 'none'; cross-origin-storage *", &[(B, false)]),
            ("cross-origin-storage https://*.b.example", &[("https://x.b.example", true), (B, false)]),
            (
                "cross-origin-storage https://*.b.example",
                &[("https://x.y.b.example", true), ("http://x.b.example", false)],
            ),
            (
                "cross-origin-storage https://*.b.example:8443",
                &[("https://x.b.example:8443", true), ("https://x.b.example", false)],
            ),
        ];
        for (allow, expectations) in cases {
            let list =
                from_allow_attribute(allow, &container, &src).unwrap_or_else(|| panic!("{allow} names the feature"));
            for (who, allowed) in *expectations {
                assert_eq!(list.matches(&origin(who)), *allowed, "{allow} for {who}");
            }
        }
        for allow in ["", "camera", "cross-origin-storagex", "Cross-Origin-Storage *", ";;"] {
            assert_eq!(from_allow_attribute(allow, &container, &src), None, "{allow}");
        }
    }

    #[test]
    fn opaque_origins_match_only_everyone() {
        let list = from_allow_attribute("cross-origin-storage 'self' 'src'", &None, &None).unwrap();
        assert!(!list.matches(&None));
        assert!(!list.matches(&origin(A)));
        assert!(from_allow_attribute("cross-origin-storage *", &None, &None).unwrap().matches(&None));
    }

    #[test]
    fn written_origins() {
        let parsed = |s: &str| {
            Expression::parse(s).map(|e| match e {
                Expression::Exact(o) => o.to_string(),
                Expression::Subdomains { base } => format!("*.{base}"),
            })
        };
        assert_eq!(parsed("HTTPS://A.Example:443/x?y#z").as_deref(), Some("https://a.example"));
        assert_eq!(parsed("http://a.example:8080").as_deref(), Some("http://a.example:8080"));
        assert_eq!(parsed("https://[::1]:8443").as_deref(), Some("https://[::1]:8443"));
        assert_eq!(parsed("https://*.a.example").as_deref(), Some("*.https://a.example"));
        for bad in ["'none'", "https:", "a.example", "https://u@a.example", "https://bücher.example", "https://", "*"]
        {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }
}
