//! A session's first write of a Blob, copied by a host that digests what it
//! writes (`Step::CopyBlob`): what the engine accepts from such a host, and
//! that anything else written afterwards is verified from the file as before.

use crate::engine::step::{Outcome, Step};
use crate::memory_host::{hash_arg, sha256_hex as sha, MemoryHost, Payload};
use serde_json::{json, Value};

const A: &str = "https://a.test";
const WASM: &[u8] = b"\0asm\x01\0\0\0 a module's bytes, longer than the sniffed head";

fn digesting_host() -> MemoryHost {
    let mut host = MemoryHost::new();
    host.engine.set_host_digests_copies(Some(1));
    host
}

fn begin(host: &mut MemoryHost, hex: &str) -> String {
    let reply = host.page(A, json!({"op": "write-begin", "hash": hash_arg(hex), "origins": "*"}), None);
    reply.json()["value"]["session"].as_str().expect("a session").to_owned()
}

fn write(host: &mut MemoryHost, session: &str, payload: Payload) -> bool {
    host.page(A, json!({"op": "write", "session": session}), Some(payload)).ok()
}

fn close(host: &mut MemoryHost, session: &str) -> crate::memory_host::Finished {
    host.page(A, json!({"op": "close", "session": session}), None)
}

/// The steps task `id` takes until it is done, by kind.
fn steps_of(host: &mut MemoryHost, id: crate::engine::step::TaskId) -> Vec<String> {
    let mut kinds = Vec::new();
    while let Some(step) = host.current(id) {
        kinds.push(serde_json::to_value(step).unwrap()["do"].as_str().unwrap().to_owned());
        assert!(host.step(id));
    }
    kinds
}

#[test]
fn a_whole_file_blob_is_copied_and_verified_by_the_hosts_digest() {
    let mut host = digesting_host();
    let session = begin(&mut host, &sha(WASM));
    let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(WASM.to_vec())));
    assert!(steps_of(&mut host, id).contains(&"copy-blob".to_owned()));
    // The close needs no second pass over the file.
    host.fail_next.push(("hash-temp", "NotReadableError"));
    let id = host.spawn(A, 1, json!({"op": "close", "session": session}), None);
    let kinds = steps_of(&mut host, id);
    assert!(!kinds.contains(&"hash-temp".to_owned()), "{kinds:?}");
    assert_eq!(host.read(A, &sha(WASM)).unwrap(), WASM);
    assert_eq!(
        host.engine.index().get(&crate::hash::ContentHash::from_hex(&sha(WASM)).unwrap()).unwrap().kind,
        "wasm",
        "labelled from the head"
    );
}

#[test]
fn a_digest_that_differs_from_the_declared_hash_stores_nothing() {
    let mut host = digesting_host();
    let session = begin(&mut host, &sha(b"what the page declared"));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())));
    let closed = close(&mut host, &session);
    assert_eq!(closed.error_name().as_deref(), Some("DataError"));
    assert!(host.blobs.is_empty());
    assert_eq!(host.engine.open_sessions(), 0);
}

#[test]
fn what_is_written_after_a_copy_is_verified_from_the_file() {
    let mut host = digesting_host();
    let whole = [WASM, b" and more"].concat();
    let session = begin(&mut host, &sha(&whole));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())));
    assert!(write(&mut host, &session, Payload::Bytes(b" and more".to_vec())));
    let id = host.spawn(A, 1, json!({"op": "close", "session": session}), None);
    assert!(steps_of(&mut host, id).contains(&"hash-temp".to_owned()), "the running digest cannot continue a copy's");
    assert_eq!(host.read(A, &sha(&whole)).unwrap(), whole);

    // A truncate after a copy, likewise: the copy's digest is not the file's.
    let cut = &WASM[..10];
    let session = begin(&mut host, &sha(cut));
    assert!(write(&mut host, &session, Payload::Blob(WASM.to_vec())));
    assert!(host.page(A, json!({"op": "truncate", "session": session, "size": 10}), None).ok());
    assert!(close(&mut host, &session).ok());
    assert_eq!(host.read(A, &sha(cut)).unwrap(), cut);
}

