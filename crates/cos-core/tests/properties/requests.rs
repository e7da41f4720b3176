//! Decoding and page requests: any value from any caller gets a clean
//! reply, and only an acknowledged close stores anything.

use crate::checks::{allowed_caller, assert_clean, document, on_disk, page_as};
use crate::generate::{
    huge_request, mutate_value, origins_value, random_header, random_object, random_value, valid_request,
};
use crate::harness::{run, share, Rng};
use cos_core::memory_host::{hash_arg, sha256_hex as sha, MemoryHost, Payload};
use cos_core::message::{AdminRequest, PageRequest};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Fields each operation may carry (besides `op`); anything else must be refused.
const PAGE_SCHEMA: [(&str, &[&str]); 8] = [
    ("open", &["hash", "create", "origins"]),
    ("read", &["hash"]),
    ("write-begin", &["hash", "origins"]),
    ("write", &["session", "position"]),
    ("seek", &["session", "position"]),
    ("truncate", &["session", "size"]),
    ("close", &["session"]),
    ("abort", &["session"]),
];
const ADMIN_SCHEMA: [(&str, &[&str]); 7] = [
    ("summary", &["origin"]),
    ("delete", &["hash"]),
    ("add-public-hashes", &["hashes"]),
    ("remove-public-hashes", &["hashes"]),
    ("delete-site", &["origin"]),
    ("clear", &[]),
    ("settings", &["settings"]),
];

/// A request that decoded must be exactly what the schema allows: a known
/// op, no extra field anywhere (a claimed origin cannot ride along).
fn assert_schema(value: &Value, schema: &[(&str, &[&str])]) {
    let object = value.as_object().unwrap_or_else(|| panic!("a non-object request decoded: {value}"));
    let op = object["op"].as_str().expect("op is a string");
    let (_, fields) =
        schema.iter().find(|(name, _)| *name == op).unwrap_or_else(|| panic!("unknown op {op:?} accepted"));
    for key in object.keys().filter(|k| *k != "op") {
        assert!(fields.contains(&key.as_str()), "field {key:?} accepted on {op}: {value}");
    }
    if let Some(hash) = object.get("hash").and_then(|h| h.as_object()) {
        let mut keys: Vec<&str> = hash.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["algorithm", "value"], "{value}");
    }
    if let Some(settings) = object.get("settings").and_then(|s| s.as_object()) {
        assert!(settings.keys().all(|k| k == "budgetBytes"), "{value}");
    }
}

/// Decodes `value` both ways; returns which decoded (page, admin).
fn check_decoding(value: &Value) -> [bool; 2] {
    let check = |result: Result<(), cos_core::CosError>, schema: &[(&str, &[&str])]| match result {
        Ok(()) => {
            assert_schema(value, schema);
            true
        }
        Err(e) => {
            assert_eq!((e.code(), e.dom_name()), ("invalid-message", "TypeError"), "{value}");
            false
        }
    };
    [
        check(PageRequest::decode(value.clone()).map(drop), &PAGE_SCHEMA),
        check(AdminRequest::decode(value.clone()).map(drop), &ADMIN_SCHEMA),
    ]
}

const CALLERS: [&str; 7] =
    ["https://a.test", "http://b.test:8080", "null", "chrome-extension://abc", "file://", "", "https://A.test"];
/// Small files honest scripts store.
const CONTENTS: [&[u8]; 3] = [b"a", b"hello world", b"\0asm\x01\0\0\0"];

fn random_payload(rng: &mut Rng) -> Option<Payload> {
    let bytes = if rng.chance(50) { rng.pick(&CONTENTS).to_vec() } else { rng.some_bytes(0, 40) };
    match rng.below(4) {
        0 | 1 => None,
        2 => Some(Payload::Bytes(bytes)),
        _ => Some(Payload::Blob(bytes)),
    }
}

fn random_request(rng: &mut Rng, live: &[String]) -> Value {
    match rng.below(100) {
        0..=24 => random_value(rng, 4),
        25..=39 => random_object(rng, 3),
        40..=59 => valid_request(rng, live),
        60..=98 => {
            let base = valid_request(rng, live);
            mutate_value(rng, &base)
        }
        _ => huge_request(rng),
    }
}

/// Step `i` of storing `content` correctly: begin, write, close.
fn honest_request(rng: &mut Rng, i: usize, content: &[u8], live: &[String]) -> (Value, Option<Payload>) {
    let session = live.last().cloned().unwrap_or_default();
    match i {
        0 => (json!({"op": "write-begin", "hash": hash_arg(&sha(content)), "origins": origins_value(rng)}), None),
        1 if rng.chance(50) => (json!({"op": "write", "session": session}), Some(Payload::Bytes(content.to_vec()))),
        1 => (json!({"op": "write", "session": session}), Some(Payload::Blob(content.to_vec()))),
        _ => (json!({"op": "close", "session": session}), None),
    }
}

