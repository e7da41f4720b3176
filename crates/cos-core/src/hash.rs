//! The key of every entry: a validated SHA-256 digest.

use crate::error::{CosError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A SHA-256 digest as 64 lowercase hex characters. Construction validates,
/// so holding one proves the value is well formed (and safe as a file name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash(String);

/// WebCrypto digest names: valid in the API, compared ASCII case-insensitively.
const DIGEST_NAMES: [&str; 4] = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];

impl ContentHash {
    /// Validates a `{algorithm, value}` pair as the page gave it.
    pub fn parse(algorithm: &str, value: &str) -> Result<Self> {
        let Some(name) = DIGEST_NAMES.iter().find(|n| n.eq_ignore_ascii_case(algorithm)) else {
            return Err(CosError::UnknownAlgorithm(truncated(algorithm)));
        };
        if *name != "SHA-256" {
            return Err(CosError::UnsupportedAlgorithm(name.to_string()));
        }
        Self::from_hex(value)
    }

    /// Validates a bare SHA-256 hex digest (index keys, file names).
    pub fn from_hex(value: &str) -> Result<Self> {
        if value.len() != 64 {
            return Err(CosError::InvalidHashValue(format!("got {} characters", value.chars().count())));
        }
        if let Some(c) = value.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            let what = if c.is_ascii_hexdigit() { "uppercase is not allowed" } else { "not a hex digit" };
            return Err(CosError::InvalidHashValue(format!("{c:?} is {what}")));
        }
        Ok(Self(value.to_owned()))
    }

    /// Lowercase hex digest of raw digest bytes.
    pub fn from_digest(bytes: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContentHash {
    type Error = CosError;
    fn try_from(value: String) -> Result<Self> {
        Self::from_hex(&value)
    }
}

impl From<ContentHash> for String {
    fn from(hash: ContentHash) -> Self {
        hash.0
    }
}

/// Keeps hostile strings from bloating error messages.
pub(crate) fn truncated(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn validation_table() {
        let upper = EMPTY.to_uppercase();
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("SHA-256", EMPTY, None),
            ("sha-256", EMPTY, None),
            ("Sha-256", EMPTY, None),
            ("SHA-256", &upper, Some("invalid-hash-value")),
            ("SHA-256", &EMPTY[..63], Some("invalid-hash-value")),
            ("SHA-256", "", Some("invalid-hash-value")),
            ("md5", EMPTY, Some("unknown-algorithm")),
            ("SHA256", EMPTY, Some("unknown-algorithm")),
            ("", EMPTY, Some("unknown-algorithm")),
            ("SHA-512", EMPTY, Some("unsupported-algorithm")),
            ("sha-1", EMPTY, Some("unsupported-algorithm")),
        ];
        for (alg, value, want) in cases {
            let got = ContentHash::parse(alg, value).err().map(|e| e.code());
            assert_eq!(got, *want, "{alg} {value}");
        }
        let long = format!("{EMPTY}0");
        let nonhex = format!("{}g", &EMPTY[..63]);
        let multibyte = format!("{}é", &EMPTY[..62]);
        for v in [long, nonhex, multibyte] {
            assert_eq!(ContentHash::parse("SHA-256", &v).unwrap_err().code(), "invalid-hash-value", "{v}");
        }
    }

    #[test]
    fn digest_hex_round_trip() {
        assert_eq!(ContentHash::from_digest(&[0x00, 0xab, 0xff]).as_str(), "00abff");
    }

    #[test]
    fn serde_revalidates() {
        assert!(serde_json::from_str::<ContentHash>(&format!("\"{EMPTY}\"")).is_ok());
        assert!(serde_json::from_str::<ContentHash>("\"../../etc/passwd\"").is_err());
    }

    #[test]
    fn truncates_hostile_strings() {
        let s = "x".repeat(10_000);
        assert!(truncated(&s).chars().count() <= 65);
    }
}
