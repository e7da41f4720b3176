//! Random and mutated request values, and origins with known validity.

use crate::harness::Rng;
use serde_json::{json, Map, Value};

const OPS: [&str; 18] = [
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
    "add-public-hashes",
    "remove-public-hashes",
    "OPEN",
    "list",
    "",
];
const KEYS: [&str; 21] = [
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
    // A setting that no longer exists: refused like any unknown field.
    "strictGlobal",
    "hashes",
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

pub(crate) fn random_string(rng: &mut Rng) -> String {
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

pub(crate) fn hex(rng: &mut Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| HEX[rng.below(16)] as char).collect()
}

/// Numbers as the host hands them over (whole numbers up to 2^53 as
/// integers, the rest as floats), plus integers no JS number converts to.
fn random_number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(0),
        1 => json!(-(rng.below(1000) as i64)),
        2 => json!(rng.below(1000) as f64 + 0.5),
        3 => json!(1e300),
        4 => json!(u64::MAX),
        5 => json!(i64::MIN),
        6 => json!((1u64 << 53) + rng.below(3) as u64),
        _ => json!(rng.below(100_000)),
    }
}

/// Any JSON value, of bounded depth.
pub(crate) fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => random_number(rng),
        3 | 4 => Value::String(random_string(rng)),
        5 => Value::Array((0..rng.below(5)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => random_object(rng, depth - 1),
    }
}

pub(crate) fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut fields = Map::new();
    if rng.chance(80) {
        fields.insert("op".into(), json!(rng.pick(&OPS)));
    }
    for _ in 0..rng.below(5) {
        let key = if rng.chance(85) { rng.pick(&KEYS).to_string() } else { random_string(rng) };
        fields.insert(key, random_value(rng, depth));
    }
    Value::Object(fields)
}

fn hash_value(rng: &mut Rng) -> Value {
    let value = if rng.chance(70) { hex(rng, 64) } else { random_string(rng) };
    let algorithm = if rng.chance(70) { "SHA-256".to_string() } else { random_string(rng) };
    json!({"algorithm": algorithm, "value": value})
}

pub(crate) fn origins_value(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!("*"),
        1 => json!(gen_origin(rng).0),
        2 => Value::Null,
        _ => Value::Array((0..rng.below(70)).map(|_| json!(gen_origin(rng).0)).collect()),
    }
}

/// A session id: one this store handed out in the case, or a made-up one.
fn session_value(rng: &mut Rng, live: &[String]) -> Value {
    match live.is_empty() || rng.chance(30) {
        false => json!(rng.pick(live)),
        true if rng.chance(50) => json!(hex(rng, 32)),
        true => json!(random_string(rng)),
    }
}

/// A schema-valid request of every page and admin operation.
pub(crate) fn valid_request(rng: &mut Rng, live: &[String]) -> Value {
    let session = session_value(rng, live);
    let n = rng.below(1 << 10);
    let hashes: Vec<String> = (0..rng.below(4)).map(|_| hex(rng, 64)).collect();
    match rng.below(15) {
        0 => json!({"op": "open", "hash": hash_value(rng), "create": rng.chance(50), "origins": origins_value(rng)}),
        1 => json!({"op": "open", "hash": hash_value(rng)}),
        2 => json!({"op": "read", "hash": hash_value(rng)}),
        3 => json!({"op": "write-begin", "hash": hash_value(rng), "origins": origins_value(rng)}),
        4 if rng.chance(50) => json!({"op": "write", "session": session}),
        4 => json!({"op": "write", "session": session, "position": n}),
        5 => json!({"op": "seek", "session": session, "position": n}),
        6 => json!({"op": "truncate", "session": session, "size": n}),
        7 => json!({"op": "close", "session": session}),
        8 => json!({"op": "abort", "session": session}),
        9 => json!({"op": "summary"}),
        10 => json!({"op": "delete", "hash": hex(rng, 64)}),
        11 => json!({"op": "delete-site", "origin": gen_origin(rng).0}),
        12 => json!({"op": "settings", "settings": {"budgetBytes": n}}),
        13 => json!({"op": "add-public-hashes", "hashes": hashes}),
        _ => json!({"op": "remove-public-hashes", "hashes": hashes}),
    }
}

