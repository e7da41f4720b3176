//! The store's brain: takes a decoded request plus the browser-given caller
//! origin, applies the rules, and answers with the next `Step` of I/O.

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::index::{Change, Entry, Index};
use crate::message::{PageRequest, Step};
use crate::origin::Origin;
use crate::session::{CloseStep, WriteSession};
use crate::site::SiteRules;
use crate::visibility::Visibility;
use serde_json::json;
use std::collections::HashMap;

/// Open writables one origin may hold at once (each has a temporary file).
pub const MAX_SESSIONS_PER_ORIGIN: usize = 64;
/// A writable with no traffic for this long is dropped with its temporary file.
pub const SESSION_IDLE_MS: u64 = 5 * 60 * 1000;

pub struct Engine {
    sites: SiteRules,
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
    /// Stored files with no index entry (or an invalid name): delete them.
    pub delete_files: Vec<String>,
    /// Index entries whose bytes were missing; already removed from the index.
    pub dropped_entries: usize,
}

impl Engine {
    pub fn new(sites: SiteRules, instance: &str) -> Self {
        Self { sites, index: Index::default(), sessions: HashMap::new(), instance: instance.to_owned(), next_session: 0 }
    }

    /// Loads persisted entries; malformed ones are skipped and counted.
    pub fn restore(&mut self, entries: &[serde_json::Value]) -> usize {
        let mut skipped = 0;
        for value in entries {
            match serde_json::from_value::<Entry>(value.clone()) {
                Ok(entry) => self.index.restore(entry),
                Err(_) => skipped += 1,
            }
        }
        skipped
    }

    /// Matches the names in the blob directory against the index.
    pub fn reconcile(&mut self, stored_files: &[String]) -> Reconciled {
        let mut result = Reconciled::default();
        let mut present = std::collections::BTreeSet::new();
        for name in stored_files {
            match ContentHash::from_hex(name) {
                Ok(hash) if self.index.get(&hash).is_some() => {
                    present.insert(hash);
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
                let entry = self.index.lookup(&hash, &caller, &self.sites).ok_or(CosError::NotFound)?;
                Ok(Step::Reply { value: json!({ "hash": hash, "size": entry.size }) })
            }
            PageRequest::Read { hash } => {
                let hash = hash.parse()?;
                let size = self.index.lookup(&hash, &caller, &self.sites).ok_or(CosError::NotFound)?.size;
                self.index.touch(&hash, now_ms);
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
                let at = self.with_session(&caller, &session, now_ms, |s| s.plan_write(position, size))?;
                Ok(Step::WriteBlob { session, at })
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

    /// Bytes of a planned write or re-hash pass, in order.
    pub fn feed(&mut self, caller: &str, session: &str, bytes: &[u8], now_ms: u64) -> Result<()> {
        let caller = Origin::parse_caller(caller)?;
        self.with_session(&caller, session, now_ms, |s| s.feed(bytes))
    }

    /// Makes a verified session's bytes visible, after the worker put the file
    /// in place. Returns the reply for the page (console warnings included).
    pub fn commit(&mut self, caller: &str, session: &str, now_ms: u64) -> Result<serde_json::Value> {
        let caller = Origin::parse_caller(caller)?;
        self.owned(&caller, session)?;
        let open = self.sessions.remove(session).ok_or(CosError::UnknownSession)?;
        let size = open.verified_size.ok_or_else(|| CosError::InvalidState("the file was not verified".into()))?;
        let s = open.session;
        let warnings = self.index.record_write(&s.hash, size, &s.owner, &s.visibility, now_ms);
        Ok(json!({ "hash": s.hash, "size": size, "warnings": warnings }))
    }

    /// Forgets a session whose I/O failed; its temporary file must go too.
    pub fn drop_session(&mut self, session: &str) -> bool {
        self.sessions.remove(session).is_some()
    }

    /// Whether verified bytes with this hash are already in place.
    pub fn is_stored(&self, hash: &str) -> bool {
        ContentHash::from_hex(hash).is_ok_and(|h| self.index.get(&h).is_some())
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

    pub fn drain_changes(&mut self) -> Vec<Change> {
        self.index.drain_changes()
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
