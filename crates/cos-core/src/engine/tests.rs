//! The engine's flows, driven through the in-memory host exactly as the
//! service worker drives them through OPFS.

use crate::engine::step::{Caller, ChannelId, Step};
use crate::memory_host::{caller, framed, hash_arg, sha256_hex as sha, MemoryHost, Payload};
use crate::permissions_policy::{Container, Header};
use crate::CosError;
use serde_json::{json, Value};

const A: &str = "https://a.test";
const SUB_A: &str = "https://sub.a.test";
const B: &str = "https://b.test";
const C: &str = "https://c.test";

fn begin(host: &mut MemoryHost, origin: &str, channel: u32, hex: &str) -> String {
    let id = host.spawn(origin, channel, json!({"op": "write-begin", "hash": hash_arg(hex)}), None);
    let reply = host.finish(id);
    reply.json()["value"]["session"].as_str().expect("a session id").to_owned()
}

fn on(
    host: &mut MemoryHost,
    origin: &str,
    channel: u32,
    request: Value,
    payload: Option<Payload>,
) -> crate::memory_host::Finished {
    let id = host.spawn(origin, channel, request, payload);
    host.finish(id)
}

fn set_budget(host: &mut MemoryHost, bytes: u64) {
    assert!(host.admin(json!({"op": "settings", "settings": {"budgetBytes": bytes}})).ok());
}

/// Puts `bytes`' hash on the Public Hash List (its manual section, as the user would).
fn make_public(host: &mut MemoryHost, bytes: &[u8]) {
    assert!(host.admin(json!({"op": "add-public-hashes", "hashes": [sha(bytes)]})).ok());
}

/// A top-level document of `origin` whose response carried `Cross-Origin-Storage-Allow-Origin: header`.
fn with_header(origin: &str, header: &str) -> Caller {
    Caller { allow_origin: Some(header.to_owned()), ..caller(origin, 1) }
}

/// Stores `bytes` as `who` with `origins`, in one write; the close reply.
fn store_as_caller(host: &mut MemoryHost, who: &Caller, bytes: &[u8], origins: Value) -> crate::memory_host::Finished {
    let begin =
        host.spawn_as(who, json!({"op": "write-begin", "hash": hash_arg(&sha(bytes)), "origins": origins}), None);
    let session = host.finish(begin).json()["value"]["session"].as_str().unwrap().to_owned();
    let write = host.spawn_as(who, json!({"op": "write", "session": session}), Some(Payload::Bytes(bytes.to_vec())));
    assert!(host.finish(write).ok());
    let close = host.spawn_as(who, json!({"op": "close", "session": session}), None);
    host.finish(close)
}

/// `getFileHandle(hash)` from `who`: Ok or the error name.
fn open_as(host: &mut MemoryHost, who: &Caller, bytes: &[u8]) -> Result<(), String> {
    let id = host.spawn_as(who, json!({"op": "open", "hash": hash_arg(&sha(bytes))}), None);
    host.finish(id).error_name().map_or(Ok(()), Err)
}

#[test]
fn write_then_read_across_sites() {
    let mut host = MemoryHost::new();
    let data = b"model weights";
    let hex = sha(data);
    assert_eq!(host.open(A, &hex), Err("NotFoundError".into()));
    assert!(host.store(A, data, Value::Null).ok());
    assert_eq!(host.read(A, &hex).unwrap(), data);
    assert_eq!(host.read(SUB_A, &hex).unwrap(), data, "same-site");
    assert_eq!(host.open(B, &hex), Err("NotFoundError".into()), "cross-site");

    assert!(store_as_caller(&mut host, &with_header(SUB_A, B), data, json!([B])).ok());
    assert!(host.open(B, &hex).is_ok(), "listed");
    assert!(host.open(C, &hex).is_err());

    assert!(host.store(B, data, json!("*")).ok());
    assert_eq!(host.read(C, &hex), Err("NotFoundError".into()), "global, but not a public file");
    make_public(&mut host, data);
    assert_eq!(host.read(C, &hex).unwrap(), data, "global and on the Public Hash List");
    assert_eq!(host.temp_count(), 0);
}

/// Hosts with a trailing dot are sites of their own, as in Chromium: a file
/// `victim.com.` stored same-site only is not served to `attacker.com.` (both
/// once fell into the site `com.`), nor across tenants of a private suffix.
#[test]
fn a_mismatch_stores_nothing_and_leaves_no_temporary_file() {
    let mut host = MemoryHost::new();
    let hex = sha(b"right");
    for blob in [false, true] {
        let reply = host.store_as(A, b"wrong", &hex, json!("*"), blob);
        assert_eq!(reply.error_name().as_deref(), Some("DataError"));
        assert_eq!(host.open(A, &hex), Err("NotFoundError".into()));
        assert_eq!(host.engine.open_sessions(), 0);
        assert_eq!(host.temp_count(), 0);
        assert!(host.blobs.is_empty());
    }
}

#[test]
fn create_handles_touch_nothing_and_validate() {
    let mut host = MemoryHost::new();
    let hex = sha(b"x");
    let reply = host.page(
        A,
        json!({"op": "open", "hash": hash_arg(&hex), "create": true, "origins": ["https://b.test"]}),
        None,
    );
    assert!(reply.ok());
    assert_eq!(reply.json()["value"], json!({"hash": hex}), "no size: nothing is disclosed");
    assert_eq!(host.engine.open_sessions(), 0);
    let bad = host.page(A, json!({"op": "open", "hash": hash_arg(&hex), "create": true, "origins": ["data:,x"]}), None);
    assert_eq!(bad.error_name().as_deref(), Some("TypeError"));
}

