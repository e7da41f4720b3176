//! The developer tools' trace: for every refusal the real reason, for every
//! write what it found and left, while what the page gets stays the same.

use crate::engine::step::{Caller, Ceiling, QuotaTrace, RequestedOrigins, Trace};
use crate::engine::{Refusal, MAX_ENTRIES_PER_SITE};
use crate::memory_host::{caller, framed, hash_arg, sha256_hex as sha, Finished, MemoryHost, Payload};
use crate::permissions_policy::{BlockCause, Blocked, Container};
use crate::probes::{Spent, DEFAULT_PROBES_PER_WINDOW};
use serde_json::{json, Value};

const A: &str = "https://a.test";
const B: &str = "https://b.test";
const C: &str = "https://c.test";

/// `getFileHandle(hash)` (or `method`) from `who`.
fn open_as(host: &mut MemoryHost, who: &Caller, hex: &str, method: Option<&str>) -> Finished {
    let mut request = json!({"op": "open", "hash": hash_arg(hex)});
    if let Some(method) = method {
        request["method"] = json!(method);
    }
    let id = host.spawn_as(who, request, None);
    host.finish(id)
}

fn open(host: &mut MemoryHost, origin: &str, bytes: &[u8]) -> Finished {
    open_as(host, &caller(origin, 1), &sha(bytes), None)
}

/// write-begin, write, close from `who`: the three finished requests.
fn write_as(host: &mut MemoryHost, who: &Caller, bytes: &[u8], declared: &str, origins: Value) -> [Finished; 3] {
    let begin = host.spawn_as(who, json!({"op": "write-begin", "hash": hash_arg(declared), "origins": origins}), None);
    let begin = host.finish(begin);
    let session = begin.json()["value"]["session"].as_str().expect("a session").to_owned();
    let write = host.spawn_as(who, json!({"op": "write", "session": session}), Some(Payload::Bytes(bytes.to_vec())));
    let write = host.finish(write);
    let close = host.spawn_as(who, json!({"op": "close", "session": session}), None);
    [begin, write, host.finish(close)]
}

fn make_public(host: &mut MemoryHost, bytes: &[u8]) {
    assert!(host.admin(json!({"op": "add-public-hashes", "hashes": [sha(bytes)]})).ok());
}

/// Every cause of a `NotFoundError`, with what the trace says about it; the
/// replies are one and the same.
#[test]
fn every_lookup_refusal_has_its_reason_behind_one_reply() {
    let mut host = MemoryHost::new();
    let private = b"same-site only".to_vec();
    host.store(A, &private, Value::Null);
    let listed = b"listed for c".to_vec();
    let with_header = Caller { allow_origin: Some(C.into()), ..caller(A, 1) };
    write_as(&mut host, &with_header, &listed, &sha(&listed), json!([C]));
    let global = b"global but not on the list".to_vec();
    host.store(A, &global, json!("*"));

    let missing = open(&mut host, B, b"nothing");
    assert_eq!(missing.trace.refusal, Some(Refusal::Missing));
    let scoped = open(&mut host, B, &private);
    assert_eq!((scoped.trace.refusal, scoped.trace.listed_origins), (Some(Refusal::OutOfScope), Some(0)));
    let scoped_listed = open(&mut host, B, &listed);
    assert_eq!(scoped_listed.trace.listed_origins, Some(1), "listed, but not for this origin");
    let unlisted = open(&mut host, B, &global);
    assert_eq!(unlisted.trace.refusal, Some(Refusal::NotOnPublicList));

    // GREASE: the draws are seeded, so the first small public file refused
    // to some reader site is found deterministically.
    let small = b"a small public file".to_vec();
    host.store(A, &small, json!("*"));
    make_public(&mut host, &small);
    let greased = (0..2000)
        .map(|i| open(&mut host, &format!("https://reader{i}.test"), &small))
        .find(|f| !f.ok())
        .expect("about 1% of reads are GREASE'd");
    assert_eq!(greased.trace.refusal, Some(Refusal::Grease));

    // The probe budget: the 17th distinct hash from one site.
    for i in 0..DEFAULT_PROBES_PER_WINDOW {
        open(&mut host, C, format!("probe {i}").as_bytes());
    }
    let spent = open(&mut host, C, b"one too many");
    assert_eq!(spent.trace.refusal, Some(Refusal::ProbeBudget));
    let expected = Spent { site: C.into(), limit: DEFAULT_PROBES_PER_WINDOW, no_room: false };
    assert_eq!(spent.trace.budget, Some(expected.clone()));
    // A frame of another site on that page: the top-level page's window is the one spent.
    let in_c = open_as(&mut host, &framed(B, C, 2), &sha(b"from a frame"), None);
    assert_eq!(in_c.trace.budget, Some(expected), "the top-level site's window");
    // A gesture in a frame of the site refills it (what the panel tells the developer).
    host.activate(C);
    assert_eq!(open(&mut host, C, b"one too many").trace.budget, None);

    let replies: Vec<Value> =
        [&missing, &scoped, &scoped_listed, &unlisted, &greased, &spent, &in_c].iter().map(|f| f.json()).collect();
    assert!(replies.windows(2).all(|w| w[0] == w[1]), "one answer for every refusal: {replies:?}");
    assert_eq!(replies[0]["error"]["name"], "NotFoundError");
}

