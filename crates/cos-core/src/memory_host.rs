//! An in-memory host: performs the engine's storage steps on maps instead of
//! OPFS and chrome.storage, the way the service worker does on disk. Tests
//! drive whole requests through it, interleave tasks step by step, make steps
//! fail, and crash it between any two steps, so every rule about order and
//! durability is tested natively against the one real sequence of steps.

use crate::engine::step::{Caller, ChannelId, Data, Lock, Outcome, Reply, Step, TaskId, Trace};
use crate::engine::{Engine, Persisted};
use crate::ids::SessionId;
use crate::index::Changes;
use crate::permissions_policy::{Container, Frame, Header};
use crate::public_hash_list::PublicHashList;
use crate::site::SiteRules;
use crate::verifier::Verifier;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// What a page sends beside a write request.
#[derive(Debug, Clone)]
pub enum Payload {
    Bytes(Vec<u8>),
    Blob(Vec<u8>),
}

impl Payload {
    fn data(&self) -> Data {
        match self {
            Self::Bytes(b) => Data::Bytes { len: b.len() as u64 },
            Self::Blob(b) => Data::Blob { size: b.len() as u64 },
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Bytes(b) | Self::Blob(b) => b,
        }
    }
}

/// A finished request: the reply, the file a read served, and the trace
/// the developer tools would show.
#[derive(Debug, Clone)]
pub struct Finished {
    pub reply: Option<Reply>,
    pub file: Option<Vec<u8>>,
    pub trace: Trace,
}

impl Finished {
    /// The reply as JSON, for assertions.
    pub fn json(&self) -> Value {
        serde_json::to_value(&self.reply).expect("replies serialize")
    }

    pub fn ok(&self) -> bool {
        self.reply.as_ref().is_some_and(Reply::is_ok)
    }

    /// The error's DOMException name, if it failed.
    pub fn error_name(&self) -> Option<String> {
        self.json()["error"]["name"].as_str().map(str::to_owned)
    }

    pub fn error_message(&self) -> Option<String> {
        self.json()["error"]["message"].as_str().map(str::to_owned)
    }
}

struct Temp {
    bytes: Vec<u8>,
    open: bool,
    /// Once handed to the copier: the bytes it digested, in order.
    digested: Option<Vec<u8>>,
}

struct Running {
    step: Step,
    payload: Option<Payload>,
    file: Option<Vec<u8>>,
    holds: Vec<String>,
}

/// Step kinds that `fail_next` can make fail.
pub type StepKind = &'static str;

pub struct MemoryHost {
    pub engine: Engine,
    /// `blobs/`: survives a crash.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// The persisted index (`entry:<hash>`, `totals`, `settings`): survives a crash.
    pub persisted: BTreeMap<String, Value>,
    temps: HashMap<SessionId, Temp>,
    running: HashMap<TaskId, Running>,
    /// Holders of each lock, then its waiters, first come first served.
    locks: HashMap<String, VecDeque<TaskId>>,
    /// Steps of this kind fail (with this DOMException name), once each.
    pub fail_next: Vec<(StepKind, &'static str)>,
    /// Bytes fed per `feed` call.
    pub feed_chunk: usize,
    /// The clock every request and step sees (files used within
    /// `IN_USE_MS` of it are in use and never evicted).
    pub now_ms: u64,
    sites: fn() -> SiteRules,
    hashes: fn() -> PublicHashList,
    /// The platform's entropy for each start, mixed with the start's number.
    seed: [u8; 32],
    starts: u8,
}

/// Sites for tests (`.test`, not on the list, is a public suffix by the
/// implicit `*` rule, so `a.test` and `b.test` are two sites).
pub fn test_sites() -> SiteRules {
    SiteRules
}

impl MemoryHost {
    /// A started store (start-up reconciliation already run).
    pub fn new() -> Self {
        Self::with(test_sites, PublicHashList::default)
    }