#[test]
fn the_request_cannot_name_its_caller() {
    let mut host = MemoryHost::new();
    let hex = sha(b"secret");
    host.store(A, b"secret", Value::Null);
    let forged = host.page(B, json!({"op": "read", "hash": hash_arg(&hex), "origin": A}), None);
    assert_eq!(forged.json()["error"]["code"], "invalid-message");
}

#[test]
fn callers_must_be_web_origins() {
    let mut host = MemoryHost::new();
    for origin in ["null", "chrome-extension://abc", "file://", "garbage"] {
        let reply = host.page(origin, json!({"op": "open", "hash": hash_arg(&sha(b"x"))}), None);
        assert_eq!(reply.error_name().as_deref(), Some("NotAllowedError"), "{origin}");
    }
}

/// Leak 1: ids are random per session, so they link nothing across sites
/// and count nothing of what other sites do.
#[test]
fn session_ids_share_nothing_across_sites() {
    let mut host = MemoryHost::new();
    let hex = sha(b"x");
    let ids: Vec<String> = (0..20).map(|i| begin(&mut host, if i % 2 == 0 { A } else { B }, 1 + i % 2, &hex)).collect();
    for (i, a) in ids.iter().enumerate() {
        assert_eq!(a.len(), 32);
        for b in &ids[i + 1..] {
            let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            assert!(common < 8, "{a} {b}");
            assert!(!b.contains(&a[..8]), "{a} {b}");
        }
    }
}

#[test]
fn a_session_belongs_to_its_channel_and_origin() {
    let mut host = MemoryHost::new();
    let hex = sha(b"mine");
    let session = begin(&mut host, A, 1, &hex);
    let write = |s: &str| json!({"op": "write", "session": s});
    for (origin, channel) in [(B, 1), (A, 2), (SUB_A, 1)] {
        let reply = on(&mut host, origin, channel, write(&session), Some(Payload::Bytes(b"evil".to_vec())));
        assert_eq!(reply.json()["error"]["code"], "unknown-session", "{origin} on channel {channel}");
    }
    // The owner's session is untouched by those attempts.
    assert!(on(&mut host, A, 1, write(&session), Some(Payload::Bytes(b"mine".to_vec()))).ok());
    assert!(on(&mut host, A, 1, json!({"op": "close", "session": session}), None).ok());
    assert_eq!(host.read(A, &hex).unwrap(), b"mine");
}

/// Leak 3: the close reply says nothing about an entry the writer may not see.
#[test]
fn writing_a_hidden_files_bytes_looks_like_writing_a_new_file() {
    let mut host = MemoryHost::new();
    let private = b"a.test's private file".to_vec();
    let fresh = b"a file nobody stored".to_vec();
    let many: Vec<String> = (0..64).map(|i| format!("https://o{i}.a.test")).collect();
    assert!(host.store(A, &private, json!(many)).ok());
    for origins in [
        Value::Null,
        json!("*"),
        json!(["https://x.test"]),
        json!((0..64).map(|i| format!("https://p{i}.test")).collect::<Vec<_>>()),
    ] {
        let known = host.store(B, &private, origins.clone()).json();
        let unknown = host.store(B, &fresh, origins.clone()).json();
        assert_eq!(known["value"]["warnings"], unknown["value"]["warnings"], "{origins}");
        assert_eq!(known["ok"], unknown["ok"]);
        host.admin(json!({"op": "delete", "hash": sha(&fresh)}));
    }
}

/// Leak 4: whether a write fits depends only on the writer's own origin,
/// and the refusal names no number.
#[test]
fn quota_outcomes_ignore_other_origins_and_name_no_budget() {
    let threshold = |others_in_flight: usize| {
        let mut host = MemoryHost::new();
        set_budget(&mut host, 1000);
        let session_b = begin(&mut host, B, 2, &sha(b"b"));
        if others_in_flight > 0 {
            let reply = on(
                &mut host,
                B,
                2,
                json!({"op": "write", "session": session_b}),
                Some(Payload::Bytes(vec![1; others_in_flight])),
            );
            assert!(reply.ok());
        }
        let session = begin(&mut host, A, 1, &sha(b"a"));
        let mut written = 0;
        loop {
            let reply =
                on(&mut host, A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(vec![0; 10])));
            if !reply.ok() {
                assert_eq!(reply.error_name().as_deref(), Some("QuotaExceededError"));
                let message = reply.error_message().unwrap();
                assert!(!message.chars().any(|c| c.is_ascii_digit()), "{message}");
                return written;
            }
            written += 10;
        }
    };
    let alone = threshold(0);
    assert_eq!(alone, 510, "the limit is the budget rounded down to a power of two");
    assert_eq!(threshold(300), alone);
    assert_eq!(threshold(500), alone);
}

#[test]
fn each_storer_is_charged_the_full_size() {
    let mut host = MemoryHost::new();
    set_budget(&mut host, 1024);
    let big = vec![9u8; 600];
    assert!(host.store(A, &big, json!("*")).ok());
    // b.test storing the same bytes pays for them too, whether or not they existed.
    assert!(host.store(B, &big, json!("*")).ok());
    let second = vec![8u8; 600];
    assert_eq!(host.store(B, &second, json!("*")).error_name().as_deref(), Some("QuotaExceededError"));
}