/// Any value, from any caller, with any data beside it: the engine answers
/// with a clean reply, a refused request stores nothing, only an
/// acknowledged close stores anything, and no session or temporary file
/// outlives its frame. Decoding alone agrees with the schema.
#[test]
fn decoding_and_page_requests_never_panic() {
    let mut decoded = [0usize; 2];
    let mut stored = 0usize;
    let cases = share(250);
    run("requests", cases, |rng, _| {
        let mut host = MemoryHost::new();
        let mut live: Vec<String> = Vec::new();
        let mut committed: BTreeSet<String> = BTreeSet::new();
        let honest = rng.chance(15).then(|| *rng.pick(&CONTENTS));
        let count = if honest.is_some() { 3 } else { 1 + rng.below(5) };
        // Mostly one frame; sometimes another caller (whose requests must not touch the frame's sessions).
        let frame = if rng.chance(85) { CALLERS[0] } else { *rng.pick(&CALLERS) };
        for i in 0..count {
            let (request, payload) = match honest {
                Some(content) if rng.chance(80) => honest_request(rng, i, content, &live),
                Some(content) => {
                    let (request, payload) = honest_request(rng, i, content, &live);
                    (mutate_value(rng, &request), if rng.chance(50) { random_payload(rng) } else { payload })
                }
                None => (random_request(rng, &live), random_payload(rng)),
            };
            for (n, ok) in decoded.iter_mut().zip(check_decoding(&request)) {
                *n += usize::from(ok);
            }
            let caller = if rng.chance(90) { frame } else { *rng.pick(&CALLERS) };
            // Sometimes framed in any page (an honest store only in a page that may use the API), sometimes
            // with a header of any text.
            let tops = if honest.is_some() { &CALLERS[..2] } else { &CALLERS[..] };
            let top = rng.chance(20).then(|| *rng.pick(tops));
            let header = rng.chance(20).then(|| random_header(rng));
            let allowed = allowed_caller(caller) && top.is_none_or(allowed_caller);
            let before = on_disk(&host);
            let reply = page_as(&mut host, &document(caller, top, header.as_deref()), request.clone(), payload);
            assert_clean(&reply, &request);
            let json = reply.json();
            if reply.ok() {
                assert!(allowed, "{caller} in {top:?} was answered");
                match request["op"].as_str() {
                    Some("write-begin") => live.push(json["value"]["session"].as_str().expect("a session").to_owned()),
                    Some("close") => {
                        committed.insert(json["value"]["hash"].as_str().expect("a hash").to_owned());
                    }
                    _ => {}
                }
            } else {
                if !allowed {
                    assert_eq!(
                        reply.error_name().as_deref(),
                        Some("NotAllowedError"),
                        "a refused caller is refused first"
                    );
                } else if !request.is_object() {
                    assert_eq!(json["error"]["code"], "invalid-message", "{request}");
                }
                assert_eq!(on_disk(&host), before, "a refused request changed what is stored: {request}");
            }
            if rng.chance(10) {
                let admin = host.admin(request.clone());
                if let Some(name) = admin.error_name() {
                    assert_eq!(name, "TypeError", "{}", admin.json());
                }
            }
        }
        for name in host.blobs.keys() {
            assert!(committed.contains(name), "{name} is stored, but no close said so");
        }
        stored += committed.len();
        host.release(1);
        host.finish_all();
        assert_eq!((host.engine.open_sessions(), host.temp_count()), (0, 0), "a session outlived its frame");
    });
    eprintln!(
        "requests: {} page and {} admin requests decoded as valid, {stored} files stored",
        decoded[0], decoded[1]
    );
    assert!(
        decoded[0] > cases / 10 && decoded[1] > cases / 100,
        "the generator must also reach valid requests: {decoded:?}"
    );
    // About 3.5% of cases store a file: too few to count on in a run of a few hundred.
    if cases >= 1000 {
        assert!(stored > cases / 40, "the generator must also store files: {stored}");
    }
}

// ---- regressions -------------------------------------------------------------------

/// Regression (found by the decoding property, fixed in 0ae6366): unit
/// variants of an internally tagged enum ignore `deny_unknown_fields`, so
/// `{"op":"clear","origin":"https://a.test"}` (a `delete-site` with a typo'd
/// op) decoded as `Clear` and would have deleted every file.
#[test]
fn admin_ops_without_fields_refuse_extra_fields() {
    for value in [json!({"op": "clear", "origin": "https://a.test"}), json!({"op": "summary", "hash": "x"})] {
        let err = AdminRequest::decode(value.clone()).map(|r| format!("{r:?}")).expect_err(&value.to_string());
        assert_eq!(err.code(), "invalid-message");
    }
}

/// Regression (found by the decoding property, fixed in 0ae6366): serde also
/// decodes an internally tagged enum from an array, so
/// `["read", {"algorithm":"SHA-256","value":"…"}]` was accepted although
/// requests are objects with named fields.
#[test]
fn requests_must_be_objects() {
    let hash =
        json!({"algorithm": "SHA-256", "value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"});
    for value in [json!(["read", hash]), json!(["seek", "s", 1]), json!(["clear"])] {
        assert!(
            PageRequest::decode(value.clone()).is_err() && AdminRequest::decode(value.clone()).is_err(),
            "{value} decoded"
        );
    }
}
