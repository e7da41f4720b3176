//! Every request as a sequence of steps. The orders here are the store's
//! durability rules, in one place:
//!
//! - a file becomes visible only after its bytes, as they are on disk, hashed
//!   to the declared hash, and only once its index entry is durable;
//! - the index forgets a file (persisted) before the file is deleted, so a
//!   crash in between leaves bytes without an entry (removed at the next
//!   start), never an entry without bytes;
//! - a page's request is answered only after what it changed is durable.

use super::step::{Caller, Ceiling, Data, GrantsAfter, Lock, Reply, Step, Trace, Value};
use super::task::{Action, Deletion, Io, Task, Then};
use super::{Engine, Open, Refusal, Stage, MAX_SESSIONS_PER_ORIGIN};
use crate::disabled_sites;
use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::ids::SessionId;
use crate::index::Write;
use crate::message::{AdminRequest, PageRequest};
use crate::origin::Origin;
use crate::permissions_policy;
use crate::session::{CloseStep, WriteSession};
use crate::visibility::{ceiling_warnings, Visibility};
use std::collections::BTreeSet;

use Action::{Io as Do, Then as Decide};

impl Engine {
    /// Start-up: no write survives a restart, and a crash (or a damaged disk)
    /// can leave bytes without an entry, an entry without bytes, or a file of
    /// the wrong size. Run before anything else is answered.
    pub fn start_up(&mut self, now_ms: u64) -> Step {
        let task = Task::new(None, None).then([
            Do(Io::Acquire(Lock::Store)),
            Do(Io::ClearTemps),
            Do(Io::ListBlobs),
            Decide(Then::Reconcile),
        ]);
        self.launch(task, now_ms)
    }

    /// One page request; `caller` is what the browser says about the sender,
    /// `data` what travelled beside the request. `request` is an error when
    /// the host could not even read it: that is a validation error, so the
    /// caller's Permissions Policy is checked first.
    pub fn page(
        &mut self,
        caller: &Caller,
        request: Result<serde_json::Value>,
        data: Option<Data>,
        now_ms: u64,
    ) -> Step {
        let mut trace = Trace::default();
        match self.plan_page(caller, request, data, now_ms, &mut trace) {
            Ok(mut task) => {
                task.trace = trace;
                self.launch(task, now_ms)
            }
            Err(error) => self.refuse(&error, trace),
        }
    }

    /// One request from the extension's own pages (the user).
    pub fn admin(&mut self, request: serde_json::Value, now_ms: u64) -> Step {
        match self.plan_admin(request) {
            Ok(task) => self.launch(task, now_ms),
            Err(error) => self.refuse(&error, Trace::default()),
        }
    }

