//! The store's brain. It takes each request with the browser-given facts
//! about its sender, applies every rule, and carries it out as a sequence of
//! storage steps (`step::Step`) that the host performs one at a time
//! (`flows.rs` has the sequences; `task.rs` the machinery).

mod flows;
mod quota;
pub mod step;
mod task;

use crate::disabled_sites::{self, DisabledSites};
use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::ids::{RandomSource, SessionId};
use crate::index::{ChangedKeys, Changes, Entry, Grant, Index, Totals};
use crate::origin::Origin;
use crate::probes::{self, Probes, Window, DEFAULT_PROBES_PER_WINDOW};
use crate::public_hash_list::PublicHashList;
use crate::session::WriteSession;
use crate::settings::Settings;
use crate::site::SiteRules;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use step::{ChannelId, TaskId};
use task::Task;

/// Open writables one origin may hold at once (each has a temporary file).
pub const MAX_SESSIONS_PER_ORIGIN: usize = 64;
/// A writable with no traffic for this long is dropped with its temporary file.
pub const SESSION_IDLE_MS: u64 = 5 * 60 * 1000;
/// Files used more recently than this are in use: never evicted to make room.
pub const IN_USE_MS: u64 = 60 * 1000;
/// Files one site may store: one site must not flood the index (or evict everyone).
pub const MAX_ENTRIES_PER_SITE: usize = 1024;
/// GREASE (spec: MAY): the share of reads, per thousand, refused although
/// they qualify, when they qualify only through the global grant: a file
/// seen as missing once is then not proof the user never stored it.
pub const GREASE_PER_MILLE: u16 = 10;
/// GREASE never applies above this size: refusing a model would cost a real download.
pub const GREASE_MAX_BYTES: u64 = 500 * 1024;

/// Why a lookup disclosed nothing. A page never learns which (it gets the
/// same `NotFoundError` for all of them); the developer tools may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    Missing,
    /// Stored, but no grant reaches the caller.
    OutOfScope,
    /// Global, but its hash is not on the Public Hash List.
    NotOnPublicList,
    ProbeBudget,
    Grease,
    /// Disclosed, but the stored file could not be read (the extension's storage failed).
    Unreadable,
}

pub struct Engine {
    sites: SiteRules,
    public_hashes: PublicHashList,
    /// Hashes the user added to the Public Hash List on the settings page.
    manual_hashes: BTreeSet<ContentHash>,
    manual_changed: bool,
    /// Sites where the API is off (the per-site switch).
    disabled: DisabledSites,
    probes: Probes,
    probe_limit: usize,
    settings: Settings,
    settings_changed: bool,
    /// Budget when the user set none; the host derives it from the disk.
    default_budget: u64,
    index: Index,
    sessions: HashMap<SessionId, Open>,
    tasks: HashMap<TaskId, Task>,
    next_task: u32,
    random: RandomSource,
    /// The file size from which a session goes to the host's copier (`None`: no copier).
    copier_from: Option<u64>,
}

/// An open writable.
pub(crate) struct Open {
    session: WriteSession,
    /// The channel that opened it: only requests on it may use it.
    channel: ChannelId,
    stage: Stage,
    /// For the writer's console at close: about its own request only.
    warnings: Vec<String>,
    /// For the developer tools at close: what the Allow-Origin ceiling left out.
    ceiling: Option<step::Ceiling>,
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
    fn new(session: WriteSession, channel: ChannelId, warnings: Vec<String>, ceiling: Option<step::Ceiling>) -> Self {
        Self { session, channel, stage: Stage::Writing, warnings, ceiling, busy: true, last_active_ms: 0 }
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
    /// Probe windows by site.
    pub probes: Vec<(String, serde_json::Value)>,
    pub manual_hashes: Option<serde_json::Value>,
    pub disabled_sites: Option<serde_json::Value>,
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
            manual_hashes: BTreeSet::new(),
            manual_changed: false,
            disabled: DisabledSites::default(),
            probes: Probes::default(),
            probe_limit: DEFAULT_PROBES_PER_WINDOW,
            settings: Settings::default(),
            settings_changed: false,
            default_budget: u64::MAX,
            index: Index::default(),
            sessions: HashMap::new(),
            tasks: HashMap::new(),
            next_task: 0,
            random: RandomSource::new(seed),
            copier_from: None,
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
        let manual: Option<BTreeSet<ContentHash>> =
            record("manual hashes", persisted.manual_hashes, &mut restored.reset);
        self.index.restore_totals(totals.unwrap_or_default());
        self.settings = settings.unwrap_or_default();
        self.manual_hashes = manual.unwrap_or_default();
        let disabled: Option<Vec<String>> = record("disabled sites", persisted.disabled_sites, &mut restored.reset);
        let sites: Vec<_> =
            disabled.unwrap_or_default().iter().map(|s| disabled_sites::parse_site(&self.sites, s)).collect();
        if sites.iter().any(std::result::Result::is_err) {
            restored.reset.push("a disabled site");
        }
        self.disabled.restore(sites.into_iter().flatten().collect());
        for (site, window) in persisted.probes {
            // A malformed window is dropped: the site's budget refills, which is the lesser harm.
            if let Some(window) = record::<Window>("a probe window", Some(window), &mut restored.reset) {
                self.probes.restore(site, window);
            }
        }
        restored
    }

