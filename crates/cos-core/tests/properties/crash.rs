//! Crash consistency: interleaved tasks, failing steps, a restart anywhere.

use crate::checks::PLATFORM_ERRORS;
use crate::harness::{run, share, Rng};
use cos_core::engine::step::TaskId;
use cos_core::memory_host::{hash_arg, sha256_hex as sha, Finished, MemoryHost, Payload, StepKind};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const ORIGINS: [&str; 4] = ["https://a.test", "https://sub.a.test", "https://b.test", "http://c.test:8080"];

/// Steps that fail at random.
const FAILING_STEPS: [StepKind; 13] = [
    "persist",
    "acquire",
    "open-temp",
    "write-temp",
    "truncate-temp",
    "close-temp",
    "hash-temp",
    "discard-temp",
    "place-blob",
    "delete-blobs",
    "read-blob",
    "list-blobs",
    "clear-temps",
];

/// What a page (or the user, for deletions) asks, one request at a time.
#[derive(Debug, Clone)]
enum Act {
    Begin {
        hash: String,
        origins: Value,
    },
    Write {
        bytes: Vec<u8>,
        blob: bool,
        position: Option<u64>,
    },
    Close,
    Abort,
    Read {
        hash: String,
    },
    /// Admin: one file, or (`None`) every file.
    Delete {
        hash: Option<String>,
    },
}

impl Act {
    fn request(&self, session: &str) -> (Value, Option<Payload>) {
        match self {
            Self::Begin { hash, origins } => {
                (json!({"op": "write-begin", "hash": hash_arg(hash), "origins": origins}), None)
            }
            Self::Write { bytes, blob, position } => {
                let payload = if *blob { Payload::Blob(bytes.clone()) } else { Payload::Bytes(bytes.clone()) };
                (json!({"op": "write", "session": session, "position": position}), Some(payload))
            }
            Self::Close => (json!({"op": "close", "session": session}), None),
            Self::Abort => (json!({"op": "abort", "session": session}), None),
            Self::Read { hash } => (json!({"op": "read", "hash": hash_arg(hash)}), None),
            Self::Delete { hash: Some(hash) } => (json!({"op": "delete", "hash": hash}), None),
            Self::Delete { hash: None } => (json!({"op": "clear"}), None),
        }
    }
}

/// One frame of one origin, or the user's settings page (no origin).
struct Agent {
    origin: &'static str,
    channel: u32,
    script: VecDeque<Act>,
    /// The writable it has open: (session id, declared hash).
    session: Option<(String, String)>,
    /// The request under way: its task, what it is, and its record in `History`.
    running: Option<(TaskId, Act, usize)>,
}

impl Agent {
    fn is_user(&self) -> bool {
        self.origin.is_empty()
    }
}

/// When things finished, in the order their tasks ended (the order in which
/// they released their locks), to decide what must hold after the restart.
#[derive(Default)]
struct History {
    clock: u64,
    /// Writes acknowledged ok: (storer, hash, when).
    acknowledged: Vec<(&'static str, String, u64)>,
    deletions: Vec<Deletion>,
    /// Every close: the hash it declared, and when it ended.
    closes: Vec<(String, Option<u64>)>,
}

/// An admin deletion of one file or (`None`) all: when it ended, and whether ok.
struct Deletion {
    target: Option<String>,
    ended: Option<(u64, bool)>,
}

impl Deletion {
    fn covers(&self, hash: &str) -> bool {
        self.target.as_deref().is_none_or(|t| t == hash)
    }
}

impl History {
    /// A deletion that had not finished when a write was acknowledged at
    /// `at` may have removed its file.
    fn deletion_after(&self, hash: &str, at: u64) -> bool {
        self.deletions.iter().any(|d| d.covers(hash) && d.ended.is_none_or(|(t, _)| t > at))
    }