    pub fn with(sites: fn() -> SiteRules, hashes: fn() -> PublicHashList) -> Self {
        let mut host = Self {
            engine: Engine::new(sites(), hashes(), [0; 32]),
            blobs: BTreeMap::new(),
            persisted: BTreeMap::new(),
            temps: HashMap::new(),
            running: HashMap::new(),
            locks: HashMap::new(),
            fail_next: Vec::new(),
            feed_chunk: 64 * 1024,
            now_ms: 0,
            sites,
            hashes,
            seed: [0; 32],
            starts: 0,
        };
        host.restart();
        host
    }

    /// The same store restarted with its randomness (session ids, GREASE
    /// draws) from `seed`: every host otherwise draws the same sequence, so
    /// a property that needs many different draws gives each case its own.
    pub fn reseeded(mut self, seed: [u8; 32]) -> Self {
        self.seed = seed;
        self.restart();
        self
    }

    /// The worker stops (or the browser dies) between two steps: everything
    /// in memory is gone; then it starts again. Temporary files stay on disk,
    /// as in OPFS: removing them is the start-up task's job.
    pub fn restart(&mut self) {
        self.starts = self.starts.wrapping_add(1);
        self.running.clear();
        self.locks.clear();
        let mut engine = Engine::new((self.sites)(), (self.hashes)(), self.seed.map(|b| b ^ self.starts));
        let entries = self.persisted.iter().filter(|(k, _)| k.starts_with("entry:")).map(|(_, v)| v.clone()).collect();
        let probes = self
            .persisted
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("probes:").map(|site| (site.to_owned(), v.clone())))
            .collect();
        engine.restore(Persisted {
            entries,
            totals: self.persisted.get("totals").cloned(),
            settings: self.persisted.get("settings").cloned(),
            probes,
            manual_hashes: self.persisted.get("manual-hashes").cloned(),
            disabled_sites: self.persisted.get("disabled-sites").cloned(),
        });
        self.engine = engine;
        let step = self.engine.start_up(self.now_ms);
        let id = self.track(step, None);
        self.finish(id);
    }

    /// Starts a page request from a top-level frame; run it with `step`/`finish`.
    pub fn spawn(&mut self, origin: &str, channel: u32, request: Value, payload: Option<Payload>) -> TaskId {
        self.spawn_as(&caller(origin, channel), request, payload)
    }

    /// Starts a page request from `caller` (a frame, its top-level origin, its headers).
    pub fn spawn_as(&mut self, caller: &Caller, request: Value, payload: Option<Payload>) -> TaskId {
        let step = self.engine.page(caller, Ok(request), payload.as_ref().map(Payload::data), self.now_ms);
        self.track(step, payload)
    }

    /// A real user gesture in a frame of `origin`.
    pub fn activate(&mut self, origin: &str) -> Finished {
        let step = self.engine.activate(origin, self.now_ms);
        let id = self.track(step, None);
        self.finish(id)
    }

    /// A whole page request, on channel 1 (one frame per origin).
    pub fn page(&mut self, origin: &str, request: Value, payload: Option<Payload>) -> Finished {
        let id = self.spawn(origin, 1, request, payload);
        self.finish(id)
    }

    /// Starts a request from the extension's own pages; run it with `step`/`finish`.
    pub fn spawn_admin(&mut self, request: Value) -> TaskId {
        let step = self.engine.admin(request, self.now_ms);
        self.track(step, None)
    }

    pub fn admin(&mut self, request: Value) -> Finished {
        let id = self.spawn_admin(request);
        self.finish(id)
    }

    /// The frame behind `channel` went away.
    pub fn release(&mut self, channel: u32) -> Vec<TaskId> {
        let steps = self.engine.release(ChannelId(channel), self.now_ms);
        steps.into_iter().map(|s| self.track(s, None)).collect()
    }