/// Leak 6: truncate counts against the quota, and the store never hashes
/// much more than the page actually sent.
#[test]
fn truncate_is_bounded_by_the_quota_and_by_what_was_sent() {
    let mut host = MemoryHost::new();
    set_budget(&mut host, 1 << 40);
    let session = begin(&mut host, A, 1, &sha(b"x"));
    let huge = on(&mut host, A, 1, json!({"op": "truncate", "session": session, "size": 1u64 << 41}), None);
    assert_eq!(huge.error_name().as_deref(), Some("QuotaExceededError"));
    assert_eq!(host.temp_count(), 0, "the failed session is gone with its file");

    let session = begin(&mut host, A, 1, &sha(b"x"));
    let sparse = crate::session::MAX_UNWRITTEN + 1024;
    assert!(on(&mut host, A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(b"x".to_vec()))).ok());
    assert!(on(&mut host, A, 1, json!({"op": "truncate", "session": session, "size": sparse}), None).ok());
    let close = on(&mut host, A, 1, json!({"op": "close", "session": session}), None);
    assert_eq!(close.error_name().as_deref(), Some("DataError"));
    assert_eq!(close.json()["error"]["code"], "unwritten");
    assert_eq!(host.temp_count(), 0);
}

/// Leak 6: a frame that goes away stops its session's work at once.
#[test]
fn releasing_a_channel_cancels_its_sessions_even_mid_hash() {
    let mut host = MemoryHost::new();
    let data = vec![5u8; 3000];
    let session = begin(&mut host, A, 7, &sha(&data));
    // A Blob write: verification hashes the file at close.
    assert!(on(&mut host, A, 7, json!({"op": "write", "session": session}), Some(Payload::Blob(data))).ok());
    let close = host.spawn(A, 7, json!({"op": "close", "session": session}), None);
    while !matches!(host.current(close), Some(Step::HashTemp { .. })) {
        host.step(close);
    }
    assert!(host.engine.task_alive(close));
    let cleanups = host.release(7);
    assert!(!host.engine.task_alive(close), "a host stops between slices");
    assert_eq!(cleanups.len(), 1);
    assert_eq!(host.finish(close).json()["error"]["name"], "UnknownError", "the hash pass stops");
    host.finish_all();
    assert_eq!(host.temp_count(), 0);
    assert_eq!(host.engine.open_sessions(), 0);
    assert!(host.blobs.is_empty());
}

#[test]
fn a_commit_under_way_survives_its_frame() {
    let mut host = MemoryHost::new();
    let data = b"almost stored".to_vec();
    let session = begin(&mut host, A, 3, &sha(&data));
    assert!(on(&mut host, A, 3, json!({"op": "write", "session": session}), Some(Payload::Bytes(data.clone()))).ok());
    let close = host.spawn(A, 3, json!({"op": "close", "session": session}), None);
    while !matches!(host.current(close), Some(Step::PlaceBlob { .. })) {
        host.step(close);
    }
    assert!(host.release(3).is_empty());
    assert!(host.finish(close).ok());
    assert_eq!(host.read(A, &sha(&data)).unwrap(), data);
}

/// Leak 11: a Blob's bytes are verified as they are on disk.
#[test]
fn blob_writes_verify_the_bytes_on_disk() {
    let mut host = MemoryHost::new();
    let data = b"the page's own file".to_vec();
    let ok = host.store_as(A, &data, &sha(&data), json!("*"), true);
    assert!(ok.ok());
    assert_eq!(host.read(A, &sha(&data)).unwrap(), data);

    // The bytes the browser copied differ from the ones the page declared
    // (the page changed its file between two reads): nothing is stored.
    let other = b"what the page declared".to_vec();
    let session = begin(&mut host, A, 1, &sha(&other));
    assert!(on(&mut host, A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(data.clone()))).ok());
    let close = on(&mut host, A, 1, json!({"op": "close", "session": session}), None);
    assert_eq!(close.error_name().as_deref(), Some("DataError"));
}

/// Leak 10: only a missing file or a wrong size drops an entry, and only
/// after a second look under the store lock.
#[test]
fn a_transient_read_failure_keeps_the_file() {
    let mut host = MemoryHost::new();
    let data = b"keep me".to_vec();
    host.store(A, &data, Value::Null);
    host.fail_next.push(("read-blob", "NotReadableError"));
    assert_eq!(host.read(A, &sha(&data)), Err("NotFoundError".into()));
    assert_eq!(host.read(A, &sha(&data)).unwrap(), data, "still there");

    // Gone from disk: the entry goes, and the answer is a plain miss.
    host.blobs.clear();
    assert_eq!(host.read(A, &sha(&data)), Err("NotFoundError".into()));
    assert!(host.engine.index().get(&crate::hash::ContentHash::from_hex(&sha(&data)).unwrap()).is_none());
    assert!(!host.persisted.contains_key(&format!("entry:{}", sha(&data))));
}

#[test]
fn a_wrong_sized_file_is_never_served() {
    let mut host = MemoryHost::new();
    let data = b"twelve bytes".to_vec();
    host.store(A, &data, Value::Null);
    host.blobs.insert(sha(&data), b"short".to_vec());
    assert_eq!(host.read(A, &sha(&data)), Err("NotFoundError".into()));
    assert!(host.blobs.is_empty());
}

#[test]
fn io_failures_are_the_extensions_not_the_pages() {
    let mut host = MemoryHost::new();
    host.fail_next.push(("write-temp", "NotReadableError"));
    let reply = host.store(A, b"bytes", Value::Null);
    assert_eq!(reply.error_name().as_deref(), Some("UnknownError"));
    assert_eq!(host.temp_count(), 0);
    host.fail_next.push(("place-blob", "QuotaExceededError"));
    let reply = host.store(A, b"bytes", Value::Null);
    assert_eq!(reply.error_name().as_deref(), Some("QuotaExceededError"));
    assert!(host.blobs.is_empty() && host.persisted.keys().all(|k| !k.starts_with("entry:")));
}

