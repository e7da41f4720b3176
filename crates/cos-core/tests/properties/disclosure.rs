//! Disclosure: who may see a stored file, and when a lookup that would
//! disclose it is refused anyway, against a small model of every gate.

use crate::checks::{document, page_as, store_from};
use crate::harness::{run, share, Rng};
use cos_core::memory_host::{hash_arg, sha256_hex as sha, test_sites, Finished, MemoryHost};
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

/// Distinct hashes a site may look up between two of its user gestures (the
/// explainer suggests 8–16; the engine's default is 16).
const PROBES_PER_WINDOW: usize = 16;
/// GREASE never refuses a file larger than this: that would cost a real download.
const GREASE_MAX_BYTES: usize = 500 * 1024;
/// What GREASE may refuse at most, across the run, of the lookups it may refuse (the engine aims at 1%).
const GREASE_MAX_PERCENT: usize = 5;

/// Files 0–3 are small; 4 is as large as GREASE may refuse, 5 a byte larger.
fn disclosure_files() -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1 + i as usize]).collect();
    files.push(vec![4; GREASE_MAX_BYTES]);
    files.push(vec![5; GREASE_MAX_BYTES + 1]);
    files
}

/// Hashes of files (by index) on the bundled Public Hash List.
const BUNDLED: [usize; 4] = [0, 2, 4, 5];
/// Hashes nobody stores, which sites probe besides the files' (more than a window holds).
const PROBE_ONLY: usize = 12;

fn public_list() -> PublicHashList {
    let files = disclosure_files();
    let hashes: Vec<String> = BUNDLED.iter().map(|&f| sha(&files[f])).collect();
    PublicHashList::parse(&format!("// ===BEGIN SHA-256===\n{}\n// ===END SHA-256===\n", hashes.join("\n"))).unwrap()
}

/// The schemeful site under `test_sites()` (`test` and `com` are public
/// suffixes; an unlisted TLD is one too, as in the PSL's default rule).
pub(crate) fn model_site(origin: &str) -> String {
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

/// A stored file's grants.
#[derive(Default)]
struct Shared {
    storers: BTreeSet<&'static str>,
    listed: BTreeSet<&'static str>,
    global: bool,
    /// Origins that read it (for `delete-site`).
    users: BTreeSet<&'static str>,
}

enum Grant {
    /// The caller stored it, is same-site with a storer, or was listed.
    Own,
    Global,
}

impl Shared {
    fn grant(&self, caller: &str) -> Option<Grant> {
        let own = self.storers.contains(caller)
            || self.storers.iter().any(|s| model_site(s) == model_site(caller))
            || self.listed.contains(caller);
        match (own, self.global) {
            (true, _) => Some(Grant::Own),
            (false, true) => Some(Grant::Global),
            (false, false) => None,
        }
    }

    fn used_only_by_site_of(&self, origin: &str) -> bool {
        self.storers.iter().chain(&self.users).all(|o| model_site(o) == model_site(origin))
    }
}

/// One site's lookups since its last user gesture.
#[derive(Default)]
struct Window {
    charged: BTreeSet<usize>,
    /// The GREASE draw made for a hash in this window: refused or not.
    greased: BTreeMap<usize, bool>,
}

/// What a lookup must answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Found,
    /// Missing, hidden from the caller, or global but not on the Public Hash List.
    NotFound,
    /// The caller's or the top-level site's window has no room for another hash.
    OverBudget,
    /// Disclosed only through the global grant, and small: GREASE may refuse
    /// it. The draw made in this window (refused or not), if one was.
    Grease(Option<bool>),
}

#[derive(Default)]
struct Model {
    files: BTreeMap<usize, Shared>,
    /// Hashes the user added on the settings page.
    manual: BTreeSet<usize>,
    windows: BTreeMap<String, Window>,
}

impl Model {
    fn public(&self, h: usize) -> bool {
        BUNDLED.contains(&h) || self.manual.contains(&h)
    }

