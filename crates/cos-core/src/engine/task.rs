//! How the engine carries out one request: a task is a queue of actions,
//! each either a storage step for the host (`Io`) or a decision the engine
//! makes when it is reached (`Then`), which may queue more actions. The
//! host only ever sees the next `Step`; the order of steps, and every rule
//! about durability, lives here and in `flows.rs`.

use super::step::{ChannelId, Lock, Outcome, QuotaTrace, Reply, Step, TaskId, Trace};
use super::Engine;
use crate::error::CosError;
use crate::hash::ContentHash;
use crate::ids::SessionId;
use crate::index::ChangedKeys;
use crate::origin::Origin;
use std::collections::VecDeque;

pub(crate) struct Task {
    /// The page's origin, for page requests.
    pub origin: Option<Origin>,
    /// The origin of the page's top-level document (the origin itself at top level).
    pub top: Option<Origin>,
    pub channel: Option<ChannelId>,
    /// The write session this task works on, once it is known to be the
    /// caller's own: if the task fails, the session ends with it.
    pub session: Option<SessionId>,
    pub actions: VecDeque<Action>,
    pub reply: Option<Reply>,
    /// The outcome of the last storage step, for decisions that read it.
    pub last: Outcome,
    /// The session that `Engine::feed` bytes go to while a step streams them.
    pub feeding: Option<SessionId>,
    /// What this task's `persist` step took, until the host reports it durable.
    pub persisting: Option<ChangedKeys>,
    /// For the developer tools.
    pub trace: Trace,
}

pub(crate) enum Action {
    Io(Io),
    Then(Then),
}

/// Storage steps, before the engine fills in what only it knows at the
/// time they run (the changes to persist).
pub(crate) enum Io {
    Acquire(Lock),
    OpenTemp(SessionId),
    WriteTemp {
        session: SessionId,
        at: u64,
        len: u64,
        feed: bool,
        /// The bytes go through `Engine::feed` (not through the copier's digest).
        fed: bool,
    },
    TruncateTemp {
        session: SessionId,
        size: u64,
    },
    HandTemp {
        session: SessionId,
        size: u64,
    },
    CloseTemp(SessionId),
    HashTemp {
        session: SessionId,
        size: u64,
    },
    DiscardTemp(SessionId),
    PlaceBlob {
        session: SessionId,
        hash: ContentHash,
    },
    DeleteBlobs(Vec<String>),
    /// Everything changed so far; skipped when nothing did.
    Persist,
    ReadBlob(ContentHash),
    ListBlobs,
    ClearTemps,
}

/// Decisions, in the order flows.rs queues them.
pub(crate) enum Then {
    Begun,
    Write { session: SessionId, position: Option<u64>, data: super::step::Data },
    Written,
    HostDigested { session: SessionId },
    Seek { session: SessionId, position: u64 },
    Truncate { session: SessionId, size: u64 },
    Close { session: SessionId },
    Place { session: SessionId },
    Commit { session: SessionId },
    Abort { session: SessionId },
    CheckRead { hash: ContentHash, size: u64, locked: bool },
    Reconcile,
    Delete(Deletion),
}

/// Which files an admin deletion covers, decided under the store lock.
pub(crate) enum Deletion {
    One(ContentHash),
    Site(Origin),
    All,
}

impl Then {
    /// Decisions that look at the previous step's outcome themselves, so a
    /// failed step does not fail the task before they see it.
    fn reads_outcome(&self) -> bool {
        matches!(self, Self::CheckRead { .. } | Self::Reconcile)
    }
}

impl Task {
    pub fn new(origin: Option<Origin>, channel: Option<ChannelId>) -> Self {
        Self {
            top: origin.clone(),
            origin,
            channel,
            session: None,
            actions: VecDeque::new(),
            reply: None,
            last: Outcome::Done,
            feeding: None,
            persisting: None,
            trace: Trace::default(),
        }
    }

    pub fn then(mut self, actions: impl IntoIterator<Item = Action>) -> Self {
        self.actions.extend(actions);
        self
    }

    /// Runs `actions` next, before what was already queued.
    pub fn next(&mut self, actions: impl IntoIterator<Item = Action, IntoIter: DoubleEndedIterator>) {
        for action in actions.into_iter().rev() {
            self.actions.push_front(action);
        }
    }
}

impl Engine {
    pub(crate) fn new_task_id(&mut self) -> TaskId {
        self.next_task = self.next_task.wrapping_add(1);
        TaskId(self.next_task)
    }

    /// Registers `task` and runs it to its first storage step.
    pub(crate) fn launch(&mut self, task: Task, now_ms: u64) -> Step {
        let id = self.new_task_id();
        self.tasks.insert(id, task);
        self.advance(id, now_ms)
    }

