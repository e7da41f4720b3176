//! The Public Hash List (PHL): digests of widely used public files (runtimes,
//! popular models). A globally disclosable entry reaches other sites only if
//! its hash is listed, so a rare file cannot become a cross-site tracking
//! beacon.
//!
//! The text format is the spec's, PSL-like: `//` comments (`// VERSION:` and
//! `// COMMIT:` are kept as metadata), and sections of one lowercase hex
//! digest per line:
//!
//! ```text
//! // VERSION: 2026-09-14
//! // ===BEGIN SHA-256===
//! fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a
//! // ===END SHA-256===
//! // ===BEGIN SHA-256 HUGGING-FACE===
//! // ===END SHA-256 HUGGING-FACE===
//! // ===BEGIN SHA-256 MANUAL===
//! // ===END SHA-256 MANUAL===
//! ```
//!
//! The upstream list holds ~450k digests (~30–90 MB of text), so it is parsed
//! as a stream ([`PhlParser`]): the text never has to be in memory at once, and
//! no line is copied except one split across two chunks. Each section keeps its
//! digests as sorted 32-byte arrays, binary-searched (see [`digests`] for why
//! in pages rather than one `Vec`).

mod digests;

use crate::hash::{truncated, ContentHash};
use crate::verifier::Verifier;
use digests::{Digest, Digests};
use std::fmt;
use thiserror::Error;

/// A longer line is never a digest, a marker or metadata, only counted (see
/// [`PublicHashList::malformed_lines`]). Only this much of a line split across
/// chunks is buffered, so a list without newlines cannot grow the parser's memory.
const MAX_LINE: usize = 1024;

/// The list's sections, in the spec's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `// ===BEGIN SHA-256===`: files served byte-identically by many hosts.
    Core,
    /// `// ===BEGIN SHA-256 HUGGING-FACE===`: files of popular Hugging Face models.
    HuggingFace,
    /// `// ===BEGIN SHA-256 MANUAL===`: manually added entries (the list's own,
    /// plus the user's: [`PublicHashList::with_manual`]).
    Manual,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Core, Section::HuggingFace, Section::Manual];

    /// The section's name in its `// ===BEGIN <name>===` and `// ===END <name>===` markers.
    pub fn name(self) -> &'static str {
        match self {
            Section::Core => "SHA-256",
            Section::HuggingFace => "SHA-256 HUGGING-FACE",
            Section::Manual => "SHA-256 MANUAL",
        }
    }

    fn named(name: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name().as_bytes() == name)
    }
}

/// Why a list (or its `.sha256` sidecar) was refused. Any of these means the
/// text is not used at all: a damaged list must not half-load.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhlError {
    #[error("not a Public Hash List: it has no SHA-256 section")]
    NoSection,
    #[error("line {line}: section {name:?} is never closed")]
    Unterminated { name: String, line: usize },
    #[error("line {line}: section {name:?} begins inside section {open:?}")]
    NestedBegin { name: String, open: String, line: usize },
    #[error("line {line}: the end of section {name:?} does not close an open section of that name")]
    UnmatchedEnd { name: String, line: usize },
    #[error("the .sha256 sidecar does not hold exactly one SHA-256 digest")]
    MalformedSidecar,
    #[error("the list hashes to {actual}, but its .sha256 sidecar says {expected}")]
    SidecarMismatch { expected: String, actual: String },
}

/// The parsed list: sorted, de-duplicated digests per section, plus metadata.
/// [`Default`] is the empty list, which lists nothing: what a list that failed
/// to load or verify must mean (the spec's fail-closed rule).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PublicHashList {
    /// Indexed by `Section as usize`; each finished (sorted, free of duplicates).
    sections: [Digests; 3],
    version: Option<String>,
    commit: Option<String>,
    malformed_lines: usize,
    ignored_lines: usize,
}

/// What the settings page shows about a loaded list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub version: Option<String>,
    pub commit: Option<String>,
    pub count: usize,
    pub sections: std::collections::BTreeMap<&'static str, usize>,
    pub malformed_lines: usize,
}

impl Info {
    pub fn of(list: &PublicHashList) -> Self {
        Self {
            version: list.version().map(str::to_owned),
            commit: list.commit().map(str::to_owned),
            count: list.len(),
            sections: Section::ALL.iter().map(|s| (s.name(), list.count(*s))).collect(),
            malformed_lines: list.malformed_lines(),
        }
    }
}

impl PublicHashList {
    /// Parses a whole list held in memory; see [`PhlParser`] for the rules.
    pub fn parse(text: &str) -> Result<Self, PhlError> {
        let mut parser = PhlParser::new();
        parser.feed(text.as_bytes());
        parser.finish()
    }

    /// Whether `hash` is in any section.
    pub fn contains(&self, hash: &ContentHash) -> bool {
        decode_digest(hash.as_str().as_bytes()).is_some_and(|digest| self.sections.iter().any(|s| s.contains(&digest)))
    }

