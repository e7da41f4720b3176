//! The store's brain: takes a decoded request plus the browser-given caller
//! origin, applies the rules, and answers with the next `Step` of I/O.

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::index::{Changes, Entry, Index, Policy, Totals, Write};
use crate::message::{AdminRequest, PageRequest, Step};
use crate::origin::Origin;
use crate::public_hash_list::PublicHashList;
use crate::session::{CloseStep, WriteSession};
use crate::settings::Settings;
use crate::site::SiteRules;
use crate::visibility::Visibility;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// Open writables one origin may hold at once (each has a temporary file).
pub const MAX_SESSIONS_PER_ORIGIN: usize = 64;
/// A writable with no traffic for this long is dropped with its temporary file.
pub const SESSION_IDLE_MS: u64 = 5 * 60 * 1000;
/// Files used more recently than this are in use: never evicted to make room.
pub const IN_USE_MS: u64 = 60 * 1000;

pub struct Engine {
    sites: SiteRules,
    public_hashes: PublicHashList,
    settings: Settings,
    settings_changed: bool,
    /// Budget when the user set none; the worker derives it from the disk quota.
    default_budget: u64,
    index: Index,
    sessions: HashMap<String, Open>,
    /// Random per worker start, so ids never repeat across restarts.
    instance: String,
    next_session: u64,
}

struct Open {
    session: WriteSession,
    verified_size: Option<u64>,
    last_active_ms: u64,
}

/// Result of matching stored files against the index at start-up.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    /// Stored files with no index entry, an invalid name, or the wrong size: delete them.
    pub delete_files: Vec<String>,
    /// Index entries whose bytes were missing or damaged; already removed from the index.
    pub dropped_entries: usize,
}

/// How to make room for a verified file, decided before it is put in place.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The bytes are stored already: drop the temporary file instead of moving it.
    pub already_stored: bool,
    /// Evicted to make room (already gone from the index): delete their files.
    pub evict: Vec<ContentHash>,
}

/// Everything a restarted worker reloads, besides the entries.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persisted {
    pub entries: Vec<serde_json::Value>,
    pub totals: Option<Totals>,
    pub settings: Option<Settings>,
}

/// Everything to persist since the last drain.
#[derive(Debug, Serialize)]
pub struct Drained {
    #[serde(flatten)]
    pub index: Changes,
    pub settings: Option<Settings>,
}

impl Engine {
    pub fn new(sites: SiteRules, public_hashes: PublicHashList, instance: &str) -> Self {
        Self {
            sites,
            public_hashes,
            settings: Settings::default(),
            settings_changed: false,
            default_budget: u64::MAX,
            index: Index::default(),
            sessions: HashMap::new(),
            instance: instance.to_owned(),
            next_session: 0,
        }
    }

    /// Loads what the worker persisted; malformed entries are skipped and counted.
    pub fn restore(&mut self, persisted: Persisted) -> usize {
        let mut skipped = 0;
        for value in persisted.entries {
            match serde_json::from_value::<Entry>(value) {
                Ok(entry) => self.index.restore(entry),
                Err(_) => skipped += 1,
            }
        }
        self.index.restore_totals(persisted.totals.unwrap_or_default());
        self.settings = persisted.settings.unwrap_or_default();
        skipped
    }

    pub fn set_default_budget(&mut self, bytes: u64) {
        self.default_budget = bytes;
    }

    fn budget(&self) -> u64 {
        self.settings.budget_bytes.unwrap_or(self.default_budget)
    }

    /// Disclosure lookup. Borrows fields, not `self`, so the index can be
    /// mutated (miss counters) while the policy is borrowed.
    fn lookup(&mut self, hash: &ContentHash, caller: &Origin) -> Option<&Entry> {
        let strict = self.settings.strict_global.then_some(&self.public_hashes);
        self.index.lookup(hash, caller, &Policy { sites: &self.sites, strict })
    }

