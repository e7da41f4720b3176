//! wasm-bindgen surface of `cos-core` for the service worker. No rules live
//! here: each method converts arguments, calls the engine, converts back.
//! The byte pump (`pump.rs`) moves a Blob through the engine's verifier and
//! into the temporary file without the bytes passing through JS code.

mod pump;

use cos_core::engine::Persisted;
use cos_core::public_hash_list::PublicHashList;
use cos_core::{CosError, Engine, SiteRules};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Store {
    // Shared with in-flight pumps; never borrowed across an await.
    pub(crate) engine: Rc<RefCell<Engine>>,
}

/// A CosError as a JS Error whose `name` is the DOMException name.
pub(crate) fn js_error(e: CosError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.dom_name());
    // Setting a data property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("engine output is always serializable")
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, JsValue> {
    serde_json::from_str(json).map_err(|e| js_error(CosError::InvalidMessage(e.to_string())))
}

#[wasm_bindgen]
impl Store {
    /// `psl`: the bundled Public Suffix List; `phl`: the bundled Public Hash
    /// List; `instance`: a random id of this worker start.
    #[wasm_bindgen(constructor)]
    pub fn new(psl: &str, phl: &str, instance: &str) -> Store {
        let engine = Engine::new(SiteRules::parse(psl), PublicHashList::parse(phl), instance);
        Store { engine: Rc::new(RefCell::new(engine)) }
    }

    /// Loads `{entries, totals, settings}` as persisted; returns how many entries were malformed and skipped.
    pub fn restore(&self, persisted_json: &str) -> Result<usize, JsValue> {
        Ok(self.engine.borrow_mut().restore(from_json::<Persisted>(persisted_json)?))
    }

    #[wasm_bindgen(js_name = setDefaultBudget)]
    pub fn set_default_budget(&self, bytes: f64) {
        self.engine.borrow_mut().set_default_budget(bytes as u64);
    }

    /// `files_json`: `[[name, size | null], …]` of the blob directory (null:
    /// a directory). Returns `{deleteFiles, droppedEntries}`.
    pub fn reconcile(&self, files_json: &str) -> Result<String, JsValue> {
        let files: Vec<(String, Option<u64>)> = from_json(files_json)?;
        Ok(to_json(&self.engine.borrow_mut().reconcile(&files)))
    }

    /// Forgets an entry whose file on disk does not match it.
    #[wasm_bindgen(js_name = discardDamaged)]
    pub fn discard_damaged(&self, hash: &str) -> bool {
        self.engine.borrow_mut().discard_damaged(hash)
    }

    #[wasm_bindgen(js_name = hasSession)]
    pub fn has_session(&self, session: &str) -> bool {
        self.engine.borrow().has_session(session)
    }

    /// One request from the extension's own pages; returns the next `Step` as JSON.
    #[wasm_bindgen(js_name = adminRequest)]
    pub fn admin_request(&self, json: &str) -> Result<String, JsValue> {
        Ok(to_json(&self.engine.borrow_mut().admin_request(json).map_err(js_error)?))
    }

    /// One page request; returns the next `Step` as JSON.
    #[wasm_bindgen(js_name = pageRequest)]
    pub fn page_request(
        &self,
        caller: &str,
        json: &str,
        blob_size: Option<f64>,
        now_ms: f64,
    ) -> Result<String, JsValue> {
        let blob_size = blob_size.map(|s| s as u64);
        let step = self.engine.borrow_mut().page_request(caller, json, blob_size, now_ms as u64).map_err(js_error)?;
        Ok(to_json(&step))
    }

    /// Bytes of a planned write, in order (a page's write of at most a few MiB;
    /// Blobs go through `pumpBlob`).
    pub fn feed(&self, caller: &str, session: &str, bytes: &[u8], now_ms: f64) -> Result<(), JsValue> {
        self.engine.borrow_mut().feed(caller, session, bytes, now_ms as u64).map_err(js_error)
    }

    /// The write session a page request belongs to, if any (for per-session ordering).
    #[wasm_bindgen(js_name = sessionOf)]
    pub fn session_of(json: &str) -> Option<String> {
        Engine::session_of(json)
    }

    pub fn commit(&self, caller: &str, session: &str, now_ms: f64) -> Result<String, JsValue> {
        let reply = self.engine.borrow_mut().commit(caller, session, now_ms as u64).map_err(js_error)?;
        Ok(to_json(&reply))
    }

    /// Returns `{alreadyStored, evict}` for a verified session, or QuotaExceededError.
    #[wasm_bindgen(js_name = prepareCommit)]
    pub fn prepare_commit(&self, caller: &str, session: &str, now_ms: f64) -> Result<String, JsValue> {
        let placement = self.engine.borrow_mut().prepare_commit(caller, session, now_ms as u64).map_err(js_error)?;
        Ok(to_json(&placement))
    }

    #[wasm_bindgen(js_name = dropSession)]
    pub fn drop_session(&self, session: &str) -> bool {
        self.engine.borrow_mut().drop_session(session)
    }

    #[wasm_bindgen(js_name = openSessions)]
    pub fn open_sessions(&self) -> usize {
        self.engine.borrow().open_sessions()
    }

    /// Ids of sessions idle too long (now forgotten), as a JSON array.
    #[wasm_bindgen(js_name = expireIdle)]
    pub fn expire_idle(&self, now_ms: f64) -> String {
        to_json(&self.engine.borrow_mut().expire_idle(now_ms as u64))
    }

    /// What changed since the last call, for persistence:
    /// `{entries: [{hash, entry|null}], totals|null, settings|null}`.
    #[wasm_bindgen(js_name = drainChanges)]
    pub fn drain_changes(&self) -> String {
        to_json(&self.engine.borrow_mut().drain_changes())
    }
}
