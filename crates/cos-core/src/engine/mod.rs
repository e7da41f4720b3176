//! The store's brain. It takes each request with the browser-given facts
//! about its sender, applies every rule, and carries it out as a sequence of
//! storage steps (`step::Step`) that the host performs one at a time
//! (`flows.rs` has the sequences; `task.rs` the machinery).

mod flows;
mod quota;
pub mod step;
mod task;

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::ids::{RandomSource, SessionId};
use crate::index::{Changes, Entry, Index, Policy, Totals};
use crate::origin::Origin;
use crate::public_hash_list::PublicHashList;
use crate::session::WriteSession;
use crate::settings::Settings;
use crate::site::SiteRules;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use step::{ChannelId, TaskId};
use task::Task;

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
    /// Budget when the user set none; the host derives it from the disk.
    default_budget: u64,
    index: Index,
    sessions: HashMap<SessionId, Open>,
    tasks: HashMap<TaskId, Task>,
    next_task: u32,
    random: RandomSource,
}

/// An open writable.
pub(crate) struct Open {
    session: WriteSession,
    /// The channel that opened it: only requests on it may use it.
    channel: ChannelId,
    stage: Stage,
    /// A request is working on it (it must not expire under that request).
    busy: bool,
    last_active_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Writing,
    /// `close()` is hashing the finished file.
    Hashing,
    /// Verified; being put in place. A frame that goes away no longer stops it.
    Committing,
}

impl Open {
    fn new(session: WriteSession, channel: ChannelId) -> Self {
        Self { session, channel, stage: Stage::Writing, busy: true, last_active_ms: 0 }
    }
}

/// Result of matching stored files against the index at start-up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Stored files with no index entry, an invalid name, or the wrong size: delete them.
    pub delete_files: Vec<String>,
    /// Index entries whose bytes were missing or damaged; already removed from the index.
    pub dropped_entries: usize,
}

/// Everything a restarted worker reloads, each record as it was stored:
/// records are checked here, one at a time, so one bad record costs only itself.
#[derive(Debug, Default)]
pub struct Persisted {
    pub entries: Vec<serde_json::Value>,
    pub totals: Option<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
}

/// What `restore` could not use (for the host's log).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub skipped_entries: usize,
    /// Records replaced by their defaults because they were malformed.
    pub reset: Vec<&'static str>,
}

impl Engine {
    /// `seed`: 32 bytes from the platform's CSPRNG, fresh at every start.
    pub fn new(sites: SiteRules, public_hashes: PublicHashList, seed: [u8; 32]) -> Self {
        Self {
            sites,
            public_hashes,
            settings: Settings::default(),
            settings_changed: false,
            default_budget: u64::MAX,
            index: Index::default(),
            sessions: HashMap::new(),
            tasks: HashMap::new(),
            next_task: 0,
            random: RandomSource::new(seed),
        }
    }

    /// Loads what the host persisted. A malformed record never stops the
    /// store: an entry is skipped (its file is removed at start-up), totals
    /// and settings fall back to their defaults.
    pub fn restore(&mut self, persisted: Persisted) -> Restored {
        let mut restored = Restored::default();
        for value in persisted.entries {
            match serde_json::from_value::<Entry>(value) {
                Ok(entry) => self.index.restore(entry),
                Err(_) => restored.skipped_entries += 1,
            }
        }
        let totals: Option<Totals> = record("totals", persisted.totals, &mut restored.reset);
        let settings: Option<Settings> = record("settings", persisted.settings, &mut restored.reset);
        self.index.restore_totals(totals.unwrap_or_default());
        self.settings = settings.unwrap_or_default();
        restored
    }

    pub fn set_default_budget(&mut self, bytes: u64) {
        self.default_budget = bytes;
    }

    /// Disclosure lookup; missing and hidden are the same `None`.
    fn lookup(&mut self, hash: &ContentHash, caller: &Origin) -> Option<&Entry> {
        let strict = self.settings.strict_global.then_some(&self.public_hashes);
        self.index.lookup(hash, caller, &Policy { sites: &self.sites, strict })
    }

    /// Matches the blob directory (name, size; no size for a directory)
    /// against the index: a file must be named by a hash with an entry of
    /// exactly its size.
    fn reconcile(&mut self, stored_files: &[(String, Option<u64>)]) -> Reconciled {
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

    /// Bytes of a step that streams data (`WriteTemp` with `feed`, or
    /// `HashTemp`), in order. Refused if the task is not streaming, the
    /// session ended (its frame went away), or more bytes arrive than planned.
    pub fn feed(&mut self, task: TaskId, bytes: &[u8]) -> Result<()> {
        let session = self.tasks.get(&task).and_then(|t| t.feeding.as_ref()).ok_or(CosError::UnknownSession)?;
        self.sessions.get_mut(session).ok_or(CosError::UnknownSession)?.session.feed(bytes)
    }

    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    fn drain_changes(&mut self) -> Changes {
        let mut changes = self.index.drain_changes();
        changes.settings = std::mem::take(&mut self.settings_changed).then(|| self.settings.clone());
        changes
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
            "originLimitBytes": self.origin_limit(),
            "defaultBudgetBytes": self.default_budget,
            "settings": self.settings,
            "publicHashCount": self.public_hashes.len(),
        })
    }
}

/// A persisted record, or `None` (noted in `reset`) if it is malformed.
fn record<T: serde::de::DeserializeOwned>(name: &'static str, value: Option<serde_json::Value>, reset: &mut Vec<&'static str>) -> Option<T> {
    match value.map(serde_json::from_value) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            reset.push(name);
            None
        }
        None => None,
    }
}

#[cfg(test)]
mod tests;