    fn track(&mut self, step: Step, payload: Option<Payload>) -> TaskId {
        let id = step.task();
        self.running.insert(id, Running { step, payload, file: None, holds: Vec::new() });
        id
    }

    /// The step task `id` is waiting on, if it is not done.
    pub fn current(&self, id: TaskId) -> Option<&Step> {
        self.running.get(&id).map(|r| &r.step).filter(|s| !matches!(s, Step::Done { .. }))
    }

    /// Performs one step of task `id`. Returns false if it is blocked on a lock.
    pub fn step(&mut self, id: TaskId) -> bool {
        let run = self.running.get_mut(&id).expect("a running task");
        if let Step::Acquire { lock, .. } = &run.step {
            let key = lock_key(lock);
            let queue = self.locks.entry(key.clone()).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
            if queue.front() != Some(&id) {
                return false;
            }
            run.holds.push(key);
        }
        let step = std::mem::replace(
            &mut self.running.get_mut(&id).unwrap().step,
            Step::Done { task: id, reply: None, trace: Default::default() },
        );
        let outcome = self.perform(id, &step);
        let next = self.engine.resume(id, outcome, self.now_ms);
        let run = self.running.get_mut(&id).unwrap();
        if matches!(next, Step::Done { .. }) {
            // A task's locks go when it is done.
            for key in std::mem::take(&mut run.holds) {
                if let Some(queue) = self.locks.get_mut(&key) {
                    queue.retain(|t| *t != id);
                }
            }
        }
        run.step = next;
        true
    }

    /// Runs task `id` to the end (every other task stays where it is); panics on a deadlock.
    pub fn finish(&mut self, id: TaskId) -> Finished {
        while self.current(id).is_some() {
            assert!(self.step(id), "task {id:?} is blocked: finish the lock holder first");
        }
        let run = self.running.remove(&id).expect("a running task");
        let Step::Done { reply, trace, .. } = run.step else { unreachable!() };
        Finished { reply, file: run.file, trace: *trace }
    }

    /// Runs every unfinished task, round robin, until all are done.
    pub fn finish_all(&mut self) -> BTreeMap<TaskId, Finished> {
        let mut done = BTreeMap::new();
        while !self.running.is_empty() {
            let ids: Vec<TaskId> = self.running.keys().copied().collect();
            let mut progressed = false;
            for id in ids {
                if self.current(id).is_none() {
                    done.insert(id, self.finish(id));
                    progressed = true;
                } else {
                    progressed |= self.step(id);
                }
            }
            assert!(progressed, "deadlock");
        }
        done
    }

    fn injected(&mut self, kind: &str) -> Option<Outcome> {
        let i = self.fail_next.iter().position(|(k, _)| *k == kind)?;
        let (_, name) = self.fail_next.remove(i);
        Some(Outcome::Failed { name: name.to_owned() })
    }