    /// Matches the blob directory (name, size; no size for a directory)
    /// against the index: a file must be named by a hash with an entry of
    /// exactly its size.
    pub fn reconcile(&mut self, stored_files: &[(String, Option<u64>)]) -> Reconciled {
        let mut result = Reconciled::default();
        let mut present = std::collections::BTreeSet::new();
        for (name, size) in stored_files {
            let entry = ContentHash::from_hex(name).ok().and_then(|hash| self.index.get(&hash));
            match entry {
                Some(e) if Some(e.size) == *size => {
                    present.insert(e.hash.clone());
                }
                _ => result.delete_files.push(name.clone()),
            }
        }
        let missing: Vec<ContentHash> = self.index.hashes().filter(|h| !present.contains(*h)).cloned().collect();
        for hash in &missing {
            self.index.remove(hash);
        }
        result.dropped_entries = missing.len();
        result
    }

    /// Forgets an entry whose bytes on disk turned out not to match it (a
    /// read found another size); the worker deletes the file.
    pub fn discard_damaged(&mut self, hash: &str) -> bool {
        ContentHash::from_hex(hash).is_ok_and(|hash| self.index.remove(&hash).is_some())
    }

    /// Handles one page request. `caller` comes from the browser, never from
    /// the page; `blob_size` is the size of the Blob that came with it, if any.
    pub fn page_request(&mut self, caller: &str, json: &str, blob_size: Option<u64>, now_ms: u64) -> Result<Step> {
        let caller = Origin::parse_caller(caller)?;
        match PageRequest::decode(json)? {
            PageRequest::Open { hash, create, origins } => {
                let hash = hash.parse()?;
                Visibility::from_arg(origins.as_ref())?;
                if create {
                    // A create handle touches no stored state.
                    return Ok(Step::Reply { value: json!({ "hash": hash }) });
                }
                let entry = self.lookup(&hash, &caller).ok_or(CosError::NotFound)?;
                Ok(Step::Reply { value: json!({ "hash": hash, "size": entry.size }) })
            }
            PageRequest::Read { hash } => {
                let hash = hash.parse()?;
                let size = self.lookup(&hash, &caller).ok_or(CosError::NotFound)?.size;
                self.index.record_read(&hash, &caller, now_ms);
                Ok(Step::ReadFile { hash, size })
            }
            PageRequest::WriteBegin { hash, origins } => {
                let hash = hash.parse()?;
                let visibility = Visibility::from_arg(origins.as_ref())?;
                let open = self.sessions.values().filter(|o| o.session.owner == caller).count();
                if open >= MAX_SESSIONS_PER_ORIGIN {
                    return Err(CosError::InvalidState(format!(
                        "this origin already has {MAX_SESSIONS_PER_ORIGIN} open writables"
                    )));
                }
                self.next_session += 1;
                let id = format!("{}-{}", self.instance, self.next_session);
                let session = WriteSession::new(caller, hash, visibility);
                self.sessions.insert(id.clone(), Open { session, verified_size: None, last_active_ms: now_ms });
                Ok(Step::OpenTemp { session: id })
            }
            PageRequest::Write { session, position } => {
                let size = blob_size.ok_or_else(|| CosError::InvalidMessage("write carries no data".into()))?;
                let budget = self.budget();
                // Temporary files count too: all open writes together stay within the budget.
                let others: u64 =
                    self.sessions.iter().filter(|(id, _)| **id != session).map(|(_, o)| o.session.size()).sum();
                let at = self.with_session(&caller, &session, now_ms, |s| {
                    let at = s.plan_write(position, size)?;
                    // Fail as soon as the file cannot fit, not after writing all of it.
                    match s.size().saturating_add(others) > budget {
                        true => Err(CosError::QuotaExceeded { needed: s.size(), budget }),
                        false => Ok(at),
                    }
                })?;
                Ok(Step::WriteData { session, at })
            }
            PageRequest::Seek { session, position } => {
                self.with_session(&caller, &session, now_ms, |s| s.seek(position))?;
                Ok(Step::Reply { value: json!({}) })
            }
            PageRequest::Truncate { session, size } => {
                self.with_session(&caller, &session, now_ms, |s| s.truncate(size))?;
                Ok(Step::Truncate { session, size })
            }
            PageRequest::Close { session } => {
                let close = self.with_session(&caller, &session, now_ms, WriteSession::close)?;
                match close {
                    CloseStep::FullHash { size } => Ok(Step::FullHash { session, size }),
                    CloseStep::Verified { size } => {
                        let open = self.sessions.get_mut(&session).ok_or(CosError::UnknownSession)?;
                        open.verified_size = Some(size);
                        let hash = open.session.hash.clone();
                        Ok(Step::Commit { session, hash })
                    }
                }
            }
            PageRequest::Abort { session } => {
                self.owned(&caller, &session)?;
                self.sessions.remove(&session);
                Ok(Step::Discard { session })
            }
        }
    }

