//! Property tests over random and mutated input, from a seeded generator (no
//! extra dependency): message decoding, validation, the disclosure rules and
//! write sessions. Zero panics, and every answer agrees with a small model.
//!
//! `COS_PROPERTY_CASES` sets the total number of generated cases, split
//! across the properties below. Default: 1,000,000 in an optimised build
//! (`cargo test --release -p cos-core --test properties`, ~30 s) and 100,000
//! in the debug build that `cargo test` / `scripts/test` use (~10x slower per
//! case). `COS_PROPERTY_SEED` sets the seed.
//! A failure prints the seed and case number so it can be replayed.

use cos_core::engine::Engine;
use cos_core::error::CosError;
use cos_core::hash::ContentHash;
use cos_core::index::Policy;
use cos_core::message::{AdminRequest, PageRequest, Step, MAX_REQUEST_BYTES};
use cos_core::origin::Origin;
use cos_core::public_hash_list::PublicHashList;
use cos_core::site::SiteRules;
use cos_core::verifier::Verifier;
use cos_core::visibility::{OriginsArg, Visibility, MAX_LISTED_ORIGINS};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

// ---- generator ------------------------------------------------------------

/// SplitMix64: tiny, seedable, good enough for test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn pick_str(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len())]
}

fn seed() -> u64 {
    std::env::var("COS_PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x00c0_ffee)
}

/// Total cases for all properties; each property takes a share.
fn total_cases() -> usize {
    std::env::var("COS_PROPERTY_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    })
}

fn share(percent: usize) -> usize {
    (total_cases() * percent / 100).max(1)
}

/// Runs `cases` cases of `body`, each with its own reproducible generator;
/// a panic anywhere (engine or assertion) is reported with its case number.
fn run(name: &str, cases: usize, mut body: impl FnMut(&mut Rng, usize)) {
    let base = seed() ^ fxhash(name);
    let started = std::time::Instant::now();
    for case in 0..cases {
        let mut rng = Rng(base.wrapping_add(case as u64 * 0x1000_0000_01b3));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&mut rng, case))) {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name}: case {case} (COS_PROPERTY_SEED={}) panicked: {what}", seed());
        }
    }
    eprintln!("{name}: {cases} cases, 0 panics, {:.1} s", started.elapsed().as_secs_f64());
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn sha(bytes: &[u8]) -> String {
    let mut v = Verifier::default();
    v.update(bytes);
    v.finish().to_string()
}

const OPS: [&str; 16] = [
    "open",
    "read",
    "write-begin",
    "write",
    "seek",
    "truncate",
    "close",
    "abort",
    "summary",
    "delete",
    "delete-site",
    "clear",
    "settings",
    "OPEN",
    "list",
    "",
];
const KEYS: [&str; 20] = [
    "op",
    "hash",
    "algorithm",
    "value",
    "create",
    "origins",
    "session",
    "position",
    "size",
    "settings",
    "budgetBytes",
    "strictGlobal",
    "origin",
    "caller",
    "sender",
    "__proto__",
    "data",
    "id",
    "request",
    "x",
];
const STRINGS: [&str; 18] = [
    "SHA-256",
    "sha-256",
    "SHA-1",
    "SHA-512",
    "md5",
    "*",
    "null",
    "https://a.test",
    "https://b.test",
    "http://a.test",
    "data:,x",
    "blob:https://a.test/1",
    "file://",
    "chrome-extension://abc",
    "i-1",
    "../../x",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "\u{0}\u{ffff}\u{1F600}",
];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 | 1 => rng.pick(&STRINGS).to_string(),
        2 => rng.pick(&OPS).to_string(),
        3 => (0..rng.below(80)).map(|_| char::from(32 + rng.below(95) as u8)).collect(),
        4 => (0..rng.below(20)).filter_map(|_| char::from_u32(rng.next() as u32 % 0x11_0000)).collect(),
        _ => {
            let n = 60 + rng.below(8);
            hex(rng, n)
        }
    }
}

fn hex(rng: &mut Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| HEX[rng.below(16)] as char).collect()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn random_number(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "0".into(),
        1 => format!("-{}", rng.below(1000)),
        2 => format!("{}.5", rng.below(1000)),
        3 => "1e400".into(),
        4 => u64::MAX.to_string(),
        5 => "18446744073709551616".into(),
        6 => format!("{}", (1u64 << 53) + rng.below(3) as u64),
        _ => rng.below(100_000).to_string(),
    }
}

