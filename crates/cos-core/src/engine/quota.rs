//! Space: what one origin may use, and what the whole store keeps.
//!
//! Whether a page's write fits depends only on that page's origin: the full
//! size of every file it stored plus its own open writes, against a limit
//! that is the same for everyone. Other origins' files and in-flight writes
//! never change the answer (else a page could measure them), and the limit
//! is a power of two so finding it says little about the disk. The store as a
//! whole is kept within the budget by evicting the least recently used files
//! not in use; that never fails a write.

use super::step::{QuotaTrace, TaskId};
use super::{Engine, IN_USE_MS, MAX_ENTRIES_PER_SITE};
use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::ids::SessionId;
use crate::index::Entry;
use crate::origin::Origin;

impl Engine {
    pub(crate) fn budget(&self) -> u64 {
        self.settings.budget_bytes.unwrap_or(self.default_budget)
    }

    /// What one origin may hold: the budget rounded down to a power of two.
    pub(crate) fn origin_limit(&self) -> u64 {
        match self.budget() {
            0 => 0,
            b => 1 << b.ilog2(),
        }
    }

    /// Bytes charged to `origin` now: its stored files and its open writes.
    fn charge(&self, origin: &Origin) -> u64 {
        let writing: u64 =
            self.sessions.values().filter(|o| &o.session.origin == origin).map(|o| o.session.size()).sum();
        self.index.charged_to(origin).saturating_add(writing)
    }

    /// Refuses to grow `session`'s file by `growth` bytes beyond its
    /// origin's limit (the numbers go in task `id`'s trace, never in the reply).
    pub(crate) fn check_quota(&mut self, id: TaskId, session: &SessionId, growth: u64) -> Result<()> {
        let origin = &self.sessions.get(session).ok_or(CosError::UnknownSession)?.session.origin;
        let charged = self.charge(origin);
        match charged.saturating_add(growth) > self.origin_limit() {
            true => Err(self.over_quota(
                id,
                QuotaTrace::Origin { charged_bytes: charged, adding_bytes: growth, limit_bytes: self.origin_limit() },
            )),
            false => Ok(()),
        }
    }

    /// At commit the open write becomes a stored file: the origin is charged
    /// its full size unless it stored these bytes before. (Checked again
    /// because the limit may have changed since the bytes were written.)
    /// Also the entry cap: a site may store only `MAX_ENTRIES_PER_SITE` files.
    pub(crate) fn check_commit_quota(
        &mut self,
        id: TaskId,
        session: &SessionId,
        origin: &Origin,
        hash: &ContentHash,
        size: u64,
    ) -> Result<()> {
        let entry = self.index.get(hash);
        let already = entry.is_some_and(|e| e.storers.contains(origin));
        let writing = self.sessions.get(session).map_or(0, |o| o.session.size());
        let charged = self.charge(origin).saturating_sub(writing);
        let adding = if already { 0 } else { size };
        if charged.saturating_add(adding) > self.origin_limit() {
            let why =
                QuotaTrace::Origin { charged_bytes: charged, adding_bytes: adding, limit_bytes: self.origin_limit() };
            return Err(self.over_quota(id, why));
        }
        let site = self.sites.site(origin);
        let of_site = |e: &Entry| e.storers.iter().any(|s| self.sites.site(s) == site);
        let new_for_site = !entry.is_some_and(of_site);
        if new_for_site {
            let stored = self.index.entries().filter(|e| of_site(e)).count();
            if stored >= MAX_ENTRIES_PER_SITE {
                return Err(self.over_quota(id, QuotaTrace::Files { stored, max: MAX_ENTRIES_PER_SITE }));
            }
        }
        Ok(())
    }

    /// The page's error for a write that does not fit; why goes in task `id`'s trace.
    fn over_quota(&mut self, id: TaskId, why: QuotaTrace) -> CosError {
        if let Some(task) = self.tasks.get_mut(&id) {
            task.trace.quota = Some(why);
        }
        CosError::QuotaExceeded
    }

    /// The least recently used files not in use whose removal keeps the
    /// store within its budget once `size` more bytes are added. Best effort:
    /// if files in use fill the budget, the store goes over it for a while.
    pub(crate) fn evict_for(&self, size: u64, now_ms: u64) -> Vec<ContentHash> {
        let mut over = self.index.stored_bytes().saturating_add(size).saturating_sub(self.budget());
        let mut candidates: Vec<&Entry> =
            self.index.entries().filter(|e| now_ms.saturating_sub(e.last_used_ms) >= IN_USE_MS).collect();
        candidates.sort_by_key(|e| e.last_used_ms);
        let mut evicted = Vec::new();
        for e in candidates {
            if over == 0 {
                break;
            }
            over = over.saturating_sub(e.size);
            evicted.push(e.hash.clone());
        }
        evicted
    }
}