#[test]
fn requests_of_one_session_run_in_arrival_order() {
    let mut host = MemoryHost::new();
    let data = b"abcdef".to_vec();
    let session = begin(&mut host, A, 1, &sha(&data));
    let first = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(b"abc".to_vec())));
    host.step(first); // holds the session lock
    let second = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(b"def".to_vec())));
    assert!(!host.step(second), "waits for the first");
    assert!(host.finish(first).ok());
    assert!(host.finish(second).ok());
    assert!(on(&mut host, A, 1, json!({"op": "close", "session": session}), None).ok());
    assert_eq!(host.read(A, &sha(&data)).unwrap(), data);
}

#[test]
fn seek_overwrite_and_truncate_are_verified_as_the_final_file() {
    let mut host = MemoryHost::new();
    let data = b"hallo".to_vec();
    let session = begin(&mut host, A, 1, &sha(&data));
    let write = |at: Option<u64>| json!({"op": "write", "session": session, "position": at});
    assert!(on(&mut host, A, 1, write(None), Some(Payload::Bytes(b"hello!!".to_vec()))).ok());
    assert!(on(&mut host, A, 1, json!({"op": "truncate", "session": session, "size": 5}), None).ok());
    assert!(on(&mut host, A, 1, write(Some(1)), Some(Payload::Bytes(b"a".to_vec()))).ok());
    assert!(on(&mut host, A, 1, json!({"op": "close", "session": session}), None).ok());
    assert_eq!(host.read(A, &sha(&data)).unwrap(), data);
}

#[test]
fn storing_again_costs_nothing_on_disk() {
    let mut host = MemoryHost::new();
    let data = b"twice".to_vec();
    assert!(host.store(A, &data, Value::Null).ok());
    assert!(host.store(B, &data, json!("*")).ok());
    assert_eq!(host.blobs.len(), 1);
    assert_eq!(host.temp_count(), 0);
    make_public(&mut host, &data);
    assert_eq!(host.read(C, &sha(&data)).unwrap(), data, "widened by the second writer");
}

#[test]
fn eviction_keeps_the_store_in_budget_and_never_fails_a_write() {
    let mut host = MemoryHost::new();
    set_budget(&mut host, 2048);
    let old = vec![1u8; 900];
    assert!(host.store(A, &old, Value::Null).ok());
    // In use (just written): not evicted; the store goes over budget for a while.
    let new = vec![2u8; 900];
    assert!(host.store(B, &new, Value::Null).ok());
    let third = vec![3u8; 900];
    assert!(host.store(C, &third, Value::Null).ok());
    assert_eq!(host.blobs.len(), 3);
}

/// Persist-before-delete and acknowledge-when-durable, checked by crashing
/// the host after every step of a write, of a deletion and of an eviction.
#[test]
fn a_crash_between_any_two_steps_leaves_a_consistent_store() {
    let data = b"crash test".to_vec();
    let mut steps = 0;
    loop {
        let mut host = MemoryHost::new();
        assert!(host.store(A, b"kept", Value::Null).ok());
        let session = begin(&mut host, A, 1, &sha(&data));
        let write = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(data.clone())));
        host.finish(write);
        let close = host.spawn(A, 1, json!({"op": "close", "session": session}), None);
        let mut taken = 0;
        while taken < steps && host.current(close).is_some() {
            host.step(close);
            taken += 1;
        }
        let acknowledged = host.current(close).is_none() && host.finish(close).ok();
        host.restart();
        assert_consistent(&host);
        assert_eq!(host.read(A, &sha(b"kept")).unwrap(), b"kept");
        let stored = host.read(A, &sha(&data));
        if acknowledged {
            assert_eq!(stored.unwrap(), data, "acknowledged means durable");
            break;
        }
        assert!(stored.is_err() || stored == Ok(data.clone()));
        steps += 1;
    }
    assert!(steps >= 4, "the commit took {steps} steps");
}

fn assert_consistent(host: &MemoryHost) {
    assert_eq!(host.temp_count(), 0);
    let entries: Vec<&String> = host.persisted.keys().filter(|k| k.starts_with("entry:")).collect();
    assert_eq!(entries.len(), host.blobs.len(), "{entries:?} vs {:?}", host.blobs.keys());
    for (name, bytes) in &host.blobs {
        assert_eq!(&sha(bytes), name, "a stored file is what its name says");
        let entry = &host.persisted[&format!("entry:{name}")];
        assert_eq!(entry["size"], bytes.len());
    }
}

#[test]
fn user_deletions_persist_before_deleting() {
    let mut host = MemoryHost::new();
    let data = b"delete me".to_vec();
    host.store(A, &data, Value::Null);
    host.fail_next.push(("delete-blobs", "NotReadableError"));
    let reply = host.admin(json!({"op": "delete", "hash": sha(&data)}));
    assert!(!reply.ok());
    // The index forgot it first; the orphaned file goes at the next start.
    assert!(host.persisted.keys().all(|k| !k.starts_with("entry:")));
    host.restart();
    assert!(host.blobs.is_empty());
}

