//! Write sessions: what is stored is exactly the final bytes, verified.

use crate::checks::{index_entries, origin_limit, set_budget, step_failure_name, PLATFORM_ERRORS};
use crate::generate::hex;
use crate::harness::{run, share, Rng};
use cos_core::engine::IN_USE_MS;
use cos_core::index::Entry;
use cos_core::memory_host::{hash_arg, sha256_hex as sha, MemoryHost, Payload, StepKind};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub(crate) enum SessionOp {
    Write { data: Vec<u8>, position: Option<usize>, blob: bool },
    Seek(usize),
    Truncate(usize),
    Close,
    Abort,
}

impl SessionOp {
    pub(crate) fn request(&self, session: &str) -> (Value, Option<Payload>) {
        match self {
            Self::Write { data, position, blob } => {
                let payload = if *blob { Payload::Blob(data.clone()) } else { Payload::Bytes(data.clone()) };
                (json!({"op": "write", "session": session, "position": position}), Some(payload))
            }
            Self::Seek(p) => (json!({"op": "seek", "session": session, "position": p}), None),
            Self::Truncate(n) => (json!({"op": "truncate", "session": session, "size": n}), None),
            Self::Close => (json!({"op": "close", "session": session}), None),
            Self::Abort => (json!({"op": "abort", "session": session}), None),
        }
    }
}

/// The file a writable holds, as the page's operations leave it.
#[derive(Default, Clone)]
pub(crate) struct ModelFile {
    pub(crate) bytes: Vec<u8>,
    cursor: usize,
}

impl ModelFile {
    /// The size after `op` (the quota is checked against it before anything happens).
    pub(crate) fn size_after(&self, op: &SessionOp) -> usize {
        match op {
            SessionOp::Write { data, position, .. } => {
                self.bytes.len().max(position.unwrap_or(self.cursor) + data.len())
            }
            SessionOp::Truncate(n) => *n,
            _ => self.bytes.len(),
        }
    }

    pub(crate) fn apply(&mut self, op: &SessionOp) {
        match op {
            SessionOp::Write { data, position, .. } => {
                let at = position.unwrap_or(self.cursor);
                self.bytes.resize(self.bytes.len().max(at + data.len()), 0);
                self.bytes[at..at + data.len()].copy_from_slice(data);
                self.cursor = at + data.len();
            }
            SessionOp::Seek(p) => self.cursor = *p,
            SessionOp::Truncate(n) => {
                self.bytes.resize(*n, 0);
                self.cursor = self.cursor.min(*n);
            }
            SessionOp::Close | SessionOp::Abort => {}
        }
    }
}

pub(crate) fn random_session_ops(rng: &mut Rng) -> Vec<SessionOp> {
    let mut model = ModelFile::default();
    let mut ops = Vec::new();
    for _ in 0..rng.below(8) {
        let op = match rng.below(5) {
            0..=2 => {
                let data = rng.some_bytes(0, 30);
                let position = rng.chance(30).then(|| rng.below(model.bytes.len() + 10));
                SessionOp::Write { data, position, blob: rng.chance(30) }
            }
            3 => SessionOp::Seek(rng.below(model.bytes.len() + 5)),
            _ => SessionOp::Truncate(rng.below(model.bytes.len() + 5)),
        };
        model.apply(&op);
        ops.push(op);
    }
    ops.push(if rng.chance(85) { SessionOp::Close } else { SessionOp::Abort });
    if rng.chance(20) {
        ops.push(SessionOp::Seek(0));
    }
    ops
}

/// Steps a failure can be injected into without the failure itself being
/// unrecoverable (deleting a temporary file must work for none to remain).
const SESSION_FAILURES: [StepKind; 6] =
    ["open-temp", "write-temp", "truncate-temp", "close-temp", "hash-temp", "place-blob"];