    /// A close that had not finished when a deletion ended at `at` may have
    /// stored the file again.
    fn close_after(&self, hash: &str, at: u64) -> bool {
        self.closes.iter().any(|(h, done)| h == hash && done.is_none_or(|t| t > at))
    }
}

fn files() -> Vec<Vec<u8>> {
    (0..5).map(|i| (0..1 + i * 7).map(|j| (i * 31 + j) as u8).collect()).collect()
}

fn page_script(rng: &mut Rng, files: &[Vec<u8>], others: &[&'static str]) -> VecDeque<Act> {
    let f = rng.below(files.len());
    let hash = sha(&files[f]);
    if rng.chance(30) {
        return VecDeque::from([Act::Read { hash }]);
    }
    let origins = match rng.below(3) {
        0 => Value::Null,
        1 => json!("*"),
        _ => json!([rng.pick(others)]),
    };
    // Sometimes the wrong bytes (the next file's).
    let bytes = if rng.chance(85) { files[f].clone() } else { files[(f + 1) % files.len()].clone() };
    let blob = rng.chance(30);
    let mut acts = vec![Act::Begin { hash, origins }];
    if rng.chance(20) {
        // Garbage first, then the real bytes over it: verified by a full pass.
        acts.push(Act::Write { bytes: rng.bytes(bytes.len()), blob, position: None });
        acts.push(Act::Write { bytes, blob, position: Some(0) });
    } else {
        let cut = rng.below(bytes.len() + 1);
        acts.push(Act::Write { bytes: bytes[..cut].to_vec(), blob, position: None });
        acts.push(Act::Write { bytes: bytes[cut..].to_vec(), blob: rng.chance(30), position: None });
    }
    acts.push(if rng.chance(90) { Act::Close } else { Act::Abort });
    acts.into()
}

fn user_script(rng: &mut Rng, files: &[Vec<u8>]) -> VecDeque<Act> {
    let hash = rng.chance(80).then(|| sha(&files[rng.below(files.len())]));
    VecDeque::from([Act::Delete { hash }])
}

/// Sends the agent's next request.
fn send(host: &mut MemoryHost, agent: &mut Agent, act: Act, history: &mut History) {
    let session = agent.session.as_ref().map_or("ended", |s| s.0.as_str());
    let (request, payload) = act.request(session);
    let record = match &act {
        Act::Close => {
            history.closes.push((agent.session.as_ref().map_or(String::new(), |s| s.1.clone()), None));
            history.closes.len() - 1
        }
        Act::Delete { hash } => {
            history.deletions.push(Deletion { target: hash.clone(), ended: None });
            history.deletions.len() - 1
        }
        _ => 0,
    };
    let id = match agent.is_user() {
        true => host.spawn_admin(request),
        false => host.spawn(agent.origin, agent.channel, request, payload),
    };
    agent.running = Some((id, act, record));
}

/// The agent's request ended with `reply`.
fn answer(agent: &mut Agent, reply: &Finished, history: &mut History) {
    let (_, act, record) = agent.running.take().expect("a request under way");
    let json = reply.json();
    match act {
        Act::Begin { hash, .. } => match json["value"]["session"].as_str() {
            Some(session) => agent.session = Some((session.to_owned(), hash)),
            None => agent.script.clear(),
        },
        Act::Close => {
            history.closes[record].1 = Some(history.clock);
            let (_, hash) = agent.session.take().unwrap_or_default();
            if reply.ok() {
                assert_eq!(json["value"]["hash"], hash);
                history.acknowledged.push((agent.origin, hash, history.clock));
            }
        }
        Act::Read { hash } => {
            if let Some(file) = reply.file.as_ref().filter(|_| reply.ok()) {
                assert_eq!(sha(file), hash, "a read served other bytes");
            }
        }
        Act::Delete { .. } => history.deletions[record].ended = Some((history.clock, reply.ok())),
        Act::Write { .. } | Act::Abort => {}
    }
}

/// The durability rule that holds between any two steps: an index entry is
/// persisted only while its file is in place, with its size.
fn assert_entries_have_files(host: &MemoryHost) {
    for (key, entry) in &host.persisted {
        if let Some(hash) = key.strip_prefix("entry:") {
            let file = host.blobs.get(hash).unwrap_or_else(|| panic!("entry {hash} persisted without its file"));
            assert_eq!(entry["size"], file.len(), "entry {hash} persisted with another size");
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    acknowledged_writes_read: usize,
    deletions_checked: usize,
    crashes_with_temporary_files: usize,
    steps: usize,
}

/// Several pages writing (Bytes and Blob, appends and overwrites), reading
/// and aborting, and the user deleting, stepped in random order with random
/// storage-step failures and frames going away; then the worker dies at a
/// random point and starts again. Between any two steps a persisted entry
/// has its file; after the restart every entry has a file of its size that
/// hashes to its name and vice versa, no temporary file is left, every write
/// acknowledged before the crash reads back for its storer (unless a
/// deletion could have removed it), and every acknowledged deletion stands
/// (unless a write could have stored the file again).
#[test]
fn crashes_leave_a_consistent_store() {
    let files = files();
    let by_hash: BTreeMap<String, Vec<u8>> = files.iter().map(|f| (sha(f), f.clone())).collect();
    let mut counts = Counts::default();
    let cases = share(30);
    run("crash", cases, |rng, _| {
        let mut host = MemoryHost::new();
        let pages = 2 + rng.below(3);
        let mut agents: Vec<Agent> = (0..=pages)
            .map(|i| Agent {
                origin: ORIGINS.get(i).filter(|_| i < pages).copied().unwrap_or_default(),
                channel: i as u32 + 1,
                script: VecDeque::new(),
                session: None,
                running: None,
            })
            .collect();
        let origins = &ORIGINS[..pages];
        let mut cleanups: Vec<TaskId> = Vec::new();
        let mut history = History::default();

        for _ in 0..rng.below(250) {
            if rng.chance(4) && host.fail_next.len() < 2 {
                host.fail_next.push((*rng.pick(&FAILING_STEPS), *rng.pick(&PLATFORM_ERRORS)));
            }
            if rng.chance(2) {
                // A frame goes away.
                let channel = agents[rng.below(pages)].channel;
                cleanups.extend(host.release(channel));
            }
            for agent in agents.iter_mut() {
                if agent.running.is_some() || !rng.chance(if agent.is_user() { 5 } else { 40 }) {
                    continue;
                }
                if agent.script.is_empty() {
                    agent.script =
                        if agent.is_user() { user_script(rng, &files) } else { page_script(rng, &files, origins) };
                }
                let act = agent.script.pop_front().expect("a script");
                send(&mut host, agent, act, &mut history);
            }
            // One step of a task that can make progress.
            let mut ids: Vec<TaskId> =
                agents.iter().filter_map(|a| a.running.as_ref().map(|r| r.0)).chain(cleanups.iter().copied()).collect();
            let start = rng.below(ids.len().max(1));
            ids.rotate_left(start);
            let waiting = !ids.is_empty();
            let stepped = ids.into_iter().find(|id| host.current(*id).is_none() || host.step(*id));
            counts.steps += 1;
            assert_entries_have_files(&host);
            let Some(id) = stepped else {
                assert!(!waiting, "deadlock: every task waits for a lock");
                continue;
            };
            if host.current(id).is_some() {
                continue;
            }
            let reply = host.finish(id);
            history.clock += 1;
            cleanups.retain(|t| *t != id);
            if let Some(agent) = agents.iter_mut().find(|a| a.running.as_ref().is_some_and(|r| r.0 == id)) {
                answer(agent, &reply, &mut history);
            }
        }
        // The worker dies here.
        counts.crashes_with_temporary_files += usize::from(host.temp_count() > 0);
        host.fail_next.clear();
        host.restart();

        assert_eq!(host.temp_count(), 0, "temporary files survived the restart");
        let entries: BTreeSet<&str> = host.persisted.keys().filter_map(|k| k.strip_prefix("entry:")).collect();
        assert_eq!(entries, host.blobs.keys().map(String::as_str).collect(), "entries and files differ");
        for (name, bytes) in &host.blobs {
            assert_eq!(&sha(bytes), name, "a stored file is what its name says");
            assert_eq!(host.persisted[&format!("entry:{name}")]["size"], bytes.len());
        }
        for (origin, hash, at) in &history.acknowledged {
            if !history.deletion_after(hash, *at) {
                let read = host.read(origin, hash);
                assert_eq!(read.as_ref(), Ok(&by_hash[hash]), "{origin}'s acknowledged write of {hash} was lost");
                counts.acknowledged_writes_read += 1;
            }
        }
        for deletion in &history.deletions {
            let Some((at, true)) = deletion.ended else { continue };
            for hash in by_hash.keys().filter(|h| deletion.covers(h) && !history.close_after(h, at)) {
                assert!(!host.blobs.contains_key(hash), "{hash} came back after its acknowledged deletion");
                counts.deletions_checked += 1;
            }
        }
    });
    eprintln!("crash: {counts:?}");
    assert!(
        counts.acknowledged_writes_read > cases
            && counts.deletions_checked > cases / 10
            && counts.crashes_with_temporary_files > cases / 10,
        "the generator must reach every case: {counts:?}"
    );
}