/// Multi-gigabyte models (7B GGUF files are 4-8 GiB): sizes, limits and
/// charges are u64 end to end. A length cut to 32 bits would turn 4 GiB + 1
/// into 1 byte and let it through.
#[test]
fn quota_arithmetic_holds_past_four_gibibytes() {
    const GIB: u64 = 1 << 30;
    let mut host = MemoryHost::new();
    set_budget(&mut host, 8 * GIB + 123);
    assert_eq!(host.admin(json!({"op": "summary"})).json()["value"]["originLimitBytes"], 8 * GIB);
    for (budget, size) in [(4 * GIB, 4 * GIB + 1), (8 * GIB, 8 * GIB + 1)] {
        set_budget(&mut host, budget);
        let session = begin(&mut host, A, 1, &sha(b"x"));
        let grow = on(&mut host, A, 1, json!({"op": "truncate", "session": session, "size": size}), None);
        assert_eq!(grow.error_name().as_deref(), Some("QuotaExceededError"), "{size} bytes under a {budget} limit");
    }
}

#[test]
fn a_malformed_record_never_bricks_the_store() {
    let mut host = MemoryHost::new();
    host.store(A, b"survivor", Value::Null);
    host.persisted.insert("settings".into(), json!({"budgetBytes": "lots"}));
    host.persisted.insert("totals".into(), json!([1, 2, 3]));
    host.persisted.insert(format!("entry:{}", "f".repeat(64)), json!({"hash": 5}));
    host.restart();
    assert_eq!(host.read(A, &sha(b"survivor")).unwrap(), b"survivor");
    assert!(host.store(A, b"still writable", Value::Null).ok());
}

#[test]
fn idle_sessions_expire_but_not_while_a_request_works_on_them() {
    let mut host = MemoryHost::new();
    let session = begin(&mut host, A, 1, &sha(b"x"));
    let write = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(b"x".to_vec())));
    host.step(write); // the write is under way
    assert!(matches!(host.current(write), Some(Step::WriteTemp { .. })));
    assert!(host.engine.expire_idle(u64::MAX).is_empty(), "busy");
    host.finish(write);
    let cleanups = host.engine.expire_idle(u64::MAX);
    assert_eq!(cleanups.len(), 1);
}

#[test]
fn feeding_is_only_for_the_step_that_streams() {
    let mut host = MemoryHost::new();
    let session = begin(&mut host, A, 1, &sha(b"abc"));
    let write = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(b"abc".to_vec())));
    let id = write;
    assert!(host.engine.feed(id, b"abc").is_err(), "still waiting for the session lock");
    host.step(write);
    assert!(matches!(host.current(write), Some(Step::WriteTemp { .. })));
    assert!(host.engine.feed(id, b"abcd").is_err(), "more than planned");
    assert!(host.finish(write).ok(), "a refused feed changes nothing");
}

#[test]
fn admin_summary_and_settings() {
    let mut host = MemoryHost::new();
    host.store(A, b"one", json!("*"));
    let summary = host.admin(json!({"op": "summary", "origin": B})).json();
    assert_eq!(summary["value"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(summary["value"]["site"]["site"], "https://b.test");
    set_budget(&mut host, 5000);
    assert_eq!(host.persisted["settings"]["budgetBytes"], 5000);
    assert_eq!(host.admin(json!({"op": "summary"})).json()["value"]["originLimitBytes"], 4096);
}

// ---- the spec's privacy gates --------------------------------------------

/// The `'*'` bit-vector supercookie: a site plants tiny global files, another
/// reads them back. Unlisted files never reach another site; listed ones do.
#[test]
fn global_files_reach_other_sites_only_through_the_public_hash_list() {
    let mut host = MemoryHost::new();
    let bits: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 3]).collect();
    for bit in &bits {
        assert!(host.store(A, bit, json!("*")).ok());
    }
    for bit in &bits {
        assert_eq!(host.open(B, &sha(bit)), Err("NotFoundError".into()));
        assert!(host.open(SUB_A, &sha(bit)).is_ok(), "same-site callers are unaffected");
    }
    let public = vec![42u8; 600 * 1024];
    assert!(host.store(A, &public, json!("*")).ok());
    make_public(&mut host, &public);
    assert_eq!(host.read(B, &sha(&public)).unwrap(), public);
}

#[test]
fn the_allow_origin_header_caps_what_a_list_shares() {
    let mut host = MemoryHost::new();
    let secret = b"shared with b only".to_vec();
    // An embedded script asks to share with c.test; the site's header authorizes b.test only.
    let reply = store_as_caller(&mut host, &with_header(A, "https://b.test"), &secret, json!([B, C]));
    assert!(reply.ok());
    let warnings = reply.json()["value"]["warnings"].clone();
    assert!(warnings[0].as_str().unwrap().contains(C), "{warnings}");
    assert!(host.open(B, &sha(&secret)).is_ok());
    assert_eq!(host.open(C, &sha(&secret)), Err("NotFoundError".into()));
    // Without the header a list authorizes nothing: the write succeeds, same-site only.
    let other = b"no header".to_vec();
    assert!(host.store(A, &other, json!([B])).ok());
    assert_eq!(host.open(B, &sha(&other)), Err("NotFoundError".into()));
    assert!(host.open(SUB_A, &sha(&other)).is_ok());
}

