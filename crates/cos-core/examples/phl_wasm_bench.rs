//! The Public Hash List parser as a bare Wasm module, for measuring load time
//! and memory under Wasm (the extension's engine runs there, and Wasm memory
//! never shrinks: its peak is what the list costs). Driven by
//! `phl_wasm_bench.mjs`, which streams chunks in the way wasm-bindgen passes a
//! `&[u8]`: allocate in Wasm memory, copy, call, free.
//!
//!     cargo build --release --target wasm32-unknown-unknown -p cos-core --example phl_wasm_bench
//!     node crates/cos-core/examples/phl_wasm_bench.mjs

use cos_core::public_hash_list::{PhlParser, PublicHashList};
use std::cell::RefCell;

thread_local! {
    static PARSER: RefCell<Option<PhlParser>> = const { RefCell::new(None) };
    static LIST: RefCell<Option<PublicHashList>> = const { RefCell::new(None) };
}

/// A buffer of `len` bytes for the caller to fill; `feed` frees it.
#[no_mangle]
pub extern "C" fn chunk_alloc(len: usize) -> *mut u8 {
    let mut chunk = Vec::<u8>::with_capacity(len);
    let ptr = chunk.as_mut_ptr();
    std::mem::forget(chunk);
    ptr
}

/// # Safety
/// `ptr` must come from `chunk_alloc(len)`, filled, and not be used again.
#[no_mangle]
pub unsafe extern "C" fn feed(ptr: *mut u8, len: usize) {
    let chunk = unsafe { Vec::from_raw_parts(ptr, len, len) };
    PARSER.with_borrow_mut(|p| p.get_or_insert_with(PhlParser::new).feed(&chunk));
}

/// Ends the list; returns its distinct digests, or -1 if it was refused.
#[no_mangle]
pub extern "C" fn finish() -> i64 {
    let parsed = PARSER.with_borrow_mut(|p| p.take().unwrap_or_default().finish());
    match parsed {
        Ok(list) => {
            let len = list.len() as i64;
            LIST.set(Some(list));
            len
        }
        Err(_) => -1,
    }
}

/// Heap bytes the finished list holds.
#[no_mangle]
pub extern "C" fn heap_bytes() -> usize {
    LIST.with_borrow(|l| l.as_ref().map_or(0, PublicHashList::heap_bytes))
}
