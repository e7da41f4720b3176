//! wasm-bindgen surface of `cos-core` for the service worker. No rules live
//! here: each method converts its arguments (`convert.rs`), calls the engine
//! and converts the answer back. `pump.rs` streams a Blob into the engine's
//! verifier for the `hash-temp` step. `sha256.rs` is the same verifier for
//! the settings page.

mod convert;
mod pump;
mod sha256;

use convert::{from_host, from_page, to_js};
use cos_core::engine::step::{Caller, ChannelId, Data, Outcome, TaskId};
use cos_core::engine::Persisted;
use cos_core::public_hash_list::{PhlParser, PublicHashList};
use cos_core::{CosError, Engine, SiteRules};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A `DOMException` name (or `TypeError`), a stable code, and a message safe for the page. */
export interface WireError { name: string; code: string; message: string }
export type Reply = { ok: true; value: any } | { ok: false; error: WireError };
/** A document's `Permissions-Policy` response header, as the worker observed it. */
export type HeaderFact = { kind: 'absent' } | { kind: 'present'; value: string } | { kind: 'unknown' };
/** The element holding a frame in its parent's document. */
export type ContainerFact =
  | { kind: 'iframe'; allow: string | null; srcOrigin: string }
  | { kind: 'other' }
  | { kind: 'unknown' };
/** A frame above the caller's. */
export interface FrameFact { origin: string; permissionsPolicy: HeaderFact; container?: ContainerFact }
/**
 * Who is asking, from the browser: the frame's origin, the host's number for
 * its channel, its document's headers, the element holding it and the frames
 * above it (top-level first).
 */
export interface Caller {
  origin: string;
  channel: number;
  permissionsPolicy: HeaderFact;
  container?: ContainerFact;
  ancestors: FrameFact[];
  allowOrigin?: string;
}
/** What travelled beside a write request. */
export type Data = { kind: 'bytes'; len: number } | { kind: 'blob'; size: number };
export type Outcome =
  | { kind: 'done' }
  | { kind: 'found'; size: number }
  | { kind: 'missing' }
  | { kind: 'digested'; sha256: string; head: number[] }
  | { kind: 'listed'; files: Array<[string, number | null]> }
  | { kind: 'failed'; name: string };
export interface Changes {
  entries: Array<{ hash: string; entry: object | null }>;
  totals: object | null;
  settings: object | null;
  probes: Array<{ site: string; window: object | null }>;
  manualHashes: string[] | null;
  disabledSites: string[] | null;
}
/** The next storage step of a task (see cos-core `engine::step::Step`). */
export type Step =
  | { do: 'acquire'; task: number; lock: string }
  | { do: 'open-temp'; task: number; session: string }
  | { do: 'write-temp'; task: number; session: string; at: number; len: number; feed: boolean }
  | { do: 'truncate-temp'; task: number; session: string; size: number }
  | { do: 'hand-temp'; task: number; session: string; size: number }
  | { do: 'close-temp'; task: number; session: string }
  | { do: 'hash-temp'; task: number; session: string; size: number }
  | { do: 'discard-temp'; task: number; session: string }
  | { do: 'place-blob'; task: number; session: string; hash: string }
  | { do: 'delete-blobs'; task: number; names: string[] }
  | { do: 'persist'; task: number }
  | { do: 'read-blob'; task: number; hash: string }
  | { do: 'list-blobs'; task: number }
  | { do: 'clear-temps'; task: number }
  | { do: 'done'; task: number; reply: Reply | null; trace: Trace };
/** For the developer tools only (see cos-core \`Trace\`): never sent to a page. */
export interface Trace {
  op?: string;
  method?: string;
  hash?: string;
  create?: boolean;
  origins?: '*' | string[];
  session?: string;
  refusal?: 'missing' | 'out-of-scope' | 'not-on-public-list' | 'probe-budget' | 'grease' | 'unreadable';
  listedOrigins?: number;
  budget?: { site: string; limit: number; noRoom: boolean };
  policy?: { frame: number; origin: string; parent?: string; cause: PolicyCause };
  ceiling?: { header: string | null; dropped: string[] };
  quota?:
    | { kind: 'origin'; chargedBytes: number; addingBytes: number; limitBytes: number }
    | { kind: 'files'; stored: number; max: number }
    | { kind: 'disk' };
  grant?: 'storer' | 'same-site' | 'listed' | 'global';
  bytes?: number;
  verified?: boolean;
  actualHash?: string;
  alreadyStored?: boolean;
  grantsAfter?: { global: boolean; onPublicList: boolean; listed: string[]; storers: number };
}
/** What turned the Permissions Policy off in a frame (see cos-core \`BlockCause\`). */
export type PolicyCause =
  | { kind: 'no-frames' }
  | { kind: 'not-top-level' }
  | { kind: 'own-header'; header: string }
  | { kind: 'parent-header'; header: string }
  | { kind: 'unknown-container' }
  | { kind: 'other-container' }
  | { kind: 'iframe-allow'; allow: string | null; srcOrigin: string };
