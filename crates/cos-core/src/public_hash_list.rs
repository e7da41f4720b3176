//! The Public Hash List: hashes of widely used public files (runtimes,
//! popular models). Under the strict privacy setting a global entry is
//! disclosed across sites only if its hash is listed, so a rare file cannot
//! become a cross-site tracking beacon. The list ships with the extension.

use crate::hash::ContentHash;
use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct PublicHashList {
    sha256: HashSet<ContentHash>,
}

impl PublicHashList {
    /// Parses the PSL-like text format: `//` comments, hashes one per line
    /// inside `// ===BEGIN SHA-256===` … `// ===END SHA-256===`. Lines that
    /// are not valid digests are ignored.
    pub fn parse(text: &str) -> Self {
        let mut list = Self::default();
        let mut in_sha256 = false;
        for line in text.lines().map(str::trim) {
            match line {
                "// ===BEGIN SHA-256===" => in_sha256 = true,
                "// ===END SHA-256===" => in_sha256 = false,
                _ if in_sha256 && !line.starts_with("//") => {
                    if let Ok(hash) = ContentHash::from_hex(line) {
                        list.sha256.insert(hash);
                    }
                }
                _ => {}
            }
        }
        list
    }

    pub fn contains(&self, hash: &ContentHash) -> bool {
        self.sha256.contains(hash)
    }

    pub fn len(&self) -> usize {
        self.sha256.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sha256.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_the_sha256_section() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            "// VERSION: 1\n{b}\n// ===BEGIN SHA-256===\n{a}\n  {b}  \nnot-a-hash\n// comment\n// ===END SHA-256===\n{}\n",
            "c".repeat(64)
        );
        let list = PublicHashList::parse(&text);
        assert_eq!(list.len(), 2);
        assert!(list.contains(&ContentHash::from_hex(&a).unwrap()));
        assert!(!list.contains(&ContentHash::from_hex(&"c".repeat(64)).unwrap()));
    }
}
