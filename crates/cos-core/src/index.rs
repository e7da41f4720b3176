//! The entry index: what is stored, who stored it, who may see it.
//!
//! Every mutation records the hash as changed; the worker drains the changes
//! and persists exactly those entries, so the index survives the worker being
//! stopped between any two requests.

use crate::hash::ContentHash;
use crate::origin::Origin;
use crate::site::SiteRules;
use crate::visibility::{Visibility, MAX_LISTED_ORIGINS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub hash: ContentHash,
    pub size: u64,
    /// Origins that supplied the verified bytes; never empty.
    pub storers: BTreeSet<Origin>,
    #[serde(default)]
    pub global: bool,
    #[serde(default)]
    pub listed: BTreeSet<Origin>,
    pub created_ms: u64,
    pub last_used_ms: u64,
}

/// One persisted change: the entry as it now is, or `None` if it is gone.
#[derive(Debug, Serialize)]
pub struct Change {
    pub hash: ContentHash,
    pub entry: Option<Entry>,
}

#[derive(Debug, Default)]
pub struct Index {
    entries: BTreeMap<ContentHash, Entry>,
    changed: BTreeSet<ContentHash>,
}

impl Entry {
    /// The disclosure rule: storer, same-site with a storer, listed, or global.
    pub fn is_disclosed_to(&self, caller: &Origin, sites: &SiteRules) -> bool {
        self.storers.contains(caller)
            || self.storers.iter().any(|s| sites.same_site(s, caller))
            || self.listed.contains(caller)
            || self.global
    }

    /// Records a verified write by `storer` and widens visibility; returns
    /// warnings for the page's console (never an error: the bytes were right).
    fn widen(&mut self, storer: &Origin, visibility: &Visibility) -> Vec<String> {
        self.storers.insert(storer.clone());
        let mut warnings = Vec::new();
        let narrower = match visibility {
            Visibility::Global => {
                self.global = true;
                false
            }
            Visibility::Listed(origins) => {
                let mut dropped = 0;
                for o in origins {
                    if self.listed.contains(o) {
                        continue;
                    }
                    if self.listed.len() < MAX_LISTED_ORIGINS {
                        self.listed.insert(o.clone());
                    } else {
                        dropped += 1;
                    }
                }
                if dropped > 0 {
                    warnings.push(format!(
                        "{dropped} origin(s) were not added: this file already lists the maximum of {MAX_LISTED_ORIGINS}"
                    ));
                }
                self.global
            }
            Visibility::SameSite => self.global || !self.listed.is_empty(),
        };
        if narrower {
            warnings.push("this file is already visible more widely; visibility is never narrowed".to_owned());
        }
        warnings
    }
}

impl Index {
    pub fn get(&self, hash: &ContentHash) -> Option<&Entry> {
        self.entries.get(hash)
    }

    /// The entry if `caller` may see it. Missing and hidden are the same `None`.
    pub fn lookup(&self, hash: &ContentHash, caller: &Origin, sites: &SiteRules) -> Option<&Entry> {
        self.entries.get(hash).filter(|e| e.is_disclosed_to(caller, sites))
    }

    pub fn touch(&mut self, hash: &ContentHash, now_ms: u64) {
        if let Some(e) = self.entries.get_mut(hash) {
            e.last_used_ms = now_ms;
            self.changed.insert(hash.clone());
        }
    }

    /// Adds or widens the entry after its bytes were verified.
    pub fn record_write(
        &mut self,
        hash: &ContentHash,
        size: u64,
        storer: &Origin,
        visibility: &Visibility,
        now_ms: u64,
    ) -> Vec<String> {
        let entry = self.entries.entry(hash.clone()).or_insert_with(|| Entry {
            hash: hash.clone(),
            size,
            storers: BTreeSet::new(),
            global: false,
            listed: BTreeSet::new(),
            created_ms: now_ms,
            last_used_ms: now_ms,
        });
        entry.last_used_ms = now_ms;
        self.changed.insert(hash.clone());
        entry.widen(storer, visibility)
    }

    /// Loads a persisted entry (worker start). Not recorded as a change.
    pub fn restore(&mut self, entry: Entry) {
        self.entries.insert(entry.hash.clone(), entry);
    }

