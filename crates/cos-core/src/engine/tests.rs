use super::*;
use crate::public_hash_list::PublicHashList;
use crate::verifier::Verifier;
use serde_json::Value;

const A: &str = "https://a.test";
const SUB_A: &str = "https://sub.a.test";
const B: &str = "https://b.test";

fn engine() -> Engine {
    Engine::new(SiteRules::parse("test\n"), PublicHashList::default(), "i")
}

fn sha(bytes: &[u8]) -> String {
    let mut v = Verifier::default();
    v.update(bytes);
    v.finish().to_string()
}

fn hash_arg(hex: &str) -> String {
    format!(r#"{{"algorithm":"SHA-256","value":"{hex}"}}"#)
}

/// Opens a write session (same-site visibility); returns its id.
fn begin(e: &mut Engine, caller: &str, hex: &str, now: u64) -> String {
    let begin = format!(r#"{{"op":"write-begin","hash":{}}}"#, hash_arg(hex));
    let Step::OpenTemp { session } = e.page_request(caller, &begin, None, now).unwrap() else { panic!("no temp") };
    session
}

/// A session request without further fields: `{"op":op,"session":session}`.
fn on(op: &str, session: &str) -> String {
    format!(r#"{{"op":"{op}","session":"{session}"}}"#)
}

fn open(e: &mut Engine, caller: &str, hex: &str) -> Result<Step> {
    e.page_request(caller, &format!(r#"{{"op":"open","hash":{}}}"#, hash_arg(hex)), None, 10)
}

/// Drives a whole write at time `now` the way the worker does; returns the
/// placement and the commit reply.
fn store_at(
    e: &mut Engine,
    now: u64,
    caller: &str,
    bytes: &[u8],
    declared: &str,
    origins: &str,
) -> Result<(Placement, Value)> {
    let begin = format!(r#"{{"op":"write-begin","hash":{},"origins":{origins}}}"#, hash_arg(declared));
    let Step::OpenTemp { session } = e.page_request(caller, &begin, None, now)? else { panic!("no temp") };
    for chunk in bytes.chunks(4) {
        let write = on("write", &session);
        let step = e.page_request(caller, &write, Some(chunk.len() as u64), now)?;
        assert!(matches!(step, Step::WriteData { .. }));
        e.feed(caller, &session, chunk, now)?;
    }
    let close = on("close", &session);
    match e.page_request(caller, &close, None, now)? {
        Step::Commit { .. } => {
            let placement = e.prepare_commit(caller, &session, now)?;
            Ok((placement, e.commit(caller, &session, now)?))
        }
        other => panic!("{other:?}"),
    }
}

fn store(e: &mut Engine, caller: &str, bytes: &[u8], declared: &str, origins: &str) -> Result<Value> {
    store_at(e, 10, caller, bytes, declared, origins).map(|(_, reply)| reply)
}

#[test]
fn write_then_read_across_tiers() {
    let data = b"model weights";
    let hex = sha(data);
    let mut e = engine();
    assert_eq!(open(&mut e, A, &hex).unwrap_err(), CosError::NotFound);
    store(&mut e, A, data, &hex, "null").unwrap();
    assert!(open(&mut e, A, &hex).is_ok());
    assert!(open(&mut e, SUB_A, &hex).is_ok(), "same-site");
    assert_eq!(open(&mut e, B, &hex).unwrap_err(), CosError::NotFound, "cross-site");

    store(&mut e, SUB_A, data, &hex, r#"["https://b.test"]"#).unwrap();
    assert!(open(&mut e, B, &hex).is_ok(), "listed");
    assert!(open(&mut e, "https://c.test", &hex).is_err());

    store(&mut e, B, data, &hex, r#""*""#).unwrap();
    assert!(open(&mut e, "https://c.test", &hex).is_ok(), "global");
    let read = format!(r#"{{"op":"read","hash":{}}}"#, hash_arg(&hex));
    let step = e.page_request("https://c.test", &read, None, 99).unwrap();
    assert!(matches!(step, Step::ReadFile { size: 13, .. }));
    assert_eq!(e.index().entries().next().unwrap().last_used_ms, 99);
}

#[test]
fn mismatch_stores_nothing() {
    let mut e = engine();
    let hex = sha(b"right");
    let err = store(&mut e, A, b"wrong", &hex, r#""*""#).unwrap_err();
    assert_eq!(err.dom_name(), "DataError");
    assert_eq!(open(&mut e, A, &hex).unwrap_err(), CosError::NotFound);
    assert_eq!(e.open_sessions(), 0);
    assert!(e.drain_changes().index.entries.is_empty());
}

#[test]
fn create_handles_touch_nothing_and_validate() {
    let mut e = engine();
    let hex = sha(b"x");
    let req = format!(r#"{{"op":"open","hash":{},"create":true,"origins":["https://b.test"]}}"#, hash_arg(&hex));
    assert!(matches!(e.page_request(A, &req, None, 1).unwrap(), Step::Reply { .. }));
    assert!(e.drain_changes().index.entries.is_empty());
    assert_eq!(e.open_sessions(), 0);
    let bad = format!(r#"{{"op":"open","hash":{},"create":true,"origins":["data:,x"]}}"#, hash_arg(&hex));
    assert_eq!(e.page_request(A, &bad, None, 1).unwrap_err().dom_name(), "TypeError");
}

#[test]
fn the_request_cannot_name_its_caller() {
    let mut e = engine();
    let hex = sha(b"secret");
    store(&mut e, A, b"secret", &hex, "null").unwrap();
    let forged = format!(r#"{{"op":"read","hash":{},"origin":"https://a.test"}}"#, hash_arg(&hex));
    assert_eq!(e.page_request(B, &forged, None, 1).unwrap_err().code(), "invalid-message");
}

#[test]
fn opaque_and_non_web_callers_are_refused() {
    let mut e = engine();
    let hex = sha(b"x");
    for caller in ["null", "", "chrome-extension://x", "file://", "https://A.test"] {
        assert_eq!(open(&mut e, caller, &hex).unwrap_err().dom_name(), "NotAllowedError", "{caller}");
    }
}

#[test]
fn sessions_belong_to_their_origin() {
    let mut e = engine();
    let hex = sha(b"abc");
    let session = begin(&mut e, A, &hex, 1);
    let write = on("write", &session);
    assert_eq!(e.page_request(B, &write, Some(3), 1).unwrap_err(), CosError::UnknownSession);
    assert_eq!(e.feed(B, &session, b"abc", 1).unwrap_err(), CosError::UnknownSession);
    assert_eq!(e.commit(B, &session, 1).unwrap_err(), CosError::UnknownSession);
    let abort = on("abort", &session);
    assert!(e.page_request(B, &abort, None, 1).is_err());
    assert!(e.has_session(&session), "B's attempts did not disturb A's session");
    assert!(matches!(e.page_request(A, &abort, None, 1).unwrap(), Step::Discard { .. }));
    assert!(!e.has_session(&session));
}

#[test]
fn commit_requires_verification() {
    let mut e = engine();
    let hex = sha(b"abc");
    let session = begin(&mut e, A, &hex, 1);
    assert_eq!(e.commit(A, &session, 1).unwrap_err().code(), "invalid-state");
    assert_eq!(open(&mut e, A, &hex).unwrap_err(), CosError::NotFound);
}

#[test]
fn writes_need_data_and_failed_steps_end_the_session() {
    let mut e = engine();
    let hex = sha(b"abc");
    let session = begin(&mut e, A, &hex, 1);
    let write = on("write", &session);
    assert_eq!(e.page_request(A, &write, None, 1).unwrap_err().code(), "invalid-message");
    assert!(e.has_session(&session), "a malformed request is not a session step");
    e.page_request(A, &write, Some(3), 1).unwrap();
    assert!(e.feed(A, &session, b"abcd", 1).is_err());
    assert!(!e.has_session(&session));
}

#[test]
fn second_writer_finds_the_bytes_already_stored() {
    let mut e = engine();
    let hex = sha(b"shared");
    store(&mut e, A, b"shared", &hex, "null").unwrap();
    let begin = format!(r#"{{"op":"write-begin","hash":{},"origins":"*"}}"#, hash_arg(&hex));
    let Step::OpenTemp { session } = e.page_request(B, &begin, None, 1).unwrap() else { panic!() };
    let write = on("write", &session);
    e.page_request(B, &write, Some(6), 1).unwrap();
    e.feed(B, &session, b"shared", 1).unwrap();
    let close = on("close", &session);
    let step = e.page_request(B, &close, None, 1).unwrap();
    assert!(matches!(step, Step::Commit { .. }), "{step:?}");
    let placement = e.prepare_commit(B, &session, 2).unwrap();
    assert_eq!(placement, Placement { already_stored: true, evict: vec![] });
    e.commit(B, &session, 2).unwrap();
    assert!(open(&mut e, "https://z.test", &hex).is_ok());
}

#[test]
fn overwrite_goes_through_a_full_hash_pass() {
    let mut e = engine();
    let hex = sha(b"hallo");
    let session = begin(&mut e, A, &hex, 1);
    let write = on("write", &session);
    e.page_request(A, &write, Some(5), 1).unwrap();
    e.feed(A, &session, b"hello", 1).unwrap();
    let seek = format!(r#"{{"op":"seek","session":"{session}","position":1}}"#);
    e.page_request(A, &seek, None, 1).unwrap();
    e.page_request(A, &write, Some(1), 1).unwrap();
    e.feed(A, &session, b"a", 1).unwrap();
    let close = on("close", &session);
    assert_eq!(e.page_request(A, &close, None, 1).unwrap(), Step::FullHash { session: session.clone(), size: 5 });
    e.feed(A, &session, b"hallo", 1).unwrap();
    assert!(matches!(e.page_request(A, &close, None, 1).unwrap(), Step::Commit { .. }));
    assert!(!e.prepare_commit(A, &session, 1).unwrap().already_stored);
    e.commit(A, &session, 1).unwrap();
    assert!(open(&mut e, A, &hex).is_ok());
}

#[test]
fn idle_sessions_expire() {
    let mut e = engine();
    let begin = format!(r#"{{"op":"write-begin","hash":{}}}"#, hash_arg(&sha(b"x")));
    let Step::OpenTemp { session } = e.page_request(A, &begin, None, 1_000).unwrap() else { panic!() };
    assert!(e.expire_idle(1_000 + SESSION_IDLE_MS).is_empty());
    assert_eq!(e.expire_idle(1_001 + SESSION_IDLE_MS), vec![session]);
    assert_eq!(e.open_sessions(), 0);
}

#[test]
fn session_ids_are_unique_per_instance_and_bounded_per_origin() {
    let mut e = Engine::new(SiteRules::default(), PublicHashList::default(), "r4nd0m");
    let begin = format!(r#"{{"op":"write-begin","hash":{}}}"#, hash_arg(&sha(b"x")));
    let mut ids = std::collections::HashSet::new();
    for _ in 0..MAX_SESSIONS_PER_ORIGIN {
        let Step::OpenTemp { session } = e.page_request(A, &begin, None, 1).unwrap() else { panic!() };
        assert!(session.starts_with("r4nd0m-"));
        assert!(ids.insert(session));
    }
    assert_eq!(e.page_request(A, &begin, None, 1).unwrap_err().code(), "invalid-state");
    assert!(e.page_request(B, &begin, None, 1).is_ok(), "another origin is not limited by A");
}

#[test]
fn restore_and_reconcile() {
    let mut e = engine();
    let (x, y) = (sha(b"x"), sha(b"y"));
    store(&mut e, A, b"x", &x, "null").unwrap();
    store(&mut e, A, b"y", &y, r#""*""#).unwrap();
    let entries: Vec<Value> = e
        .drain_changes()
        .index
        .entries
        .into_iter()
        .map(|c| serde_json::to_value(c.entry.unwrap()).unwrap())
        .chain([serde_json::json!({"hash": "../escape", "size": 1}), serde_json::json!("garbage")])
        .collect();

    let mut restarted = engine();
    let persisted = Persisted { entries, totals: None, settings: None };
    assert_eq!(restarted.restore(persisted), 2, "two malformed records skipped");
    assert!(open(&mut restarted, A, &x).is_ok());
    assert!(open(&mut restarted, B, &y).is_ok());

    // y's bytes are gone, an orphan file and a stray name are on disk.
    let orphan = sha(b"orphan");
    let stored = [(x.clone(), Some(1)), (orphan.clone(), Some(6)), ("x.crswap".into(), Some(0)), ("dir".into(), None)];
    let result = restarted.reconcile(&stored);
    assert_eq!(result.delete_files, vec![orphan, "x.crswap".to_owned(), "dir".to_owned()]);
    assert_eq!(result.dropped_entries, 1);
    assert_eq!(open(&mut restarted, B, &y).unwrap_err(), CosError::NotFound);
    let changes = restarted.drain_changes().index.entries;
    assert_eq!(changes.len(), 1);
    assert!(changes[0].entry.is_none(), "the dropped entry is persisted as deleted");
}

#[test]
fn damaged_files_are_dropped_at_start_and_on_read() {
    let mut e = engine();
    let (x, y) = (sha(b"xx"), sha(b"yy"));
    store(&mut e, A, b"xx", &x, "null").unwrap();
    store(&mut e, A, b"yy", &y, "null").unwrap();
    // x was truncated on disk: wrong size, so file and entry both go.
    let result = e.reconcile(&[(x.clone(), Some(1)), (y.clone(), Some(2))]);
    assert_eq!(result.delete_files, vec![x.clone()]);
    assert_eq!(result.dropped_entries, 1);
    assert!(open(&mut e, A, &x).is_err());
    assert!(e.discard_damaged(&y));
    assert!(!e.discard_damaged(&y) && !e.discard_damaged("nonsense"));
    assert_eq!(open(&mut e, A, &y).unwrap_err(), CosError::NotFound);
}

fn admin(e: &mut Engine, json: &str) -> Step {
    e.admin_request(json).unwrap()
}

fn set_budget(e: &mut Engine, bytes: u64) {
    admin(e, &format!(r#"{{"op":"settings","settings":{{"budgetBytes":{bytes}}}}}"#));
}

#[test]
fn a_write_larger_than_the_budget_fails_early() {
    let mut e = engine();
    set_budget(&mut e, 10);
    let data = [7u8; 12];
    let err = store(&mut e, A, &data, &sha(&data), "null").unwrap_err();
    assert_eq!(err.dom_name(), "QuotaExceededError");
    assert_eq!(e.open_sessions(), 0);
}

#[test]
fn open_writes_together_stay_within_the_budget() {
    let mut e = engine();
    set_budget(&mut e, 10);
    let (one, two) = (begin(&mut e, A, &sha(b"a"), 1), begin(&mut e, B, &sha(b"b"), 1));
    e.page_request(A, &on("write", &one), Some(6), 1).unwrap();
    e.feed(A, &one, &[0; 6], 1).unwrap();
    let err = e.page_request(B, &on("write", &two), Some(6), 1).unwrap_err();
    assert_eq!(err.dom_name(), "QuotaExceededError");
    assert!(e.has_session(&one), "the first write goes on");
}

#[test]
fn eviction_takes_least_recently_used_files_not_in_use() {
    let mut e = engine();
    set_budget(&mut e, 12);
    let (old, newer, incoming) = ([1u8; 4], [2u8; 4], [3u8; 8]);
    store_at(&mut e, 0, A, &old, &sha(&old), "null").unwrap();
    store_at(&mut e, 1_000, A, &newer, &sha(&newer), "null").unwrap();
    // At t = IN_USE_MS + 500 only `old` is out of use; evicting it makes room.
    let now = IN_USE_MS + 500;
    let (placement, _) = store_at(&mut e, now, B, &incoming, &sha(&incoming), "null").unwrap();
    assert_eq!(placement.evict, vec![ContentHash::from_hex(&sha(&old)).unwrap()]);
    assert!(open(&mut e, A, &sha(&old)).is_err());
    assert!(open(&mut e, A, &sha(&newer)).is_ok());
}

#[test]
fn storage_full_of_files_in_use_refuses_and_keeps_them_all() {
    let mut e = engine();
    set_budget(&mut e, 10);
    let (a, b) = ([1u8; 6], [2u8; 6]);
    store_at(&mut e, 0, A, &a, &sha(&a), "null").unwrap();
    let err = store_at(&mut e, 10, A, &b, &sha(&b), "null").unwrap_err();
    assert_eq!(err.dom_name(), "QuotaExceededError");
    assert!(open(&mut e, A, &sha(&a)).is_ok(), "the existing file is untouched");
    assert_eq!(e.open_sessions(), 0);
}

#[test]
fn rewriting_stored_bytes_costs_no_budget() {
    let mut e = engine();
    set_budget(&mut e, 6);
    let a = [1u8; 6];
    store_at(&mut e, 0, A, &a, &sha(&a), "null").unwrap();
    let (placement, _) = store_at(&mut e, 1, B, &a, &sha(&a), r#""*""#).unwrap();
    assert!(placement.already_stored);
}

#[test]
fn admin_summary_delete_and_clear() {
    let mut e = engine();
    let (x, y, z) = (sha(b"x"), sha(b"y"), sha(b"z"));
    store(&mut e, A, b"x", &x, "null").unwrap();
    store(&mut e, SUB_A, b"y", &y, r#""*""#).unwrap();
    store(&mut e, A, b"z", &z, r#""*""#).unwrap();
    let read = format!(r#"{{"op":"read","hash":{}}}"#, hash_arg(&z));
    e.page_request(B, &read, None, 20).unwrap();

    let Step::Reply { value } = admin(&mut e, r#"{"op":"summary"}"#) else { panic!() };
    assert_eq!(value["entries"].as_array().unwrap().len(), 3);
    assert_eq!(value["totals"]["savedBytes"], 1);
    assert_eq!(value["storedBytes"], 3);

    let Step::Reply { value } = admin(&mut e, r#"{"op":"summary","origin":"https://sub.a.test:8443"}"#) else {
        panic!()
    };
    assert_eq!(value["site"]["site"], "https://a.test");
    assert_eq!(value["site"]["touching"].as_array().unwrap().len(), 3);
    assert_eq!(value["site"]["only"].as_array().unwrap().len(), 2);

    // Files used only by a.test's site: x and y (z was read by b.test).
    let Step::DeleteFiles { hashes, .. } = admin(&mut e, r#"{"op":"delete-site","origin":"https://a.test"}"#) else {
        panic!()
    };
    let mut want = vec![ContentHash::from_hex(&x).unwrap(), ContentHash::from_hex(&y).unwrap()];
    want.sort();
    assert_eq!(hashes, want);
    assert!(open(&mut e, A, &x).is_err());
    assert!(open(&mut e, A, &z).is_ok());

    let Step::DeleteFiles { hashes, .. } = admin(&mut e, &format!(r#"{{"op":"delete","hash":"{z}"}}"#)) else {
        panic!()
    };
    assert_eq!(hashes.len(), 1);
    assert!(open(&mut e, B, &z).is_err());
    let Step::DeleteFiles { hashes, .. } = admin(&mut e, r#"{"op":"clear"}"#) else { panic!() };
    assert!(hashes.is_empty());
    assert!(e.admin_request(r#"{"op":"delete-site","origin":"null"}"#).is_err());
}

#[test]
fn strict_privacy_setting_takes_effect_at_once_and_persists() {
    let listed = sha(b"runtime");
    let phl = PublicHashList::parse(&format!("// ===BEGIN SHA-256===\n{listed}\n// ===END SHA-256===\n"));
    let mut e = Engine::new(SiteRules::parse("test\n"), phl, "i");
    let rare = sha(b"rare");
    store(&mut e, A, b"runtime", &listed, r#""*""#).unwrap();
    store(&mut e, A, b"rare", &rare, r#""*""#).unwrap();
    admin(&mut e, r#"{"op":"settings","settings":{"strictGlobal":true}}"#);
    assert!(open(&mut e, B, &listed).is_ok());
    assert_eq!(open(&mut e, B, &rare).unwrap_err(), CosError::NotFound);
    assert!(open(&mut e, SUB_A, &rare).is_ok(), "same-site is unaffected");
    let drained = e.drain_changes();
    assert!(drained.settings.unwrap().strict_global);
    assert!(drained.index.totals.is_some(), "the miss was counted");
}