    /// Plans a page request; what it learns on the way goes in `trace`,
    /// which the task takes over (or the refusal carries).
    fn plan_page(
        &mut self,
        caller: &Caller,
        request: Result<serde_json::Value>,
        data: Option<Data>,
        now_ms: u64,
        trace: &mut Trace,
    ) -> Result<Task> {
        let origin = Origin::parse_caller(&caller.origin)?;
        let refused = if self.disabled.by(&self.sites.site(&origin)).is_some() {
            // The user turned the API off for this site after the page loaded:
            // its scripts still run, but it gets nothing more (the next load has no API).
            Some(CosError::DisabledForSite)
        } else if let Err(blocked) = permissions_policy::check(caller.frames()) {
            // The spec's step 1, before any validation.
            trace.policy = Some(blocked);
            Some(CosError::DisabledByPermissionsPolicy)
        } else {
            None
        };
        if let Some(error) = refused {
            // What the request was, for the developer tools only.
            if let Ok(request) = request.and_then(PageRequest::decode) {
                trace.describe(&request);
            }
            return Err(error);
        }
        let top = Origin::parse_caller(caller.top_origin())?;
        let request = PageRequest::decode(request?)?;
        trace.describe(&request);
        let mut task = Task::new(Some(origin.clone()), Some(caller.channel));
        task.top = Some(top.clone());
        match request {
            PageRequest::Open { hash, create, origins, .. } => {
                let hash = hash.parse()?;
                Visibility::from_arg(origins.as_ref())?;
                // A create handle touches no stored state and costs no probe.
                task.reply = Some(match create {
                    true => Reply::ok(Value::Handle { hash, size: None }),
                    false => match self.lookup(&hash, &origin, &top, now_ms, trace) {
                        Some((size, _)) => Reply::ok(Value::Handle { hash, size: Some(size) }),
                        None => Reply::err(&CosError::NotFound),
                    },
                });
                // What the lookup charged is durable before the answer: a
                // reload must not refill the budget.
                task = task.then([Do(Io::Persist)]);
            }
            PageRequest::Read { hash } => {
                let hash = hash.parse()?;
                match self.lookup(&hash, &origin, &top, now_ms, trace) {
                    Some((size, _)) => {
                        task = task.then([
                            Do(Io::ReadBlob(hash.clone())),
                            Decide(Then::CheckRead { hash, size, locked: false }),
                        ]);
                    }
                    None => {
                        task.reply = Some(Reply::err(&CosError::NotFound));
                        task = task.then([Do(Io::Persist)]);
                    }
                }
            }
            PageRequest::WriteBegin { hash, origins, .. } => {
                let hash = hash.parse()?;
                let (visibility, dropped) =
                    Visibility::from_arg(origins.as_ref())?.within_ceiling(caller.allow_origin.as_deref());
                let warnings = ceiling_warnings(&dropped);
                trace.ceiling = (!dropped.is_empty()).then(|| Ceiling {
                    header: caller.allow_origin.clone(),
                    dropped: dropped.iter().map(ToString::to_string).collect(),
                });
                let open = self.sessions.values().filter(|o| o.session.origin == origin).count();
                if open >= MAX_SESSIONS_PER_ORIGIN {
                    return Err(CosError::InvalidState(format!(
                        "this origin already has {MAX_SESSIONS_PER_ORIGIN} open writables"
                    )));
                }
                let session = self.random.session_id();
                let writer = WriteSession::new(origin, hash, visibility);
                let open = Open::new(writer, caller.channel, warnings, trace.ceiling.clone());
                self.sessions.insert(session.clone(), open);
                trace.session = Some(session.clone());
                task.session = Some(session.clone());
                task = task.then([
                    Do(Io::Acquire(Lock::Session(session.clone()))),
                    Do(Io::OpenTemp(session)),
                    Decide(Then::Begun),
                ]);
            }
            PageRequest::Write { session, position } => {
                let data = data.ok_or_else(|| CosError::InvalidMessage("write carries no data".into()))?;
                trace.bytes = Some(data.len());
                let session = self.owned(&task, session, trace)?;
                task = task.then(session_step(&session, Then::Write { session: session.clone(), position, data }));
            }
            PageRequest::Seek { session, position } => {
                let session = self.owned(&task, session, trace)?;
                task = task.then(session_step(&session, Then::Seek { session: session.clone(), position }));
            }
            PageRequest::Truncate { session, size } => {
                let session = self.owned(&task, session, trace)?;
                task = task.then(session_step(&session, Then::Truncate { session: session.clone(), size }));
            }
            PageRequest::Close { session } => {
                let session = self.owned(&task, session, trace)?;
                task = task.then(session_step(&session, Then::Close { session: session.clone() }));
            }
            PageRequest::Abort { session } => {
                let session = self.owned(&task, session, trace)?;
                task = task.then(session_step(&session, Then::Abort { session: session.clone() }));
            }
        }
        Ok(task)
    }