/// Random write/seek/truncate/close/abort sequences (Bytes and Blob data)
/// against a model of the file and of the origin's quota, with injected step
/// failures: a close succeeds exactly when the model's final bytes hash to
/// the declared value and fit, and then exactly those bytes are stored (and
/// least recently used files not in use make room); any failure stores
/// nothing and leaves no temporary file.
#[test]
fn write_sessions_verify_exactly_the_final_bytes() {
    const A: &str = "https://a.test";
    let mut committed = 0usize;
    let mut injected = 0usize;
    let cases = share(60);
    run("sessions", cases, |rng, _| {
        let mut host = MemoryHost::new();
        let budget = rng.chance(40).then(|| rng.below(160) as u64);
        if let Some(b) = budget {
            set_budget(&mut host, b);
        }
        // Files stored earlier, a second apart, by a.test (charged to it) or by b.test.
        for i in 0..rng.below(4) {
            host.now_ms = i as u64 * 1000;
            let storer = if rng.chance(50) { A } else { "https://b.test" };
            host.store(storer, &vec![200 + i as u8; 1 + rng.below(40)], Value::Null);
        }
        host.now_ms = *rng.pick(&[30_000, 61_500, 100_000]);
        let before = index_entries(&host);
        let stored_by_a = |e: &Entry| e.storers.iter().any(|o| o.as_str() == A);
        let charged: u64 = before.values().filter(|e| stored_by_a(e)).map(|e| e.size).sum();

        let ops = random_session_ops(rng);
        let mut truth = ModelFile::default();
        ops.iter().for_each(|op| truth.apply(op));
        let truth = sha(&truth.bytes);
        let declared = match rng.below(4) {
            0 => hex(rng, 64),
            _ => truth.clone(),
        };
        let inject = rng
            .chance(15)
            .then(|| (rng.below(ops.len() + 1), *rng.pick(&SESSION_FAILURES), *rng.pick(&PLATFORM_ERRORS)));

        let mut file = ModelFile::default();
        let mut session: Option<String> = None;
        let mut consumed_failure: Option<StepKind> = None;
        let mut stored_now = false;
        for i in 0..=ops.len() {
            if let Some((_, kind, name)) = inject.filter(|(at, ..)| *at == i) {
                host.fail_next.push((kind, name));
            }
            let pending = host.fail_next.first().copied();
            let (request, payload, op) = match i {
                0 => (json!({"op": "write-begin", "hash": hash_arg(&declared)}), None, None),
                _ => {
                    let op = &ops[i - 1];
                    let (request, payload) = op.request(session.as_deref().unwrap_or("ended"));
                    (request, payload, Some(op))
                }
            };
            let open = i == 0 || session.is_some();
            let reply = host.page(A, request, payload);
            let consumed = pending.filter(|_| host.fail_next.is_empty());
            // What the model expects; `None` is success.
            let expected: Option<&str> = match op {
                _ if !open => Some("unknown-session"),
                None => None,
                Some(SessionOp::Close) => {
                    let already = before.get(&truth).is_some_and(stored_by_a);
                    let size = file.bytes.len() as u64;
                    if file.bytes.is_empty() {
                        Some("empty-write")
                    } else if sha(&file.bytes) != declared {
                        Some("integrity-mismatch")
                    } else if charged + if already { 0 } else { size } > origin_limit(budget) {
                        Some("quota-exceeded")
                    } else {
                        None
                    }
                }
                Some(op) => {
                    let growth = file.size_after(op).saturating_sub(file.bytes.len()) as u64;
                    (charged + file.bytes.len() as u64 + growth > origin_limit(budget)).then_some("quota-exceeded")
                }
            };
            let json = reply.json();
            match consumed {
                // The step ran, so the request got that far; its failure is the answer.
                Some((kind, name)) => {
                    assert_eq!(reply.error_name().as_deref(), Some(step_failure_name(name)), "{kind} failed: {json}");
                    consumed_failure = Some(kind);
                    injected += 1;
                }
                None => assert_eq!(
                    json["error"]["code"].as_str(),
                    expected,
                    "{:?} on {} bytes: {json}",
                    op,
                    file.bytes.len()
                ),
            }
            let ended = !reply.ok() || matches!(op, Some(SessionOp::Close | SessionOp::Abort));
            match (i, ended) {
                (0, false) => session = Some(json["value"]["session"].as_str().expect("a session").to_owned()),
                (_, false) => file.apply(op.expect("an operation")),
                (_, true) => {
                    session = None;
                    assert_eq!(
                        (host.engine.open_sessions(), host.temp_count()),
                        (0, 0),
                        "the session ended with its file"
                    );
                }
            }
            if reply.ok() && matches!(op, Some(SessionOp::Close)) {
                committed += 1;
                stored_now = true;
                assert_eq!(json["value"], json!({"hash": declared, "size": file.bytes.len(), "warnings": []}));
                assert_eq!(host.blobs[&truth], file.bytes, "stored exactly the final bytes");
                assert_eq!(sha(&host.blobs[&truth]), declared);
                let mut expected = before.keys().cloned().collect::<BTreeSet<_>>();
                if !before.contains_key(&truth) {
                    // Least recently used first, among files not in use, until the new file fits.
                    let budget = budget.unwrap_or(u64::MAX);
                    let mut over =
                        (before.values().map(|e| e.size).sum::<u64>() + file.bytes.len() as u64).saturating_sub(budget);
                    let mut idle: Vec<&Entry> =
                        before.values().filter(|e| host.now_ms - e.last_used_ms >= IN_USE_MS).collect();
                    idle.sort_by_key(|e| e.last_used_ms);
                    for e in idle {
                        if over == 0 {
                            break;
                        }
                        over = over.saturating_sub(e.size);
                        expected.remove(e.hash.as_str());
                    }
                    expected.insert(truth.clone());
                }
                assert_eq!(
                    index_entries(&host).into_keys().collect::<BTreeSet<_>>(),
                    expected,
                    "stored files after the commit"
                );
            }
        }
        let after = index_entries(&host);
        assert_eq!(after.keys().collect::<Vec<_>>(), host.blobs.keys().collect::<Vec<_>>(), "an entry for each blob");
        if !stored_now {
            match consumed_failure {
                // A commit that failed after making room may have evicted files.
                Some("place-blob") => {
                    assert!(after.keys().all(|k| before.contains_key(k)), "a failed write stored a file");
                }
                _ => assert!(after.keys().eq(before.keys()), "a failed write changed the stored files"),
            }
        }
        assert_eq!(host.temp_count(), 0);
    });
    eprintln!("sessions: {committed} writes committed, {injected} injected step failures");
    assert!(committed > cases / 10, "the generator must also produce correct writes");
    assert!(injected > cases / 50, "the generator must also inject failures");
}
