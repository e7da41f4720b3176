//! Files handed to the host's copier (`Step::HandTemp`): when the engine
//! hands one over (a Blob that makes a file written in order large), what it
//! accepts from the copier at close, and that a file that stopped being
//! written in order is verified from the file as before.

use crate::engine::step::{Outcome, Step, TaskId};
use crate::memory_host::{hash_arg, sha256_hex as sha, MemoryHost, Payload};
use serde_json::{json, Value};

const A: &str = "https://a.test";
const WASM: &[u8] = b"\0asm\x01\0\0\0 a module's bytes, longer than the sniffed head";

/// A host whose copier takes files from `from` bytes on.
fn host_with_copier(from: u64) -> MemoryHost {
    let mut host = MemoryHost::new();
    host.engine.set_copier_from(Some(from));
    host
}

fn begin(host: &mut MemoryHost, hex: &str) -> String {
    let reply = host.page(A, json!({"op": "write-begin", "hash": hash_arg(hex), "origins": "*"}), None);
    reply.json()["value"]["session"].as_str().expect("a session").to_owned()
}

/// The steps of one request until it is done, by kind, and whether it succeeded.
fn steps(host: &mut MemoryHost, request: Value, payload: Option<Payload>) -> (Vec<String>, bool) {
    let id = host.spawn(A, 1, request, payload);
    let mut kinds = Vec::new();
    while let Some(step) = host.current(id) {
        kinds.push(serde_json::to_value(step).unwrap()["do"].as_str().unwrap().to_owned());
        assert!(host.step(id));
    }
    (kinds, host.finish(id).ok())
}

fn write(host: &mut MemoryHost, session: &str, payload: Payload) -> (Vec<String>, bool) {
    steps(host, json!({"op": "write", "session": session}), Some(payload))
}

fn close(host: &mut MemoryHost, session: &str) -> (Vec<String>, bool) {
    steps(host, json!({"op": "close", "session": session}), None)
}

const HAND: &str = "hand-temp";
const REHASH: &str = "hash-temp";

#[test]
fn a_large_blob_is_handed_over_at_once_and_verified_by_the_copiers_digest() {
    let mut host = host_with_copier(WASM.len() as u64);
    let session = begin(&mut host, &sha(WASM));
    let (kinds, ok) = write(&mut host, &session, Payload::Blob(WASM.to_vec()));
    assert!(ok && kinds.contains(&HAND.to_owned()), "{kinds:?}");
    // No second pass over the file at close.
    let (kinds, ok) = close(&mut host, &session);
    assert!(ok && !kinds.contains(&REHASH.to_owned()), "{kinds:?}");
    assert_eq!(host.read(A, &sha(WASM)).unwrap(), WASM);
    let entry = &host.engine.index().get(&crate::hash::ContentHash::from_hex(&sha(WASM)).unwrap()).unwrap().kind;
    assert_eq!(entry, "wasm", "labelled from the copier's head");
}

#[test]
fn a_blob_after_bytes_hands_over_what_is_there_and_bytes_after_it_are_digested_by_the_copier() {
    let mut host = host_with_copier(30);
    let session = begin(&mut host, &sha(&[[1u8; 10], [2; 10], [3; 10], [4; 10]].concat()));
    // Bytes stay with the engine, whatever the size they bring the file to.
    for (byte, expect_hand) in [(1u8, false), (2, false)] {
        let (kinds, ok) = write(&mut host, &session, Payload::Bytes(vec![byte; 10]));
        assert!(ok && kinds.contains(&HAND.to_owned()) == expect_hand, "{kinds:?}");
    }
    // The Blob brings the file to 30 bytes: handed over with the 20 already there.
    let (kinds, ok) = write(&mut host, &session, Payload::Blob(vec![3; 10]));
    assert!(ok && kinds.contains(&HAND.to_owned()), "{kinds:?}");
    assert!(write(&mut host, &session, Payload::Bytes(vec![4; 10])).1);
    let (kinds, ok) = close(&mut host, &session);
    assert!(ok && !kinds.contains(&REHASH.to_owned()), "{kinds:?}");
    let whole = [[1u8; 10], [2; 10], [3; 10], [4; 10]].concat();
    assert_eq!(host.read(A, &sha(&whole)).unwrap(), whole);
}

#[test]
fn the_copiers_digest_must_be_the_declared_hash() {
    let mut host = host_with_copier(1);
    let session = begin(&mut host, &sha(b"what the page declared"));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1);
    let closed = host.page(A, json!({"op": "close", "session": session}), None);
    assert_eq!(closed.error_name().as_deref(), Some("DataError"));
    assert!(host.blobs.is_empty());
    assert_eq!((host.engine.open_sessions(), host.temp_count()), (0, 0));
}