    fn plan_admin(&mut self, request: serde_json::Value) -> Result<Task> {
        let task = Task::new(None, None);
        let deletion = match AdminRequest::decode(request)? {
            AdminRequest::Summary { origin } => {
                let origin = origin.map(|o| Origin::parse_listed(0, &o)).transpose()?;
                let mut task = task;
                task.reply = Some(Reply::ok(Value::Admin(self.summary(origin.as_ref()))));
                return Ok(task);
            }
            AdminRequest::Settings { settings } => {
                self.settings = settings;
                self.settings_changed = true;
                let mut task = task.then([Do(Io::Persist)]);
                task.reply = Some(Reply::ok(Value::Admin(self.summary(None))));
                return Ok(task);
            }
            AdminRequest::AddPublicHashes { hashes } => {
                self.manual_hashes.extend(hashes);
                self.manual_changed = true;
                let mut task = task.then([Do(Io::Persist)]);
                task.reply = Some(Reply::ok(Value::Admin(self.summary(None))));
                return Ok(task);
            }
            AdminRequest::RemovePublicHashes { hashes } => {
                for hash in &hashes {
                    self.manual_hashes.remove(hash);
                }
                self.manual_changed = true;
                let mut task = task.then([Do(Io::Persist)]);
                task.reply = Some(Reply::ok(Value::Admin(self.summary(None))));
                return Ok(task);
            }
            AdminRequest::DisableSite { origin } => {
                let site = disabled_sites::switchable_site(&self.sites, &origin).map_err(CosError::InvalidState)?;
                self.disabled.disable(site);
                let mut task = task.then([Do(Io::Persist)]);
                task.reply = Some(Reply::ok(Value::Admin(self.summary(None))));
                return Ok(task);
            }
            AdminRequest::EnableSite { site } => {
                let site = disabled_sites::parse_site(&self.sites, &site).map_err(CosError::InvalidState)?;
                self.disabled.enable(&site)?;
                let mut task = task.then([Do(Io::Persist)]);
                task.reply = Some(Reply::ok(Value::Admin(self.summary(None))));
                return Ok(task);
            }
            AdminRequest::Delete { hash } => Deletion::One(hash),
            AdminRequest::DeleteSite { origin } => Deletion::Site(Origin::parse_listed(0, &origin)?),
            AdminRequest::Clear {} => Deletion::All,
        };
        Ok(task.then([Do(Io::Acquire(Lock::Store)), Decide(Then::Delete(deletion))]))
    }

    /// A real user gesture in a frame of `origin`'s site, observed by the
    /// extension itself: that site's probe window starts afresh.
    pub fn activate(&mut self, origin: &str, now_ms: u64) -> Step {
        match Origin::parse_caller(origin) {
            Ok(origin) => {
                self.probes.replenish(&self.sites.site(&origin));
                self.launch(Task::new(None, None).then([Do(Io::Persist)]), now_ms)
            }
            Err(error) => self.refuse(&error, Trace::default()),
        }
    }

    /// The session a page names, if it is that page's (same origin, same
    /// channel). Anyone else's session is reported exactly like a missing one.
    fn owned(&self, task: &Task, session: String, trace: &mut Trace) -> Result<SessionId> {
        let id = SessionId::from_page(session);
        match self.sessions.get(&id) {
            Some(open) if Some(&open.session.origin) == task.origin.as_ref() && Some(open.channel) == task.channel => {
                (trace.session, trace.hash) = (Some(id.clone()), Some(open.session.hash.clone()));
                Ok(id)
            }
            _ => Err(CosError::UnknownSession),
        }
    }

    /// Takes the session for the task that now holds its lock: it may have
    /// ended while the task waited. From here on a failure ends it.
    fn claim(&mut self, id: super::step::TaskId, session: &SessionId, now_ms: u64) -> Result<&mut Open> {
        let task = self.tasks.get_mut(&id).ok_or_else(|| CosError::Internal("no task".into()))?;
        let open = self.sessions.get_mut(session).ok_or(CosError::UnknownSession)?;
        task.session = Some(session.clone());
        open.busy = true;
        open.last_active_ms = now_ms;
        Ok(open)
    }