    pub fn set_default_budget(&mut self, bytes: u64) {
        self.default_budget = bytes;
    }

    /// Whether the host has a copier (`Step::HandTemp`) and from which file
    /// size on a session goes to it (`None`: it has none): a Blob write that
    /// appends to a file written in order and brings it to `from_bytes` or
    /// more hands the file over. The copier writes and digests with threads
    /// of its own, from the same buffers, and reports the digest at close.
    pub fn set_copier_from(&mut self, from_bytes: Option<u64>) {
        self.copier_from = from_bytes;
    }

    /// Distinct hashes a site may look up per window, from enterprise policy
    /// (`None`: no policy, the default). A value out of range leaves the
    /// default in force; the reason is returned for the host to log.
    pub fn set_probe_limit(&mut self, policy: Option<&serde_json::Value>) -> std::result::Result<(), String> {
        let limit = policy.map(probes::probe_limit).transpose();
        self.probe_limit = limit.clone().ok().flatten().unwrap_or(DEFAULT_PROBES_PER_WINDOW);
        limit.map(drop)
    }

    /// The sites enterprise policy turns the API off for, each a canonical
    /// http(s) origin standing for its whole site. Returns why each entry it
    /// could not use was left out; the others apply.
    pub fn set_policy_disabled_sites(&mut self, origins: &[String]) -> Vec<String> {
        let (sites, problems): (Vec<_>, Vec<_>) =
            origins.iter().map(|o| disabled_sites::switchable_site(&self.sites, o)).partition(|r| r.is_ok());
        self.disabled.set_policy(sites.into_iter().flatten().collect());
        problems.into_iter().filter_map(std::result::Result::err).collect()
    }

    /// Every site the API is off for (the user's and the policy's), sorted:
    /// the host keeps its content scripts out of them.
    pub fn disabled_sites(&self) -> Vec<String> {
        self.disabled.all().into_iter().map(|s| s.as_str().to_owned()).collect()
    }

    /// Replaces the Public Hash List (a refreshed, verified copy).
    pub fn set_public_hashes(&mut self, list: PublicHashList) {
        self.public_hashes = list;
    }

    fn is_public(&self, hash: &ContentHash) -> bool {
        self.public_hashes.contains(hash) || self.manual_hashes.contains(hash)
    }

    /// Whether `origin` (in a page whose top-level origin is `top`) may see
    /// `hash` now, with the entry's size if so. Every gate the spec asks for,
    /// in order: the probe budget (not for the file's own storers), the
    /// grants, the Public Hash List for the global grant, and GREASE. The
    /// grant, or why nothing was disclosed, goes in `trace`.
    fn lookup(
        &mut self,
        hash: &ContentHash,
        origin: &Origin,
        top: &Origin,
        now_ms: u64,
        trace: &mut step::Trace,
    ) -> Option<(u64, Grant)> {
        let found = self.index.get(hash).map(|e| (e.size, e.grant_for(origin, &self.sites), e.listed.len()));
        let caller_site = self.sites.site(origin);
        let result = match found {
            Some((_, Some(Grant::Storer), _)) => Ok(()),
            _ => {
                let top_site = self.sites.site(top);
                let sites = if top_site == caller_site { vec![&caller_site] } else { vec![&caller_site, &top_site] };
                self.probes.charge(&sites, hash, self.probe_limit, now_ms).map_err(|spent| {
                    trace.budget = Some(spent);
                    Refusal::ProbeBudget
                })
            }
        };
        let result = result.and_then(|()| match found {
            None => Err(Refusal::Missing),
            Some((_, None, listed)) => {
                trace.listed_origins = Some(listed);
                Err(Refusal::OutOfScope)
            }
            Some((_, Some(Grant::Global), _)) if !self.is_public(hash) => Err(Refusal::NotOnPublicList),
            Some((size, Some(Grant::Global), _)) if size <= GREASE_MAX_BYTES && self.greased(&caller_site, hash) => {
                Err(Refusal::Grease)
            }
            Some((size, Some(grant), _)) => Ok((size, grant)),
        });
        match result {
            Ok((size, grant)) => {
                trace.grant = Some(grant);
                Some((size, grant))
            }
            Err(refusal) => {
                self.index.count_miss();
                trace.refusal = Some(refusal);
                None
            }
        }
    }

