//! The byte pumps: bytes -> verifier (+ temporary file). Blobs stream in
//! bounded slices; an ArrayBuffer from a page write (at most a few MiB) is
//! hashed in one piece.
//!
//! Three things overlap: reading the next slices of the Blob (`READ_AHEAD`
//! reads in flight), hashing the current slice in Rust, and writing earlier
//! slices to the file (`WRITES_IN_FLIGHT`). Memory stays bounded by
//! `SLICE_BYTES * (READ_AHEAD + WRITES_IN_FLIGHT + 1)` whatever the Blob's size.

use crate::{js_error, Store};
use js_sys::{Promise, Uint8Array};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Blob, FileSystemWritableFileStream};

/// Slice size for streaming a Blob. Smaller slices let the first read, the
/// hashing and the writes overlap even within a single 4 MiB message.
const SLICE_BYTES: f64 = (1 << 20) as f64;
/// Slices being read while one is hashed.
const READ_AHEAD: usize = 3;
/// File writes that may be pending while later slices are hashed.
const WRITES_IN_FLIGHT: usize = 2;

#[wasm_bindgen]
impl Store {
    /// Hashes `bytes` and, when `writable` is given, writes them at `at`.
    #[wasm_bindgen(js_name = pumpBytes)]
    pub fn pump_bytes(
        &self,
        caller: String,
        session: String,
        bytes: Uint8Array,
        writable: Option<FileSystemWritableFileStream>,
        at: f64,
    ) -> Promise {
        let engine = Rc::clone(&self.engine);
        future_to_promise(async move {
            let written = match &writable {
                Some(w) => {
                    JsFuture::from(w.seek_with_f64(at)?).await?;
                    Some(JsFuture::from(w.write_with_buffer_source(&bytes)?))
                }
                None => None,
            };
            let now = js_sys::Date::now() as u64;
            engine.borrow_mut().feed(&caller, &session, &bytes.to_vec(), now).map_err(js_error)?;
            if let Some(written) = written {
                written.await?;
            }
            Ok(JsValue::UNDEFINED)
        })
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
            let size = blob.size();
            // Reads start before the seek completes: they do not depend on it.
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
            if let Some(w) = &writable {
                JsFuture::from(w.seek_with_f64(at)?).await?;
            }
            let mut writes: VecDeque<JsFuture> = VecDeque::with_capacity(WRITES_IN_FLIGHT + 1);
            let mut buf = Vec::new();
            while let Some(reading) = reads.pop_front() {
                let bytes = Uint8Array::new(&reading.await?);
                refill(&mut reads)?;
                if let Some(w) = &writable {
                    writes.push_back(JsFuture::from(w.write_with_buffer_source(&bytes)?));
                }
                buf.resize(bytes.length() as usize, 0);
                bytes.copy_to(&mut buf);
                let now = js_sys::Date::now() as u64;
                engine.borrow_mut().feed(&caller, &session, &buf, now).map_err(js_error)?;
                while writes.len() > WRITES_IN_FLIGHT {
                    writes.pop_front().expect("not empty").await?;
                }
            }
            for written in writes {
                written.await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}