/// Byte-level mutations of a string (kept valid UTF-8, as JS strings arrive).
pub(crate) fn mutate_str(rng: &mut Rng, s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            1 => bytes.insert(at, *rng.pick(b"0aAfFgG-:/. \x00")),
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
            _ => {
                let junk = random_string(rng);
                bytes.splice(at..at, junk.into_bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Structural mutations of a request: a field replaced, dropped, added or
/// retyped, a value wrapped, the whole request turned into an array.
pub(crate) fn mutate_value(rng: &mut Rng, value: &Value) -> Value {
    let mut value = value.clone();
    for _ in 0..1 + rng.below(3) {
        mutate_node(rng, &mut value);
    }
    value
}

fn mutate_node(rng: &mut Rng, node: &mut Value) {
    if rng.chance(60) {
        let child = match node {
            Value::Object(map) if !map.is_empty() => {
                let i = rng.below(map.len());
                map.values_mut().nth(i)
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                items.get_mut(i)
            }
            _ => None,
        };
        if let Some(child) = child {
            return mutate_node(rng, child);
        }
    }
    match (rng.below(7), &mut *node) {
        (0, _) => *node = random_value(rng, 2),
        (1, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            map.remove(&key);
        }
        (2, Value::Object(map)) => {
            map.insert(rng.pick(&KEYS).to_string(), random_value(rng, 1));
        }
        (3, Value::String(s)) => *s = mutate_str(rng, s),
        (3, other) => *other = Value::String(other.to_string()),
        (4, Value::String(s)) => {
            *node = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number);
        }
        (4, Value::Number(n)) => *node = json!(n.as_f64().unwrap_or(0.0) * -1.5),
        (5, Value::Object(map)) => {
            // The shape serde also accepts for tagged enums: `["read", {...}]`.
            let op = map.remove("op").unwrap_or(Value::Null);
            *node = json!([op, Value::Object(std::mem::take(map))]);
        }
        _ => *node = json!([node.take()]),
    }
}

/// Rare, expensive shapes: huge strings, long lists, nesting beyond what any
/// request needs (the host refuses deeper values before the engine sees them).
pub(crate) fn huge_request(rng: &mut Rng) -> Value {
    let nest = |rng: &mut Rng, leaf: Value| (0..5 + rng.below(60)).fold(leaf, |v, _| json!({"op": "read", "hash": v}));
    match rng.below(5) {
        0 => json!({"op": "read", "hash": {"algorithm": "SHA-256", "value": "a".repeat(64 * 1024 + rng.below(128))}}),
        1 => nest(rng, json!([[[]]])),
        2 => json!({"op": "open", "hash": hash_value(rng), "origins": vec!["https://a.test"; 2000 + rng.below(2000)]}),
        3 => json!({"op": "write", "session": "s".repeat(rng.below(70_000))}),
        _ => (0..5 + rng.below(60)).fold(json!(null), |v, _| json!([v])),
    }
}

/// Hosts as the URL parser leaves them in an origin (URL Standard, host
/// parsing, which Chromium follows here): lowercase ASCII domains, empty
/// labels included (`.a.test`, `a..test`, a trailing dot); a last label
/// that is not a number (`0xg`, `1a`, or empty) keeps a host a domain.
const CANONICAL_HOSTS: [&str; 16] = [
    "a.test",
    "sub.a.test",
    "b.test",
    "xn--bcher-kva.example",
    "local_host",
    "a-b.c",
    ".a.test",
    "a..test",
    "a.test.",
    "a.0xg",
    "a.1a",
    "a.1..",
    "127.0.0.1",
    "0.0.0.0",
    "[::1]",
    "[2001:db8::1:0:0:1]",
];

/// Spellings the URL parser never leaves in an origin: it rewrites them
/// (case, IDN, percent-escapes, every non-dotted-decimal IPv4 form, a
/// trailing dot after an IPv4 address, uncompressed, uppercase or dotted
/// IPv6) or refuses them (a last label that is a number in a host that is
/// not an IPv4 address, out-of-range parts, forbidden code points).
const NON_CANONICAL_HOSTS: [&str; 26] = [
    "A.test",
    "b\u{fc}cher.example",
    "a%41.test",
    "127.1",
    "2130706433",
    "0x7f.0.0.1",
    "010.0.0.1",
    "00.0.0.0",
    "127.0.0.1.",
    "a.123",
    "a.0x",
    "a.0x1f",
    "1.2.3.4.5",
    "256.0.0.1",
    "[0:0::1]",
    "[::FFFF:102:304]",
    "[::ffff:1.2.3.4]",
    "[1:0:0:0:0:0:0:2]",
    "[::1%eth0]",
    "",
    "user@a.test",
    "[::1",
    "[::g]",
    "a test",
    "[]",
    "a/b",
];

/// Builds an origin from parts, each valid or not; returns `(text, valid)`.
pub(crate) fn gen_origin(rng: &mut Rng) -> (String, bool) {
    let good_schemes = ["https", "http", "wss", "chrome-extension", "x+y.z-1"];
    let bad_schemes = ["HTTPS", "", "1http", "ht tp", "h\u{e9}"];
    let (scheme, mut valid) =
        if rng.chance(90) { (*rng.pick(&good_schemes), true) } else { (*rng.pick(&bad_schemes), false) };
    let host = if rng.chance(85) {
        *rng.pick(&CANONICAL_HOSTS)
    } else {
        valid = false;
        *rng.pick(&NON_CANONICAL_HOSTS)
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

/// Any `Cross-Origin-Storage-Allow-Origin` header text: a list of origins
/// valid or not, `*`, or anything.
pub(crate) fn random_header(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => random_string(rng),
        1 => "*".into(),
        _ => {
            let separator = *rng.pick(&[",", ", ", " , ", ",\t"]);
            (0..rng.below(4)).map(|_| gen_origin(rng).0).collect::<Vec<_>>().join(separator)
        }
    }
}
