//! Incremental SHA-256 over exactly the bytes that will be stored.

use crate::hash::ContentHash;
use sha2::{Digest, Sha256};

#[derive(Clone, Default)]
pub struct Verifier {
    hasher: Sha256,
    len: u64,
}

impl Verifier {
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> ContentHash {
        ContentHash::from_digest(&self.hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(chunks: &[&[u8]]) -> String {
        let mut v = Verifier::default();
        for c in chunks {
            v.update(c);
        }
        v.finish().to_string()
    }

    /// FIPS 180-2 / NIST test vectors.
    #[test]
    fn known_vectors() {
        assert_eq!(digest(&[]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(digest(&[b"abc"]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            digest(&[b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(digest(&[&million_a]), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    #[test]
    fn streaming_equals_one_shot_for_every_split() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = digest(&[&data]);
        for split in [1, 63, 64, 65, 127, 500, 999] {
            let (a, b) = data.split_at(split);
            assert_eq!(digest(&[a, b]), whole, "split at {split}");
        }
        let many: Vec<&[u8]> = data.chunks(17).collect();
        assert_eq!(digest(&many), whole);
    }
}
