//! The byte pump: Blob -> verifier, in bounded slices, while the browser
//! copies the same Blob into the temporary file.
//!
//! The file write is handed the Blob itself, so its bytes go from the blob
//! store to disk inside the browser process and never cross into the worker;
//! only the hashing reads them here, `READ_AHEAD` slices at a time. Memory
//! stays bounded by `SLICE_BYTES * (READ_AHEAD + 1)` whatever the Blob's size.
//! A Blob is immutable, so the bytes hashed are the bytes written.

use crate::{js_error, Store};
use js_sys::{Promise, Uint8Array};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Blob, FileSystemWritableFileStream};

/// Slice size for hashing a Blob.
const SLICE_BYTES: f64 = (1 << 20) as f64;
/// Slices being read while one is hashed.
const READ_AHEAD: usize = 3;

#[wasm_bindgen]
impl Store {
    /// Streams `blob` through the session's verifier and, when `writable` is
    /// given, writes it there at `at`. Resolves when every byte is hashed and written.
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
            let size = blob.size();
            let mut reads: VecDeque<JsFuture> = VecDeque::with_capacity(READ_AHEAD);
            let mut next_start = 0.0;
            let mut refill = |reads: &mut VecDeque<JsFuture>| -> Result<(), JsValue> {
                while reads.len() < READ_AHEAD && next_start < size {
                    let end = (next_start + SLICE_BYTES).min(size);
                    reads.push_back(JsFuture::from(blob.slice_with_f64_and_f64(next_start, end)?.array_buffer()));
                    next_start = end;
                }
                Ok(())
            };
            refill(&mut reads)?;
            let written = match &writable {
                Some(w) => {
                    JsFuture::from(w.seek_with_f64(at)?).await?;
                    Some(JsFuture::from(w.write_with_blob(&blob)?))
                }
                None => None,
            };
            let mut buf = Vec::new();
            while let Some(reading) = reads.pop_front() {
                let bytes = Uint8Array::new(&reading.await?);
                refill(&mut reads)?;
                buf.resize(bytes.length() as usize, 0);
                bytes.copy_to(&mut buf);
                let now = js_sys::Date::now() as u64;
                engine.borrow_mut().feed(&caller, &session, &buf, now).map_err(js_error)?;
            }
            if let Some(written) = written {
                written.await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}
