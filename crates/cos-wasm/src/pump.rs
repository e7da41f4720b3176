//! The byte pump: Blob -> verifier (+ temporary file), in bounded slices.

use crate::{js_error, Store};
use js_sys::{Promise, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Blob, FileSystemWritableFileStream};

/// Slice size for streaming a Blob: large enough that per-call overhead
/// vanishes, small enough that memory stays flat whatever the file size.
const CHUNK_BYTES: f64 = (4 << 20) as f64;

#[wasm_bindgen]
impl Store {
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
