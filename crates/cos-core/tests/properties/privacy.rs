//! Privacy: what one site's replies could tell it about other sites.

use crate::checks::{document, page_as, set_budget, store_from};
use crate::generate::{hex, random_header};
use crate::harness::{run, share, Rng};
use crate::sessions::{random_session_ops, ModelFile, SessionOp};
use cos_core::engine::step::Caller;
use cos_core::memory_host::{hash_arg, sha256_hex as sha, Finished, MemoryHost, Payload};
use serde_json::{json, Value};

/// A page-visible reply with the values that legitimately differ between
/// two runs replaced: digests of the page's own bytes (`digests`, each with
/// its label) and random session ids.
pub(crate) fn normalised(reply: &Finished, digests: &[(&str, &str)], sessions: &mut Vec<String>) -> String {
    let mut text = reply.json().to_string();
    for (digest, label) in digests {
        text = text.replace(digest, label);
    }
    if let Some(session) = reply.json()["value"]["session"].as_str() {
        sessions.push(session.to_owned());
    }
    for (i, s) in sessions.iter().enumerate() {
        text = text.replace(s.as_str(), &format!("<session {i}>"));
    }
    text
}

/// Runs `ops` (write data given as ranges of `bytes`) as one writable of
/// `who`, the user setting the budget to `lowered.1` before operation
/// `lowered.0`; returns every reply, normalised, and a read of the file after.
fn session_replies(
    host: &mut MemoryHost,
    (who, origins): (&Caller, &Value),
    (bytes, declared): (&[u8], &str),
    ops: &[SessionOp],
    lowered: Option<(usize, u64)>,
) -> Vec<String> {
    let mut sessions = Vec::new();
    let begin = page_as(host, who, json!({"op": "write-begin", "hash": hash_arg(declared), "origins": origins}), None);
    let mut replies = vec![normalised(&begin, &[(declared, "<file>")], &mut sessions)];
    let session = sessions.last().cloned().unwrap_or_default();
    // What the page wrote so far: a mismatch names its digest.
    let mut written = ModelFile::default();
    for (i, op) in ops.iter().enumerate() {
        if let Some((_, budget)) = lowered.filter(|(at, _)| *at == i) {
            set_budget(host, budget);
        }
        let op = match op {
            // Data stands for the same range of the file's own bytes.
            SessionOp::Write { data, position, blob } => {
                let start = data.first().map_or(0, |&b| b as usize % bytes.len());
                let data = bytes[start..bytes.len().min(start + data.len())].to_vec();
                SessionOp::Write { data, position: *position, blob: *blob }
            }
            other => other.clone(),
        };
        let (request, payload) = op.request(&session);
        let reply = page_as(host, who, request, payload);
        let digest = sha(&written.bytes);
        replies.push(normalised(&reply, &[(declared, "<file>"), (&digest, "<written>")], &mut sessions));
        if reply.ok() {
            written.apply(&op);
        }
    }
    let read = page_as(host, who, json!({"op": "read", "hash": hash_arg(declared)}), None);
    replies.push(normalised(&read, &[(declared, "<file>")], &mut sessions));
    replies
}

