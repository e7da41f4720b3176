//! The byte pump: Blob -> verifier, through one reused buffer, while the
//! browser copies the same Blob into the temporary file.
//!
//! The file write is handed the Blob itself, so its bytes go from the blob
//! store to disk inside the browser process and never cross into the worker;
//! only the hashing reads them here. It reads with a BYOB reader into one
//! `SLICE_BYTES` buffer that every read hands back: reading slices as fresh
//! ArrayBuffers left a garbage trail that grew with the Blob (≈ +200 MiB in
//! the worker for 2 GiB) until V8 got round to collecting it. A Blob is
//! immutable, so the bytes hashed are the bytes written.

use crate::{js_error, Store};
use js_sys::{Object, Promise, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    Blob, FileSystemWritableFileStream, ReadableStreamByobReader, ReadableStreamGetReaderOptions,
    ReadableStreamReadResult, ReadableStreamReaderMode,
};

/// Bytes asked for per read (the browser's data pipe reads ahead of us).
const SLICE_BYTES: u32 = 1 << 20;

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
            let options = ReadableStreamGetReaderOptions::new();
            options.set_mode(ReadableStreamReaderMode::Byob);
            let reader: ReadableStreamByobReader = blob.stream().get_reader_with_options(&options).unchecked_into();
            let written = match &writable {
                Some(w) => {
                    JsFuture::from(w.seek_with_f64(at)?).await?;
                    Some(JsFuture::from(w.write_with_blob(&blob)?))
                }
                None => None,
            };
            let mut view = Uint8Array::new_with_length(SLICE_BYTES);
            let mut buf = Vec::new();
            loop {
                let read: ReadableStreamReadResult =
                    JsFuture::from(reader.read_with_array_buffer_view(view.as_ref() as &Object))
                        .await?
                        .unchecked_into();
                if read.get_done().unwrap_or(true) {
                    break;
                }
                let filled: Uint8Array = read.get_value().unchecked_into();
                buf.resize(filled.length() as usize, 0);
                filled.copy_to(&mut buf);
                let now = js_sys::Date::now() as u64;
                engine.borrow_mut().feed(&caller, &session, &buf, now).map_err(js_error)?;
                // The read took the buffer over; the next one reuses its memory.
                view = Uint8Array::new_with_byte_offset_and_length(&filled.buffer(), 0, SLICE_BYTES);
            }
            if let Some(written) = written {
                written.await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}