/// Any JSON value, of bounded depth.
fn random_json(rng: &mut Rng, depth: usize) -> String {
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => "null".into(),
        1 => rng.pick(&["true", "false"]).to_string(),
        2 => random_number(rng),
        3 | 4 => json_string(&random_string(rng)),
        5 => {
            let items: Vec<String> = (0..rng.below(5)).map(|_| random_json(rng, depth - 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => random_object(rng, depth - 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> String {
    let mut fields: Vec<String> = Vec::new();
    if rng.chance(80) {
        fields.push(format!("\"op\":{}", json_string(pick_str(rng, &OPS))));
    }
    for _ in 0..rng.below(5) {
        let key = if rng.chance(85) { rng.pick(&KEYS).to_string() } else { random_string(rng) };
        fields.push(format!("{}:{}", json_string(&key), random_json(rng, depth)));
    }
    format!("{{{}}}", fields.join(","))
}

fn hash_json(rng: &mut Rng) -> String {
    let value = if rng.chance(70) { hex(rng, 64) } else { random_string(rng) };
    let alg = if rng.chance(70) { "SHA-256".to_string() } else { random_string(rng) };
    format!("{{\"algorithm\":{},\"value\":{}}}", json_string(&alg), json_string(&value))
}

fn origins_json(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => "\"*\"".into(),
        1 => json_string(&gen_origin(rng).0),
        2 => "null".into(),
        _ => {
            let list: Vec<String> = (0..rng.below(70)).map(|_| json_string(&gen_origin(rng).0)).collect();
            format!("[{}]", list.join(","))
        }
    }
}

/// A schema-valid request of every page and admin operation.
fn valid_request(rng: &mut Rng) -> String {
    let session = json_string(&format!("i-{}", rng.below(5)));
    let n = rng.below(1 << 20);
    match rng.below(13) {
        0 => format!(
            "{{\"op\":\"open\",\"hash\":{},\"create\":{},\"origins\":{}}}",
            hash_json(rng),
            rng.chance(50),
            origins_json(rng)
        ),
        1 => format!("{{\"op\":\"open\",\"hash\":{}}}", hash_json(rng)),
        2 => format!("{{\"op\":\"read\",\"hash\":{}}}", hash_json(rng)),
        3 => format!("{{\"op\":\"write-begin\",\"hash\":{},\"origins\":{}}}", hash_json(rng), origins_json(rng)),
        4 => format!("{{\"op\":\"write\",\"session\":{session},\"position\":{n}}}"),
        5 => format!("{{\"op\":\"seek\",\"session\":{session},\"position\":{n}}}"),
        6 => format!("{{\"op\":\"truncate\",\"session\":{session},\"size\":{n}}}"),
        7 => format!("{{\"op\":\"close\",\"session\":{session}}}"),
        8 => format!("{{\"op\":\"abort\",\"session\":{session}}}"),
        9 => "{\"op\":\"summary\"}".into(),
        10 => format!("{{\"op\":\"delete\",\"hash\":{}}}", json_string(&hex(rng, 64))),
        11 => format!("{{\"op\":\"delete-site\",\"origin\":{}}}", json_string(&gen_origin(rng).0)),
        _ => {
            format!("{{\"op\":\"settings\",\"settings\":{{\"budgetBytes\":{n},\"strictGlobal\":{}}}}}", rng.chance(50))
        }
    }
}

/// Byte-level mutations of a string (kept valid UTF-8, as JS strings arrive).
fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len().max(1);
        let at = rng.below(len).min(bytes.len());
        match rng.below(8) {
            0 => {
                if at < bytes.len() {
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            1 => bytes.insert(at, *rng.pick(b"{}[]\":,\\0-1eE.nultrf \x00")),
            2 => {
                let end = (at + rng.below(8)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(16)).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                bytes.splice(at..at, piece);
            }
            4 => bytes.truncate(at),
            5 => {
                // Replace a value after some colon with any JSON value.
                if let Some(colon) = bytes[at..].iter().position(|&b| b == b':').map(|p| p + at) {
                    let end =
                        bytes[colon..].iter().position(|&b| b == b',' || b == b'}').map_or(bytes.len(), |p| p + colon);
                    let value = random_json(rng, 2);
                    bytes.splice(colon + 1..end, value.into_bytes());
                }
            }
            6 => {
                // Add a field (claimed origin, duplicate op, prototype keys...).
                if let Some(brace) = bytes.iter().position(|&b| b == b'{') {
                    let field = format!("{}:{},", json_string(pick_str(rng, &KEYS)), random_json(rng, 1));
                    bytes.splice(brace + 1..brace + 1, field.into_bytes());
                }
            }
            _ => {
                let junk = random_string(rng);
                bytes.splice(at..at, junk.into_bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Rare, expensive shapes: huge strings, deep nesting, long lists.
fn huge_request(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!(
            "{{\"op\":\"read\",\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{}\"}}}}",
            "a".repeat(MAX_REQUEST_BYTES - 60 + rng.below(120))
        ),
        1 => format!("{}{}", "[".repeat(200 + rng.below(5000)), "]".repeat(rng.below(5000))),
        2 => format!(
            "{{\"op\":\"open\",\"hash\":{},\"origins\":[{}]}}",
            hash_json(rng),
            vec!["\"https://a.test\""; 2000 + rng.below(2000)].join(",")
        ),
        3 => format!("{{\"op\":\"write\",\"session\":\"{}\"}}", "s".repeat(rng.below(70_000))),
        _ => "{\"a\":".repeat(rng.below(300)),
    }
}

// ---- origins with known validity ---------------------------------------------

/// Builds an origin from parts, each valid or not; returns `(text, valid)`.
fn gen_origin(rng: &mut Rng) -> (String, bool) {
    let good_schemes = ["https", "http", "wss", "chrome-extension", "x+y.z-1"];
    let bad_schemes = ["HTTPS", "", "1http", "ht tp", "h\u{e9}"];
    let good_hosts = [
        "a.test",
        "sub.a.test",
        "b.test",
        "127.0.0.1",
        "[::1]",
        "xn--bcher-kva.example",
        "local_host",
        "a-b.c",
        "a.test.",
        ".a.test",
        "a..test",
    ];
    let bad_hosts = [
        "A.test",
        "",
        "b\u{fc}cher.example",
        "user@a.test",
        "[::1",
        "[::g]",
        "a test",
        "[]",
        "127.1",
        "127.0.0.1.",
        "a.123",
        "[0:0::1]",
    ];
    let (scheme, mut valid) =
        if rng.chance(90) { (*rng.pick(&good_schemes), true) } else { (*rng.pick(&bad_schemes), false) };
    let host = if rng.chance(90) {
        *rng.pick(&good_hosts)
    } else {
        valid = false;
        *rng.pick(&bad_hosts)
    };
    let port = match rng.below(10) {
        0..=5 => String::new(),
        6 | 7 => {
            format!(":{}", 1 + rng.below(65535)).replace(":443", ":444").replace(":80", ":81").replace(":21", ":22")
        }
        _ => {
            valid = false;
            rng.pick(&[":", ":0", ":65536", ":080", ":-1", ":1a", ":99999999999999999999"]).to_string()
        }
    };
    // Default ports are refused; keep the scheme's default out of the "valid" ports above.
    let port = if !port.is_empty()
        && valid
        && matches!((scheme, port.as_str()), ("http" | "wss", ":80") | ("https", ":443"))
    {
        ":8080".to_string()
    } else {
        port
    };
    let mut text = format!("{scheme}://{host}{port}");
    match rng.below(20) {
        0 => {
            text.push('/');
            valid = false;
        }
        1 => {
            text = "null".into();
            valid = false;
        }
        2 => {
            text = rng.pick(&["*", "data:,x", "a.test", "https:/a.test", "file:///x"]).to_string();
            valid = false;
        }
        3 if valid && scheme == "https" && port.is_empty() => {
            text.push_str(":443");
            valid = false;
        }
        _ => {}
    }
    (text, valid)
}

// ---- properties --------------------------------------------------------------

fn engine() -> Engine {
    Engine::new(SiteRules, PublicHashList::default(), "i")
}

fn expect_invalid_message(e: &CosError, json: &str) {
    assert_eq!(e.code(), "invalid-message", "{}", &json[..json.len().min(200)]);
    assert_eq!(e.dom_name(), "TypeError");
}

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
const ADMIN_SCHEMA: [(&str, &[&str]); 5] = [
    ("summary", &["origin"]),
    ("delete", &["hash"]),
    ("delete-site", &["origin"]),
    ("clear", &[]),
    ("settings", &["settings"]),
];

/// A request that decoded must be exactly what the schema allows: a known
/// op, no extra field anywhere (a claimed origin cannot ride along), and a
/// hash of 64 lowercase hex digits wherever one is a plain string.
fn assert_schema(json: &str, schema: &[(&str, &[&str])]) {
    let value: serde_json::Value = serde_json::from_str(json).expect("decoded, so it is JSON");
    let object = value.as_object().unwrap_or_else(|| panic!("a non-object request decoded: {json}"));
    let op = object["op"].as_str().expect("op is a string");
    let (_, fields) =
        schema.iter().find(|(name, _)| *name == op).unwrap_or_else(|| panic!("unknown op {op:?} accepted"));
    for key in object.keys().filter(|k| *k != "op") {
        assert!(fields.contains(&key.as_str()), "field {key:?} accepted on {op}: {json}");
    }
    if let Some(hash) = object.get("hash").and_then(|h| h.as_object()) {
        let mut keys: Vec<&str> = hash.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["algorithm", "value"], "{json}");
    }
    if let Some(settings) = object.get("settings").and_then(|s| s.as_object()) {
        assert!(settings.keys().all(|k| k == "budgetBytes" || k == "strictGlobal"), "{json}");
    }
}

/// Decoding any text never panics; failures are always `invalid-message`
/// TypeErrors; and the engine answers every request with a step or a clean
/// error (never a panic), whatever the caller string.
#[test]
fn decoding_and_page_requests_never_panic() {
    let mut e = engine();
    let callers =
        ["https://a.test", "http://b.test:8080", "null", "chrome-extension://abc", "file://", "", "https://A.test"];
    let mut ok = [0usize; 2];
    run("decode", share(60), |rng, case| {
        let json = match rng.below(100) {
            0..=29 => random_json(rng, 4),
            30..=44 => random_object(rng, 3),
            45..=54 => valid_request(rng),
            55..=98 => {
                let base = valid_request(rng);
                mutate(rng, &base)
            }
            _ => huge_request(rng),
        };
        match PageRequest::decode(&json) {
            Ok(_) => {
                ok[0] += 1;
                assert_schema(&json, &PAGE_SCHEMA);
            }
            Err(err) => expect_invalid_message(&err, &json),
        }
        match AdminRequest::decode(&json) {
            Ok(_) => {
                ok[1] += 1;
                assert_schema(&json, &ADMIN_SCHEMA);
            }
            Err(err) => expect_invalid_message(&err, &json),
        }
        let caller = *rng.pick(&callers);
        let blob = if rng.chance(30) { Some(rng.below(1 << 16) as u64) } else { None };
        match e.page_request(caller, &json, blob, case as u64) {
            Ok(step) => {
                assert!(caller.starts_with("http") && caller != "https://A.test", "{caller} got a step");
                // Steps that need I/O are finished the way the worker would (never committed here:
                // no bytes were fed, so the engine must refuse).
                if let Step::OpenTemp { session } | Step::WriteData { session, .. } = &step {
                    let close = format!("{{\"op\":\"close\",\"session\":\"{session}\"}}");
                    let _ = e.page_request(caller, &close, None, case as u64);
                    e.drop_session(session);
                }
                assert!(e.index().entries().next().is_none(), "nothing was ever written, yet something is stored");
            }
            Err(err) => {
                let known = [
                    "TypeError",
                    "NotSupportedError",
                    "NotAllowedError",
                    "NotFoundError",
                    "DataError",
                    "InvalidStateError",
                    "QuotaExceededError",
                ];
                assert!(known.contains(&err.dom_name()));
                if !caller.starts_with("http") || caller == "https://A.test" {
                    assert_eq!(err.dom_name(), "NotAllowedError", "a refused caller is refused before anything else");
                }
            }
        }
        if e.open_sessions() > 100 {
            e.expire_idle(u64::MAX);
        }
    });
    eprintln!("decode: {} page and {} admin requests decoded as valid", ok[0], ok[1]);
    assert!(ok[0] > 1000 && ok[1] > 100, "the generator must also reach valid requests: {ok:?}");
}

/// Hash validation and `origins` normalisation agree with the spec's rules.
#[test]
fn validation_matches_the_rules() {
    run("validation", share(25), |rng, _| {
        // Hash: valid iff the algorithm is SHA-256 in any ASCII case and the value is 64 lowercase hex.
        let alg: String = if rng.chance(60) {
            "sha-256".chars().map(|c| if rng.chance(50) { c.to_ascii_uppercase() } else { c }).collect()
        } else {
            random_string(rng)
        };
        let value = match rng.below(4) {
            0 => hex(rng, 64),
            1 => {
                let h = hex(rng, 64);
                mutate(rng, &h)
            }
            2 => hex(rng, 64).to_uppercase(),
            _ => random_string(rng),
        };
        let expect_ok = alg.eq_ignore_ascii_case("SHA-256")
            && value.len() == 64
            && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match ContentHash::parse(&alg, &value) {
            Ok(h) => {
                assert!(expect_ok, "{alg:?} {value:?} accepted");
                assert_eq!(h.as_str(), value);
            }
            Err(e) => {
                assert!(!expect_ok, "{alg:?} {value:?} refused: {e}");
                assert!(matches!(e.dom_name(), "TypeError" | "NotSupportedError"));
                if ["SHA-1", "SHA-384", "SHA-512"].iter().any(|n| n.eq_ignore_ascii_case(&alg)) {
                    assert_eq!(e.dom_name(), "NotSupportedError");
                }
            }
        }

        // Origins.
        let arg = match rng.below(4) {
            0 => OriginsArg::One(if rng.chance(30) { "*".into() } else { gen_origin(rng).0 }),
            _ => {
                let n = if rng.chance(10) { 60 + rng.below(10) } else { rng.below(6) };
                let pool: Vec<(String, bool)> = (0..1 + rng.below(8)).map(|_| gen_origin(rng)).collect();
                OriginsArg::Many((0..n).map(|_| rng.pick(&pool).0.clone()).collect())
            }
        };
        let list: Vec<String> = match &arg {
            OriginsArg::One(s) if s == "*" => Vec::new(),
            OriginsArg::One(s) => vec![s.clone()],
            OriginsArg::Many(v) => v.clone(),
        };
        let all_valid = list.iter().all(|s| Origin::parse(s).is_ok());
        match Visibility::from_arg(Some(&arg)) {
            Ok(Visibility::Global) => assert_eq!(arg, OriginsArg::One("*".into())),
            Ok(Visibility::SameSite) => assert!(list.is_empty()),
            Ok(Visibility::Listed(v)) => {
                assert!(all_valid && list.len() <= MAX_LISTED_ORIGINS);
                let unique: BTreeSet<&str> = list.iter().map(String::as_str).collect();
                assert_eq!(v.len(), unique.len(), "de-duplicated");
                assert!(v.iter().all(|o| unique.contains(o.as_str())));
            }
            Err(e) => {
                assert_eq!(e.dom_name(), "TypeError");
                assert!(!all_valid || list.len() > MAX_LISTED_ORIGINS, "{list:?} refused: {e}");
            }
        }
        // The generator's own idea of validity matches the parser's.
        let (text, valid) = gen_origin(rng);
        let parsed = Origin::parse(&text);
        assert_eq!(parsed.is_ok(), valid, "{text:?}");
        if let Ok(o) = parsed {
            assert_eq!(Origin::parse(o.as_str()).unwrap(), o, "re-parses to itself");
        }
    });
}

/// A small world: a pool of origins and a few files, written in random
/// orders with random visibility, some with wrong bytes. Every (caller, file)
/// pair is then checked against the model of the disclosure rules, and a
/// hidden file must give exactly the error of a missing one.
#[test]
fn disclosure_matches_the_model() {
    const POOL: [&str; 10] = [
        "https://a.test",
        "https://sub.a.test",
        "http://a.test",
        "https://b.test",
        "https://x.b.test",
        "https://c.test",
        "http://c.test:8080",
        "https://d.example",
        "https://127.0.0.1",
        "http://localhost:3000",
    ];
    let site = |o: &str| -> String {
        let (scheme, rest) = o.split_once("://").unwrap();
        let host = rest.split(':').next().unwrap();
        let labels: Vec<&str> = host.split('.').collect();
        let domain = if host.parse::<std::net::Ipv4Addr>().is_ok() || labels.len() < 2 {
            host.to_string()
        } else {
            labels[labels.len() - 2..].join(".")
        };
        format!("{scheme}://{domain}")
    };
    let files: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1 + i as usize]).collect();
    let hashes: Vec<String> = files.iter().map(|f| sha(f)).collect();
    let missing = sha(b"never stored");
    let not_found = CosError::NotFound.to_wire();

    #[derive(Default, Clone)]
    struct Model {
        storers: BTreeSet<&'static str>,
        listed: BTreeSet<&'static str>,
        global: bool,
    }
    let sites = SiteRules;
    let phl = PublicHashList::default();
    let mut checks = 0usize;
    run("disclosure", share(5), |rng, case| {
        let mut e = engine();
        let strict = rng.chance(30);
        let public: BTreeSet<usize> = (0..files.len()).filter(|_| rng.chance(50)).collect();
        if strict {
            let text = format!(
                "// ===BEGIN SHA-256===\n{}\n// ===END SHA-256===\n",
                public.iter().map(|&i| hashes[i].as_str()).collect::<Vec<_>>().join("\n")
            );
            e = Engine::new(SiteRules, PublicHashList::parse(&text), "i");
            e.admin_request(r#"{"op":"settings","settings":{"strictGlobal":true}}"#).unwrap();
        }
        let mut model: BTreeMap<usize, Model> = BTreeMap::new();
        for _ in 0..rng.below(7) {
            let f = rng.below(files.len());
            let storer = *rng.pick(&POOL);
            let (origins, vis): (String, Option<Vec<&'static str>>) = match rng.below(5) {
                0 => ("null".into(), Some(vec![])),
                1 => ("\"*\"".into(), None),
                2 => ("[]".into(), Some(vec![])),
                _ => {
                    let list: Vec<&'static str> = (0..1 + rng.below(3)).map(|_| *rng.pick(&POOL)).collect();
                    (format!("[{}]", list.iter().map(|o| json_string(o)).collect::<Vec<_>>().join(",")), Some(list))
                }
            };
            let honest = rng.chance(80);
            let bytes = if honest { files[f].clone() } else { vec![9; 3] };
            let result = store(&mut e, storer, &bytes, &hashes[f], &origins, case as u64);
            if honest {
                result.unwrap_or_else(|err| panic!("honest write refused: {err}"));
                let m = model.entry(f).or_default();
                m.storers.insert(storer);
                match vis {
                    None => m.global = true,
                    Some(list) => m.listed.extend(list),
                }
            } else {
                assert_eq!(result.unwrap_err().dom_name(), "DataError", "wrong bytes must not store");
            }
        }
        for caller in POOL {
            for (f, hash) in hashes.iter().enumerate() {
                let expected = model.get(&f).is_some_and(|m| {
                    m.storers.contains(caller)
                        || m.storers.iter().any(|s| site(s) == site(caller))
                        || m.listed.contains(caller)
                        || (m.global && (!strict || public.contains(&f)))
                });
                // The rule itself, and through both page operations.
                let caller_origin = Origin::parse(caller).unwrap();
                if let Some(entry) = e.index().get(&ContentHash::from_hex(hash).unwrap()) {
                    let policy = Policy { sites: &sites, strict: None };
                    let lax = m_lax(&model[&f], caller, &site);
                    assert_eq!(entry.is_disclosed_to(&caller_origin, &policy), lax);
                    let policy = Policy { sites: &sites, strict: Some(&phl) };
                    let strict_empty = lax
                        && !(!model[&f].storers.contains(caller)
                            && !model[&f].storers.iter().any(|s| site(s) == site(caller))
                            && !model[&f].listed.contains(caller));
                    assert_eq!(entry.is_disclosed_to(&caller_origin, &policy), strict_empty);
                }
                for op in ["open", "read"] {
                    let req =
                        format!("{{\"op\":\"{op}\",\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{hash}\"}}}}");
                    match e.page_request(caller, &req, None, 1000) {
                        Ok(_) => assert!(expected, "{caller} sees file {f} via {op}"),
                        Err(err) => {
                            assert!(!expected, "{caller} cannot see file {f} via {op}: {err}");
                            assert_eq!(err.to_wire(), not_found, "hidden looks like missing");
                        }
                    }
                    checks += 1;
                }
                // A create handle never reveals anything either.
                let create = format!(
                    "{{\"op\":\"open\",\"create\":true,\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{hash}\"}}}}"
                );
                let Ok(Step::Reply { value }) = e.page_request(caller, &create, None, 1000) else {
                    panic!("create open")
                };
                assert!(value.get("size").is_none(), "create reveals no size");
            }
            let req = format!("{{\"op\":\"read\",\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{missing}\"}}}}");
            assert_eq!(e.page_request(caller, &req, None, 1000).unwrap_err().to_wire(), not_found);
        }
    });
    eprintln!("disclosure: {checks} (caller, file, operation) checks");

    fn m_lax(m: &Model, caller: &str, site: &dyn Fn(&str) -> String) -> bool {
        m.storers.contains(caller)
            || m.storers.iter().any(|s| site(s) == site(caller))
            || m.listed.contains(caller)
            || m.global
    }
}

/// Drives a whole write like the worker does; returns the commit reply.
fn store(
    e: &mut Engine,
    caller: &str,
    bytes: &[u8],
    declared: &str,
    origins: &str,
    now: u64,
) -> Result<serde_json::Value, CosError> {
    let begin = format!("{{\"op\":\"write-begin\",\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{declared}\"}},\"origins\":{origins}}}");
    let Step::OpenTemp { session } = e.page_request(caller, &begin, None, now)? else { panic!("no temp") };
    let write = format!("{{\"op\":\"write\",\"session\":\"{session}\"}}");
    e.page_request(caller, &write, Some(bytes.len() as u64), now)?;
    e.feed(caller, &session, bytes, now)?;
    finish(e, caller, &session, bytes, now)
}

/// Closes a session, doing the full-hash pass over `file` when asked.
fn finish(e: &mut Engine, caller: &str, session: &str, file: &[u8], now: u64) -> Result<serde_json::Value, CosError> {
    let close = format!("{{\"op\":\"close\",\"session\":\"{session}\"}}");
    loop {
        match e.page_request(caller, &close, None, now)? {
            Step::FullHash { size, .. } => {
                assert_eq!(size, file.len() as u64, "the engine's idea of the file size");
                for chunk in file.chunks(7) {
                    e.feed(caller, session, chunk, now)?;
                }
            }
            Step::Commit { .. } => {
                e.prepare_commit(caller, session, now)?;
                return e.commit(caller, session, now);
            }
            other => panic!("unexpected close step {other:?}"),
        }
    }
}

/// Random write/seek/truncate sequences against a model file: the store
/// commits exactly when the final bytes hash to the declared value, never
/// exceeds its budget, and a failed write leaves no trace.
#[test]
fn write_sessions_verify_exactly_the_final_bytes() {
    const A: &str = "https://a.test";
    let mut committed = 0usize;
    run("sessions", share(10), |rng, _| {
        let mut e = engine();
        let budget = if rng.chance(30) { Some(rng.below(120) as u64) } else { None };
        if let Some(b) = budget {
            e.admin_request(&format!("{{\"op\":\"settings\",\"settings\":{{\"budgetBytes\":{b}}}}}")).unwrap();
        }
        // A few files already stored (in use: written just now).
        let mut stored: Vec<(String, usize)> = Vec::new();
        for i in 0..rng.below(3) {
            let f = vec![200 + i as u8; 1 + rng.below(40)];
            if store(&mut e, A, &f, &sha(&f), "null", 0).is_ok() {
                stored.push((sha(&f), f.len()));
            }
        }
        let before: BTreeSet<String> = e.index().hashes().map(|h| h.to_string()).collect();

        // Generate the operations and the model file first.
        let mut file: Vec<u8> = Vec::new();
        let mut cursor = 0usize;
        let mut max_size = 0usize;
        let mut ops: Vec<(u8, usize, Vec<u8>)> = Vec::new();
        for _ in 0..rng.below(8) {
            match rng.below(4) {
                0 | 1 => {
                    let data: Vec<u8> = (0..rng.below(30)).map(|_| rng.next() as u8).collect();
                    let pos = if rng.chance(30) { Some(rng.below(file.len() + 10)) } else { None };
                    let at = pos.unwrap_or(cursor);
                    if file.len() < at + data.len() {
                        file.resize(at + data.len(), 0);
                    }
                    file[at..at + data.len()].copy_from_slice(&data);
                    cursor = at + data.len();
                    max_size = max_size.max(file.len());
                    ops.push((if pos.is_some() { 1 } else { 0 }, at, data));
                }
                2 => {
                    cursor = rng.below(file.len() + 5);
                    ops.push((2, cursor, Vec::new()));
                }
                _ => {
                    let size = rng.below(file.len() + 5);
                    file.resize(size, 0);
                    cursor = cursor.min(size);
                    ops.push((3, size, Vec::new()));
                }
            }
        }
        let truth = sha(&file);
        let declared = match rng.below(4) {
            0 => hex(rng, 64),
            1 if !file.is_empty() => {
                let mut near = file.clone();
                let i = rng.below(near.len());
                near[i] ^= 1;
                sha(&near)
            }
            _ => truth.clone(),
        };
        let begin =
            format!("{{\"op\":\"write-begin\",\"hash\":{{\"algorithm\":\"SHA-256\",\"value\":\"{declared}\"}}}}");
        let Ok(Step::OpenTemp { session }) = e.page_request(A, &begin, None, 1) else { panic!("begin") };
        let mut failed: Option<CosError> = None;
        for (kind, n, data) in &ops {
            let req = match kind {
                0 => format!("{{\"op\":\"write\",\"session\":\"{session}\"}}"),
                1 => format!("{{\"op\":\"write\",\"session\":\"{session}\",\"position\":{n}}}"),
                2 => format!("{{\"op\":\"seek\",\"session\":\"{session}\",\"position\":{n}}}"),
                _ => format!("{{\"op\":\"truncate\",\"session\":\"{session}\",\"size\":{n}}}"),
            };
            let blob = (*kind <= 1).then_some(data.len() as u64);
            match e.page_request(A, &req, blob, 1) {
                Ok(Step::WriteData { at, .. }) => {
                    assert_eq!(at, *n as u64);
                    if let Err(err) = e.feed(A, &session, data, 1) {
                        failed = Some(err);
                        break;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        let result = match failed {
            Some(err) => Err(err),
            None => finish(&mut e, A, &session, &file, 2),
        };
        let after: BTreeSet<String> = e.index().hashes().map(|h| h.to_string()).collect();
        let stored_sum: u64 = stored.iter().map(|s| s.1 as u64).sum();
        let fits = budget
            .is_none_or(|b| max_size as u64 <= b && (before.contains(&truth) || file.len() as u64 + stored_sum <= b));
        let expect_ok = !file.is_empty() && declared == truth && fits;
        match result {
            Ok(_) => {
                committed += 1;
                assert!(expect_ok, "stored bytes that should not be (declared matches: {})", declared == truth);
                assert!(after.contains(&truth));
                assert!(before.iter().all(|h| after.contains(h)), "files in use are never evicted");
            }
            Err(err) => {
                assert!(!expect_ok, "a correct write that fits failed: {err}");
                let name = err.dom_name();
                if !fits {
                    assert!(matches!(name, "QuotaExceededError" | "DataError"), "{err}");
                } else {
                    assert_eq!(name, "DataError", "{err}");
                }
                if declared == truth && !file.is_empty() {
                    assert_eq!(name, "QuotaExceededError", "{err}");
                }
                assert_eq!(before, after, "a failed write changed the index");
                assert!(!e.has_session(&session), "a failed session must end");
            }
        }
        if let Some(b) = budget {
            assert!(e.index().stored_bytes() <= b, "over budget");
        }
    });
    eprintln!("sessions: {committed} writes committed");
    assert!(committed > share(10) / 10, "the generator must also produce correct writes");
}

/// Regression (found by the property above, fixed in 0ae6366): unit variants
/// of an internally tagged enum ignore `deny_unknown_fields`, so
/// `{"op":"clear","origin":"https://a.test"}` (a `delete-site` with a typo'd
/// op) decoded as `Clear` and would have deleted every file.
#[test]
fn admin_ops_without_fields_refuse_extra_fields() {
    for json in [r#"{"op":"clear","origin":"https://a.test"}"#, r#"{"op":"summary","hash":"x"}"#] {
        let err = AdminRequest::decode(json).map(|r| format!("{r:?}")).expect_err(json);
        assert_eq!(err.code(), "invalid-message");
    }
}

/// Regression (found by the property above, fixed in 0ae6366): serde also
/// decodes an internally tagged enum from a JSON array, so
/// `["read", {"algorithm":"SHA-256","value":"…"}]` was accepted although
/// requests are objects with named fields.
#[test]
fn requests_must_be_json_objects() {
    let hash = r#"{"algorithm":"SHA-256","value":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;
    for json in [format!(r#"["read",{hash}]"#), r#"["seek","s",1]"#.to_owned(), r#"["clear"]"#.to_owned()] {
        assert!(PageRequest::decode(&json).is_err() && AdminRequest::decode(&json).is_err(), "{json} decoded");
    }
}
