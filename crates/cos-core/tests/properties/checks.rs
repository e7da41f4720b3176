//! What several properties assert or set up.

use cos_core::engine::step::Caller;
use cos_core::index::Entry;
use cos_core::memory_host::{caller, framed, hash_arg, Finished, MemoryHost, Payload};
use cos_core::origin::Origin;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Names a page's promise may reject with for its own mistakes (no storage
/// step fails in the properties that use this).
const PAGE_ERRORS: [&str; 7] = [
    "TypeError",
    "NotSupportedError",
    "NotAllowedError",
    "NotFoundError",
    "DataError",
    "InvalidStateError",
    "QuotaExceededError",
];

/// A reply is `{ok: true, value}` or `{ok: false, error: {name, code, message}}`,
/// and an error is one a page can act on, never an internal one.
pub(crate) fn assert_clean(reply: &Finished, request: &Value) {
    let json = reply.json();
    let shown = || request.to_string().chars().take(200).collect::<String>();
    match json["ok"].as_bool() {
        Some(true) => assert!(json.get("value").is_some(), "{json} for {}", shown()),
        Some(false) => {
            let error = &json["error"];
            let name = error["name"].as_str().unwrap_or_default();
            assert!(PAGE_ERRORS.contains(&name), "{error} for {}", shown());
            assert!(!matches!(error["code"].as_str(), None | Some("internal" | "io")), "{error} for {}", shown());
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
        }
        None => panic!("not a reply: {json} for {}", shown()),
    }
}

/// What is durably stored: index entries (not the counters) and blob sizes.
#[derive(Debug, PartialEq)]
pub(crate) struct OnDisk {
    entries: BTreeMap<String, Value>,
    blobs: BTreeMap<String, usize>,
}

pub(crate) fn on_disk(host: &MemoryHost) -> OnDisk {
    OnDisk {
        entries: host
            .persisted
            .iter()
            .filter(|(k, _)| k.starts_with("entry:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        blobs: host.blobs.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
    }
}

/// The engine's index entries by hash.
pub(crate) fn index_entries(host: &MemoryHost) -> BTreeMap<String, Entry> {
    host.engine.index().entries().map(|e| (e.hash.to_string(), e.clone())).collect()
}

pub(crate) fn set_budget(host: &mut MemoryHost, bytes: u64) {
    assert!(host.admin(json!({"op": "settings", "settings": {"budgetBytes": bytes}})).ok());
}

/// What one origin may hold under `budget` (see `engine::quota`): the budget rounded down to a power of two.
pub(crate) fn origin_limit(budget: Option<u64>) -> u64 {
    match budget {
        None => 1 << 63,
        Some(0) => 0,
        Some(b) => 1 << b.ilog2(),
    }
}

/// Names the platform gives failed storage steps.
pub(crate) const PLATFORM_ERRORS: [&str; 3] = ["NotReadableError", "QuotaExceededError", "InvalidStateError"];

/// The `DOMException` name a failed storage step reports to the page.
pub(crate) fn step_failure_name(platform_name: &str) -> &'static str {
    match platform_name {
        "QuotaExceededError" => "QuotaExceededError",
        _ => "UnknownError",
    }
}

pub(crate) fn allowed_caller(origin: &str) -> bool {
    Origin::parse_caller(origin).is_ok()
}

/// A whole page request from `who` (a frame, its top-level origin, its headers).
pub(crate) fn page_as(host: &mut MemoryHost, who: &Caller, request: Value, payload: Option<Payload>) -> Finished {
    let id = host.spawn_as(who, request, payload);
    host.finish(id)
}

/// A document of `origin` (on channel 1), framed in a page of `top` that
/// lets it use the store (`allow="cross-origin-storage"`) if given, whose
/// response carried `Cross-Origin-Storage-Allow-Origin: header` if given.
pub(crate) fn document(origin: &str, top: Option<&str>, header: Option<&str>) -> Caller {
    let frame = top.map_or_else(|| caller(origin, 1), |top| framed(origin, top, 1));
    Caller { allow_origin: header.map(str::to_owned), ..frame }
}

/// `write-begin`, one write of `bytes`, `close`, all from `who`; the close
/// reply, or the first that failed.
pub(crate) fn store_from(
    host: &mut MemoryHost,
    who: &Caller,
    (bytes, declared): (&[u8], &str),
    origins: Value,
    blob: bool,
) -> Finished {
    let begin = page_as(host, who, json!({"op": "write-begin", "hash": hash_arg(declared), "origins": origins}), None);
    let Some(session) = begin.json()["value"]["session"].as_str().map(str::to_owned) else { return begin };
    let payload = if blob { Payload::Blob(bytes.to_vec()) } else { Payload::Bytes(bytes.to_vec()) };
    let write = page_as(host, who, json!({"op": "write", "session": session}), Some(payload));
    if !write.ok() {
        return write;
    }
    page_as(host, who, json!({"op": "close", "session": session}), None)
}
