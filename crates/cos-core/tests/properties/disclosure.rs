//! Disclosure: who may see a stored file, and when a lookup that would
//! disclose it is refused anyway, against a small model of every gate.

use crate::checks::{document, page_as, store_from};
use crate::harness::{run, share, Rng};
use cos_core::engine::step::Caller;
use cos_core::memory_host::{hash_arg, sha256_hex as sha, test_sites, Finished, MemoryHost};
use cos_core::public_hash_list::PublicHashList;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

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
pub(crate) const GREASE_MAX_BYTES: usize = 500 * 1024;
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
const PROBE_ONLY: usize = 20;

/// The bundled list, as every (re)started engine loads it; its text is made once.
fn public_list() -> PublicHashList {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| {
        let files = disclosure_files();
        let hashes: Vec<String> = BUNDLED.iter().map(|&f| sha(&files[f])).collect();
        format!("// ===BEGIN SHA-256===\n{}\n// ===END SHA-256===\n", hashes.join("\n"))
    });
    PublicHashList::parse(text).unwrap()
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
    /// Lookups GREASE may refuse, and those it refused.
    grease_eligible: usize,
    greased: usize,
    /// By hash: the first of those for a (caller site, hash) in a window, and those refused.
    grease_draws: BTreeMap<usize, (usize, usize)>,
    warnings: usize,
}

/// What every case shares: the files, every hash a site may look up (the
/// files' and `PROBE_ONLY` more), and the reply for a missing file.
struct Fixture {
    files: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    hashes: Vec<String>,
    not_found: Value,
}

impl Fixture {
    fn new() -> Self {
        let files = disclosure_files();
        let probes = (0..PROBE_ONLY).map(|i| sha(format!("probe {i}").as_bytes()));
        Self {
            sizes: files.iter().map(Vec::len).chain([0; PROBE_ONLY]).collect(),
            hashes: files.iter().map(|f| sha(f)).chain(probes).collect(),
            not_found: MemoryHost::new()
                .page(POOL[0], json!({"op": "open", "hash": hash_arg(&sha(b"never stored"))}), None)
                .json(),
            files,
        }
    }
}

/// One case: the store, and the model it must agree with.
struct World<'a> {
    fx: &'a Fixture,
    counts: &'a mut Counts,
    host: MemoryHost,
    model: Model,
}

/// A caller and the top-level origin of its page (itself, mostly).
fn anyone(rng: &mut Rng) -> (&'static str, &'static str) {
    let caller = *rng.pick(&POOL);
    (caller, if rng.chance(70) { caller } else { *rng.pick(&POOL) })
}

fn framed(caller: &str, top: &str, header: Option<&str>) -> Caller {
    document(caller, (top != caller).then_some(top), header)
}