    /// Makes one decision of task `id`.
    pub(crate) fn decide(&mut self, id: super::step::TaskId, then: Then, now_ms: u64) -> Result<()> {
        match then {
            Then::Begun => {
                let session = self.task(id)?.session.clone().ok_or(CosError::UnknownSession)?;
                self.claim(id, &session, now_ms)?;
                self.reply(id, Value::Writable { session })
            }
            Then::Write { session, position, data } => {
                let len = data.len();
                let copier_from = self.copier_from;
                let open = self.writing(id, &session, now_ms)?;
                let (at, size) = open.session.span_of_write(position, len)?;
                let growth = size - open.session.size();
                // A Blob that makes a file written in order large goes to the
                // host's copier, which reads, writes and digests it on threads
                // of its own. (Page bytes stay: they arrive here, and passing
                // them on measured no faster and held more memory, README.)
                let hand = matches!(data, Data::Blob { .. })
                    && at == open.session.size()
                    && copier_from.is_some_and(|min| size >= min.max(1))
                    && open.session.digests_itself_in_order();
                self.check_quota(id, &session, growth)?;
                let open = self.writing(id, &session, now_ms)?;
                let mut steps = Vec::new();
                if hand {
                    let size = open.session.hand_over()?;
                    steps.push(Do(Io::HandTemp { session: session.clone(), size }));
                }
                // The engine digests bytes it is fed, the copier what it writes
                // (a Blob too); a Blob the engine's host copies is hashed at close.
                let handed = open.session.is_handed_over();
                let feed = matches!(data, Data::Bytes { .. }) || handed;
                let at = open.session.plan_write(position, len, feed)?;
                let fed = feed && !handed;
                steps.extend([Do(Io::WriteTemp { session, at, len, feed, fed }), Decide(Then::Written)]);
                self.task_mut(id)?.next(steps);
                Ok(())
            }
            Then::Written => {
                let session = self.task(id)?.session.clone().ok_or(CosError::UnknownSession)?;
                let open = self.sessions.get(&session).ok_or(CosError::UnknownSession)?;
                if open.session.missing_bytes() > 0 {
                    return Err(CosError::InvalidState("the write's bytes did not all arrive".into()));
                }
                self.reply(id, Value::Empty {})
            }
            Then::HostDigested { session } => {
                let super::step::Outcome::Digested { sha256, head } = self.task(id)?.last.clone() else {
                    return Err(CosError::Internal("the copier closed the file without its digest".into()));
                };
                let digest = ContentHash::from_hex(&sha256)
                    .map_err(|_| CosError::Internal("the copier's digest is not SHA-256 hex".into()))?;
                self.sessions
                    .get_mut(&session)
                    .ok_or(CosError::UnknownSession)?
                    .session
                    .host_digested(digest, &head)?;
                self.close(id, session, now_ms)
            }
            Then::Seek { session, position } => {
                self.writing(id, &session, now_ms)?.session.seek(position)?;
                self.reply(id, Value::Empty {})
            }
            Then::Truncate { session, size } => {
                let growth = size.saturating_sub(self.writing(id, &session, now_ms)?.session.size());
                self.check_quota(id, &session, growth)?;
                self.writing(id, &session, now_ms)?.session.truncate(size)?;
                self.task_mut(id)?.next([Do(Io::TruncateTemp { session, size })]);
                self.reply(id, Value::Empty {})
            }
            Then::Close { session } => self.close(id, session, now_ms),
            Then::Place { session } => self.place(id, session, now_ms),
            Then::Commit { session } => {
                let open = self.sessions.remove(&session).ok_or(CosError::UnknownSession)?;
                let s = open.session;
                let write = Write {
                    hash: &s.hash,
                    size: s.size(),
                    storer: &s.origin,
                    visibility: &s.visibility,
                    kind: s.kind(),
                };
                self.index.record_write(write, now_ms);
                let after = self.index.get(&s.hash).map(|e| GrantsAfter {
                    global: e.global,
                    on_public_list: self.is_public(&e.hash),
                    listed: e.listed.iter().map(ToString::to_string).collect(),
                    storers: e.storers.len(),
                });
                let task = self.task_mut(id)?;
                (task.trace.grants_after, task.trace.bytes, task.trace.ceiling) = (after, Some(s.size()), open.ceiling);
                task.session = None;
                task.next([Do(Io::Persist)]);
                self.reply(id, Value::Committed { hash: s.hash.clone(), size: s.size(), warnings: open.warnings })
            }
            Then::Abort { session } => {
                self.claim(id, &session, now_ms)?;
                self.sessions.remove(&session);
                let task = self.task_mut(id)?;
                task.session = None;
                task.next([Do(Io::DiscardTemp(session))]);
                self.reply(id, Value::Empty {})
            }
            Then::CheckRead { hash, size, locked } => self.check_read(id, hash, size, locked, now_ms),
            Then::Reconcile => {
                let super::step::Outcome::Listed { files } = self.task(id)?.last.clone() else {
                    return Err(CosError::Io);
                };
                let reconciled = self.reconcile(&files);
                self.task_mut(id)?.next([Do(Io::Persist), Do(Io::DeleteBlobs(reconciled.delete_files))]);
                Ok(())
            }
            Then::Delete(deletion) => {
                let hashes: Vec<ContentHash> = match deletion {
                    Deletion::One(hash) => self.index.get(&hash).map(|e| e.hash.clone()).into_iter().collect(),
                    Deletion::Site(origin) => self
                        .index
                        .entries()
                        .filter(|e| e.used_only_by_site_of(&origin, &self.sites))
                        .map(|e| e.hash.clone())
                        .collect(),
                    Deletion::All => self.index.hashes().cloned().collect(),
                };
                for hash in &hashes {
                    self.index.remove(hash);
                }
                let names = hashes.iter().map(ContentHash::to_string).collect();
                self.task_mut(id)?.next([Do(Io::Persist), Do(Io::DeleteBlobs(names))]);
                self.reply(id, Value::Admin(serde_json::json!({ "deleted": hashes.len() })))
            }
        }
    }

