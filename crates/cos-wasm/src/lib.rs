//! wasm-bindgen surface of `cos-core` for the service worker. No rules live
//! here: each method converts arguments, calls the engine, converts back. The
//! one addition is the byte pump, which moves a Blob through the engine's
//! verifier and into the temporary file without the bytes touching JS code.

use cos_core::{CosError, Engine, SiteRules};
use js_sys::{Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Blob, FileSystemWritableFileStream};

/// Slice size for streaming a Blob: large enough that per-call overhead
/// vanishes, small enough that memory stays flat whatever the file size.
const CHUNK_BYTES: f64 = (4 << 20) as f64;

#[wasm_bindgen]
pub struct Store {
    // Shared with in-flight pumps; never borrowed across an await.
    engine: Rc<RefCell<Engine>>,
}

/// A CosError as a JS Error whose `name` is the DOMException name.
fn js_error(e: CosError) -> JsValue {
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

    /// Streams `blob` through the session's verifier and, when `writable` is
    /// given, into it starting at `at`. Resolves when every byte is hashed and written.
    #[wasm_bindgen(js_name = pumpBlob)]
    pub fn pump_blob(
        &self,
        caller: String,
        session: String,
        blob: Blob,
        writable: Option<FileSystemWritableFileStream>,
        at: f64,
    ) -> Promise {
        let engine = Rc::clone(&self.engine);
        future_to_promise(async move {
            if let Some(w) = &writable {
                JsFuture::from(w.seek_with_f64(at)?).await?;
            }
            let size = blob.size();
            let slice = |start: f64| -> Result<Promise, JsValue> {
                Ok(blob.slice_with_f64_and_f64(start, (start + CHUNK_BYTES).min(size))?.array_buffer())
            };
            let mut buf = Vec::new();
            let mut offset = 0.0;
            // Read-ahead of one slice: the next read overlaps hashing and writing this one.
            let mut next = (size > 0.0).then(|| slice(0.0)).transpose()?;
            while let Some(reading) = next.take() {
                let bytes = Uint8Array::new(&JsFuture::from(reading).await?);
                offset += f64::from(bytes.length());
                if offset < size {
                    next = Some(slice(offset)?);
                }
                let written = writable.as_ref().map(|w| w.write_with_buffer_source(&bytes)).transpose()?;
                buf.resize(bytes.length() as usize, 0);
                bytes.copy_to(&mut buf);
                let now = js_sys::Date::now() as u64;
                engine.borrow_mut().feed(&caller, &session, &buf, now).map_err(js_error)?;
                if let Some(written) = written {
                    JsFuture::from(written).await?;
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}