    pub fn remove(&mut self, hash: &ContentHash) -> Option<Entry> {
        let removed = self.entries.remove(hash);
        if removed.is_some() {
            self.changed.insert(hash.clone());
        }
        removed
    }

    pub fn hashes(&self) -> impl Iterator<Item = &ContentHash> {
        self.entries.keys()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn drain_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|hash| Change { entry: self.entries.get(&hash).cloned(), hash })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn o(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    fn sites() -> SiteRules {
        SiteRules::parse("com\nco.uk\n")
    }

    fn index_with(storer: &str, visibility: Visibility) -> (Index, ContentHash) {
        let mut index = Index::default();
        let hash = ContentHash::from_hex(H).unwrap();
        index.record_write(&hash, 4, &o(storer), &visibility, 1);
        (index, hash)
    }

    /// The full disclosure matrix: tier x caller relation.
    #[test]
    fn disclosure_matrix() {
        let storer = "https://a.example.com";
        let same_site = "https://b.example.com";
        let listed = "https://listed.test";
        let stranger = "https://evil.test";
        let other_scheme = "http://a.example.com";
        let tiers = [
            ("same-site", Visibility::SameSite),
            ("listed", Visibility::Listed(vec![o(listed)])),
            ("global", Visibility::Global),
        ];
        let s = sites();
        for (name, visibility) in tiers {
            let (index, hash) = index_with(storer, visibility);
            let sees = |caller: &str| index.lookup(&hash, &o(caller), &s).is_some();
            assert!(sees(storer), "{name}: storer");
            assert!(sees(same_site), "{name}: same-site");
            assert_eq!(sees(listed), name != "same-site", "{name}: listed");
            assert_eq!(sees(stranger), name == "global", "{name}: stranger");
            assert_eq!(sees(other_scheme), name == "global", "{name}: other scheme is another site");
        }
    }

    #[test]
    fn missing_and_hidden_are_both_none() {
        let (index, hash) = index_with("https://a.test", Visibility::SameSite);
        let s = sites();
        let other = ContentHash::from_hex(&H.replace('9', "8")).unwrap();
        assert!(index.lookup(&hash, &o("https://b.test"), &s).is_none());
        assert!(index.lookup(&other, &o("https://a.test"), &s).is_none());
    }

    #[test]
    fn visibility_only_widens() {
        let (mut index, hash) = index_with("https://a.test", Visibility::Global);
        let s = sites();
        let w = index.record_write(&hash, 4, &o("https://b.test"), &Visibility::SameSite, 2);
        assert_eq!(w.len(), 1, "narrowing warns");
        let w = index.record_write(&hash, 4, &o("https://c.test"), &Visibility::Listed(vec![o("https://d.test")]), 3);
        assert_eq!(w.len(), 1, "a list on a global entry warns");
        let e = index.get(&hash).unwrap();
        assert!(e.global, "still global");
        assert_eq!(e.storers.len(), 3);
        assert!(index.lookup(&hash, &o("https://z.test"), &s).is_some());
    }

    #[test]
    fn lists_accumulate_up_to_the_maximum() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        for batch in 0..3 {
            let list = (0..40).map(|i| o(&format!("https://o{batch}-{i}.test"))).collect();
            let warnings = index.record_write(&hash, 4, &o("https://a.test"), &Visibility::Listed(list), 2);
            assert_eq!(warnings.is_empty(), batch == 0, "batch {batch}: {warnings:?}");
        }
        let e = index.get(&hash).unwrap();
        assert_eq!(e.listed.len(), MAX_LISTED_ORIGINS);
        assert!(!e.global);
    }

    #[test]
    fn changes_are_drained_once() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        let changes = index.drain_changes();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].entry.is_some());
        assert!(index.drain_changes().is_empty());
        index.remove(&hash);
        let changes = index.drain_changes();
        assert!(changes[0].entry.is_none());
    }

    #[test]
    fn entry_persistence_round_trip() {
        let (index, hash) = index_with("https://a.test", Visibility::Listed(vec![o("https://b.test")]));
        let e = index.get(&hash).unwrap();
        let json = serde_json::to_string(e).unwrap();
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e);
        // Stored data is re-validated on load: a tampered origin is rejected.
        let tampered = json.replace("https://b.test", "https://B.test/x");
        assert!(serde_json::from_str::<Entry>(&tampered).is_err());
    }
}