    /// The gates in order: the probe budget (charged to the caller's and the
    /// top-level site, unless the caller stored the file), the grants, the
    /// Public Hash List for the global grant, then GREASE for small files.
    fn lookup(&mut self, caller: &str, top: &str, h: usize, sizes: &[usize]) -> Expect {
        let grant = self.files.get(&h).and_then(|f| f.grant(caller));
        let storer = self.files.get(&h).is_some_and(|f| f.storers.contains(caller));
        if !storer {
            let sites = BTreeSet::from([model_site(caller), model_site(top)]);
            let room =
                |w: Option<&Window>| w.is_none_or(|w| w.charged.contains(&h) || w.charged.len() < PROBES_PER_WINDOW);
            if !sites.iter().all(|s| room(self.windows.get(s))) {
                return Expect::OverBudget;
            }
            for site in sites {
                self.windows.entry(site).or_default().charged.insert(h);
            }
        }
        match grant {
            None => Expect::NotFound,
            Some(Grant::Own) => Expect::Found,
            Some(Grant::Global) if !self.public(h) => Expect::NotFound,
            Some(Grant::Global) if sizes[h] > GREASE_MAX_BYTES => Expect::Found,
            Some(Grant::Global) => Expect::Grease(self.windows[&model_site(caller)].greased.get(&h).copied()),
        }
    }
}