    /// Matches the blob directory (name, size; no size for a directory)
    /// against the index: a file must be named by a hash with an entry of
    /// exactly its size.
    fn reconcile(&mut self, stored_files: &[(String, Option<u64>)]) -> Reconciled {
        let mut result = Reconciled::default();
        let mut present = BTreeSet::new();
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

    /// Whether `task` is still worth performing: it exists and its write
    /// session (if it has one) has not ended. A host checks this between the
    /// slices of a long step, to stop work whose frame went away.
    pub fn task_alive(&self, task: TaskId) -> bool {
        self.tasks.get(&task).is_some_and(|t| t.session.as_ref().is_none_or(|s| self.sessions.contains_key(s)))
    }

    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The GREASE draw for `hash` in `site`'s current window.
    fn greased(&mut self, site: &crate::site::Site, hash: &ContentHash) -> bool {
        let random = &mut self.random;
        self.probes.grease(site, hash, || random.chance_per_mille(GREASE_PER_MILLE))
    }

    /// Everything changed since the last take, for task `task`'s `persist`
    /// step (see `Step::Persist`). If the host then reports that step failed,
    /// the same records are written by the next persist.
    pub fn take_changes(&mut self, task: TaskId) -> Changes {
        let mut changes = self.index.drain_changes();
        changes.settings = std::mem::take(&mut self.settings_changed).then(|| self.settings.clone());
        changes.probes = self.probes.drain_changes();
        changes.manual_hashes =
            std::mem::take(&mut self.manual_changed).then(|| self.manual_hashes.iter().cloned().collect());
        changes.disabled_sites = self.disabled.take_changed();
        if let Some(t) = self.tasks.get_mut(&task) {
            t.persisting = Some(changes.keys());
        }
        changes
    }

    fn has_changes(&self) -> bool {
        self.index.has_changes()
            || self.settings_changed
            || self.probes.has_changes()
            || self.manual_changed
            || self.disabled.has_changes()
    }

    /// Marks the records of a failed persist as changed again.
    fn requeue(&mut self, keys: ChangedKeys) {
        self.index.mark_changed(keys.hashes, keys.totals);
        self.settings_changed |= keys.settings;
        self.manual_changed |= keys.manual_hashes;
        if keys.disabled_sites {
            self.disabled.mark_changed();
        }
        self.probes.mark_changed(keys.sites);
    }

    fn summary(&self, origin: Option<&Origin>) -> serde_json::Value {
        let entries: Vec<&Entry> = self.index.entries().collect();
        let public: Vec<&ContentHash> = entries.iter().map(|e| &e.hash).filter(|h| self.is_public(h)).collect();
        let hashes = |keep: &dyn Fn(&Entry) -> bool| -> Vec<&ContentHash> {
            entries.iter().filter(|e| keep(e)).map(|e| &e.hash).collect()
        };
        let site = origin.map(|o| {
            json!({
                "site": self.sites.site(o).as_str(),
                "touching": hashes(&|e| e.touches_site_of(o, &self.sites)),
                "only": hashes(&|e| e.used_only_by_site_of(o, &self.sites)),
                "disabled": self.disabled.by(&self.sites.site(o)).map(|by| by.as_str()),
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
            "manualHashes": self.manual_hashes,
            "publicEntries": public,
            "probeLimit": self.probe_limit,
            "disabledSites": {
                "user": self.disabled.user().collect::<Vec<_>>(),
                "policy": self.disabled.policy().collect::<Vec<_>>(),
            },
        })
    }
}

/// A persisted record, or `None` (noted in `reset`) if it is malformed.
fn record<T: serde::de::DeserializeOwned>(
    name: &'static str,
    value: Option<serde_json::Value>,
    reset: &mut Vec<&'static str>,
) -> Option<T> {
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
mod copier_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;