/// A site probing many distinct hashes learns at most the budget; a refusal
/// looks exactly like a miss; a gesture replenishes it.
#[test]
fn the_probe_budget_bounds_what_a_site_can_learn() {
    let mut host = MemoryHost::new();
    let files: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 501 * 1024]).collect();
    for f in &files {
        host.store(A, f, json!("*"));
        make_public(&mut host, f);
    }
    let seen = files.iter().filter(|f| host.open(B, &sha(f)).is_ok()).count();
    assert_eq!(seen, crate::probes::DEFAULT_PROBES_PER_WINDOW);
    // Asking again for one already charged is free; a new one is refused like a miss.
    assert!(host.open(B, &sha(&files[0])).is_ok());
    let refused = host.page(B, json!({"op": "open", "hash": hash_arg(&sha(&files[19]))}), None);
    let missing = host.page(B, json!({"op": "open", "hash": hash_arg(&sha(b"never stored"))}), None);
    assert_eq!(refused.json(), missing.json());
    // The storing site is never charged for its own files.
    assert!(files.iter().all(|f| host.open(A, &sha(f)).is_ok()));
    // Persisted: a restart does not refill it.
    host.restart();
    assert!(host.open(B, &sha(&files[19])).is_err());
    // A real gesture does.
    host.activate(B);
    assert!(host.open(B, &sha(&files[19])).is_ok());
}

#[test]
fn a_policy_sets_the_probe_budget_and_a_bad_one_leaves_the_default() {
    let mut host = MemoryHost::new();
    let files: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 501 * 1024]).collect();
    for f in &files {
        host.store(A, f, json!("*"));
        make_public(&mut host, f);
    }
    host.engine.set_probe_limit(Some(&json!(4))).unwrap();
    let seen = files.iter().filter(|f| host.open(B, &sha(f)).is_ok()).count();
    assert_eq!(seen, 4);
    for bad in [json!(0), json!(257), json!(2.5), json!("8"), json!(-1)] {
        let why = host.engine.set_probe_limit(Some(&bad)).unwrap_err();
        assert!(why.contains("from 1 to 256"), "{bad}: {why}");
        assert_eq!(host.engine.probe_limit, crate::probes::DEFAULT_PROBES_PER_WINDOW, "{bad}");
    }
    host.engine.set_probe_limit(Some(&json!(4))).unwrap();
    host.engine.set_probe_limit(None).unwrap();
    assert_eq!(host.engine.probe_limit, crate::probes::DEFAULT_PROBES_PER_WINDOW, "no policy: the default");
}

/// A tracker framed on many sites cannot pool their budgets (spec issue #75),
/// and a page cannot spend a framed site's budget as its own.
#[test]
fn the_budget_is_charged_to_the_caller_and_to_the_top_level_site() {
    let mut host = MemoryHost::new();
    let tracker = "https://tracker.test";
    let tops = ["https://news.test", "https://shop.test", "https://blog.test"];
    let mut charged = 0;
    for (i, top) in tops.iter().enumerate() {
        for j in 0..10u32 {
            let probe = format!("probe {i} {j}").into_bytes();
            if open_as(&mut host, &framed(tracker, top, 10 + i as u32), &probe) != Err("NotFoundError".into()) {
                unreachable!("nothing is stored");
            }
            charged += 1;
        }
    }
    assert_eq!(charged, 30);
    let budget = serde_json::to_value(&host.persisted["probes:https://tracker.test"]).unwrap();
    assert_eq!(budget["hashes"].as_object().unwrap().len(), crate::probes::DEFAULT_PROBES_PER_WINDOW);
    // news.test's own budget was charged by the tracker's probes too.
    assert!(host.persisted.contains_key("probes:https://news.test"));
}

/// GREASE: a small share of reads qualifying only through the global grant
/// are refused, the same way within a window; never large files, never
/// storers, same-site or listed callers.
#[test]
fn grease_refuses_a_few_small_global_reads_consistently() {
    let mut host = MemoryHost::new();
    let small = b"a small public file".to_vec();
    let large = vec![7u8; (crate::engine::GREASE_MAX_BYTES + 1) as usize];
    for f in [&small, &large] {
        host.store(A, f, json!("*"));
        make_public(&mut host, f);
    }
    let mut greased = 0;
    for i in 0..1000 {
        let site = format!("https://reader{i}.test");
        let first = host.open(&site, &sha(&small)).is_err();
        assert_eq!(host.open(&site, &sha(&small)).is_err(), first, "the same answer within a window");
        greased += usize::from(first);
        assert!(host.open(&site, &sha(&large)).is_ok(), "large files are never refused");
    }
    // The draws are seeded, so this is deterministic; the range is what 1% of 1000 allows.
    assert!((3..=25).contains(&greased), "about 1% of 1000: {greased}");
    assert!(host.open(SUB_A, &sha(&small)).is_ok());
    assert!(host.open(A, &sha(&small)).is_ok());
}

#[test]
fn one_site_may_store_only_so_many_files() {
    let mut host = MemoryHost::new();
    for i in 0..crate::engine::MAX_ENTRIES_PER_SITE as u32 {
        let who = if i % 2 == 0 { A } else { SUB_A };
        assert!(host.store(who, &i.to_le_bytes(), Value::Null).ok(), "{i}");
    }
    let over = host.store(A, b"one too many", Value::Null);
    assert_eq!(over.error_name().as_deref(), Some("QuotaExceededError"));
    assert!(host.store(A, &7u32.to_le_bytes(), Value::Null).ok(), "storing a file its site has costs nothing");
    assert!(host.store(B, b"another site", Value::Null).ok());
}

#[test]
fn manual_public_hashes_persist_and_can_be_removed() {
    let mut host = MemoryHost::new();
    let file = b"picked by the user".to_vec();
    host.store(A, &file, json!("*"));
    make_public(&mut host, &file);
    host.restart();
    assert!(host.open(B, &sha(&file)).is_ok());
    assert!(host.admin(json!({"op": "remove-public-hashes", "hashes": [sha(&file)]})).ok());
    assert!(host.open(C, &sha(&file)).is_err());
    let _ = ChannelId(0);
}