    /// `close()`: verify, then place the file under the store lock.
    fn close(&mut self, id: super::step::TaskId, session: SessionId, now_ms: u64) -> Result<()> {
        let closed = self.claim(id, &session, now_ms)?.session.close();
        if let Err(CosError::IntegrityMismatch { actual, .. }) = &closed {
            let trace = &mut self.task_mut(id)?.trace;
            (trace.verified, trace.actual_hash) = (Some(false), Some(actual.clone()));
        }
        let open = self.sessions.get_mut(&session).ok_or(CosError::UnknownSession)?;
        let next = match (open.stage, closed?) {
            (Stage::Writing, CloseStep::FullHash { size }) => {
                open.stage = Stage::Hashing;
                vec![
                    Do(Io::CloseTemp(session.clone())),
                    Do(Io::HashTemp { session: session.clone(), size }),
                    Decide(Then::Close { session }),
                ]
            }
            (Stage::Writing, CloseStep::HostDigest) => {
                open.stage = Stage::Hashing;
                vec![Do(Io::CloseTemp(session.clone())), Decide(Then::HostDigested { session })]
            }
            (Stage::Writing, CloseStep::Verified { .. }) => {
                open.stage = Stage::Committing;
                vec![Do(Io::CloseTemp(session.clone())), Do(Io::Acquire(Lock::Store)), Decide(Then::Place { session })]
            }
            (Stage::Hashing, CloseStep::Verified { .. }) => {
                open.stage = Stage::Committing;
                vec![Do(Io::Acquire(Lock::Store)), Decide(Then::Place { session })]
            }
            _ => return Err(CosError::InvalidState("the writable is already closing".into())),
        };
        self.task_mut(id)?.next(next);
        Ok(())
    }

    /// Holding the store lock: makes room if needed, then puts the verified
    /// file in place (or drops it: the same bytes are stored already).
    fn place(&mut self, id: super::step::TaskId, session: SessionId, now_ms: u64) -> Result<()> {
        let open = self.sessions.get(&session).ok_or(CosError::UnknownSession)?;
        let (hash, size, origin) = (open.session.hash.clone(), open.session.size(), open.session.origin.clone());
        self.check_commit_quota(id, &session, &origin, &hash, size)?;
        let already_stored = self.index.get(&hash).is_some();
        let trace = &mut self.task_mut(id)?.trace;
        (trace.verified, trace.already_stored) = (Some(true), Some(already_stored));
        let next = if already_stored {
            vec![Do(Io::DiscardTemp(session.clone())), Decide(Then::Commit { session })]
        } else {
            let evicted = self.evict_for(size, now_ms);
            for hash in &evicted {
                self.index.remove(hash);
            }
            vec![
                Do(Io::Persist),
                Do(Io::DeleteBlobs(evicted.iter().map(ContentHash::to_string).collect())),
                Do(Io::PlaceBlob { session: session.clone(), hash }),
                Decide(Then::Commit { session }),
            ]
        };
        self.task_mut(id)?.next(next);
        Ok(())
    }

