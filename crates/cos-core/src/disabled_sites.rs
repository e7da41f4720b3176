//! The per-site switch: sites where the user (or their administrator) turned
//! the API off, so that their pages see no `navigator.crossOriginStorage` at
//! all, as without the extension. The host keeps its content scripts out of
//! these sites' frames (it registers them with the sites excluded); the
//! engine refuses whatever a frame of one still sends (a page loaded before
//! the switch, whose scripts are already running).
//!
//! Two lists: the user's, persisted and edited on the extension's pages, and
//! the enterprise policy's, which the host hands over at each start and
//! change and which the user cannot remove from. The switch names whole
//! sites (scheme and registrable domain), as the rest of the store does.

use crate::error::{CosError, Result};
use crate::origin::Origin;
use crate::site::{Site, SiteRules};
use std::collections::BTreeSet;

/// Who turned a site off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledBy {
    User,
    Policy,
}

impl DisabledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Policy => "policy",
        }
    }
}

#[derive(Debug, Default)]
pub struct DisabledSites {
    user: BTreeSet<Site>,
    policy: BTreeSet<Site>,
    /// The user's list changed since it was last persisted.
    changed: bool,
}

impl DisabledSites {
    /// Who turned `site` off, if anyone (the policy first: the user cannot undo it).
    pub fn by(&self, site: &Site) -> Option<DisabledBy> {
        match (self.policy.contains(site), self.user.contains(site)) {
            (true, _) => Some(DisabledBy::Policy),
            (false, true) => Some(DisabledBy::User),
            (false, false) => None,
        }
    }

    pub fn user(&self) -> impl Iterator<Item = &Site> {
        self.user.iter()
    }

    pub fn policy(&self) -> impl Iterator<Item = &Site> {
        self.policy.iter()
    }

    /// Every site turned off, by anyone, sorted and once each.
    pub fn all(&self) -> BTreeSet<&Site> {
        self.user.iter().chain(&self.policy).collect()
    }

    pub fn disable(&mut self, site: Site) {
        self.changed |= self.user.insert(site);
    }

    /// Turns `site` back on; a site the policy turned off stays off.
    pub fn enable(&mut self, site: &Site) -> Result<()> {
        if self.policy.contains(site) {
            return Err(CosError::InvalidState(format!(
                "{} is turned off by your administrator's policy; only the policy can turn it on",
                site.as_str()
            )));
        }
        self.changed |= self.user.remove(site);
        Ok(())
    }

    pub fn set_policy(&mut self, sites: BTreeSet<Site>) {
        self.policy = sites;
    }

    /// The user's list as persisted at the last start.
    pub fn restore(&mut self, sites: BTreeSet<Site>) {
        self.user = sites;
        self.changed = false;
    }

    /// The user's list, if it changed since the last take.
    pub fn take_changed(&mut self) -> Option<Vec<Site>> {
        std::mem::take(&mut self.changed).then(|| self.user.iter().cloned().collect())
    }

    pub fn has_changes(&self) -> bool {
        self.changed
    }

    pub fn mark_changed(&mut self) {
        self.changed = true;
    }
}

/// The site the switch turns off for `origin` (a canonical http(s) origin,
/// as the browser's URL parser gives it), or why it cannot.
///
/// The host excludes a site by browser match patterns on its host (the host
/// and its subdomains), and one pattern the browser refuses would stop the
/// content scripts on every site; so only hosts those patterns can spell
/// are accepted: IP addresses, and domains without empty labels (the URL
/// parser keeps `a..b`, `.a` and `a.`, which no pattern is known to match).
pub fn switchable_site(rules: &SiteRules, origin: &str) -> std::result::Result<Site, String> {
    let origin = Origin::parse_caller(origin).map_err(|_| format!("{origin:?} is not a web origin (http or https)"))?;
    let site = rules.site(&origin);
    let host = origin.host();
    let ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    if !ip && host.split('.').any(str::is_empty) {
        return Err(format!("{} has an empty label in its host name; it cannot be turned off", site.as_str()));
    }
    Ok(site)
}

/// A persisted or administrator-given site, as `switchable_site` would name it.
pub fn parse_site(rules: &SiteRules, text: &str) -> std::result::Result<Site, String> {
    let site = switchable_site(rules, text)?;
    match site.as_str() == text {
        true => Ok(site),
        false => Err(format!("{text:?} is not a site (scheme://registrable-domain); its site is {}", site.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_name_their_whole_site() {
        let rules = SiteRules;
        for (origin, site) in [
            ("https://www.example.co.uk", "https://example.co.uk"),
            ("https://example.com:8443", "https://example.com"),
            ("http://localhost:5173", "http://localhost"),
            ("http://127.0.0.1:8080", "http://127.0.0.1"),
            ("https://[::1]", "https://[::1]"),
            ("https://x.me.github.io", "https://me.github.io"),
        ] {
            assert_eq!(switchable_site(&rules, origin).unwrap().as_str(), site, "{origin}");
        }
    }

    #[test]
    fn only_what_a_match_pattern_can_spell() {
        let rules = SiteRules;
        for origin in
            ["https://a..com", "https://.a.com", "https://a.com.", "chrome-extension://abc", "null", "https://A.com"]
        {
            assert!(switchable_site(&rules, origin).is_err(), "{origin}");
        }
    }

    #[test]
    fn a_persisted_site_must_be_one() {
        let rules = SiteRules;
        assert!(parse_site(&rules, "https://example.com").is_ok());
        for text in ["https://www.example.com", "https://example.com:8443", "example.com", "https://example.com/"] {
            assert!(parse_site(&rules, text).is_err(), "{text}");
        }
    }

    #[test]
    fn the_policy_wins_and_only_the_users_list_persists() {
        let rules = SiteRules;
        let site = |s: &str| parse_site(&rules, s).unwrap();
        let mut sites = DisabledSites::default();
        sites.set_policy([site("https://corp.test")].into());
        sites.disable(site("https://corp.test"));
        sites.disable(site("https://a.test"));
        assert_eq!(sites.by(&site("https://corp.test")), Some(DisabledBy::Policy));
        assert_eq!(sites.by(&site("https://a.test")), Some(DisabledBy::User));
        assert!(sites.enable(&site("https://corp.test")).is_err());
        assert_eq!(sites.all().len(), 2);
        let persisted = sites.take_changed().unwrap();
        assert_eq!(persisted, vec![site("https://a.test"), site("https://corp.test")]);
        assert!(sites.take_changed().is_none());
        sites.enable(&site("https://b.test")).unwrap();
        assert!(!sites.has_changes(), "turning on a site that was on changes nothing");
    }
}
