//! The entry index: what is stored, who stored it, who may see it.
//!
//! Every mutation records the hash as changed; the worker drains the changes
//! and persists exactly those entries, so the index survives the worker being
//! stopped between any two requests.

use crate::hash::ContentHash;
use crate::origin::Origin;
use crate::probes::WindowChange;
use crate::settings::Settings;
use crate::site::{Site, SiteRules};
use crate::visibility::{Visibility, MAX_LISTED_ORIGINS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Readers remembered per entry (for the popup); the least recent is forgotten
/// first. Bounded because every read rewrites the record.
pub const MAX_USERS_PER_ENTRY: usize = 64;
/// Storing origins remembered per entry. Beyond this, a new storer's write
/// still succeeds (its own handle reads it) but it is not recorded: a page must
/// not be able to grow a record, and the time of every lookup, without limit.
pub const MAX_STORERS_PER_ENTRY: usize = 64;

/// Why an entry is disclosed to a caller: the spec's grants, widest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    /// The caller stored it.
    Storer,
    /// The caller is same-site with a storer.
    SameSite,
    /// A storer listed the caller's origin.
    Listed,
    /// A storer made it global: still subject to the Public Hash List gate.
    Global,
}

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
    /// What the bytes look like (`sniff::kind_of`), for people only.
    #[serde(default)]
    pub kind: String,
    /// Origins that read the file, with when they last did.
    #[serde(default)]
    pub users: BTreeMap<Origin, u64>,
    /// Reads by origins that had not stored the file: downloads avoided.
    #[serde(default)]
    pub hits: u64,
    #[serde(default)]
    pub saved_bytes: u64,
}

/// Store-wide counters for the popup.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Totals {
    pub hits: u64,
    pub misses: u64,
    pub saved_bytes: u64,
}

/// A verified write, as `Index::record_write` takes it.
pub struct Write<'a> {
    pub hash: &'a ContentHash,
    pub size: u64,
    pub storer: &'a Origin,
    pub visibility: &'a Visibility,
    pub kind: &'static str,
}

/// One persisted change: the entry as it now is, or `None` if it is gone.
#[derive(Debug, Serialize)]
pub struct Change {
    pub hash: ContentHash,
    pub entry: Option<Entry>,
}

/// Everything to persist since the last drain.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub entries: Vec<Change>,
    pub totals: Option<Totals>,
    pub settings: Option<Settings>,
    pub probes: Vec<WindowChange>,
    pub manual_hashes: Option<Vec<ContentHash>>,
    /// The user's list of sites where the API is off.
    pub disabled_sites: Option<Vec<Site>>,
}

/// Which records a `Changes` holds (not their values): what to mark changed
/// again if writing them failed.
#[derive(Debug, Default)]
pub struct ChangedKeys {
    pub hashes: Vec<ContentHash>,
    pub totals: bool,
    pub settings: bool,
    pub sites: Vec<String>,
    pub manual_hashes: bool,
    pub disabled_sites: bool,
}