    /// After `ReadBlob`: serve the file only if it is there with the entry's
    /// size. A missing or wrong-sized file is checked once more under the
    /// store lock (a deletion or repair may have been under way) before the
    /// entry is dropped; any other failure is transient and drops nothing.
    fn check_read(
        &mut self,
        id: super::step::TaskId,
        hash: ContentHash,
        size: u64,
        locked: bool,
        now_ms: u64,
    ) -> Result<()> {
        let origin =
            self.task(id)?.origin.clone().ok_or_else(|| CosError::Internal("a read without a caller".into()))?;
        match self.task(id)?.last.clone() {
            super::step::Outcome::Found { size: found } if found == size => {
                // Still there and still for this caller (under the lock it may
                // have been replaced). Asking again for the same hash costs no probe.
                let top = self.task(id)?.top.clone().unwrap_or_else(|| origin.clone());
                let mut trace = std::mem::take(&mut self.task_mut(id)?.trace);
                let found = self.lookup(&hash, &origin, &top, now_ms, &mut trace);
                self.task_mut(id)?.trace = trace;
                let Some((size, _)) = found else { return Err(CosError::NotFound) };
                self.task_mut(id)?.trace.bytes = Some(size);
                self.index.record_read(&hash, &origin, now_ms);
                self.task_mut(id)?.next([Do(Io::Persist)]);
                self.reply(id, Value::Handle { hash, size: Some(size) })
            }
            super::step::Outcome::Failed { .. } => {
                self.task_mut(id)?.trace.refusal = Some(Refusal::Unreadable);
                self.refuse_with(id, &CosError::NotFound)
            }
            _ if !locked => {
                self.task_mut(id)?.next([
                    Do(Io::Acquire(Lock::Store)),
                    Do(Io::ReadBlob(hash.clone())),
                    Decide(Then::CheckRead { hash, size, locked: true }),
                ]);
                Ok(())
            }
            _ => {
                if self.index.get(&hash).is_some_and(|e| e.size == size) {
                    self.index.remove(&hash);
                    self.task_mut(id)?.next([Do(Io::Persist), Do(Io::DeleteBlobs(vec![hash.to_string()]))]);
                }
                self.task_mut(id)?.trace.refusal = Some(Refusal::Missing);
                self.refuse_with(id, &CosError::NotFound)
            }
        }
    }

    /// The open session of this task's caller, still being written.
    fn writing(&mut self, id: super::step::TaskId, session: &SessionId, now_ms: u64) -> Result<&mut Open> {
        let open = self.claim(id, session, now_ms)?;
        match open.stage {
            Stage::Writing => Ok(open),
            _ => Err(CosError::InvalidState("the writable is closing".into())),
        }
    }

    fn task(&self, id: super::step::TaskId) -> Result<&Task> {
        self.tasks.get(&id).ok_or_else(|| CosError::Internal("no task".into()))
    }

    fn task_mut(&mut self, id: super::step::TaskId) -> Result<&mut Task> {
        self.tasks.get_mut(&id).ok_or_else(|| CosError::Internal("no task".into()))
    }

    fn reply(&mut self, id: super::step::TaskId, value: Value) -> Result<()> {
        self.task_mut(id)?.reply = Some(Reply::ok(value));
        Ok(())
    }

    /// Answers with `error` but, unlike a failure, still runs what is queued.
    fn refuse_with(&mut self, id: super::step::TaskId, error: &CosError) -> Result<()> {
        self.task_mut(id)?.reply = Some(Reply::err(error));
        Ok(())
    }

    /// Ends the write sessions opened through `channel` (its frame navigated
    /// or closed) and any work they have under way, except a commit already
    /// placing its file. Returns the first step of each clean-up task.
    pub fn release(&mut self, channel: super::step::ChannelId, now_ms: u64) -> Vec<Step> {
        let ended: BTreeSet<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, o)| o.channel == channel && o.stage != Stage::Committing)
            .map(|(id, _)| id.clone())
            .collect();
        self.clean_up(ended, now_ms)
    }

    /// Ends sessions that nobody used for `SESSION_IDLE_MS` and that no
    /// request is working on.
    pub fn expire_idle(&mut self, now_ms: u64) -> Vec<Step> {
        let ended: BTreeSet<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, o)| !o.busy && now_ms.saturating_sub(o.last_active_ms) > super::SESSION_IDLE_MS)
            .map(|(id, _)| id.clone())
            .collect();
        self.clean_up(ended, now_ms)
    }

    /// Forgets `sessions` now (a request still working on one fails at its
    /// next step, and bytes it feeds are refused), then deletes each one's
    /// temporary file once its lock is free.
    fn clean_up(&mut self, sessions: BTreeSet<SessionId>, now_ms: u64) -> Vec<Step> {
        let mut steps = Vec::new();
        for id in sessions {
            if self.sessions.remove(&id).is_some() {
                let task =
                    Task::new(None, None).then([Do(Io::Acquire(Lock::Session(id.clone()))), Do(Io::DiscardTemp(id))]);
                steps.push(self.launch(task, now_ms));
            }
        }
        steps
    }
}

/// A request on an existing session: wait for its earlier requests, then decide.
fn session_step(session: &SessionId, then: Then) -> [Action; 2] {
    [Do(Io::Acquire(Lock::Session(session.clone()))), Decide(then)]
}