    /// The session a page request belongs to, if it is valid and has one.
    pub fn session_of(json: &str) -> Option<String> {
        PageRequest::decode(json).ok()?.session().map(str::to_owned)
    }

    /// Bytes of a planned write or re-hash pass, in order.
    pub fn feed(&mut self, caller: &str, session: &str, bytes: &[u8], now_ms: u64) -> Result<()> {
        let caller = Origin::parse_caller(caller)?;
        self.with_session(&caller, session, now_ms, |s| s.feed(bytes))
    }

    /// First half of a commit (the worker runs commits one at a time): says
    /// whether the bytes are new, and makes room for them within the budget
    /// by evicting the least recently used files not in use. If they cannot
    /// fit, nothing is evicted and the session ends with `QuotaExceeded`.
    pub fn prepare_commit(&mut self, caller: &str, session: &str, now_ms: u64) -> Result<Placement> {
        let caller = Origin::parse_caller(caller)?;
        self.owned(&caller, session)?;
        let open = &self.sessions[session];
        let size = open.verified_size.ok_or_else(|| CosError::InvalidState("the file was not verified".into()))?;
        if self.index.get(&open.session.hash).is_some() {
            return Ok(Placement { already_stored: true, evict: Vec::new() });
        }
        let budget = self.budget();
        let mut free = budget.saturating_sub(self.index.stored_bytes());
        let mut candidates: Vec<&Entry> =
            self.index.entries().filter(|e| now_ms.saturating_sub(e.last_used_ms) >= IN_USE_MS).collect();
        candidates.sort_by_key(|e| e.last_used_ms);
        let mut evict = Vec::new();
        for e in candidates {
            if free >= size {
                break;
            }
            free += e.size;
            evict.push(e.hash.clone());
        }
        if free < size {
            self.sessions.remove(session);
            return Err(CosError::QuotaExceeded { needed: size, budget });
        }
        for hash in &evict {
            self.index.remove(hash);
        }
        Ok(Placement { already_stored: false, evict })
    }

    /// Makes a verified session's bytes visible, after the worker put the file
    /// in place. Returns the reply for the page (console warnings included).
    pub fn commit(&mut self, caller: &str, session: &str, now_ms: u64) -> Result<serde_json::Value> {
        let caller = Origin::parse_caller(caller)?;
        self.owned(&caller, session)?;
        let open = self.sessions.remove(session).ok_or(CosError::UnknownSession)?;
        let size = open.verified_size.ok_or_else(|| CosError::InvalidState("the file was not verified".into()))?;
        let s = open.session;
        let write = Write { hash: &s.hash, size, storer: &s.owner, visibility: &s.visibility, kind: s.kind() };
        let warnings = self.index.record_write(write, now_ms);
        Ok(json!({ "hash": s.hash, "size": size, "warnings": warnings }))
    }