/// Trailing-dot hosts keep their own site (they used to collapse to the TLD).
#[test]
fn trailing_dot_hosts_do_not_share_a_site() {
    let mut host = MemoryHost::new();
    for (storer, same_site, attacker) in [
        ("https://victim.com.", "https://www.victim.com.", "https://attacker.com."),
        ("https://victim.co.uk.", "https://www.victim.co.uk.", "https://attacker.co.uk."),
        ("https://a.github.io.", "https://x.a.github.io.", "https://b.github.io."),
    ] {
        let data = format!("private to {storer}").into_bytes();
        assert!(host.store(storer, &data, Value::Null).ok());
        assert!(host.open(same_site, &sha(&data)).is_ok(), "{same_site}");
        assert_eq!(host.open(attacker, &sha(&data)), Err("NotFoundError".into()), "{attacker}");
    }
}

/// A tracker framed without `allow` on two sites, and the same tracker with
/// every request it could make: refused before validation, with one constant
/// error, storing nothing, reading nothing, charging no probe budget.
#[test]
fn the_permissions_policy_refuses_a_tracker_iframe_before_anything_else() {
    let mut host = MemoryHost::new();
    let tracker = "https://tracker.test";
    let own = b"stored by the tracker as a top-level page".to_vec();
    assert!(host.store(tracker, &own, Value::Null).ok());
    let public = b"a public file".to_vec();
    assert!(host.store(A, &public, json!("*")).ok());
    make_public(&mut host, &public);
    let probes_before: Vec<String> = host.persisted.keys().filter(|k| k.starts_with("probes:")).cloned().collect();
    let not_allowed = |top: &str, channel| Caller {
        container: Some(Container::Iframe { allow: None, src_origin: tracker.into() }),
        ..framed(tracker, top, channel)
    };
    for (channel, top) in [(20, A), (21, B)] {
        let who = not_allowed(top, channel);
        let requests = [
            json!({"op": "open", "hash": hash_arg(&sha(&own))}),
            json!({"op": "read", "hash": hash_arg(&sha(&public))}),
            json!({"op": "open", "hash": hash_arg(&sha(b"x")), "create": true, "origins": "*"}),
            json!({"op": "write-begin", "hash": hash_arg(&sha(b"x")), "origins": "*"}),
            json!({"op": "close", "session": "s"}),
            // Invalid requests: the policy answers first.
            json!({"op": "open", "hash": {"algorithm": "MD5", "value": "X"}}),
            json!({"op": "nonsense"}),
            json!("not even an object"),
        ];
        for request in requests {
            let id = host.spawn_as(&who, request.clone(), None);
            let reply = host.finish(id).json();
            assert_eq!(reply["error"]["name"], "NotAllowedError", "{request}");
            assert_eq!(reply["error"]["code"], "permissions-policy", "{request}");
            assert_eq!(reply["error"]["message"], CosError::DisabledByPermissionsPolicy.to_string(), "constant");
        }
        // A request the host could not read at all is refused the same way.
        let step = host.engine.page(&who, Err(CosError::InvalidMessage("a Blob".into())), None, 0);
        let Step::Done { reply: Some(reply), .. } = step else { panic!("answered at once") };
        assert_eq!(serde_json::to_value(reply).unwrap()["error"]["code"], "permissions-policy");
    }
    assert_eq!(host.engine.open_sessions(), 0);
    assert_eq!(host.blobs.len(), 2, "nothing stored");
    let probes_after: Vec<String> = host.persisted.keys().filter(|k| k.starts_with("probes:")).cloned().collect();
    assert_eq!(probes_before, probes_after, "no probe charged");
    // The controls: allowed by its parent, the same frame reads the public file.
    assert!(open_as(&mut host, &framed(tracker, A, 22), &public).is_ok());
    assert_eq!(host.read(tracker, &sha(&own)).unwrap(), own, "its own page still reads its file");
}

/// `Permissions-Policy: cross-origin-storage=()` turns the store off for the
/// document even same-origin, and for every frame below it even with `allow`.
/// A header the host did not see counts as absent (see permissions_policy.rs).
#[test]
fn a_document_can_turn_the_store_off_for_itself_and_its_frames() {
    let mut host = MemoryHost::new();
    let off = Header::Present { value: "cross-origin-storage=()".into() };
    let top = Caller { permissions_policy: off.clone(), ..caller(A, 1) };
    let mut child = framed(B, A, 3);
    child.ancestors[0].permissions_policy = off;
    for who in [&top, &child] {
        let reply = store_as_caller_raw(&mut host, who, b"x");
        assert_eq!(reply.error_name().as_deref(), Some("NotAllowedError"), "{who:?}");
    }
    let unknown = Caller { permissions_policy: Header::Unknown, ..caller(A, 2) };
    assert!(store_as_caller_raw(&mut host, &unknown, b"x").ok(), "an unseen header is no header");
    assert!(host.store(A, b"x", Value::Null).ok(), "the control: no header");
}

/// `write-begin` from `who`: the reply.
fn store_as_caller_raw(host: &mut MemoryHost, who: &Caller, bytes: &[u8]) -> crate::memory_host::Finished {
    let id = host.spawn_as(who, json!({"op": "write-begin", "hash": hash_arg(&sha(bytes))}), None);
    host.finish(id)
}

