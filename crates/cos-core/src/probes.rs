//! The probe budget (spec PR #73): every lookup a site makes tells it one
//! bit about the user's other sites (is this file stored?), so each site may
//! look up only so many distinct hashes between two real user gestures.
//!
//! - Counted in distinct hashes: asking again for a hash already charged is free.
//! - Charged found or not (else the charge itself would answer the question),
//!   never to an origin for a file it stored itself, never for create requests.
//! - Charged to the caller's site and to the top-level site, and allowed only
//!   when both have room: frames of several sites on one page cannot pool
//!   their budgets (spec issue #75), and a tracker framed on many sites cannot
//!   use each page's budget as its own.
//! - Replenished when the user activates a frame of the site (a trusted gesture
//!   the extension observes itself, never one a page reports).
//! - Persisted, so reloading, opening tabs or restarting does not refill it.
//!
//! The same record remembers the GREASE draw for each hash, so a repeated
//! read in the same window answers the same way.

use crate::hash::ContentHash;
use crate::site::Site;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Distinct hashes per site per window. The explainer suggests 8–16; 16 lets
/// a page load a model with its runtime and tokenizer files (Transformers.js
/// asks for 3–6 hashes per model) a few times over, while a tracker learns at
/// most 16 bits per gesture. Enterprise policy may change it.
pub const DEFAULT_PROBES_PER_WINDOW: usize = 16;
/// The most a policy may allow. Beyond it a budget stops protecting anything
/// (a tracker needs a few dozen bits to single out a user), so a larger value
/// is taken for a mistake and ignored.
pub const MAX_PROBES_PER_WINDOW: usize = 256;

/// A policy's lookups per window, or why it is ignored: a whole number from 1
/// to `MAX_PROBES_PER_WINDOW` (0 would hide every file another site stored,
/// which is the per-site switch's job, not the budget's).
pub fn probe_limit(value: &serde_json::Value) -> Result<usize, String> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=MAX_PROBES_PER_WINDOW).contains(n))
        .ok_or_else(|| format!("{value} is not a whole number from 1 to {MAX_PROBES_PER_WINDOW}"))
}
/// Sites with a window on record. Forgetting a window refills that site's
/// budget, so a site could get its own spent window forgotten by making
/// thousands of other sites look something up; hence what may be forgotten
/// to make room: a window with budget left (least recently used first), or
/// one spent and untouched for `SPENT_WINDOW_TTL_MS`. With neither, a site
/// with no window yet is refused, as if its budget were spent (a refusal
/// looks like a miss): sharing degrades, privacy does not.
pub const MAX_SITES: usize = 4096;
/// How long a spent window is kept without a gesture: at most one budget a week without the user.
pub const SPENT_WINDOW_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// One site's lookups since its last user gesture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// Each hash charged, with the GREASE draw made for it (if one was).
    pub hashes: BTreeMap<ContentHash, Option<bool>>,
    pub last_ms: u64,
}

#[derive(Debug, Default)]
pub struct Probes {
    windows: BTreeMap<String, Window>,
    changed: BTreeSet<String>,
}

/// A lookup the budget refused, for the developer tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spent {
    /// The site with no room: the caller's, or the top-level page's.
    pub site: String,
    /// Distinct hashes per window.
    pub limit: usize,
    /// The site has no window yet and none can be made: every site on
    /// record has spent its own (`MAX_SITES`).
    pub no_room: bool,
}

/// One persisted change: a site's window as it now is, or `None` if it is gone.
#[derive(Debug, Clone, Serialize)]
pub struct WindowChange {
    pub site: String,
    pub window: Option<Window>,
}

impl Probes {
    /// Charges a lookup of `hash` to every site in `sites`; refused (and
    /// nothing charged) if any of them has no room left for a new hash.
    pub fn charge(&mut self, sites: &[&Site], hash: &ContentHash, limit: usize, now_ms: u64) -> Result<(), Spent> {
        let fits = |w: Option<&Window>| w.is_none_or(|w| w.hashes.contains_key(hash) || w.hashes.len() < limit);
        if let Some(site) = sites.iter().find(|site| !fits(self.windows.get(site.as_str()))) {
            return Err(Spent { site: site.as_str().to_owned(), limit, no_room: false });
        }
        let new: Vec<&&Site> = sites.iter().filter(|site| !self.windows.contains_key(site.as_str())).collect();
        if !self.make_room(new.len(), limit, now_ms) {
            return Err(Spent { site: new[0].as_str().to_owned(), limit, no_room: true });
        }
        for site in sites {
            let window = self.windows.entry(site.as_str().to_owned()).or_default();
            window.hashes.entry(hash.clone()).or_insert(None);
            window.last_ms = now_ms;
            self.changed.insert(site.as_str().to_owned());
        }
        Ok(())
    }

    /// The GREASE decision for `hash` in `site`'s window: drawn once with
    /// `draw`, then the same until the window is replenished.
    pub fn grease(&mut self, site: &Site, hash: &ContentHash, draw: impl FnOnce() -> bool) -> bool {
        let Some(window) = self.windows.get_mut(site.as_str()) else { return draw() };
        let decision = window.hashes.entry(hash.clone()).or_insert(None);
        if decision.is_none() {
            *decision = Some(draw());
            self.changed.insert(site.as_str().to_owned());
        }
        decision.unwrap_or(false)
    }

    /// A real user gesture in a frame of `site`: its window starts afresh.
    pub fn replenish(&mut self, site: &Site) {
        if self.windows.remove(site.as_str()).is_some() {
            self.changed.insert(site.as_str().to_owned());
        }
    }