export interface PublicHashListInfo { version: string | null; commit: string | null; count: number; sections: Record<string, number>; malformedLines: number }
export interface Persisted {
  entries: unknown[];
  totals: unknown;
  settings: unknown;
  probes: Array<[string, unknown]>;
  manualHashes: unknown;
  disabledSites: unknown;
}
export interface Restored { skippedEntries: number; reset: string[] }
"#;

/// Reads a Public Hash List in pieces, so an 88 MB list never sits whole in
/// the engine's memory.
#[wasm_bindgen]
pub struct PublicHashListLoader {
    parser: PhlParser,
}

#[wasm_bindgen]
impl PublicHashListLoader {
    #[wasm_bindgen(constructor)]
    pub fn new() -> PublicHashListLoader {
        PublicHashListLoader { parser: PhlParser::new() }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.parser.feed(chunk);
    }
}

impl Default for PublicHashListLoader {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
pub struct Store {
    // Shared with in-flight pumps; never borrowed across an await.
    pub(crate) engine: Rc<RefCell<Engine>>,
}

/// A CosError as a JS Error whose `name` is the DOMException name.
pub(crate) fn js_error(e: CosError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.dom_name());
    err.into()
}

/// A value from the host that does not decode is a bug in the extension.
fn host_value<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    from_host(value).map_err(js_error)
}