impl World<'_> {
    /// One lookup (`open`, or `read`, which serves the bytes), checked against the model.
    fn lookup(&mut self, (caller, top): (&'static str, &'static str), h: usize, read: bool) {
        let expect = self.model.lookup(caller, top, h, &self.fx.sizes);
        let op = if read { "read" } else { "open" };
        let request = json!({"op": op, "hash": hash_arg(&self.fx.hashes[h])});
        let reply = page_as(&mut self.host, &framed(caller, top, None), request, None);
        let found = reply.ok();
        // Described only when an assertion fails: formatting every reply would dominate the run.
        let seen = || format!("{caller} in {top}, {op} of hash {h}: {}", reply.json());
        match expect {
            Expect::Found => assert!(found, "must disclose: {}", seen()),
            Expect::NotFound | Expect::OverBudget => assert!(!found, "must not disclose: {}", seen()),
            Expect::Grease(Some(refused)) => assert_eq!(found, !refused, "the window's GREASE draw holds: {}", seen()),
            Expect::Grease(None) => {
                self.model.windows.get_mut(&model_site(caller)).unwrap().greased.insert(h, !found);
            }
        }
        if let Expect::Grease(drawn) = expect {
            self.counts.grease_eligible += 1;
            self.counts.greased += usize::from(!found);
            if drawn.is_none() {
                let (draws, refused) = self.counts.grease_draws.entry(h).or_default();
                *draws += 1;
                *refused += usize::from(!found);
            }
        }
        self.counts.budget_refusals += usize::from(expect == Expect::OverBudget);
        self.counts.lookups += 1;
        if !found {
            assert_eq!(reply.json(), self.fx.not_found, "a refusal looks exactly like a miss: {}", seen());
            return assert!(reply.file.is_none());
        }
        assert_eq!(reply.json()["value"], json!({"hash": self.fx.hashes[h], "size": self.fx.sizes[h]}), "{}", seen());
        if read {
            assert!(reply.file.as_deref() == Some(&self.fx.files[h][..]), "{}: the file's bytes", seen());
            self.model.files.get_mut(&h).unwrap().users.insert(caller);
        }
    }

    /// A write of one of the files (or of wrong bytes), with or without an Allow-Origin header.
    fn store(&mut self, rng: &mut Rng) {
        // The two large files (4 and 5) cost the most to write: one write in ten.
        let f = if rng.chance(10) { 4 + rng.below(2) } else { rng.below(4) };
        let (storer, top) = anyone(rng);
        let (origins, asked) = gen_origins(rng);
        let (header, authorized) = gen_header(rng, asked.as_deref().unwrap_or_default());
        let honest = rng.chance(80);
        let bytes = if honest { self.fx.files[f].clone() } else { vec![9; 3] };
        let who = framed(storer, top, header.as_deref());
        let close = store_from(&mut self.host, &who, (&bytes, &self.fx.hashes[f]), origins, rng.chance(30));
        if !honest {
            return assert_eq!(close.error_name().as_deref(), Some("DataError"), "wrong bytes must not store");
        }
        assert!(close.ok(), "honest write refused: {}", close.json());
        let shared = self.model.files.entry(f).or_default();
        shared.storers.insert(storer);
        let Some(asked) = asked else {
            shared.global = true;
            return assert_eq!(warned_about(&close), BTreeSet::new(), "'*' needs no header");
        };
        // The header is a ceiling: only origins it names are listed; the others are warned about.
        let (kept, dropped): (BTreeSet<&str>, BTreeSet<&str>) = asked.iter().partition(|o| authorized.contains(*o));
        shared.listed.extend(kept);
        let dropped: BTreeSet<String> = dropped.into_iter().map(str::to_owned).collect();
        assert_eq!(warned_about(&close), dropped, "{header:?} for {asked:?}");
        self.counts.warnings += usize::from(!dropped.is_empty());
    }

    /// Distinct hashes in a random order: a tracker probing for files looks up many.
    fn some_hashes(&self, rng: &mut Rng) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.fx.hashes.len()).collect();
        rng.shuffle(&mut order);
        order.truncate(4 + rng.below(order.len() - 4));
        order
    }

    /// Distinct lookups in a row, the same caller's create handles for as many
    /// hashes first (which never reveal anything, and cost no probe: the model charges nothing).
    fn burst(&mut self, rng: &mut Rng, create: bool) {
        let (caller, top) = anyone(rng);
        if create {
            for h in self.some_hashes(rng) {
                let hash = &self.fx.hashes[h];
                let request = json!({"op": "open", "create": true, "hash": hash_arg(hash)});
                let create = page_as(&mut self.host, &framed(caller, top, None), request, None);
                assert_eq!(create.json()["value"], json!({"hash": hash}));
            }
        }
        for h in self.some_hashes(rng) {
            self.lookup((caller, top), h, false);
        }
    }

    /// A user gesture in a page of `origin`: its site's window starts afresh.
    fn activate(&mut self, origin: &str) {
        self.host.activate(origin);
        self.model.windows.remove(&model_site(origin));
    }

    /// The user adds a file's hash to the Public Hash List's manual section, or removes it.
    fn edit_public_list(&mut self, rng: &mut Rng) {
        let f = rng.below(self.fx.files.len());
        let add = rng.chance(50);
        let op = if add { "add-public-hashes" } else { "remove-public-hashes" };
        assert!(self.host.admin(json!({"op": op, "hashes": [self.fx.hashes[f]]})).ok());
        match add {
            true => self.model.manual.insert(f),
            false => self.model.manual.remove(&f),
        };
    }

    /// The user deletes a file, or what only one site stored and used.
    fn delete(&mut self, rng: &mut Rng) {
        let files = &self.model.files;
        let (request, gone): (Value, Vec<usize>) = if rng.chance(50) {
            let f = rng.below(self.fx.files.len());
            (
                json!({"op": "delete", "hash": self.fx.hashes[f]}),
                files.contains_key(&f).then_some(f).into_iter().collect(),
            )
        } else {
            let origin = *rng.pick(&POOL);
            let gone = files.iter().filter(|(_, m)| m.used_only_by_site_of(origin)).map(|(f, _)| *f).collect();
            (json!({"op": "delete-site", "origin": origin}), gone)
        };
        let reply = self.host.admin(request.clone());
        assert_eq!(reply.json()["value"]["deleted"], gone.len(), "{request}");
        for f in gone {
            self.model.files.remove(&f);
        }
    }
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
    let fx = Fixture::new();
    let mut counts = Counts::default();
    let cases = share(7);
    run("disclosure", cases, |rng, _| {
        let host = MemoryHost::with(test_sites, public_list).reseeded(rng.entropy());
        let mut world = World { fx: &fx, counts: &mut counts, host, model: Model::default() };
        for _ in 0..rng.below(30) {
            match rng.below(20) {
                0..=5 => world.store(rng),
                6..=10 => world.lookup(anyone(rng), rng.below(fx.hashes.len()), rng.chance(50)),
                11 | 12 => world.burst(rng, false),
                13 => world.burst(rng, true),
                14 | 15 => {
                    let origin = *rng.pick(&POOL);
                    world.activate(origin);
                }
                16 => world.edit_public_list(rng),
                _ => world.delete(rng),
            }
        }
        if rng.chance(50) {
            POOL.iter().for_each(|origin| world.activate(origin));
        }
        for caller in POOL {
            let top = if rng.chance(70) { caller } else { *rng.pick(&POOL) };
            for f in 0..fx.files.len() {
                world.lookup((caller, top), f, false);
                world.lookup((caller, top), f, true);
            }
        }
        assert_eq!(world.host.blobs.len(), world.model.files.len());
    });
    eprintln!("disclosure: {counts:?}");
    if cases >= 500 {
        assert!(counts.budget_refusals > cases / 10, "the generator must exhaust probe budgets");
        assert!(counts.warnings > cases / 10, "the generator must reach the Allow-Origin ceiling");
        assert!(counts.greased > 0, "the generator must reach GREASE: {counts:?}");
    }
    // Few refusals overall, and for each file (a gate that wrongly refused one
    // file, say one the user added to the list, would look like GREASE refusing it every time).
    let few = |refused: usize, of: usize| refused * 100 <= of * GREASE_MAX_PERCENT;
    assert!(few(counts.greased, counts.grease_eligible), "GREASE refuses too many lookups: {counts:?}");
    for (h, &(draws, refused)) in &counts.grease_draws {
        assert!(few(refused.saturating_sub(3), draws), "GREASE refused hash {h} too often: {counts:?}");
    }
}