    /// One request from the extension's own pages (the user).
    pub fn admin_request(&mut self, json: &str) -> Result<Step> {
        let delete = |engine: &mut Self, hashes: Vec<ContentHash>| {
            for hash in &hashes {
                engine.index.remove(hash);
            }
            let value = json!({ "deleted": hashes.len() });
            Step::DeleteFiles { hashes, value }
        };
        Ok(match AdminRequest::decode(json)? {
            AdminRequest::Summary { origin } => {
                let origin = origin.map(|o| Origin::parse_listed(0, &o)).transpose()?;
                Step::Reply { value: self.summary(origin.as_ref()) }
            }
            AdminRequest::Delete { hash } => {
                let found = self.index.get(&hash).is_some();
                delete(self, if found { vec![hash] } else { Vec::new() })
            }
            AdminRequest::DeleteSite { origin } => {
                let origin = Origin::parse_listed(0, &origin)?;
                let hashes = self
                    .index
                    .entries()
                    .filter(|e| e.used_only_by_site_of(&origin, &self.sites))
                    .map(|e| e.hash.clone())
                    .collect();
                delete(self, hashes)
            }
            AdminRequest::Clear {} => {
                let hashes = self.index.hashes().cloned().collect();
                delete(self, hashes)
            }
            AdminRequest::Settings { settings } => {
                self.settings = settings;
                self.settings_changed = true;
                Step::Reply { value: self.summary(None) }
            }
        })
    }

    fn summary(&self, origin: Option<&Origin>) -> serde_json::Value {
        let entries: Vec<&Entry> = self.index.entries().collect();
        let hashes = |keep: &dyn Fn(&Entry) -> bool| -> Vec<&ContentHash> {
            entries.iter().filter(|e| keep(e)).map(|e| &e.hash).collect()
        };
        let site = origin.map(|o| {
            json!({
                "site": self.sites.site(o).as_str(),
                "touching": hashes(&|e| e.touches_site_of(o, &self.sites)),
                "only": hashes(&|e| e.used_only_by_site_of(o, &self.sites)),
            })
        });
        json!({
            "site": site,
            "entries": entries,
            "totals": self.index.totals(),
            "storedBytes": self.index.stored_bytes(),
            "budgetBytes": self.budget(),
            "defaultBudgetBytes": self.default_budget,
            "settings": self.settings,
            "publicHashCount": self.public_hashes.len(),
        })
    }

    /// Forgets a session whose I/O failed; its temporary file must go too.
    pub fn drop_session(&mut self, session: &str) -> bool {
        self.sessions.remove(session).is_some()
    }

    pub fn has_session(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// Sessions idle for longer than `SESSION_IDLE_MS`; they are forgotten
    /// here and the worker deletes their temporary files.
    pub fn expire_idle(&mut self, now_ms: u64) -> Vec<String> {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, o)| now_ms.saturating_sub(o.last_active_ms) > SESSION_IDLE_MS)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.sessions.remove(id);
        }
        expired
    }

    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn drain_changes(&mut self) -> Drained {
        let settings = std::mem::take(&mut self.settings_changed).then(|| self.settings.clone());
        Drained { index: self.index.drain_changes(), settings }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    fn owned(&self, caller: &Origin, session: &str) -> Result<()> {
        // Someone else's session is reported exactly like a missing one.
        match self.sessions.get(session) {
            Some(open) if &open.session.owner == caller => Ok(()),
            _ => Err(CosError::UnknownSession),
        }
    }

    /// Runs `f` on the caller's session. A failed step ends the session, like
    /// an errored file stream: the worker then deletes its temporary file.
    fn with_session<T>(
        &mut self,
        caller: &Origin,
        session: &str,
        now_ms: u64,
        f: impl FnOnce(&mut WriteSession) -> Result<T>,
    ) -> Result<T> {
        self.owned(caller, session)?;
        let open = self.sessions.get_mut(session).ok_or(CosError::UnknownSession)?;
        if open.verified_size.is_some() {
            return Err(CosError::InvalidState("the writable is closing".into()));
        }
        open.last_active_ms = now_ms;
        let result = f(&mut open.session);
        if result.is_err() {
            self.sessions.remove(session);
        }
        result
    }
}

#[cfg(test)]
mod tests;
