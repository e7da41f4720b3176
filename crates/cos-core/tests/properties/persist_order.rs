//! Two orders of persisting that once lost data (found by the crash
//! property), kept as minimal regressions. The engine now hands out changes
//! when a persist step is performed, not when it is issued, and requeues
//! the changes of a persist that failed.

use cos_core::engine::step::Step;
use cos_core::memory_host::{hash_arg, sha256_hex as sha, MemoryHost};
use serde_json::{json, Value};

/// Was a bug: a `persist` step carried the index changes drained when the
/// engine issued it. A host that performs it after a persist issued later
/// (the memory host's `step` allows that; the worker happens not to, as it
/// starts every step as soon as it gets it and chrome.storage applies writes
/// in call order) writes an older entry over a newer one: here b.test's read
/// records its use of a file, a.test then stores the same bytes and is told
/// they are stored, and the read's older entry (without a.test as storer)
/// lands last. After a restart a.test's acknowledged write is gone.
#[test]
fn a_persist_performed_late_does_not_undo_a_newer_one() {
    let (a, b) = ("https://a.test", "https://b.test");
    let mut host = MemoryHost::new();
    let data = b"shared model".to_vec();
    assert!(host.store(b, &data, Value::Null).ok(), "b.test's file, hidden from a.test");
    let read = host.spawn(b, 2, json!({"op": "read", "hash": hash_arg(&sha(&data))}), None);
    while !matches!(host.current(read), Some(Step::Persist { .. })) {
        host.step(read);
    }
    assert!(host.store(a, &data, Value::Null).ok(), "a.test is told its write is stored");
    assert!(host.finish(read).ok());
    host.restart();
    assert_eq!(host.read(a, &sha(&data)), Ok(data), "a.test's acknowledged write was lost");
}

/// Was a bug: when a `persist` step failed, its changes were dropped while
/// the in-memory index keeps them, and nothing persists them later. Here a
/// clear fails to persist, the user retries, is told it worked (nothing is
/// left in memory to delete), and after a restart the file is back.
#[test]
fn a_deletion_that_failed_to_persist_does_not_come_back() {
    let mut host = MemoryHost::new();
    let data = b"the user deletes this".to_vec();
    assert!(host.store("https://a.test", &data, Value::Null).ok());
    host.fail_next.push(("persist", "UnknownError"));
    assert_eq!(host.admin(json!({"op": "clear"})).error_name().as_deref(), Some("UnknownError"));
    assert!(host.admin(json!({"op": "clear"})).ok(), "the retry succeeds");
    host.restart();
    assert_eq!(host.read("https://a.test", &sha(&data)), Err("NotFoundError".into()), "the deleted file came back");
}