    /// Frees room for `new` windows (see `MAX_SITES` for what may go); false if it cannot.
    fn make_room(&mut self, new: usize, limit: usize, now_ms: u64) -> bool {
        while self.windows.len() + new > MAX_SITES {
            let forgettable =
                |w: &Window| w.hashes.len() < limit || now_ms.saturating_sub(w.last_ms) >= SPENT_WINDOW_TTL_MS;
            let oldest = self.windows.iter().filter(|(_, w)| forgettable(w)).min_by_key(|(_, w)| w.last_ms);
            let Some(site) = oldest.map(|(s, _)| s.clone()) else { return false };
            self.windows.remove(&site);
            self.changed.insert(site);
        }
        true
    }

    pub fn restore(&mut self, site: String, window: Window) {
        self.windows.insert(site, window);
    }

    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    pub fn mark_changed(&mut self, sites: Vec<String>) {
        self.changed.extend(sites);
    }

    pub fn drain_changes(&mut self) -> Vec<WindowChange> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|site| WindowChange { window: self.windows.get(&site).cloned(), site })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Origin;
    use crate::site::SiteRules;

    fn site(origin: &str) -> Site {
        SiteRules.site(&Origin::parse(origin).unwrap())
    }

    fn hash(i: u32) -> ContentHash {
        ContentHash::from_hex(&format!("{i:064x}")).unwrap()
    }

    #[test]
    fn distinct_hashes_are_counted_and_re_asking_is_free() {
        let mut p = Probes::default();
        let a = site("https://a.test");
        for i in 0..4 {
            assert!(p.charge(&[&a], &hash(i), 4, 1).is_ok());
        }
        assert!(p.charge(&[&a], &hash(4), 4, 1).is_err(), "a fifth distinct hash");
        assert!(p.charge(&[&a], &hash(2), 4, 1).is_ok(), "an old one is free");
    }

    #[test]
    fn both_the_caller_and_the_top_level_site_must_have_room() {
        let mut p = Probes::default();
        let (tracker, news, shop) =
            (site("https://tracker.test"), site("https://news.test"), site("https://shop.test"));
        for i in 0..3 {
            assert!(p.charge(&[&tracker, &news], &hash(i), 3, 1).is_ok());
        }
        // The tracker's own budget is spent, whichever page frames it.
        let spent = p.charge(&[&tracker, &shop], &hash(9), 3, 1).unwrap_err();
        assert_eq!(spent, Spent { site: "https://tracker.test".into(), limit: 3, no_room: false }, "whose window");
        assert!(p.charge(&[&shop], &hash(9), 3, 1).is_ok(), "the shop itself still has room");
        // A refused probe charged nobody.
        assert_eq!(p.windows[shop.as_str()].hashes.len(), 1);
    }

    #[test]
    fn a_gesture_replenishes_only_its_site() {
        let mut p = Probes::default();
        let (a, b) = (site("https://a.test"), site("https://b.test"));
        assert!(p.charge(&[&a], &hash(1), 1, 1).is_ok());
        assert!(p.charge(&[&b], &hash(1), 1, 1).is_ok());
        p.replenish(&a);
        assert!(p.charge(&[&a], &hash(2), 1, 2).is_ok());
        assert!(p.charge(&[&b], &hash(2), 1, 2).is_err());
        let changed: Vec<String> = p.drain_changes().into_iter().map(|c| c.site).collect();
        assert_eq!(changed, vec!["https://a.test".to_owned(), "https://b.test".to_owned()]);
    }

    #[test]
    fn grease_answers_the_same_within_a_window() {
        let mut p = Probes::default();
        let a = site("https://a.test");
        p.charge(&[&a], &hash(1), 16, 1).unwrap();
        assert!(p.grease(&a, &hash(1), || true));
        assert!(p.grease(&a, &hash(1), || false), "memoized");
        p.replenish(&a);
        p.charge(&[&a], &hash(1), 16, 2).unwrap();
        assert!(!p.grease(&a, &hash(1), || false), "a new window draws again");
    }

    #[test]
    fn the_number_of_sites_is_bounded_without_refilling_a_spent_window() {
        let mut p = Probes::default();
        let spent = site("https://tracker.test");
        assert!(p.charge(&[&spent], &hash(1), 2, 0).is_ok() && p.charge(&[&spent], &hash(2), 2, 0).is_ok());
        for i in 0..(MAX_SITES + 10) {
            let s = site(&format!("https://s{i}.test"));
            assert!(p.charge(&[&s], &hash(1), 2, 1 + i as u64).is_ok());
        }
        assert_eq!(p.windows.len(), MAX_SITES);
        assert!(p.windows.contains_key("https://tracker.test"), "a spent window is not forgotten");
        assert!(!p.windows.contains_key("https://s0.test"), "the oldest with budget left went first");
        // Every window spent: a new site is refused rather than anyone refilled...
        let kept: Vec<String> = p.windows.keys().filter(|k| *k != spent.as_str()).cloned().collect();
        for name in kept {
            assert!(p.charge(&[&site(&name)], &hash(2), 2, 10_000).is_ok());
        }
        let refused = p.charge(&[&site("https://new.test")], &hash(1), 2, 10_001).unwrap_err();
        assert_eq!(refused, Spent { site: "https://new.test".into(), limit: 2, no_room: true });
        // ...until a spent window has been left alone for a week (the oldest goes first).
        assert!(p.charge(&[&site("https://new.test")], &hash(1), 2, SPENT_WINDOW_TTL_MS).is_ok());
        assert!(!p.windows.contains_key("https://tracker.test"));
    }
}