/// The developer tools learn why; the page never does.
#[test]
fn the_trace_says_why_and_the_reply_does_not() {
    use crate::engine::Refusal;
    let mut host = MemoryHost::new();
    let global = b"global but not public".to_vec();
    host.store(A, &global, json!("*"));
    let private = b"same-site only".to_vec();
    host.store(A, &private, Value::Null);
    let open = |host: &mut MemoryHost, who: &str, bytes: &[u8]| {
        host.page(who, json!({"op": "open", "hash": hash_arg(&sha(bytes))}), None)
    };
    let cases = [
        (open(&mut host, B, &global), Refusal::NotOnPublicList),
        (open(&mut host, B, &private), Refusal::OutOfScope),
        (open(&mut host, B, b"nothing"), Refusal::Missing),
    ];
    let replies: Vec<Value> = cases.iter().map(|(f, _)| f.json()).collect();
    assert!(replies.windows(2).all(|w| w[0] == w[1]), "one answer for every refusal: {replies:?}");
    for (finished, why) in &cases {
        assert_eq!(finished.trace.refusal, Some(*why));
    }
    assert_eq!(open(&mut host, SUB_A, &private).trace.grant, Some(crate::index::Grant::SameSite));
    let stored = host.store(B, &private, Value::Null);
    assert_eq!(stored.trace.already_stored, Some(true));
    assert_eq!(stored.trace.grants_after.as_ref().map(|g| g.storers), Some(2));
}

/// The per-site switch: every frame of a turned-off site is refused (its
/// scripts may still run until it reloads), other sites are not, the user's
/// list survives a restart and the policy's cannot be undone by the user.
#[test]
fn a_disabled_site_gets_nothing_and_others_are_unaffected() {
    let mut host = MemoryHost::new();
    let data = vec![7u8; 1000];
    assert!(host.store(A, &data, json!("*")).ok());
    make_public(&mut host, &data);
    let summary = host.admin(json!({"op": "disable-site", "origin": "https://sub.a.test:8443"}));
    assert_eq!(summary.json()["value"]["disabledSites"], json!({"user": [A], "policy": []}));
    let refused = |host: &mut MemoryHost, who: &Caller| open_as(host, who, &data);
    for who in [caller(A, 1), caller(SUB_A, 1), framed(A, B, 2)] {
        assert_eq!(refused(&mut host, &who), Err("NotAllowedError".into()), "{}", who.origin);
    }
    let write = host.page(A, json!({"op": "write-begin", "hash": hash_arg(&sha(&data))}), None);
    assert_eq!(write.error_message().unwrap(), CosError::DisabledForSite.to_string());
    // Another site, and its frame in the disabled site's page, still work.
    assert!(refused(&mut host, &caller(B, 1)).is_ok());
    assert!(refused(&mut host, &framed(B, A, 3)).is_ok());
    let site = host.admin(json!({"op": "summary", "origin": SUB_A})).json()["value"]["site"]["disabled"].clone();
    assert_eq!(site, json!("user"));

    host.restart();
    assert_eq!(refused(&mut host, &caller(A, 1)), Err("NotAllowedError".into()), "the switch persists");
    assert!(host.admin(json!({"op": "enable-site", "site": A})).ok());
    assert!(refused(&mut host, &caller(A, 1)).is_ok());
    host.restart();
    assert!(refused(&mut host, &caller(A, 1)).is_ok(), "turned on again persists too");
}

#[test]
fn policy_disabled_sites_are_not_the_users_to_undo() {
    let mut host = MemoryHost::new();
    let ignored = host.engine.set_policy_disabled_sites(&[
        "https://www.corp.test".into(),
        "http://127.0.0.1:8080".into(),
        "corp.test".into(),
        "https://a..b".into(),
    ]);
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    assert_eq!(host.engine.disabled_sites(), vec!["http://127.0.0.1", "https://corp.test"]);
    assert_eq!(
        host.page("https://x.corp.test", json!({"op": "open", "hash": hash_arg(&"0".repeat(64))}), None)
            .error_name()
            .as_deref(),
        Some("NotAllowedError")
    );
    let enable = host.admin(json!({"op": "enable-site", "site": "https://corp.test"}));
    assert_eq!(enable.error_name().as_deref(), Some("InvalidStateError"));
    assert!(enable.error_message().unwrap().contains("policy"));
    // The user may list it too; the policy's entry is what holds it off, and is never persisted.
    assert!(host.admin(json!({"op": "disable-site", "origin": "https://corp.test"})).ok());
    assert_eq!(host.persisted["disabled-sites"], json!(["https://corp.test"]));
    let summary = host.admin(json!({"op": "summary"})).json()["value"]["disabledSites"].clone();
    assert_eq!(summary, json!({"user": ["https://corp.test"], "policy": ["http://127.0.0.1", "https://corp.test"]}));
}

#[test]
fn only_sites_a_match_pattern_can_name_are_switched() {
    let mut host = MemoryHost::new();
    for origin in ["https://a..test", "chrome-extension://abcdef", "null"] {
        let reply = host.admin(json!({"op": "disable-site", "origin": origin}));
        assert_eq!(reply.error_name().as_deref(), Some("InvalidStateError"), "{origin}");
    }
    for site in [SUB_A, "https://a.test:1", "a.test"] {
        assert!(!host.admin(json!({"op": "enable-site", "site": site})).ok(), "{site}");
    }
    assert!(host.engine.disabled_sites().is_empty());
    // A damaged record loses only its bad entries.
    host.persisted.insert("disabled-sites".into(), json!([A, "https://www.b.test", 5]));
    host.restart();
    assert!(host.engine.disabled_sites().is_empty(), "not a list of strings: reset");
    host.persisted.insert("disabled-sites".into(), json!([A, "https://www.b.test"]));
    host.restart();
    assert_eq!(host.engine.disabled_sites(), vec![A]);
}
