//! Who may see an entry, and how a verified write widens that.

use crate::error::{CosError, Result};
use crate::origin::Origin;
use serde::Deserialize;

/// Longest `origins` list a request may carry, and an entry may accumulate.
pub const MAX_LISTED_ORIGINS: usize = 64;

/// The `origins` option as it arrives on the wire: `"*"`, one origin, or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OriginsArg {
    One(String),
    Many(Vec<String>),
}

/// A validated visibility request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// `origins` omitted (or an empty list, as in the spec's index.bs): the
    /// storing origin's site only.
    SameSite,
    /// These origins, besides the storing site. De-duplicated, in request order.
    Listed(Vec<Origin>),
    /// `origins: "*"`.
    Global,
}

impl Visibility {
    pub fn from_arg(arg: Option<&OriginsArg>) -> Result<Self> {
        let list: &[String] = match arg {
            None => return Ok(Self::SameSite),
            Some(OriginsArg::One(s)) if s == "*" => return Ok(Self::Global),
            Some(OriginsArg::One(s)) => std::slice::from_ref(s),
            Some(OriginsArg::Many(v)) => v,
        };
        if list.len() > MAX_LISTED_ORIGINS {
            return Err(CosError::TooManyOrigins { count: list.len(), max: MAX_LISTED_ORIGINS });
        }
        let mut origins: Vec<Origin> = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let origin = Origin::parse_listed(i, s)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(if origins.is_empty() { Self::SameSite } else { Self::Listed(origins) })
    }
}

impl Visibility {
    /// Applies the writing document's `Cross-Origin-Storage-Allow-Origin`
    /// header: a list can name only origins the site itself authorized, so
    /// a script the site merely embeds cannot share a file more widely. An
    /// absent header, `*`, or any token that is not an origin authorizes
    /// nothing; if no listed origin remains, the file stays same-site. `"*"`
    /// needs no header. Returns the listed origins it left out.
    pub fn within_ceiling(self, header: Option<&str>) -> (Self, Vec<Origin>) {
        let Self::Listed(origins) = self else { return (self, Vec::new()) };
        let authorized: Vec<Origin> = header
            .and_then(|h| h.split(',').map(|token| Origin::parse(token.trim()).ok()).collect::<Option<Vec<_>>>())
            .unwrap_or_default();
        let (kept, dropped): (Vec<Origin>, Vec<Origin>) = origins.into_iter().partition(|o| authorized.contains(o));
        (if kept.is_empty() { Self::SameSite } else { Self::Listed(kept) }, dropped)
    }
}

/// The warning for the writer's console when the ceiling left `dropped` out
/// (about its own request and its own header only).
pub fn ceiling_warnings(dropped: &[Origin]) -> Vec<String> {
    match dropped.is_empty() {
        true => Vec::new(),
        false => vec![format!(
            "origins not authorized by this document's Cross-Origin-Storage-Allow-Origin header were not added: {}",
            dropped.iter().map(Origin::as_str).collect::<Vec<_>>().join(", ")
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(json: &str) -> Option<OriginsArg> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn normalisation() {
        assert_eq!(Visibility::from_arg(None).unwrap(), Visibility::SameSite);
        assert_eq!(Visibility::from_arg(arg("\"*\"").as_ref()).unwrap(), Visibility::Global);
        assert_eq!(Visibility::from_arg(arg("[]").as_ref()).unwrap(), Visibility::SameSite);
        let one = Visibility::from_arg(arg("\"https://b.test\"").as_ref()).unwrap();
        assert_eq!(one, Visibility::Listed(vec![Origin::parse("https://b.test").unwrap()]));
        let dup = Visibility::from_arg(arg("[\"https://b.test\",\"https://c.test\",\"https://b.test\"]").as_ref());
        match dup.unwrap() {
            Visibility::Listed(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejections() {
        for json in ["[\"*\"]", "\"data:,x\"", "[\"https://ok.test\", \"null\"]", "\"https://a.test/path\""] {
            let e = Visibility::from_arg(arg(json).as_ref()).unwrap_err();
            assert_eq!(e.code(), "invalid-origin", "{json}");
        }
        let many: Vec<String> = (0..=MAX_LISTED_ORIGINS).map(|i| format!("https://o{i}.test")).collect();
        let e = Visibility::from_arg(Some(&OriginsArg::Many(many))).unwrap_err();
        assert_eq!(e.code(), "too-many-origins");
    }

    #[test]
    fn the_allow_origin_header_is_a_ceiling_for_lists() {
        let o = |s: &str| Origin::parse(s).unwrap();
        let asked = || Visibility::Listed(vec![o("https://b.test"), o("https://c.test")]);
        let (v, dropped) = asked().within_ceiling(Some("https://b.test, https://x.test"));
        assert_eq!(v, Visibility::Listed(vec![o("https://b.test")]));
        assert_eq!(dropped, vec![o("https://c.test")]);
        let w = ceiling_warnings(&dropped);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("https://c.test") && !w[0].contains("https://b.test"), "{w:?}");
        assert!(ceiling_warnings(&[]).is_empty());
        for header in [None, Some("*"), Some("https://b.test, *"), Some("https://b.test, not an origin"), Some("")] {
            let (v, dropped) = asked().within_ceiling(header);
            assert_eq!(v, Visibility::SameSite, "{header:?}");
            assert_eq!(dropped.len(), 2);
        }
        assert_eq!(Visibility::Global.within_ceiling(None), (Visibility::Global, Vec::new()), "'*' needs no header");
        assert_eq!(Visibility::SameSite.within_ceiling(None), (Visibility::SameSite, Vec::new()));
    }
}