#[test]
fn after_an_overwrite_or_a_truncate_the_file_is_verified_from_disk() {
    let mut host = host_with_copier(1);
    let mut overwritten = WASM.to_vec();
    overwritten[..4].copy_from_slice(b"WASM");
    let session = begin(&mut host, &sha(&overwritten));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1);
    let overwrite = json!({"op": "write", "session": session, "position": 0});
    assert!(steps(&mut host, overwrite, Some(Payload::Bytes(b"WASM".to_vec()))).1);
    let (kinds, ok) = close(&mut host, &session);
    assert!(ok && kinds.contains(&REHASH.to_owned()), "the copier's digest is not the file's: {kinds:?}");
    assert_eq!(host.read(A, &sha(&overwritten)).unwrap(), overwritten);

    let cut = &WASM[..10];
    let session = begin(&mut host, &sha(cut));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1);
    assert!(host.page(A, json!({"op": "truncate", "session": session, "size": 10}), None).ok());
    let (kinds, ok) = close(&mut host, &session);
    assert!(ok && kinds.contains(&REHASH.to_owned()), "{kinds:?}");
    assert_eq!(host.read(A, &sha(cut)).unwrap(), cut);
}

#[test]
fn a_file_not_written_in_order_or_a_host_without_a_copier_is_never_handed_over() {
    // A seek back before the file reaches the copier's size: the running digest is gone.
    let mut host = host_with_copier(8);
    let whole = b"abcdefgh".to_vec();
    let session = begin(&mut host, &sha(&whole));
    assert!(write(&mut host, &session, Payload::Bytes(b"xbcd".to_vec())).1);
    let patch = json!({"op": "write", "session": session, "position": 0});
    assert!(steps(&mut host, patch, Some(Payload::Bytes(b"a".to_vec()))).1);
    let (kinds, ok) = steps(
        &mut host,
        json!({"op": "write", "session": session, "position": 4}),
        Some(Payload::Blob(b"efgh".to_vec())),
    );
    assert!(ok && !kinds.contains(&HAND.to_owned()), "{kinds:?}");
    assert!(close(&mut host, &session).1);
    assert_eq!(host.read(A, &sha(&whole)).unwrap(), whole);

    // A small file stays with the engine, and so do page bytes of any size.
    let session = begin(&mut host, &sha(b"small"));
    assert!(!write(&mut host, &session, Payload::Blob(b"small".to_vec())).0.contains(&HAND.to_owned()));
    assert!(close(&mut host, &session).1);
    let session = begin(&mut host, &sha(WASM));
    assert!(!write(&mut host, &session, Payload::Bytes(WASM.to_vec())).0.contains(&HAND.to_owned()));
    assert!(close(&mut host, &session).1);

    let mut host = MemoryHost::new();
    let session = begin(&mut host, &sha(WASM));
    assert!(!write(&mut host, &session, Payload::Blob(WASM.to_vec())).0.contains(&HAND.to_owned()));
    assert!(close(&mut host, &session).1);
}

#[test]
fn a_copier_that_fails_ends_the_session_and_leaves_nothing() {
    for failing in [HAND, "write-temp", "close-temp"] {
        let mut host = host_with_copier(1);
        let session = begin(&mut host, &sha(WASM));
        host.fail_next.push((failing, "NotReadableError"));
        let written = write(&mut host, &session, Payload::Blob(WASM.to_vec())).1;
        let closed = close(&mut host, &session).1;
        assert!(!(written && closed), "{failing}");
        assert_eq!((host.engine.open_sessions(), host.temp_count()), (0, 0), "{failing}");
        assert!(host.blobs.is_empty(), "{failing}");
        // A new write of the same file succeeds.
        let session = begin(&mut host, &sha(WASM));
        assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1 && close(&mut host, &session).1);
        assert_eq!(host.read(A, &sha(WASM)).unwrap(), WASM, "{failing}");
    }
}

#[test]
fn bytes_of_a_handed_over_file_cannot_be_fed_to_the_engine() {
    let mut host = host_with_copier(1);
    let session = begin(&mut host, &sha(&[WASM, WASM].concat()));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1);
    let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Bytes(WASM.to_vec())));
    while !matches!(host.current(id), Some(Step::WriteTemp { .. })) {
        assert!(host.step(id));
    }
    assert!(host.engine.feed(id, WASM).is_err(), "the copier digests them");
}

/// Drives task `id` from its current step with `outcome`, then with `Done`
/// for every later step (the host's files are not consulted): the reply.
fn answer(host: &mut MemoryHost, id: TaskId, outcome: Outcome) -> Value {
    let mut step = host.engine.resume(id, outcome, 0);
    while !matches!(step, Step::Done { .. }) {
        step = host.engine.resume(id, Outcome::Done, 0);
    }
    let Step::Done { reply, .. } = step else { unreachable!() };
    serde_json::to_value(reply).unwrap()
}

#[test]
fn a_close_answered_without_a_proper_digest_is_refused() {
    let bad = [
        Outcome::Done,
        Outcome::Digested { sha256: "not hex".into(), head: WASM[..16].to_vec() },
        Outcome::Digested { sha256: sha(WASM), head: WASM[..3].to_vec() },
    ];
    for outcome in bad {
        let mut host = host_with_copier(1);
        let session = begin(&mut host, &sha(WASM));
        assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())).1);
        let id = host.spawn(A, 1, json!({"op": "close", "session": session}), None);
        while !matches!(host.current(id), Some(Step::CloseTemp { .. })) {
            assert!(host.step(id));
        }
        let reply = answer(&mut host, id, outcome.clone());
        assert_eq!(reply["ok"], false, "{outcome:?}");
        assert_eq!(host.engine.open_sessions(), 0, "{outcome:?}: the session ends");
    }
}