/// A granted lookup names its grant; what the request was is in the trace.
#[test]
fn the_trace_says_what_the_request_was() {
    let mut host = MemoryHost::new();
    let data = b"for a.test".to_vec();
    host.store(A, &data, Value::Null);
    let found = open_as(&mut host, &caller(A, 1), &sha(&data), Some("requestFileHandles"));
    assert!(found.ok());
    let expected = Trace {
        op: Some("open"),
        method: Some("requestFileHandles"),
        hash: Some(crate::hash::ContentHash::from_hex(&sha(&data)).unwrap()),
        create: Some(false),
        grant: Some(crate::index::Grant::Storer),
        ..Trace::default()
    };
    assert_eq!(found.trace, expected);
    let create =
        host.page(A, json!({"op": "open", "hash": hash_arg(&sha(b"x")), "create": true, "origins": [B, C]}), None);
    assert_eq!(create.trace.method, Some("getFileHandle"), "the default method");
    assert_eq!(create.trace.origins, Some(RequestedOrigins::Listed(vec![B.into(), C.into()])));
    let everyone = host.page(A, json!({"op": "open", "hash": hash_arg(&sha(b"x")), "origins": "*"}), None);
    assert_eq!(everyone.trace.origins, Some(RequestedOrigins::Everyone("*")));
    // An invalid part is left out; the reply says what was wrong.
    let invalid = host.page(A, json!({"op": "open", "hash": {"algorithm": "SHA-256", "value": "zz"}}), None);
    assert_eq!((invalid.trace.op, invalid.trace.hash.as_ref()), (Some("open"), None));
    assert_eq!(invalid.error_name().as_deref(), Some("TypeError"));
    let read = host.page(A, json!({"op": "read", "hash": hash_arg(&sha(&data))}), None);
    assert_eq!((read.trace.method, read.trace.bytes), (Some("getFile"), Some(data.len() as u64)));
}

/// The Permissions Policy: which frame, and what turned the feature off;
/// the page's error names neither.
#[test]
fn the_policy_refusal_names_the_frame_and_the_missing_allow() {
    let mut host = MemoryHost::new();
    let mut no_allow = framed(B, A, 2);
    no_allow.container = Some(Container::Iframe { allow: None, src_origin: B.into() });
    let refused = open_as(&mut host, &no_allow, &sha(b"x"), Some("requestFileHandle"));
    assert_eq!(refused.error_name().as_deref(), Some("NotAllowedError"));
    let message = refused.error_message().unwrap();
    assert!(!message.contains(A) && !message.contains("allow="), "{message}");
    let expected = Blocked {
        frame: 1,
        origin: B.into(),
        parent: Some(A.into()),
        cause: BlockCause::IframeAllow { allow: None, src_origin: B.into() },
    };
    assert_eq!(refused.trace.policy, Some(expected));
    // Refused before validation, yet the developer still sees what was asked.
    assert_eq!((refused.trace.op, refused.trace.method), (Some("open"), Some("requestFileHandle")));
    assert!(refused.trace.hash.is_some());
    assert_eq!(open_as(&mut host, &framed(B, A, 3), &sha(b"x"), None).trace.policy, None, "the control: allowed");
}

/// A site the user turned off: the page's request is refused before
/// validation, and the developer still sees what it asked.
#[test]
fn a_turned_off_site_is_refused_with_the_request_described() {
    let mut host = MemoryHost::new();
    assert!(host.admin(json!({"op": "disable-site", "origin": A})).ok());
    let refused = open_as(&mut host, &caller(A, 1), &sha(b"x"), Some("getFileHandle"));
    assert_eq!(refused.json()["error"]["code"], json!("disabled-for-site"));
    assert_eq!((refused.trace.op, refused.trace.method), (Some("open"), Some("getFileHandle")));
    assert_eq!(refused.trace.hash.as_ref().map(ToString::to_string), Some(sha(b"x")));
    assert_eq!(refused.trace.policy, None);
}

/// The Allow-Origin ceiling: the origins it left out, at write-begin and at
/// close; the page's own warning is unchanged.
#[test]
fn the_ceiling_names_the_origins_it_left_out() {
    let mut host = MemoryHost::new();
    let data = b"listed for b and c".to_vec();
    let with_header = Caller { allow_origin: Some(B.into()), ..caller(A, 1) };
    let [begin, _, close] = write_as(&mut host, &with_header, &data, &sha(&data), json!([B, C]));
    let ceiling = Ceiling { header: Some(B.into()), dropped: vec![C.into()] };
    assert_eq!(begin.trace.ceiling, Some(ceiling.clone()));
    assert_eq!(begin.trace.origins, Some(RequestedOrigins::Listed(vec![B.into(), C.into()])));
    assert_eq!(close.trace.ceiling, Some(ceiling));
    assert_eq!(close.trace.grants_after.as_ref().unwrap().listed, vec![B.to_owned()]);
    assert_eq!(close.json()["value"]["warnings"].as_array().unwrap().len(), 1, "the page's warning");

    let other = b"no header".to_vec();
    let [begin, _, close] = write_as(&mut host, &caller(A, 2), &other, &sha(&other), json!([B]));
    assert_eq!(begin.trace.ceiling, Some(Ceiling { header: None, dropped: vec![B.into()] }));
    assert!(close.trace.grants_after.unwrap().listed.is_empty());
    let [begin, ..] = write_as(&mut host, &caller(A, 3), b"global", &sha(b"global"), json!("*"));
    assert_eq!(begin.trace.ceiling, None, "'*' needs no header");
}