impl Changes {
    pub fn keys(&self) -> ChangedKeys {
        ChangedKeys {
            hashes: self.entries.iter().map(|c| c.hash.clone()).collect(),
            totals: self.totals.is_some(),
            settings: self.settings.is_some(),
            sites: self.probes.iter().map(|c| c.site.clone()).collect(),
            manual_hashes: self.manual_hashes.is_some(),
            disabled_sites: self.disabled_sites.is_some(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Index {
    entries: BTreeMap<ContentHash, Entry>,
    changed: BTreeSet<ContentHash>,
    totals: Totals,
    totals_changed: bool,
}

impl Entry {
    /// The narrowest grant that discloses this entry to `caller`, if any.
    pub fn grant_for(&self, caller: &Origin, sites: &SiteRules) -> Option<Grant> {
        if self.storers.contains(caller) {
            Some(Grant::Storer)
        } else if self.storers.iter().any(|s| sites.same_site(s, caller)) {
            Some(Grant::SameSite)
        } else if self.listed.contains(caller) {
            Some(Grant::Listed)
        } else {
            self.global.then_some(Grant::Global)
        }
    }

    /// Whether every origin that stored or read this file is same-site with `origin`.
    pub fn used_only_by_site_of(&self, origin: &Origin, sites: &SiteRules) -> bool {
        self.storers.iter().chain(self.users.keys()).all(|o| sites.same_site(o, origin))
    }

    /// Whether any origin that stored or read this file is same-site with `origin`.
    pub fn touches_site_of(&self, origin: &Origin, sites: &SiteRules) -> bool {
        self.storers.iter().chain(self.users.keys()).any(|o| sites.same_site(o, origin))
    }

    fn record_read(&mut self, reader: &Origin, now_ms: u64) -> bool {
        self.last_used_ms = now_ms;
        self.users.insert(reader.clone(), now_ms);
        if self.users.len() > MAX_USERS_PER_ENTRY {
            let oldest = self.users.iter().min_by_key(|(_, t)| **t).map(|(o, _)| o.clone());
            oldest.map(|o| self.users.remove(&o));
        }
        let hit = !self.storers.contains(reader);
        if hit {
            self.hits += 1;
            self.saved_bytes += self.size;
        }
        hit
    }

    /// Records a verified write by `storer` and widens visibility. Says
    /// nothing back: anything it said would depend on the entry's state,
    /// which the writer may not be allowed to know (a hidden entry).
    fn widen(&mut self, storer: &Origin, visibility: &Visibility) {
        if self.storers.len() < MAX_STORERS_PER_ENTRY {
            self.storers.insert(storer.clone());
        }
        match visibility {
            Visibility::Global => self.global = true,
            Visibility::Listed(origins) => {
                for o in origins {
                    if self.listed.len() >= MAX_LISTED_ORIGINS {
                        break;
                    }
                    self.listed.insert(o.clone());
                }
            }
            Visibility::SameSite => {}
        }
    }
}

impl Index {
    pub fn get(&self, hash: &ContentHash) -> Option<&Entry> {
        self.entries.get(hash)
    }

    /// Counts a lookup that disclosed nothing (for the popup).
    pub fn count_miss(&mut self) {
        self.totals.misses += 1;
        self.totals_changed = true;
    }

    /// Records that `reader` was served the file.
    pub fn record_read(&mut self, hash: &ContentHash, reader: &Origin, now_ms: u64) {
        if let Some(e) = self.entries.get_mut(hash) {
            if e.record_read(reader, now_ms) {
                self.totals.hits += 1;
                self.totals.saved_bytes += e.size;
                self.totals_changed = true;
            }
            self.changed.insert(hash.clone());
        }
    }

    pub fn restore_totals(&mut self, totals: Totals) {
        self.totals = totals;
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Bytes of all stored files.
    pub fn stored_bytes(&self) -> u64 {
        self.entries.values().map(|e| e.size).sum()
    }

    /// Bytes charged to `origin`: the full size of every file it stored
    /// (a fractional charge would tell it how many others stored the file).
    pub fn charged_to(&self, origin: &Origin) -> u64 {
        self.entries.values().filter(|e| e.storers.contains(origin)).map(|e| e.size).sum()
    }

    /// Adds or widens the entry after its bytes were verified.
    pub fn record_write(&mut self, write: Write, now_ms: u64) {
        let Write { hash, size, storer, visibility, kind } = write;
        let entry = self.entries.entry(hash.clone()).or_insert_with(|| Entry {
            hash: hash.clone(),
            size,
            storers: BTreeSet::new(),
            global: false,
            listed: BTreeSet::new(),
            created_ms: now_ms,
            last_used_ms: now_ms,
            kind: kind.to_owned(),
            users: BTreeMap::new(),
            hits: 0,
            saved_bytes: 0,
        });
        entry.last_used_ms = now_ms;
        self.changed.insert(hash.clone());
        entry.widen(storer, visibility);
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

    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty() || self.totals_changed
    }

    /// Marks records changed again (their current state is written next time).
    pub fn mark_changed(&mut self, hashes: Vec<ContentHash>, totals: bool) {
        self.changed.extend(hashes);
        self.totals_changed |= totals;
    }

    pub fn drain_changes(&mut self) -> Changes {
        let entries = std::mem::take(&mut self.changed)
            .into_iter()
            .map(|hash| Change { entry: self.entries.get(&hash).cloned(), hash })
            .collect();
        let totals = std::mem::take(&mut self.totals_changed).then(|| self.totals.clone());
        Changes { entries, totals, ..Changes::default() }
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
        SiteRules
    }

    fn write(index: &mut Index, hash: &ContentHash, storer: &str, visibility: &Visibility, now: u64) {
        let storer = o(storer);
        index.record_write(Write { hash, size: 4, storer: &storer, visibility, kind: "binary" }, now);
    }

    fn index_with(storer: &str, visibility: Visibility) -> (Index, ContentHash) {
        let mut index = Index::default();
        let hash = ContentHash::from_hex(H).unwrap();
        write(&mut index, &hash, storer, &visibility, 1);
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
        let s = SiteRules;
        for (name, visibility) in tiers {
            let (index, hash) = index_with(storer, visibility);
            let grant = |caller: &str| index.get(&hash).unwrap().grant_for(&o(caller), &s);
            assert_eq!(grant(storer), Some(Grant::Storer), "{name}");
            assert_eq!(grant(same_site), Some(Grant::SameSite), "{name}");
            let expected = match name {
                "same-site" => None,
                "listed" => Some(Grant::Listed),
                _ => Some(Grant::Global),
            };
            assert_eq!(grant(listed), expected, "{name}: listed");
            assert_eq!(grant(stranger), (name == "global").then_some(Grant::Global), "{name}: stranger");
            assert_eq!(
                grant(other_scheme),
                (name == "global").then_some(Grant::Global),
                "{name}: other scheme is another site"
            );
        }
    }

    #[test]
    fn visibility_only_widens() {
        let (mut index, hash) = index_with("https://a.test", Visibility::Global);
        let s = sites();
        write(&mut index, &hash, "https://b.test", &Visibility::SameSite, 2);
        write(&mut index, &hash, "https://c.test", &Visibility::Listed(vec![o("https://d.test")]), 3);
        let e = index.get(&hash).unwrap();
        assert!(e.global, "still global");
        assert_eq!(e.storers.len(), 3);
        assert_eq!(e.grant_for(&o("https://z.test"), &s), Some(Grant::Global));
    }

    #[test]
    fn lists_accumulate_up_to_the_maximum() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        for batch in 0..3 {
            let list = (0..40).map(|i| o(&format!("https://o{batch}-{i}.test"))).collect();
            write(&mut index, &hash, "https://a.test", &Visibility::Listed(list), 2);
        }
        let e = index.get(&hash).unwrap();
        assert_eq!(e.listed.len(), MAX_LISTED_ORIGINS);
        assert!(!e.global);
    }

    #[test]
    fn storers_and_users_are_bounded() {
        let (mut index, hash) = index_with("https://a.test", Visibility::Global);
        for i in 0..200 {
            let origin = format!("https://s{i}.test");
            write(&mut index, &hash, &origin, &Visibility::SameSite, 2);
            index.record_read(&hash, &o(&origin), 3 + i);
        }
        let e = index.get(&hash).unwrap();
        assert_eq!(e.storers.len(), MAX_STORERS_PER_ENTRY);
        assert_eq!(e.users.len(), MAX_USERS_PER_ENTRY);
        assert!(e.users.contains_key(&o("https://s199.test")), "the most recent reader is kept");
    }

    #[test]
    fn every_storer_is_charged_the_full_size() {
        let (mut index, hash) = index_with("https://a.test", Visibility::Global);
        write(&mut index, &hash, "https://b.test", &Visibility::Global, 2);
        assert_eq!(index.charged_to(&o("https://a.test")), 4);
        assert_eq!(index.charged_to(&o("https://b.test")), 4);
        assert_eq!(index.charged_to(&o("https://c.test")), 0);
    }

    #[test]
    fn changes_are_drained_once() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        let changes = index.drain_changes().entries;
        assert_eq!(changes.len(), 1);
        assert!(changes[0].entry.is_some());
        assert!(index.drain_changes().entries.is_empty());
        index.remove(&hash);
        let changes = index.drain_changes().entries;
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

#[cfg(test)]
mod usage_tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn o(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    fn global_entry() -> (Index, ContentHash) {
        let mut index = Index::default();
        let hash = ContentHash::from_hex(H).unwrap();
        let storer = o("https://a.test");
        index.record_write(
            Write { hash: &hash, size: 100, storer: &storer, visibility: &Visibility::Global, kind: "wasm" },
            1,
        );
        index.drain_changes();
        (index, hash)
    }

    #[test]
    fn reads_by_non_storers_count_as_saved_downloads() {
        let (mut index, hash) = global_entry();
        index.record_read(&hash, &o("https://a.test"), 5);
        index.record_read(&hash, &o("https://b.test"), 6);
        index.record_read(&hash, &o("https://b.test"), 7);
        let e = index.get(&hash).unwrap();
        assert_eq!((e.hits, e.saved_bytes, e.last_used_ms), (2, 200, 7));
        assert_eq!(e.users.len(), 2);
        assert_eq!(index.totals(), &Totals { hits: 2, misses: 0, saved_bytes: 200 });
        let changes = index.drain_changes();
        assert_eq!(changes.totals.unwrap().saved_bytes, 200);
    }

    #[test]
    fn remembered_users_are_bounded() {
        let (mut index, hash) = global_entry();
        for i in 0..(MAX_USERS_PER_ENTRY as u64 + 10) {
            index.record_read(&hash, &o(&format!("https://u{i}.test")), 10 + i);
        }
        let e = index.get(&hash).unwrap();
        assert_eq!(e.users.len(), MAX_USERS_PER_ENTRY);
        assert!(!e.users.contains_key(&o("https://u0.test")), "the least recent reader is forgotten");
    }

    #[test]
    fn used_only_by_a_site() {
        let sites = SiteRules;
        let (mut index, hash) = global_entry();
        assert!(index.get(&hash).unwrap().used_only_by_site_of(&o("https://sub.a.test"), &sites));
        index.record_read(&hash, &o("https://b.test"), 2);
        let e = index.get(&hash).unwrap();
        assert!(!e.used_only_by_site_of(&o("https://a.test"), &sites));
        assert!(e.touches_site_of(&o("https://a.test"), &sites) && e.touches_site_of(&o("https://b.test"), &sites));
        assert!(!e.touches_site_of(&o("https://c.test"), &sites));
    }
}
