//! The byte pump for the `hash-temp` step: a Blob (the finished temporary
//! file) through the engine's verifier, via one reused buffer.
//!
//! It reads with a BYOB reader into one `SLICE_BYTES` buffer that every read
//! hands back: reading slices as fresh ArrayBuffers left a garbage trail that
//! grew with the file (≈ +200 MiB in the worker for 2 GiB) until V8 got round
//! to collecting it.

use crate::{js_error, Store};
use cos_core::engine::step::TaskId;
use js_sys::{Object, Promise, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    Blob, ReadableStreamByobReader, ReadableStreamGetReaderOptions, ReadableStreamReadResult, ReadableStreamReaderMode,
};

/// Bytes asked for per read (the browser's data pipe reads ahead of us).
const SLICE_BYTES: u32 = 1 << 20;

#[wasm_bindgen]
impl Store {
    /// Streams `blob` into task `task`'s verifier. Rejects as soon as the
    /// engine refuses a slice (the session ended: its frame went away), and
    /// then stops reading.
    #[wasm_bindgen(js_name = hashBlob)]
    pub fn hash_blob(&self, task: u32, blob: Blob) -> Promise {
        let engine = Rc::clone(&self.engine);
        future_to_promise(async move {
            let options = ReadableStreamGetReaderOptions::new();
            options.set_mode(ReadableStreamReaderMode::Byob);
            let reader: ReadableStreamByobReader = blob.stream().get_reader_with_options(&options).unchecked_into();
            let mut view = Uint8Array::new_with_length(SLICE_BYTES);
            let mut buf = Vec::new();
            loop {
                let read: ReadableStreamReadResult =
                    JsFuture::from(reader.read_with_array_buffer_view(view.as_ref() as &Object))
                        .await?
                        .unchecked_into();
                if read.get_done().unwrap_or(true) {
                    return Ok(JsValue::UNDEFINED);
                }
                let filled: Uint8Array = read.get_value().unchecked_into();
                buf.resize(filled.length() as usize, 0);
                filled.copy_to(&mut buf);
                if let Err(e) = engine.borrow_mut().feed(TaskId(task), &buf) {
                    // Stop the stream now rather than read the rest of the file for nothing.
                    let _ = reader.cancel();
                    return Err(js_error(e));
                }
                // The read took the buffer over; the next one reuses its memory.
                view = Uint8Array::new_with_byte_offset_and_length(&filled.buffer(), 0, SLICE_BYTES);
            }
        })
    }
}