    /// Distinct digests over all sections (a digest listed in two sections
    /// counts once). Linear in the smaller sections, so meant for status
    /// pages, not for every request.
    pub fn len(&self) -> usize {
        let [core, hf, manual] = &self.sections;
        let new_in =
            |s: &Digests, earlier: &[&Digests]| s.iter().filter(|d| earlier.iter().all(|e| !e.contains(d))).count();
        core.len() + new_in(hf, &[core]) + new_in(manual, &[core, hf])
    }

    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|s| s.len() == 0)
    }

    /// Distinct digests in one section.
    pub fn count(&self, section: Section) -> usize {
        self.sections[section as usize].len()
    }

    /// The `// VERSION:` comment, if the list has one (the first wins).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `// COMMIT:` comment, if the list has one (the first wins).
    pub fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    /// Lines inside a known section that are not a lowercase SHA-256 hex digest.
    pub fn malformed_lines(&self) -> usize {
        self.malformed_lines
    }

    /// Lines outside every known section that are neither blank nor comments
    /// (including the contents of sections this parser does not know, kept
    /// for a later format that adds, say, SHA-384).
    pub fn ignored_lines(&self) -> usize {
        self.ignored_lines
    }

    /// Heap bytes the list holds (digest storage plus metadata strings).
    pub fn heap_bytes(&self) -> usize {
        let digests: usize = self.sections.iter().map(Digests::heap_bytes).sum();
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        digests + text(&self.version) + text(&self.commit)
    }
}

/// Counts only: the digests themselves would flood any log.
impl fmt::Debug for PublicHashList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("PublicHashList");
        for section in Section::ALL {
            s.field(section.name(), &self.count(section));
        }
        s.field("version", &self.version).field("commit", &self.commit).finish()
    }
}

/// Checks list bytes against their `.sha256` sidecar: either a bare hex
/// digest, or `sha256sum` output (`<hex>  <file name>`, or `<hex> *<file name>`
/// in binary mode). The file name is not checked: the sidecar is fetched by
/// the list's URL plus `.sha256`, so its name adds nothing.
pub fn verify_sidecar(text: &[u8], sidecar: &str) -> Result<(), PhlError> {
    let mut verifier = Verifier::default();
    verifier.update(text);
    check_sidecar(verifier.finish(), sidecar)
}

fn check_sidecar(actual: ContentHash, sidecar: &str) -> Result<(), PhlError> {
    let mut lines = sidecar.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(PhlError::MalformedSidecar);
    };
    let hex = line.split_ascii_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    let expected = ContentHash::from_hex(&hex).map_err(|_| PhlError::MalformedSidecar)?;
    if expected == actual {
        Ok(())
    } else {
        Err(PhlError::SidecarMismatch { expected: expected.to_string(), actual: actual.to_string() })
    }
}

/// A streaming parser: [`feed`](Self::feed) chunks of the list as they
/// arrive (split anywhere, even inside a line), then
/// [`finish`](Self::finish) or [`finish_verified`](Self::finish_verified).
///
/// Rules: blank lines and `//` comments are skipped; a digest line must be
/// exactly 64 lowercase hex characters (surrounding whitespace and a `\r` are
/// trimmed); other lines, and any line over 1 KiB, are counted, never fatal
/// (one bad line must not unlist everything else). Sections may come in any
/// order and repeat; an unknown section name is skipped whole. The list is
/// refused ([`PhlError`]) if it has no known section, a section is never
/// closed, a section begins inside another, or an END marker does not close
/// the open section.
pub struct PhlParser {
    sections: [Digests; 3],
    open: Option<OpenSection>,
    saw_known_section: bool,
    version: Option<String>,
    commit: Option<String>,
    malformed_lines: usize,
    ignored_lines: usize,
    /// Lines completed so far, for error messages.
    line_no: usize,
    /// The start of a line that continues in the next chunk (at most `MAX_LINE + 1` bytes).
    partial: Vec<u8>,
    /// The first structural error; the rest of the text is then only hashed.
    error: Option<PhlError>,
    /// Every byte fed, for the sidecar check.
    verifier: Verifier,
}

struct OpenSection {
    /// `None`: a section this parser does not know.
    section: Option<Section>,
    /// As written (at most `MAX_LINE` bytes), for the END marker to match.
    name: Vec<u8>,
    line: usize,
}

impl Default for PhlParser {
    fn default() -> Self {
        Self::new()
    }
}