/// A `Cross-Origin-Storage-Allow-Origin` header (or none) and the origins
/// it authorizes: all its tokens if each is an origin, else none (`*`, an
/// empty token or anything else voids it). Mostly names some of `asked`.
fn gen_header(rng: &mut Rng, asked: &[&'static str]) -> (Option<String>, BTreeSet<&'static str>) {
    let mut tokens: Vec<&'static str> = (0..1 + rng.below(3))
        .map(|_| if !asked.is_empty() && rng.chance(60) { *rng.pick(asked) } else { *rng.pick(&POOL) })
        .collect();
    let mut authorized: BTreeSet<&'static str> = BTreeSet::new();
    match rng.below(6) {
        0 | 1 => return (None, authorized),
        2 => tokens = vec!["*"],
        3 => {
            let bad =
                *rng.pick(&["*", "", "null", "https://b.test/", "HTTPS://b.test", "b.test", "https://b.test:443"]);
            tokens.insert(rng.below(tokens.len() + 1), bad);
        }
        _ => authorized = tokens.iter().copied().collect(),
    }
    let separator = *rng.pick(&[",", ", ", " ,  ", ",\t"]);
    (Some(tokens.join(separator)), authorized)
}

/// `origins` as a store request sends it, and the list it asks for (`None`: `"*"`).
fn gen_origins(rng: &mut Rng) -> (Value, Option<Vec<&'static str>>) {
    match rng.below(5) {
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
    }
}

/// Origins a close warning names as not authorized (`[]` without a warning).
fn warned_about(close: &Finished) -> BTreeSet<String> {
    let warnings = close.json()["value"]["warnings"].as_array().cloned().unwrap_or_default();
    assert!(warnings.len() <= 1, "one warning at most: {warnings:?}");
    let Some(text) = warnings.first().and_then(Value::as_str) else { return BTreeSet::new() };
    let (_, named) = text.rsplit_once(": ").unwrap_or_else(|| panic!("a warning names the origins: {text}"));
    named.split(", ").map(str::to_owned).collect()
}

#[derive(Default, Debug)]
struct Counts {
    lookups: usize,
    budget_refusals: usize,
    grease_eligible: usize,
    greased: usize,
    warnings: usize,
}

/// A small world: a pool of origins, top-level or framed in each other's
/// pages, storing a few files (some with wrong bytes, with and without an
/// Allow-Origin header), looking them up and probing hashes nobody stored,
/// the user deleting files, editing the Public Hash List's manual entries
/// and activating pages, in random orders through the memory host. Every
/// lookup agrees with the model as it goes (a refusal of any kind gives
/// exactly the error of a missing file); at the end every (caller, file)
/// pair is checked. GREASE may refuse a lookup the model lets it refuse,
/// then must answer the same until the caller's site is activated, and
/// refuses few of them across the run.
#[test]
fn disclosure_matches_the_model() {
    let files = disclosure_files();
    let sizes: Vec<usize> = files.iter().map(Vec::len).chain([0; PROBE_ONLY]).collect();
    let hashes: Vec<String> =
        files.iter().map(|f| sha(f)).chain((0..PROBE_ONLY).map(|i| sha(format!("probe {i}").as_bytes()))).collect();
    let not_found =
        MemoryHost::new().page(POOL[0], json!({"op": "open", "hash": hash_arg(&sha(b"never stored"))}), None).json();
    let mut counts = Counts::default();
    let cases = share(7);
    run("disclosure", cases, |rng, _| {
        let mut host = MemoryHost::with(test_sites, public_list).reseeded(rng.entropy());
        let mut model = Model::default();
        // One lookup (`open`, or `read` which serves the bytes), checked against the model.
        let mut lookup =
            |host: &mut MemoryHost, model: &mut Model, (caller, top): (&'static str, &'static str), h, read| {
                let expect = model.lookup(caller, top, h, &sizes);
                let op = if read { "read" } else { "open" };
                let who = document(caller, (top != caller).then_some(top), None);
                let reply = page_as(host, &who, json!({"op": op, "hash": hash_arg(&hashes[h])}), None);
                let found = reply.ok();
                let seen = format!("{caller} in {top}, {op} of hash {h}: {}", reply.json());
                match expect {
                    Expect::Found => assert!(found, "must disclose: {seen}"),
                    Expect::NotFound | Expect::OverBudget => assert!(!found, "must not disclose: {seen}"),
                    Expect::Grease(Some(refused)) => {
                        assert_eq!(found, !refused, "the window's GREASE draw holds: {seen}");
                    }
                    Expect::Grease(None) => {
                        model.windows.get_mut(&model_site(caller)).unwrap().greased.insert(h, !found);
                    }
                }
                if let Expect::Grease(_) = expect {
                    counts.grease_eligible += 1;
                    counts.greased += usize::from(!found);
                }
                counts.budget_refusals += usize::from(expect == Expect::OverBudget);
                if found {
                    assert_eq!(reply.json()["value"], json!({"hash": hashes[h], "size": sizes[h]}), "{seen}");
                    if read {
                        assert!(reply.file.as_deref() == Some(&files[h][..]), "{seen}: the file's bytes");
                        model.files.get_mut(&h).unwrap().users.insert(caller);
                    }
                } else {
                    assert_eq!(reply.json(), not_found, "a refusal looks exactly like a miss: {seen}");
                    assert!(reply.file.is_none());
                }
                counts.lookups += 1;
            };
        let anyone = |rng: &mut Rng| {
            let caller = *rng.pick(&POOL);
            (caller, if rng.chance(70) { caller } else { *rng.pick(&POOL) })
        };
        for _ in 0..rng.below(30) {
            match rng.below(20) {
                0..=5 => {
                    let f = rng.below(files.len());
                    let (storer, top) = anyone(rng);
                    let (origins, asked) = gen_origins(rng);
                    let (header, authorized) = gen_header(rng, asked.as_deref().unwrap_or_default());
                    let honest = rng.chance(80);
                    let bytes = if honest { files[f].clone() } else { vec![9; 3] };
                    let who = document(storer, (top != storer).then_some(top), header.as_deref());
                    let close = store_from(&mut host, &who, (&bytes, &hashes[f]), origins, rng.chance(30));
                    if !honest {
                        assert_eq!(close.error_name().as_deref(), Some("DataError"), "wrong bytes must not store");
                        continue;
                    }
                    assert!(close.ok(), "honest write refused: {}", close.json());
                    let shared = model.files.entry(f).or_default();
                    shared.storers.insert(storer);
                    let Some(asked) = asked else {
                        shared.global = true;
                        assert_eq!(warned_about(&close), BTreeSet::new(), "'*' needs no header");
                        continue;
                    };
                    // The header is a ceiling: only origins it names are listed; the others are warned about.
                    let (kept, dropped): (BTreeSet<&str>, BTreeSet<&str>) =
                        asked.iter().partition(|o| authorized.contains(*o));
                    shared.listed.extend(kept);
                    let dropped: BTreeSet<String> = dropped.into_iter().map(str::to_owned).collect();
                    assert_eq!(warned_about(&close), dropped, "{header:?} for {asked:?}");
                    counts.warnings += usize::from(!dropped.is_empty());
                }
                6..=10 => lookup(&mut host, &mut model, anyone(rng), rng.below(hashes.len()), rng.chance(50)),
                11 | 12 => {
                    // A burst of distinct lookups, as a tracker probing for files would make.
                    let who = anyone(rng);
                    let mut order: Vec<usize> = (0..hashes.len()).collect();
                    for i in (1..order.len()).rev() {
                        order.swap(i, rng.below(i + 1));
                    }
                    for &h in &order[..4 + rng.below(hashes.len() - 4)] {
                        lookup(&mut host, &mut model, who, h, false);
                    }
                }
                13 => {
                    // A create handle never reveals anything, and costs no probe.
                    let (caller, top) = anyone(rng);
                    let h = rng.below(hashes.len());
                    let who = document(caller, (top != caller).then_some(top), None);
                    let create = page_as(
                        &mut host,
                        &who,
                        json!({"op": "open", "create": true, "hash": hash_arg(&hashes[h])}),
                        None,
                    );
                    assert_eq!(create.json()["value"], json!({"hash": hashes[h]}));
                }
                14 | 15 => {
                    let origin = *rng.pick(&POOL);
                    host.activate(origin);
                    model.windows.remove(&model_site(origin));
                }
                16 => {
                    let f = rng.below(files.len());
                    let add = rng.chance(50);
                    let op = if add { "add-public-hashes" } else { "remove-public-hashes" };
                    assert!(host.admin(json!({"op": op, "hashes": [hashes[f]]})).ok());
                    match add {
                        true => model.manual.insert(f),
                        false => model.manual.remove(&f),
                    };
                }
                _ => {
                    let (request, gone): (Value, Vec<usize>) = if rng.chance(50) {
                        let f = rng.below(files.len());
                        (
                            json!({"op": "delete", "hash": hashes[f]}),
                            model.files.contains_key(&f).then_some(f).into_iter().collect(),
                        )
                    } else {
                        let origin = *rng.pick(&POOL);
                        let gone = model
                            .files
                            .iter()
                            .filter(|(_, m)| m.used_only_by_site_of(origin))
                            .map(|(f, _)| *f)
                            .collect();
                        (json!({"op": "delete-site", "origin": origin}), gone)
                    };
                    let reply = host.admin(request.clone());
                    assert_eq!(reply.json()["value"]["deleted"], gone.len(), "{request}");
                    for f in gone {
                        model.files.remove(&f);
                    }
                }
            }
        }
        if rng.chance(50) {
            for origin in POOL {
                host.activate(origin);
                model.windows.remove(&model_site(origin));
            }
        }
        for caller in POOL {
            let top = if rng.chance(70) { caller } else { *rng.pick(&POOL) };
            for f in 0..files.len() {
                lookup(&mut host, &mut model, (caller, top), f, false);
                lookup(&mut host, &mut model, (caller, top), f, true);
            }
        }
        assert_eq!(host.blobs.len(), model.files.len());
    });
    eprintln!("disclosure: {counts:?}");
    if cases >= 500 {
        assert!(counts.budget_refusals > cases / 10, "the generator must exhaust probe budgets");
        assert!(counts.warnings > cases / 10, "the generator must reach the Allow-Origin ceiling");
        assert!(counts.greased > 0, "the generator must reach GREASE: {counts:?}");
    }
    assert!(
        counts.greased * 100 <= counts.grease_eligible * GREASE_MAX_PERCENT,
        "GREASE refused {} of {} lookups it could refuse",
        counts.greased,
        counts.grease_eligible
    );
}