#[test]
fn only_a_sessions_first_write_is_copied_and_only_by_a_host_that_can() {
    // A Blob after bytes: copied by the host, hashed at close (as before).
    let mut host = digesting_host();
    let whole = [b"head".as_slice(), WASM].concat();
    let session = begin(&mut host, &sha(&whole));
    assert!(write(&mut host, &session, Payload::Bytes(b"head".to_vec())));
    let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(WASM.to_vec())));
    assert!(!steps_of(&mut host, id).contains(&"copy-blob".to_owned()));
    assert!(close(&mut host, &session).ok());

    // A Blob over the start of what was written: not the whole file.
    let whole = [WASM, b"tail"].concat();
    let session = begin(&mut host, &sha(&whole));
    assert!(write(&mut host, &session, Payload::Bytes(whole.clone())));
    let overwrite = json!({"op": "write", "session": session, "position": 0});
    let id = host.spawn(A, 1, overwrite, Some(Payload::Blob(WASM.to_vec())));
    assert!(!steps_of(&mut host, id).contains(&"copy-blob".to_owned()));
    assert!(close(&mut host, &session).ok());
    assert_eq!(host.read(A, &sha(&whole)).unwrap(), whole);

    // Below the host's size, the Blob is copied and hashed at close.
    host.engine.set_host_digests_copies(Some(WASM.len() as u64 + 1));
    let session = begin(&mut host, &sha(WASM));
    let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(WASM.to_vec())));
    assert!(!steps_of(&mut host, id).contains(&"copy-blob".to_owned()));
    assert!(close(&mut host, &session).ok());

    // A host that did not say it digests copies never gets one.
    let mut host = MemoryHost::new();
    let session = begin(&mut host, &sha(WASM));
    let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(WASM.to_vec())));
    assert!(!steps_of(&mut host, id).contains(&"copy-blob".to_owned()));
    assert!(close(&mut host, &session).ok());
}

#[test]
fn a_failed_copy_ends_the_session_and_leaves_nothing() {
    let mut host = digesting_host();
    let session = begin(&mut host, &sha(WASM));
    host.fail_next.push(("copy-blob", "NotReadableError"));
    assert!(!write(&mut host, &session, Payload::Blob(WASM.to_vec())));
    assert_eq!(host.temp_count(), 0);
    assert_eq!(close(&mut host, &session).error_name().as_deref(), Some("InvalidStateError"));
    assert!(host.blobs.is_empty());
}

/// Drives task `id` from its current step with `outcome`, then with `Done`
/// for every later step (the host's files are not consulted): the reply.
fn answer(host: &mut MemoryHost, id: crate::engine::step::TaskId, outcome: Outcome) -> Value {
    let mut step = host.engine.resume(id, outcome, 0);
    while !matches!(step, Step::Done { .. }) {
        step = host.engine.resume(id, Outcome::Done, 0);
    }
    let Step::Done { reply, .. } = step else { unreachable!() };
    serde_json::to_value(reply).unwrap()
}

#[test]
fn a_copy_answered_without_a_proper_digest_is_refused() {
    let bad = [
        Outcome::Done,
        Outcome::Digested { sha256: "not hex".into(), head: WASM[..16].to_vec() },
        Outcome::Digested { sha256: sha(WASM), head: WASM[..3].to_vec() },
    ];
    for outcome in bad {
        let mut host = digesting_host();
        let session = begin(&mut host, &sha(WASM));
        let id = host.spawn(A, 1, json!({"op": "write", "session": session}), Some(Payload::Blob(WASM.to_vec())));
        while !matches!(host.current(id), Some(Step::CopyBlob { .. })) {
            assert!(host.step(id));
        }
        let reply = answer(&mut host, id, outcome.clone());
        assert_eq!(reply["ok"], false, "{outcome:?}");
        assert_eq!(host.engine.open_sessions(), 0, "{outcome:?}: the session ends");
    }
}