impl PhlParser {
    pub fn new() -> Self {
        Self {
            sections: Default::default(),
            open: None,
            saw_known_section: false,
            version: None,
            commit: None,
            malformed_lines: 0,
            ignored_lines: 0,
            line_no: 0,
            partial: Vec::new(),
            error: None,
            verifier: Verifier::default(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.verifier.update(chunk);
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = (&rest[..end], &rest[end + 1..]);
            if self.partial.is_empty() {
                self.line(line);
            } else {
                self.carry(line);
                // Take the buffer out to borrow it while `self` is mutated; it is
                // put back (emptied, capacity kept) so no line allocates.
                let mut partial = std::mem::take(&mut self.partial);
                self.line(&partial);
                partial.clear();
                self.partial = partial;
            }
            rest = tail;
        }
        self.carry(rest);
    }

    /// Ends the list (a last line without a newline counts) and returns it.
    pub fn finish(mut self) -> Result<PublicHashList, PhlError> {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.line(&partial);
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some(open) = self.open {
            return Err(PhlError::Unterminated { name: display_name(&open.name), line: open.line });
        }
        if !self.saw_known_section {
            return Err(PhlError::NoSection);
        }
        for section in &mut self.sections {
            section.finish();
        }
        Ok(PublicHashList {
            sections: self.sections,
            version: self.version,
            commit: self.commit,
            malformed_lines: self.malformed_lines,
            ignored_lines: self.ignored_lines,
        })
    }

    /// [`finish`](Self::finish), but only if every byte fed hashes to the
    /// digest in `sidecar` (see [`verify_sidecar`]); checked first, so a
    /// corrupted download reports the mismatch rather than a parse error.
    pub fn finish_verified(self, sidecar: &str) -> Result<PublicHashList, PhlError> {
        check_sidecar(self.verifier.clone().finish(), sidecar)?;
        self.finish()
    }

    /// Buffers the start of a split line, up to one byte past `MAX_LINE` so
    /// that `line` still sees it is too long.
    fn carry(&mut self, bytes: &[u8]) {
        let room = (MAX_LINE + 1).saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn line(&mut self, raw: &[u8]) {
        self.line_no += 1;
        if self.error.is_some() {
            return;
        }
        // Judged on its raw length, before trimming: only the start of a long
        // line split across chunks was kept, and the verdict must not depend
        // on where the chunks were split.
        if raw.len() > MAX_LINE {
            return self.unlisted();
        }
        let line = raw.trim_ascii();
        if line.is_empty() {
            return;
        }
        if let Some(comment) = line.strip_prefix(b"//") {
            return self.comment(comment.trim_ascii());
        }
        match (self.open_section(), decode_digest(line)) {
            (Some(section), Some(digest)) => self.sections[section as usize].push(digest),
            _ => self.unlisted(),
        }
    }

    fn open_section(&self) -> Option<Section> {
        self.open.as_ref().and_then(|o| o.section)
    }

    /// Counts a line that lists nothing: malformed inside a known section,
    /// ignored elsewhere.
    fn unlisted(&mut self) {
        match self.open_section() {
            Some(_) => self.malformed_lines += 1,
            None => self.ignored_lines += 1,
        }
    }

    fn comment(&mut self, body: &[u8]) {
        let marker = |prefix: &[u8]| body.strip_prefix(prefix)?.strip_suffix(b"===").map(<[u8]>::trim_ascii);
        if let Some(name) = marker(b"===BEGIN ") {
            self.begin(name);
        } else if let Some(name) = marker(b"===END ") {
            self.end(name);
        } else if let Some(value) = body.strip_prefix(b"VERSION:") {
            self.version.get_or_insert_with(|| metadata(value));
        } else if let Some(value) = body.strip_prefix(b"COMMIT:") {
            self.commit.get_or_insert_with(|| metadata(value));
        }
    }

    fn begin(&mut self, name: &[u8]) {
        if let Some(open) = &self.open {
            let (name, open) = (display_name(name), display_name(&open.name));
            self.error = Some(PhlError::NestedBegin { name, open, line: self.line_no });
            return;
        }
        let section = Section::named(name);
        self.saw_known_section |= section.is_some();
        self.open = Some(OpenSection { section, name: name.to_vec(), line: self.line_no });
    }

    fn end(&mut self, name: &[u8]) {
        match self.open.take() {
            Some(open) if open.name == name => {}
            _ => self.error = Some(PhlError::UnmatchedEnd { name: display_name(name), line: self.line_no }),
        }
    }
}

fn metadata(value: &[u8]) -> String {
    String::from_utf8_lossy(value.trim_ascii()).into_owned()
}

/// A section name as text for errors; bounded, since the text is untrusted.
fn display_name(name: &[u8]) -> String {
    truncated(&String::from_utf8_lossy(name))
}

/// 64 lowercase hex characters to 32 bytes; `None` for anything else
/// (uppercase included: the spec's lists are lowercase, like every hash here).
fn decode_digest(hex: &[u8]) -> Option<Digest> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        // Checked once at the end: no branch per character (a list has ~30 MB of them).
        invalid |= (hi | lo) & INVALID;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    (invalid == 0).then_some(digest)
}

const INVALID: u8 = 0x80;

/// Lowercase hex digit to its value; `INVALID` for every other byte.
const NIBBLE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests;