#[wasm_bindgen]
impl Store {
    /// `seed`: 32 bytes from `crypto.getRandomValues`. The store starts
    /// with an empty Public Hash List (nothing is global until a list that
    /// verifies is loaded: the spec fails closed). The Public Suffix List is
    /// compiled in.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: &[u8]) -> Result<Store, JsValue> {
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| js_error(CosError::Internal("the seed is 32 bytes".into())))?;
        let engine = Engine::new(SiteRules, PublicHashList::default(), seed);
        Ok(Store { engine: Rc::new(RefCell::new(engine)) })
    }

    /// Uses the list `loader` read, if its text hashes to `sidecar` (the
    /// `.sha256` file); otherwise keeps the current list and throws.
    #[wasm_bindgen(js_name = usePublicHashList, unchecked_return_type = "PublicHashListInfo")]
    pub fn use_public_hash_list(&self, loader: PublicHashListLoader, sidecar: &str) -> Result<JsValue, JsValue> {
        // A bad list is the list server's problem, not the extension's: its own message.
        let list =
            loader.parser.finish_verified(sidecar).map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
        let info = cos_core::public_hash_list::Info::of(&list);
        self.engine.borrow_mut().set_public_hashes(list);
        Ok(to_js(&info))
    }

    /// Loads the persisted records; says what it could not use.
    #[wasm_bindgen(unchecked_return_type = "Restored")]
    pub fn restore(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Persisted")] persisted: JsValue,
    ) -> Result<JsValue, JsValue> {
        let field = |name: &str| js_sys::Reflect::get(&persisted, &name.into()).unwrap_or(JsValue::UNDEFINED);
        let entries = js_sys::Array::from(&field("entries"));
        let mut records = Persisted::default();
        for entry in entries.iter() {
            records.entries.push(host_value(&entry)?);
        }
        records.totals = host_value(&field("totals"))?;
        records.settings = host_value(&field("settings"))?;
        records.manual_hashes = host_value(&field("manualHashes"))?;
        records.disabled_sites = host_value(&field("disabledSites"))?;
        for pair in js_sys::Array::from(&field("probes")).iter() {
            records.probes.push(host_value(&pair)?);
        }
        Ok(to_js(&self.engine.borrow_mut().restore(records)))
    }

    /// The sites enterprise policy turns the API off for (canonical http(s)
    /// origins, each standing for its site); returns why entries were left out.
    #[wasm_bindgen(js_name = setPolicyDisabledSites)]
    pub fn set_policy_disabled_sites(&self, origins: Vec<String>) -> Vec<String> {
        self.engine.borrow_mut().set_policy_disabled_sites(&origins)
    }

    /// Every site the API is off for, sorted (the content scripts stay out of them).
    #[wasm_bindgen(js_name = disabledSites)]
    pub fn disabled_sites(&self) -> Vec<String> {
        self.engine.borrow().disabled_sites()
    }

    /// From which file size on a session goes to the host's copier (`null`:
    /// the host has none); see cos-core `Engine::set_copier_from`.
    #[wasm_bindgen(js_name = setCopierFrom)]
    pub fn set_copier_from(&self, from_bytes: Option<f64>) {
        self.engine.borrow_mut().set_copier_from(from_bytes.map(|b| b as u64));
    }

    /// The enterprise policy's distinct lookups per window (`undefined` or
    /// `null`: no policy). Returns why the value is ignored, if it is.
    #[wasm_bindgen(js_name = setProbeLimit)]
    pub fn set_probe_limit(&self, policy: JsValue) -> Option<String> {
        let value = from_host::<Option<serde_json::Value>>(&policy).map_err(|e| e.to_string());
        value.and_then(|v| self.engine.borrow_mut().set_probe_limit(v.as_ref())).err()
    }

    #[wasm_bindgen(js_name = setDefaultBudget)]
    pub fn set_default_budget(&self, bytes: f64) {
        self.engine.borrow_mut().set_default_budget(bytes as u64);
    }

    /// The start-up task (reconciles storage with the index).
    #[wasm_bindgen(js_name = startUp, unchecked_return_type = "Step")]
    pub fn start_up(&self, now_ms: f64) -> JsValue {
        to_js(&self.engine.borrow_mut().start_up(now_ms as u64))
    }

    /// A page request; `request` is whatever the page sent.
    #[wasm_bindgen(unchecked_return_type = "Step")]
    pub fn page(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Caller")] caller: JsValue,
        request: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Data | undefined")] data: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let caller: Caller = host_value(&caller)?;
        let data: Option<Data> = host_value(&data)?;
        Ok(to_js(&self.engine.borrow_mut().page(&caller, from_page(&request), data, now_ms as u64)))
    }

    /// A trusted user gesture the extension observed in a frame of `origin`
    /// (that site's probe budget starts afresh): the task recording it.
    #[wasm_bindgen(unchecked_return_type = "Step")]
    pub fn activate(&self, origin: &str, now_ms: f64) -> JsValue {
        to_js(&self.engine.borrow_mut().activate(origin, now_ms as u64))
    }

    /// A request from the extension's own pages.
    #[wasm_bindgen(unchecked_return_type = "Step")]
    pub fn admin(&self, request: JsValue, now_ms: f64) -> JsValue {
        let mut engine = self.engine.borrow_mut();
        let step = match from_page(&request) {
            Ok(request) => engine.admin(request, now_ms as u64),
            Err(e) => engine.refuse(&e, Default::default()),
        };
        to_js(&step)
    }

    /// The host's report on a task's step; returns the next step.
    #[wasm_bindgen(unchecked_return_type = "Step")]
    pub fn resume(
        &self,
        task: u32,
        #[wasm_bindgen(unchecked_param_type = "Outcome")] outcome: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let outcome: Outcome = host_value(&outcome)?;
        Ok(to_js(&self.engine.borrow_mut().resume(TaskId(task), outcome, now_ms as u64)))
    }

    /// The changes a `persist` step of task `task` writes (take them when performing it).
    #[wasm_bindgen(js_name = takeChanges, unchecked_return_type = "Changes")]
    pub fn take_changes(&self, task: u32) -> JsValue {
        to_js(&self.engine.borrow_mut().take_changes(TaskId(task)))
    }

    /// Whether task `task` still has work to do (its session did not end).
    #[wasm_bindgen(js_name = taskAlive)]
    pub fn task_alive(&self, task: u32) -> bool {
        self.engine.borrow().task_alive(TaskId(task))
    }

    /// Bytes of a streaming step (`write-temp` with `feed`), in order.
    pub fn feed(&self, task: u32, bytes: &[u8]) -> Result<(), JsValue> {
        self.engine.borrow_mut().feed(TaskId(task), bytes).map_err(js_error)
    }

    /// The channel's frame went away: the first steps of its clean-up tasks.
    #[wasm_bindgen(unchecked_return_type = "Step[]")]
    pub fn release(&self, channel: u32, now_ms: f64) -> JsValue {
        to_js(&self.engine.borrow_mut().release(ChannelId(channel), now_ms as u64))
    }

    /// Sessions idle too long: the first steps of their clean-up tasks.
    #[wasm_bindgen(js_name = expireIdle, unchecked_return_type = "Step[]")]
    pub fn expire_idle(&self, now_ms: f64) -> JsValue {
        to_js(&self.engine.borrow_mut().expire_idle(now_ms as u64))
    }

    #[wasm_bindgen(js_name = openSessions)]
    pub fn open_sessions(&self) -> usize {
        self.engine.borrow().open_sessions()
    }
}
