//! SHA-256 for the settings page: the user's manual Public Hash List entries
//! are files of any size (GBs), hashed in the page as they are read, with the
//! same `Verifier` the store uses. `crypto.subtle.digest` would need each
//! file whole in memory.

use cos_core::verifier::Verifier;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
#[derive(Default)]
pub struct Sha256 {
    verifier: Verifier,
}

#[wasm_bindgen]
impl Sha256 {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.verifier.update(bytes);
    }

    /// The lowercase hex digest of every byte given; consumes the hasher.
    #[wasm_bindgen(js_name = finishHex)]
    pub fn finish_hex(self) -> String {
        self.verifier.finish().to_string()
    }
}
