//! Disclosure: who may see a stored file, against a small model.

use crate::harness::{run, share};
use cos_core::memory_host::{hash_arg, sha256_hex as sha, test_sites, MemoryHost};
use cos_core::public_hash_list::PublicHashList;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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

fn disclosure_files() -> Vec<Vec<u8>> {
    (0..4u8).map(|i| vec![i; 1 + i as usize]).collect()
}

/// Files 0 and 2 are on the Public Hash List.
fn public_list() -> PublicHashList {
    let hashes: Vec<String> = disclosure_files().iter().step_by(2).map(|f| sha(f)).collect();
    PublicHashList::parse(&format!("// ===BEGIN SHA-256===\n{}\n// ===END SHA-256===\n", hashes.join("\n"))).unwrap()
}

/// The schemeful site under `test_sites()` (`test` and `com` are public
/// suffixes; an unlisted TLD is one too, as in the PSL's default rule).
fn model_site(origin: &str) -> String {
    let (scheme, rest) = origin.split_once("://").unwrap();
    let host = rest.split(':').next().unwrap();
    let labels: Vec<&str> = host.split('.').collect();
    let domain = if host.parse::<std::net::Ipv4Addr>().is_ok() || labels.len() < 2 {
        host.to_string()
    } else {
        labels[labels.len() - 2..].join(".")
    };
    format!("{scheme}://{domain}")
}

#[derive(Default)]
struct Shared {
    storers: BTreeSet<&'static str>,
    listed: BTreeSet<&'static str>,
    global: bool,
    /// Origins that read it (for `delete-site`).
    users: BTreeSet<&'static str>,
}

impl Shared {
    fn disclosed_to(&self, caller: &str, strict_public: Option<bool>) -> bool {
        self.storers.contains(caller)
            || self.storers.iter().any(|s| model_site(s) == model_site(caller))
            || self.listed.contains(caller)
            || (self.global && strict_public.unwrap_or(true))
    }

    fn used_only_by_site_of(&self, origin: &str) -> bool {
        self.storers.iter().chain(&self.users).all(|o| model_site(o) == model_site(origin))
    }
}

/// A small world: a pool of origins and a few files, written (some with
/// wrong bytes), read, deleted and made strict in random orders through the
/// memory host. Every read agrees with the model of the disclosure rules as
/// it goes; at the end every (caller, file) pair is checked, and a hidden
/// file gives exactly the error of a missing one.
#[test]
fn disclosure_matches_the_model() {
    let files = disclosure_files();
    let hashes: Vec<String> = files.iter().map(|f| sha(f)).collect();
    let missing = sha(b"never stored");
    let mut checks = 0usize;
    let cases = share(7);
    run("disclosure", cases, |rng, _| {
        let mut host = MemoryHost::with(test_sites, public_list);
        let mut strict = false;
        let mut model: BTreeMap<usize, Shared> = BTreeMap::new();
        let not_found = host.page("https://a.test", json!({"op": "open", "hash": hash_arg(&missing)}), None).json();
        let visible = |model: &BTreeMap<usize, Shared>, strict: bool, caller: &str, f: usize| {
            model.get(&f).is_some_and(|m| m.disclosed_to(caller, strict.then_some(f % 2 == 0)))
        };
        let mut read = |host: &mut MemoryHost,
                        model: &mut BTreeMap<usize, Shared>,
                        strict: bool,
                        caller: &'static str,
                        f: usize| {
            let expected = visible(model, strict, caller, f);
            let reply = host.page(caller, json!({"op": "read", "hash": hash_arg(&hashes[f])}), None);
            match expected {
                true => {
                    assert_eq!(reply.file.as_deref(), Some(&files[f][..]), "{caller} reads file {f}");
                    assert_eq!(reply.json()["value"], json!({"hash": hashes[f], "size": files[f].len()}));
                    model.get_mut(&f).unwrap().users.insert(caller);
                }
                false => {
                    assert_eq!(reply.json(), not_found, "{caller} must not see file {f}, and hidden looks missing");
                }
            }
            checks += 1;
        };
        for _ in 0..rng.below(12) {
            match rng.below(10) {
                0..=4 => {
                    let f = rng.below(files.len());
                    let storer = *rng.pick(&POOL);
                    let (origins, listed): (Value, Option<Vec<&'static str>>) = match rng.below(5) {
                        0 => (Value::Null, Some(vec![])),
                        1 => (json!("*"), None),
                        2 => (json!([]), Some(vec![])),
                        3 => {
                            let one = *rng.pick(&POOL);
                            (json!(one), Some(vec![one]))
                        }
                        _ => {
                            let list: Vec<&'static str> = (0..1 + rng.below(3)).map(|_| *rng.pick(&POOL)).collect();
                            (json!(list), Some(list))
                        }
                    };
                    let honest = rng.chance(80);
                    let bytes = if honest { files[f].clone() } else { vec![9; 3] };
                    let reply = host.store_as(storer, &bytes, &hashes[f], origins, rng.chance(30));
                    if honest {
                        assert!(reply.ok(), "honest write refused: {}", reply.json());
                        let m = model.entry(f).or_default();
                        m.storers.insert(storer);
                        match listed {
                            None => m.global = true,
                            Some(list) => m.listed.extend(list),
                        }
                    } else {
                        assert_eq!(reply.error_name().as_deref(), Some("DataError"), "wrong bytes must not store");
                    }
                }
                5..=7 => read(&mut host, &mut model, strict, POOL[rng.below(POOL.len())], rng.below(files.len())),
                8 => {
                    let (request, gone): (Value, Vec<usize>) = if rng.chance(50) {
                        let f = rng.below(files.len());
                        (
                            json!({"op": "delete", "hash": hashes[f]}),
                            model.contains_key(&f).then_some(f).into_iter().collect(),
                        )
                    } else {
                        let origin = *rng.pick(&POOL);
                        let gone =
                            model.iter().filter(|(_, m)| m.used_only_by_site_of(origin)).map(|(f, _)| *f).collect();
                        (json!({"op": "delete-site", "origin": origin}), gone)
                    };
                    let reply = host.admin(request.clone());
                    assert_eq!(reply.json()["value"]["deleted"], gone.len(), "{request}");
                    for f in gone {
                        model.remove(&f);
                    }
                }
                _ => {
                    strict = !strict;
                    assert!(host.admin(json!({"op": "settings", "settings": {"strictGlobal": strict}})).ok());
                }
            }
        }
        for caller in POOL {
            for f in 0..files.len() {
                let expected = visible(&model, strict, caller, f);
                let open = host.page(caller, json!({"op": "open", "hash": hash_arg(&hashes[f])}), None).json();
                match expected {
                    true => assert_eq!(
                        open["value"],
                        json!({"hash": hashes[f], "size": files[f].len()}),
                        "{caller} opens file {f}"
                    ),
                    false => assert_eq!(open, not_found, "{caller} must not open file {f}"),
                }
                read(&mut host, &mut model, strict, caller, f);
                // A create handle never reveals anything.
                let create =
                    host.page(caller, json!({"op": "open", "create": true, "hash": hash_arg(&hashes[f])}), None);
                assert_eq!(create.json()["value"], json!({"hash": hashes[f]}));
            }
        }
        assert_eq!(host.blobs.len(), model.len());
    });
    eprintln!("disclosure: {checks} (caller, file) reads checked");
}
