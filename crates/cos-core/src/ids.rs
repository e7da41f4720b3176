//! Unlinkable random values for everything a page can see or that must not
//! be predictable (write-session ids, GREASE draws), without a browser
//! dependency: a hash-based generator (as NIST's Hash_DRBG) keyed by 32 bytes
//! of entropy the host draws from the platform CSPRNG at start-up.
//!
//! Each output is SHA-256(domain || seed || counter): without the seed, two
//! outputs share nothing a page could use to link them, and no output says
//! how many were drawn before it.

use sha2::{Digest, Sha256};

/// The generator. Not `Clone`: two copies would repeat each other's values.
pub struct RandomSource {
    seed: [u8; 32],
    counter: u64,
}

/// A write session's id: 128 random bits as 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id a page sent; only ever compared with ids this store made.
    pub fn from_page(s: String) -> Self {
        Self(s)
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RandomSource {
    pub fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0 }
    }

    /// 32 fresh bytes for `domain` (a label that keeps uses apart).
    fn draw(&mut self, domain: &[u8]) -> [u8; 32] {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(domain);
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        h.finalize().into()
    }

    pub fn session_id(&mut self) -> SessionId {
        let bytes = self.draw(b"cos/session");
        SessionId(crate::hash::ContentHash::from_digest(&bytes[..16]).as_str().to_owned())
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance_per_mille(&mut self, per_mille: u16) -> bool {
        let bytes = self.draw(b"cos/chance");
        u16::from_le_bytes([bytes[0], bytes[1]]) % 1000 < per_mille
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_128_bit_hex_and_unrelated() {
        let mut r = RandomSource::new([7; 32]);
        let ids: Vec<SessionId> = (0..200).map(|_| r.session_id()).collect();
        for id in &ids {
            assert_eq!(id.as_str().len(), 32);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Consecutive ids share no long common prefix (they are not a counter).
        for pair in ids.windows(2) {
            let common = pair[0].as_str().bytes().zip(pair[1].as_str().bytes()).take_while(|(a, b)| a == b).count();
            assert!(common < 8, "{:?}", pair);
        }
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let a = RandomSource::new([1; 32]).session_id();
        let b = RandomSource::new([2; 32]).session_id();
        assert_ne!(a, b);
    }

    #[test]
    fn chance_is_roughly_fair() {
        let mut r = RandomSource::new([3; 32]);
        let hits = (0..100_000).filter(|_| r.chance_per_mille(10)).count();
        assert!((700..1300).contains(&hits), "{hits}");
    }
}
