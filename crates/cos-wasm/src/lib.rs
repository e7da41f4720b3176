//! wasm-bindgen surface of `cos-core` for the service worker. No rules live
//! here: each method converts arguments, calls the engine, converts back.
//! The byte pump (`pump.rs`) moves a Blob through the engine's verifier and
//! into the temporary file without the bytes passing through JS code.

mod pump;

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

#[wasm_bindgen]
impl Store {
    /// `psl` is the bundled Public Suffix List; `instance` a random id of this worker start.
    #[wasm_bindgen(constructor)]
    pub fn new(psl: &str, instance: &str) -> Store {
        Store { engine: Rc::new(RefCell::new(Engine::new(SiteRules::parse(psl), instance))) }
    }

    /// Loads persisted entries (a JSON array); returns how many were malformed and skipped.
    pub fn restore(&self, entries_json: &str) -> Result<usize, JsValue> {
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(entries_json).map_err(|e| js_error(CosError::InvalidMessage(e.to_string())))?;
        Ok(self.engine.borrow_mut().restore(&entries))
    }

    /// `names_json`: the file names in the blob directory. Returns `{deleteFiles, droppedEntries}`.
    pub fn reconcile(&self, names_json: &str) -> Result<String, JsValue> {
        let names: Vec<String> =
            serde_json::from_str(names_json).map_err(|e| js_error(CosError::InvalidMessage(e.to_string())))?;
        Ok(to_json(&self.engine.borrow_mut().reconcile(&names)))
    }

    /// One page request; returns the next `Step` as JSON.
    #[wasm_bindgen(js_name = pageRequest)]
    pub fn page_request(&self, caller: &str, json: &str, blob_size: Option<f64>, now_ms: f64) -> Result<String, JsValue> {
        let blob_size = blob_size.map(|s| s as u64);
        let step = self.engine.borrow_mut().page_request(caller, json, blob_size, now_ms as u64).map_err(js_error)?;
        Ok(to_json(&step))
    }

    pub fn commit(&self, caller: &str, session: &str, now_ms: f64) -> Result<String, JsValue> {
        let reply = self.engine.borrow_mut().commit(caller, session, now_ms as u64).map_err(js_error)?;
        Ok(to_json(&reply))
    }

    #[wasm_bindgen(js_name = isStored)]
    pub fn is_stored(&self, hash: &str) -> bool {
        self.engine.borrow().is_stored(hash)
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

    /// Entries changed since the last call, `[{hash, entry|null}]`, for persistence.
    #[wasm_bindgen(js_name = drainChanges)]
    pub fn drain_changes(&self) -> String {
        to_json(&self.engine.borrow_mut().drain_changes())
    }
}
