//! Validation of hashes and `origins` lists, alone and through the engine.

use crate::generate::{gen_origin, hex, mutate_str, random_string};
use crate::harness::{run, share};
use cos_core::hash::ContentHash;
use cos_core::memory_host::MemoryHost;
use cos_core::origin::Origin;
use cos_core::visibility::{OriginsArg, Visibility, MAX_LISTED_ORIGINS};
use serde_json::json;
use std::collections::BTreeSet;

/// Hash validation and `origins` normalisation agree with the spec's rules,
/// and a create handle (which touches no stored state) reports exactly
/// those errors, hash first.
#[test]
fn validation_matches_the_rules() {
    let mut host = MemoryHost::new();
    let cases = share(620);
    run("validation", cases, |rng, _| {
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
                mutate_str(rng, &h)
            }
            2 => hex(rng, 64).to_uppercase(),
            _ => random_string(rng),
        };
        let expect_ok = alg.eq_ignore_ascii_case("SHA-256")
            && value.len() == 64
            && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let hash = ContentHash::parse(&alg, &value);
        match &hash {
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
        let visibility = Visibility::from_arg(Some(&arg));
        match &visibility {
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

        // Through the engine: the same verdicts, the hash checked first.
        let origins = match &arg {
            OriginsArg::One(s) => json!(s),
            OriginsArg::Many(v) => json!(v),
        };
        let request =
            json!({"op": "open", "create": true, "hash": {"algorithm": alg, "value": value}, "origins": origins});
        let reply = host.page("https://a.test", request, None).json();
        match hash.and(visibility) {
            Ok(_) => assert_eq!(reply["value"], json!({"hash": value}), "a create handle discloses nothing"),
            Err(e) => assert_eq!(reply["error"], serde_json::to_value(e.to_wire()).unwrap()),
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

/// Hosts Chromium's URL parser leaves in an origin as they are: the URL
/// Standard forbids none of these code points in a domain, and Chromium's
/// host table (`url/url_canon_host.cc`, `kHostCharLookup`) passes them
/// through unchanged, except `*`, which it escapes as `%2A` (crbug.com/1416013).
/// A page served from such a host is refused as a caller, and no page can list it.
#[test]
fn hosts_with_punctuation_chromium_keeps_are_canonical() {
    for host in ["a~b.test", "a!b.test", "a$b.test", "a&b.test", "a'b.test", "a(b).test", "a+b.test", "a,b.test"] {
        assert!(Origin::parse(&format!("https://{host}")).is_ok(), "{host}");
    }
    // Not `*`: Chromium keeps it escaped as `%2A`, which is still refused (fails closed).
    for host in ["a;b.test", "a=b.test", "a`b.test", "a{b}.test", "a\"b.test"] {
        assert!(Origin::parse(&format!("https://{host}")).is_ok(), "{host}");
    }
}