/// Sites a.test and b.test (different sites): whatever b.test does with a
/// writable, every reply it gets (warnings, error names and messages, quota)
/// is the same whether its bytes are a file a.test stored and keeps hidden
/// from it, or bytes nobody stored.
#[test]
fn replies_never_reveal_a_hidden_file() {
    const A_SIDE: [&str; 3] = ["https://a.test", "https://sub.a.test", "http://a.test"];
    const B_SIDE: [&str; 3] = ["https://b.test", "https://x.b.test", "http://c.test:8080"];
    let mut compared = 0usize;
    let cases = share(20);
    run("privacy-hidden", cases, |rng, _| {
        let (a, b) = (*rng.pick(&A_SIDE), *rng.pick(&B_SIDE));
        let len = 1 + rng.below(40);
        // Distinct nonzero bytes: whether b's writes (ranges of its own bytes, gaps
        // filled with zeros) rebuild its file then never depends on which bytes
        // they are. (With repeated bytes or a zero, a write of the wrong range can
        // rebuild one file by coincidence and not the other.)
        let distinct = |rng: &mut Rng| {
            let mut all: Vec<u8> = (1..=255).collect();
            rng.shuffle(&mut all);
            all[..len].to_vec()
        };
        let hidden = distinct(rng);
        let fresh = distinct(rng);
        // Hidden from b: same-site only, or listed for others (a's header authorizing them, or not).
        let a_list: Vec<String> = (0..1 + rng.below(64))
            .map(|i| if i % 3 == 0 { format!("https://o{i}.d.test") } else { format!("https://o{i}.a.test") })
            .collect();
        let a_origins = match rng.below(3) {
            0 => Value::Null,
            1 => json!([]),
            _ => json!(a_list),
        };
        let a_header = rng.chance(70).then(|| a_list.join(", "));
        let b_origins = match rng.below(4) {
            0 => Value::Null,
            1 => json!("*"),
            2 => json!([a]),
            _ => json!((0..64).map(|i| format!("https://p{i}.test")).collect::<Vec<_>>()),
        };
        // b's header: none, one naming a, or any text (its warnings are about its own request only).
        let b_header = match rng.below(3) {
            0 => None,
            1 => Some(format!("https://p1.test, {a}")),
            _ => Some(random_header(rng)),
        };
        let b_document = document(b, None, b_header.as_deref());
        let budget = rng.chance(40).then(|| rng.below(100) as u64);
        let mut ops: Vec<SessionOp> = random_session_ops(rng);
        if rng.chance(50) {
            // Mostly the whole file in one or two writes, so that it verifies.
            let cut = rng.below(len + 1) as u8;
            let whole = vec![SessionOp::Write { data: vec![0; cut as usize], position: None, blob: rng.chance(30) }];
            let rest = SessionOp::Write { data: vec![cut; len - cut as usize], position: None, blob: rng.chance(30) };
            ops = whole.into_iter().chain([rest, SessionOp::Close]).collect();
        }
        let wrong = rng.chance(15).then(|| hex(rng, 64));
        // The user lowers the budget while the writable is open: only b.test's own files may count at close.
        let lowered = rng.chance(25).then(|| (rng.below(ops.len() + 1), rng.below(len + 1) as u64));
        let world = |bytes: &[u8]| {
            let mut host = MemoryHost::new();
            if let Some(b) = budget {
                set_budget(&mut host, b);
            }
            store_from(
                &mut host,
                &document(a, None, a_header.as_deref()),
                (&hidden, &sha(&hidden)),
                a_origins.clone(),
                false,
            );
            let declared = wrong.clone().unwrap_or_else(|| sha(bytes));
            session_replies(&mut host, (&b_document, &b_origins), (bytes, &declared), &ops, lowered)
        };
        assert_eq!(world(&hidden), world(&fresh), "b.test can tell that a.test stored these bytes");
        compared += 1;
    });
    eprintln!("privacy-hidden: {compared} pairs of worlds compared");
}

/// Whatever other origins (of other sites or of the same one) store and
/// keep open, one origin's writables get the same replies, quota refusals
/// included: its limit counts only its own files and writes.
#[test]
fn quota_outcomes_ignore_other_origins() {
    const B: &str = "https://b.test";
    const OTHERS: [&str; 3] = ["https://a.test", "https://c.test", "https://x.b.test"];
    let mut refusals = 0usize;
    let cases = share(13);
    run("privacy-quota", cases, |rng, _| {
        let budget = 16 + rng.below(300) as u64;
        let writables: Vec<(Vec<u8>, Vec<SessionOp>, Value)> = (0..1 + rng.below(3))
            .map(|_| {
                let bytes = rng.some_bytes(1, 120);
                let ops = vec![
                    SessionOp::Write { data: vec![0; bytes.len()], position: None, blob: rng.chance(30) },
                    if rng.chance(80) { SessionOp::Close } else { SessionOp::Truncate(rng.below(200)) },
                ];
                (bytes, ops, if rng.chance(50) { json!("*") } else { Value::Null })
            })
            .collect();
        // Other origins' activity, between b.test's writables: (origin, bytes, close it?).
        let activity: Vec<Vec<(&str, Vec<u8>, bool)>> = (0..=writables.len())
            .map(|_| (0..rng.below(4)).map(|_| (*rng.pick(&OTHERS), rng.some_bytes(1, 200), rng.chance(50))).collect())
            .collect();
        let world = |busy: bool| {
            let mut host = MemoryHost::new();
            set_budget(&mut host, budget);
            let mut replies = Vec::new();
            for (i, (bytes, ops, origins)) in writables.iter().enumerate() {
                for (origin, data, close) in activity[i].iter().filter(|_| busy) {
                    let session = host.page(origin, json!({"op": "write-begin", "hash": hash_arg(&sha(data))}), None);
                    let session = session.json()["value"]["session"].as_str().unwrap_or_default().to_owned();
                    host.page(origin, json!({"op": "write", "session": session}), Some(Payload::Bytes(data.clone())));
                    if *close {
                        host.page(origin, json!({"op": "close", "session": session}), None);
                    }
                }
                replies.extend(session_replies(
                    &mut host,
                    (&document(B, None, None), origins),
                    (bytes, &sha(bytes)),
                    ops,
                    None,
                ));
            }
            replies
        };
        let quiet = world(false);
        refusals += quiet.iter().filter(|r| r.contains("QuotaExceededError")).count();
        assert_eq!(world(true), quiet, "b.test's replies depend on other origins' files or writes");
    });
    eprintln!("privacy-quota: {refusals} quota refusals compared");
    assert!(refusals > cases / 10, "the generator must reach the limit");
}
