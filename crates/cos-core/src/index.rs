//! The entry index: what is stored, who stored it, who may see it.
//!
//! Every mutation records the hash as changed; the worker drains the changes
//! and persists exactly those entries, so the index survives the worker being
//! stopped between any two requests.

use crate::hash::ContentHash;
use crate::origin::Origin;
use crate::public_hash_list::PublicHashList;
use crate::site::SiteRules;
use crate::visibility::{Visibility, MAX_LISTED_ORIGINS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Readers remembered per entry (for the popup); the least recent is forgotten first.
pub const MAX_USERS_PER_ENTRY: usize = 256;

/// What decides disclosure besides the entry itself.
pub struct Policy<'a> {
    pub sites: &'a SiteRules,
    /// Strict privacy: global entries reach other sites only if listed here.
    pub strict: Option<&'a PublicHashList>,
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
pub struct Changes {
    pub entries: Vec<Change>,
    pub totals: Option<Totals>,
}

#[derive(Debug, Default)]
pub struct Index {
    entries: BTreeMap<ContentHash, Entry>,
    changed: BTreeSet<ContentHash>,
    totals: Totals,
    totals_changed: bool,
}

impl Entry {
    /// The disclosure rule: storer, same-site with a storer, listed, or
    /// global (under strict privacy, global only for Public Hash List files).
    pub fn is_disclosed_to(&self, caller: &Origin, policy: &Policy) -> bool {
        self.storers.contains(caller)
            || self.storers.iter().any(|s| policy.sites.same_site(s, caller))
            || self.listed.contains(caller)
            || (self.global && policy.strict.is_none_or(|list| list.contains(&self.hash)))
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

    /// The entry if `caller` may see it. Missing and hidden are the same
    /// `None`, and both count as a miss.
    pub fn lookup(&mut self, hash: &ContentHash, caller: &Origin, policy: &Policy) -> Option<&Entry> {
        let found = self.entries.get(hash).filter(|e| e.is_disclosed_to(caller, policy));
        if found.is_none() {
            self.totals.misses += 1;
            self.totals_changed = true;
        }
        found
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

    /// Adds or widens the entry after its bytes were verified.
    pub fn record_write(&mut self, write: Write, now_ms: u64) -> Vec<String> {
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

    pub fn drain_changes(&mut self) -> Changes {
        let entries = std::mem::take(&mut self.changed)
            .into_iter()
            .map(|hash| Change { entry: self.entries.get(&hash).cloned(), hash })
            .collect();
        let totals = std::mem::take(&mut self.totals_changed).then(|| self.totals.clone());
        Changes { entries, totals }
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

    fn lax(sites: &SiteRules) -> Policy<'_> {
        Policy { sites, strict: None }
    }

    fn write(index: &mut Index, hash: &ContentHash, storer: &str, visibility: &Visibility, now: u64) -> Vec<String> {
        let storer = o(storer);
        index.record_write(Write { hash, size: 4, storer: &storer, visibility, kind: "binary" }, now)
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
        let s = sites();
        for (name, visibility) in tiers {
            let (mut index, hash) = index_with(storer, visibility);
            let mut sees = |caller: &str| index.lookup(&hash, &o(caller), &lax(&s)).is_some();
            assert!(sees(storer), "{name}: storer");
            assert!(sees(same_site), "{name}: same-site");
            assert_eq!(sees(listed), name != "same-site", "{name}: listed");
            assert_eq!(sees(stranger), name == "global", "{name}: stranger");
            assert_eq!(sees(other_scheme), name == "global", "{name}: other scheme is another site");
        }
    }

    #[test]
    fn missing_and_hidden_are_both_none() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        let s = sites();
        let other = ContentHash::from_hex(&H.replace('9', "8")).unwrap();
        assert!(index.lookup(&hash, &o("https://b.test"), &lax(&s)).is_none());
        assert!(index.lookup(&other, &o("https://a.test"), &lax(&s)).is_none());
        assert_eq!(index.totals().misses, 2);
    }

    #[test]
    fn visibility_only_widens() {
        let (mut index, hash) = index_with("https://a.test", Visibility::Global);
        let s = sites();
        let w = write(&mut index, &hash, "https://b.test", &Visibility::SameSite, 2);
        assert_eq!(w.len(), 1, "narrowing warns");
        let w = write(&mut index, &hash, "https://c.test", &Visibility::Listed(vec![o("https://d.test")]), 3);
        assert_eq!(w.len(), 1, "a list on a global entry warns");
        let e = index.get(&hash).unwrap();
        assert!(e.global, "still global");
        assert_eq!(e.storers.len(), 3);
        assert!(index.lookup(&hash, &o("https://z.test"), &lax(&s)).is_some());
    }

    #[test]
    fn lists_accumulate_up_to_the_maximum() {
        let (mut index, hash) = index_with("https://a.test", Visibility::SameSite);
        for batch in 0..3 {
            let list = (0..40).map(|i| o(&format!("https://o{batch}-{i}.test"))).collect();
            let warnings = write(&mut index, &hash, "https://a.test", &Visibility::Listed(list), 2);
            assert_eq!(warnings.is_empty(), batch == 0, "batch {batch}: {warnings:?}");
        }
        let e = index.get(&hash).unwrap();
        assert_eq!(e.listed.len(), MAX_LISTED_ORIGINS);
        assert!(!e.global);
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
    fn strict_privacy_limits_global_entries_to_the_public_hash_list() {
        let sites = SiteRules::parse("test\n");
        let (mut index, hash) = global_entry();
        let empty = PublicHashList::default();
        let listed = PublicHashList::parse(&format!("// ===BEGIN SHA-256===\n{H}\n// ===END SHA-256===\n"));
        let strict_unlisted = Policy { sites: &sites, strict: Some(&empty) };
        assert!(index.lookup(&hash, &o("https://b.test"), &strict_unlisted).is_none(), "other site");
        assert!(index.lookup(&hash, &o("https://x.a.test"), &strict_unlisted).is_some(), "same site still sees it");
        let strict_listed = Policy { sites: &sites, strict: Some(&listed) };
        assert!(index.lookup(&hash, &o("https://b.test"), &strict_listed).is_some());
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
        let sites = SiteRules::parse("test\n");
        let (mut index, hash) = global_entry();
        assert!(index.get(&hash).unwrap().used_only_by_site_of(&o("https://sub.a.test"), &sites));
        index.record_read(&hash, &o("https://b.test"), 2);
        let e = index.get(&hash).unwrap();
        assert!(!e.used_only_by_site_of(&o("https://a.test"), &sites));
        assert!(e.touches_site_of(&o("https://a.test"), &sites) && e.touches_site_of(&o("https://b.test"), &sites));
        assert!(!e.touches_site_of(&o("https://c.test"), &sites));
    }
}