    /// A request that failed before it started: answered at once, with
    /// what was learnt about it for the developer tools.
    pub fn refuse(&mut self, error: &CosError, trace: Trace) -> Step {
        Step::Done { task: self.new_task_id(), reply: Some(Reply::err(error)), trace: Box::new(trace) }
    }

    /// Takes the host's report on the task's last step and returns the next one.
    pub fn resume(&mut self, id: TaskId, outcome: Outcome, now_ms: u64) -> Step {
        let Some(task) = self.tasks.get_mut(&id) else {
            let reply = Some(Reply::err(&CosError::Internal("unknown task".into())));
            return Step::Done { task: id, reply, trace: Box::default() };
        };
        task.feeding = None;
        // A persist that failed leaves its changes to be written by the next one.
        if let Some(keys) = task.persisting.take() {
            if matches!(outcome, Outcome::Failed { .. }) {
                self.requeue(keys);
            }
        }
        let Some(task) = self.tasks.get_mut(&id) else { unreachable!("checked above") };
        let failed = match &outcome {
            Outcome::Failed { name } => Some(failure(name)),
            _ => None,
        };
        let inspected = matches!(task.actions.front(), Some(Action::Then(then)) if then.reads_outcome());
        task.last = outcome;
        if let (Some(error), false) = (failed, inspected) {
            if error == CosError::QuotaExceeded {
                task.trace.quota = Some(QuotaTrace::Disk);
            }
            self.fail(id, error);
        }
        self.advance(id, now_ms)
    }

    /// Runs decisions until the task needs the host (or is done).
    pub(crate) fn advance(&mut self, id: TaskId, now_ms: u64) -> Step {
        loop {
            let Some(task) = self.tasks.get_mut(&id) else {
                return Step::Done { task: id, reply: None, trace: Box::default() };
            };
            match task.actions.pop_front() {
                None => return self.finish(id, now_ms),
                Some(Action::Io(io)) => {
                    if let Some(step) = self.io_step(id, io) {
                        return step;
                    }
                }
                Some(Action::Then(then)) => {
                    if let Err(error) = self.decide(id, then, now_ms) {
                        self.fail(id, error);
                    }
                }
            }
        }
    }

    fn io_step(&mut self, task: TaskId, io: Io) -> Option<Step> {
        let t = self.tasks.get_mut(&task)?;
        Some(match io {
            Io::Acquire(lock) => Step::Acquire { task, lock },
            Io::OpenTemp(session) => Step::OpenTemp { task, session },
            Io::WriteTemp { session, at, len, feed, fed } => {
                t.feeding = fed.then(|| session.clone());
                Step::WriteTemp { task, session, at, len, feed }
            }
            Io::TruncateTemp { session, size } => Step::TruncateTemp { task, session, size },
            Io::HandTemp { session, size } => Step::HandTemp { task, session, size },
            Io::CloseTemp(session) => Step::CloseTemp { task, session },
            Io::HashTemp { session, size } => {
                t.feeding = Some(session.clone());
                Step::HashTemp { task, session, size }
            }
            Io::DiscardTemp(session) => Step::DiscardTemp { task, session },
            Io::PlaceBlob { session, hash } => Step::PlaceBlob { task, session, hash },
            Io::DeleteBlobs(names) if names.is_empty() => return None,
            Io::DeleteBlobs(names) => Step::DeleteBlobs { task, names },
            Io::Persist if !self.has_changes() => return None,
            Io::Persist => Step::Persist { task },
            Io::ReadBlob(hash) => Step::ReadBlob { task, hash },
            Io::ListBlobs => Step::ListBlobs { task },
            Io::ClearTemps => Step::ClearTemps { task },
        })
    }

    /// Ends a failed task: its session (if it owned one) ends too and its
    /// temporary file goes, what changed is persisted, and the page gets `error`.
    pub(crate) fn fail(&mut self, id: TaskId, error: CosError) {
        let Some(task) = self.tasks.get_mut(&id) else { return };
        task.actions.clear();
        task.feeding = None;
        task.reply = Some(Reply::err(&error));
        if let Some(session) = task.session.take() {
            if self.sessions.remove(&session).is_some() {
                task.actions.push_back(Action::Io(Io::DiscardTemp(session)));
            }
        }
        task.actions.push_back(Action::Io(Io::Persist));
    }

    fn finish(&mut self, id: TaskId, now_ms: u64) -> Step {
        let task = self.tasks.remove(&id).expect("finish is called for a live task");
        if let Some(open) = task.session.and_then(|s| self.sessions.get_mut(&s)) {
            open.busy = false;
            open.last_active_ms = now_ms;
        }
        Step::Done { task: id, reply: task.reply, trace: Box::new(task.trace) }
    }
}

/// What a failed storage step means for the page. The platform's message is
/// dropped: it may name paths or describe the state of other sites' files.
fn failure(name: &str) -> CosError {
    match name {
        "QuotaExceededError" => CosError::QuotaExceeded,
        _ => CosError::Io,
    }
}