    fn perform(&mut self, id: TaskId, step: &Step) -> Outcome {
        if let Some(failed) = self.injected(&step_kind(step)) {
            return failed;
        }
        match step {
            Step::Acquire { .. } | Step::Done { .. } => Outcome::Done,
            Step::OpenTemp { session, .. } => {
                self.temps.insert(session.clone(), Temp { bytes: Vec::new(), open: true, digested: None });
                Outcome::Done
            }
            Step::WriteTemp { session, at, len, feed, .. } => {
                let payload = self.running[&id].payload.clone().expect("a write carries data");
                let bytes = payload.bytes();
                assert_eq!(bytes.len() as u64, *len, "the engine planned the data's length");
                let Some(temp) = self.temps.get_mut(session).filter(|t| t.open) else {
                    return failed("InvalidStateError");
                };
                let end = *at as usize + bytes.len();
                if temp.bytes.len() < end {
                    temp.bytes.resize(end, 0);
                }
                temp.bytes[*at as usize..end].copy_from_slice(bytes);
                match (&mut temp.digested, *feed) {
                    (Some(digested), true) => digested.extend_from_slice(bytes),
                    (None, true) => return self.feed(id, bytes.to_vec()),
                    (_, false) => {}
                }
                Outcome::Done
            }
            Step::HandTemp { session, size, .. } => match self.temps.get_mut(session) {
                Some(temp) if temp.open && temp.digested.is_none() && temp.bytes.len() as u64 == *size => {
                    temp.digested = Some(temp.bytes.clone());
                    Outcome::Done
                }
                _ => failed("InvalidStateError"),
            },
            Step::TruncateTemp { session, size, .. } => match self.temps.get_mut(session).filter(|t| t.open) {
                Some(temp) => {
                    temp.bytes.resize(*size as usize, 0);
                    Outcome::Done
                }
                None => failed("InvalidStateError"),
            },
            Step::CloseTemp { session, .. } => match self.temps.get_mut(session) {
                Some(temp) => {
                    temp.open = false;
                    match &temp.digested {
                        Some(digested) => Outcome::Digested {
                            sha256: sha256_hex(digested),
                            head: temp.bytes[..temp.bytes.len().min(16)].to_vec(),
                        },
                        None => Outcome::Done,
                    }
                }
                None => failed("NotFoundError"),
            },
            Step::HashTemp { session, size, .. } => match self.temps.get(session) {
                Some(temp) if !temp.open && temp.bytes.len() as u64 == *size => {
                    let bytes = temp.bytes.clone();
                    self.feed(id, bytes)
                }
                _ => failed("InvalidStateError"),
            },
            Step::DiscardTemp { session, .. } => {
                self.temps.remove(session);
                Outcome::Done
            }
            Step::PlaceBlob { session, hash, .. } => match self.temps.remove(session) {
                Some(temp) if !temp.open => {
                    self.blobs.insert(hash.to_string(), temp.bytes);
                    Outcome::Done
                }
                _ => failed("InvalidStateError"),
            },
            Step::DeleteBlobs { names, .. } => {
                for name in names {
                    self.blobs.remove(name);
                }
                Outcome::Done
            }
            Step::Persist { task, .. } => {
                let changes = self.engine.take_changes(*task);
                self.persist(&changes);
                Outcome::Done
            }
            Step::ReadBlob { hash, .. } => match self.blobs.get(hash.as_str()) {
                Some(bytes) => {
                    let size = bytes.len() as u64;
                    self.running.get_mut(&id).unwrap().file = Some(bytes.clone());
                    Outcome::Found { size }
                }
                None => Outcome::Missing,
            },
            Step::ListBlobs { .. } => {
                Outcome::Listed { files: self.blobs.iter().map(|(k, v)| (k.clone(), Some(v.len() as u64))).collect() }
            }
            Step::ClearTemps { .. } => {
                self.temps.clear();
                Outcome::Done
            }
        }
    }

    fn feed(&mut self, id: TaskId, bytes: Vec<u8>) -> Outcome {
        for chunk in bytes.chunks(self.feed_chunk.max(1)) {
            if self.engine.feed(id, chunk).is_err() {
                return failed("AbortError");
            }
        }
        Outcome::Done
    }

    /// Applies `changes` with the record layout the worker uses (extension/worker/persist.js).
    fn persist(&mut self, changes: &Changes) {
        let mut put = |key: String, value: Option<Value>| match value {
            Some(value) => self.persisted.insert(key, value),
            None => self.persisted.remove(&key),
        };
        for change in &changes.entries {
            put(format!("entry:{}", change.hash), change.entry.as_ref().map(record));
        }
        for change in &changes.probes {
            put(format!("probes:{}", change.site), change.window.as_ref().map(record));
        }
        if let Some(totals) = &changes.totals {
            put("totals".into(), Some(record(totals)));
        }
        if let Some(settings) = &changes.settings {
            put("settings".into(), Some(record(settings)));
        }
        if let Some(hashes) = &changes.manual_hashes {
            put("manual-hashes".into(), Some(record(hashes)));
        }
        if let Some(sites) = &changes.disabled_sites {
            self.persisted.insert("disabled-sites".into(), serde_json::to_value(sites).unwrap());
        }
    }