/// Every write: verified (with its grants afterwards and whether the bytes
/// were there already) or the digest the bytes really had.
#[test]
fn a_write_is_verified_or_names_the_actual_digest() {
    let mut host = MemoryHost::new();
    let data = b"the real bytes".to_vec();
    let wrong = sha(b"something else");
    let [begin, write, close] = write_as(&mut host, &caller(A, 1), &data, &wrong, Value::Null);
    assert_eq!(close.error_name().as_deref(), Some("DataError"));
    assert_eq!((close.trace.verified, close.trace.actual_hash.clone()), (Some(false), Some(sha(&data))));
    assert_eq!(close.trace.hash.as_ref().map(ToString::to_string), Some(wrong), "the declared hash");
    let session = begin.trace.session.clone().expect("the session");
    assert_eq!((write.trace.session.as_ref(), write.trace.bytes), (Some(&session), Some(data.len() as u64)));
    assert_eq!(close.trace.session, Some(session));
    assert_eq!(close.trace.grants_after, None, "nothing was stored");

    let [_, _, first] = write_as(&mut host, &caller(A, 1), &data, &sha(&data), json!("*"));
    assert_eq!(
        (first.trace.verified, first.trace.already_stored, first.trace.actual_hash),
        (Some(true), Some(false), None)
    );
    let after = first.trace.grants_after.unwrap();
    assert!(after.global && !after.on_public_list && after.storers == 1);
    let [_, _, again] = write_as(&mut host, &caller(B, 1), &data, &sha(&data), Value::Null);
    assert_eq!((again.trace.verified, again.trace.already_stored), (Some(true), Some(true)));
    assert_eq!(again.trace.grants_after.unwrap().storers, 2);
}

/// Quota: the origin's charge and limit in the trace, never in the reply.
#[test]
fn quota_numbers_are_in_the_trace_only() {
    let mut host = MemoryHost::new();
    assert!(host.admin(json!({"op": "settings", "settings": {"budgetBytes": 1000}})).ok());
    host.store(A, &[1u8; 300], Value::Null);
    let big = vec![2u8; 800];
    let [_, write, _] = write_as(&mut host, &caller(A, 1), &big, &sha(&big), Value::Null);
    assert_eq!(write.error_name().as_deref(), Some("QuotaExceededError"));
    let why = QuotaTrace::Origin { charged_bytes: 300, adding_bytes: 800, limit_bytes: 512 };
    assert_eq!(write.trace.quota, Some(why));
    let message = write.error_message().unwrap();
    assert!(!message.contains("300") && !message.contains("512"), "{message}");

    // The disk refusing more space.
    host.fail_next.push(("place-blob", "QuotaExceededError"));
    let [.., close] = write_as(&mut host, &caller(B, 1), b"small", &sha(b"small"), Value::Null);
    assert_eq!(
        (close.error_name().as_deref(), close.trace.quota),
        (Some("QuotaExceededError"), Some(QuotaTrace::Disk))
    );
}

#[test]
fn the_file_cap_is_in_the_trace() {
    let mut host = MemoryHost::new();
    for i in 0..MAX_ENTRIES_PER_SITE {
        assert!(host.store(A, format!("file {i}").as_bytes(), Value::Null).ok());
    }
    let one_more = host.store(A, b"one more", Value::Null);
    assert_eq!(
        one_more.trace.quota,
        Some(QuotaTrace::Files { stored: MAX_ENTRIES_PER_SITE, max: MAX_ENTRIES_PER_SITE })
    );
}

/// The trace as the worker hands it to the developer tools.
#[test]
fn the_trace_serializes_for_the_panel() {
    let mut host = MemoryHost::new();
    for i in 0..DEFAULT_PROBES_PER_WINDOW {
        open(&mut host, C, format!("probe {i}").as_bytes());
    }
    let spent = serde_json::to_value(open(&mut host, C, b"x").trace).unwrap();
    assert_eq!(spent["refusal"], "probe-budget");
    assert_eq!(spent["budget"], json!({"site": C, "limit": DEFAULT_PROBES_PER_WINDOW, "noRoom": false}));
    assert_eq!(spent["method"], "getFileHandle");
    let quota = serde_json::to_value(QuotaTrace::Origin { charged_bytes: 1, adding_bytes: 2, limit_bytes: 3 }).unwrap();
    assert_eq!(quota, json!({"kind": "origin", "chargedBytes": 1, "addingBytes": 2, "limitBytes": 3}));
}