    /// Temporary files that exist now.
    pub fn temp_count(&self) -> usize {
        self.temps.len()
    }

    // ---- what a page does, as requests ----------------------------------

    /// Stores `bytes` as `declared` (default: their own hash) from `origin`
    /// in one write of `payload`'s kind; returns the close reply.
    pub fn store(&mut self, origin: &str, bytes: &[u8], origins: Value) -> Finished {
        self.store_as(origin, bytes, &sha256_hex(bytes), origins, false)
    }

    pub fn store_as(&mut self, origin: &str, bytes: &[u8], declared: &str, origins: Value, blob: bool) -> Finished {
        let begin = self.page(
            origin,
            serde_json::json!({"op": "write-begin", "hash": hash_arg(declared), "origins": origins}),
            None,
        );
        let Some(session) = begin.json()["value"]["session"].as_str().map(str::to_owned) else { return begin };
        let payload = if blob { Payload::Blob(bytes.to_vec()) } else { Payload::Bytes(bytes.to_vec()) };
        let write = self.page(origin, serde_json::json!({"op": "write", "session": session}), Some(payload));
        if !write.ok() {
            return write;
        }
        self.page(origin, serde_json::json!({"op": "close", "session": session}), None)
    }

    /// `getFileHandle(hash)` then `getFile()`: the bytes, or the error name.
    pub fn read(&mut self, origin: &str, hex: &str) -> Result<Vec<u8>, String> {
        let read = self.page(origin, serde_json::json!({"op": "read", "hash": hash_arg(hex)}), None);
        match read.error_name() {
            Some(name) => Err(name),
            None => Ok(read.file.expect("a read serves a file")),
        }
    }

    /// `getFileHandle(hash)` (read mode): Ok, or the error name.
    pub fn open(&mut self, origin: &str, hex: &str) -> Result<(), String> {
        let open = self.page(origin, serde_json::json!({"op": "open", "hash": hash_arg(hex)}), None);
        open.error_name().map_or(Ok(()), Err)
    }
}

impl Default for MemoryHost {
    fn default() -> Self {
        Self::new()
    }
}

/// A top-level frame of `origin` on `channel`, with no headers.
pub fn caller(origin: &str, channel: u32) -> Caller {
    Caller {
        origin: origin.to_owned(),
        channel: ChannelId(channel),
        permissions_policy: Header::Absent,
        container: None,
        ancestors: Vec::new(),
        allow_origin: None,
    }
}

/// A frame of `origin` on `channel` in a top-level document of `top` that
/// lets it use the store (`<iframe allow="cross-origin-storage">`); no headers.
pub fn framed(origin: &str, top: &str, channel: u32) -> Caller {
    let container = Container::Iframe { allow: Some("cross-origin-storage".into()), src_origin: origin.to_owned() };
    let top = Frame { origin: top.to_owned(), permissions_policy: Header::Absent, container: None };
    Caller { container: Some(container), ancestors: vec![top], ..caller(origin, channel) }
}

pub fn hash_arg(hex: &str) -> Value {
    serde_json::json!({"algorithm": "SHA-256", "value": hex})
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut v = Verifier::default();
    v.update(bytes);
    v.finish().to_string()
}

fn failed(name: &str) -> Outcome {
    Outcome::Failed { name: name.to_owned() }
}

fn lock_key(lock: &Lock) -> String {
    serde_json::to_value(lock).unwrap().as_str().unwrap().to_owned()
}

/// The step's name as the host sees it (`"write-temp"`, ...).
fn step_kind(step: &Step) -> String {
    serde_json::to_value(step).unwrap()["do"].as_str().unwrap().to_owned()
}

/// A persisted record as JSON.
fn record<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("records serialize")
}
