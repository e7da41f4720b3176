//! One open writable: the file-stream semantics (cursor, seek, truncate,
//! writes past the end) and the verifier that follows them.
//!
//! While the page only appends, every byte is hashed as it is written. A
//! seek-and-overwrite or truncate breaks that; then `close` asks for one more
//! streamed pass over the finished temporary file. A large file may instead be
//! handed to a host that writes and digests it itself (`hand_over`): the host
//! digests the bytes already in the file, then each appended buffer as it
//! writes it, and reports the digest at close. Either way the digest is of
//! exactly the bytes that will be stored.

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::origin::Origin;
use crate::sniff::{kind_of, SNIFF_BYTES};
use crate::verifier::Verifier;
use crate::visibility::Visibility;

/// JavaScript numbers are exact up to 2^53; no file position may pass that.
pub const MAX_POSITION: u64 = (1 << 53) - 1;

/// Bytes of a file the page never sent (zeros from a gap or from truncating
/// beyond the end) that the store will still hash for it at close. Without a
/// bound, `truncate(huge)` + `close()` would make the store hash gigabytes
/// the page never paid for; a real app fills what it preallocates.
pub const MAX_UNWRITTEN: u64 = 16 << 20;

pub struct WriteSession {
    pub origin: Origin,
    pub hash: ContentHash,
    pub visibility: Visibility,
    cursor: u64,
    size: u64,
    verifier: Verifier,
    /// Bytes the page supplied, overwrites included.
    sent: u64,
    /// False once the file stopped being a plain append of hashed bytes.
    in_order: bool,
    /// Bytes of the current planned write (or re-hash pass) not yet fed.
    pending: u64,
    /// Where the next fed byte lands in the file.
    feed_at: u64,
    rehashing: bool,
    /// Who digests the appended bytes: this session's verifier, or the host
    /// the file was handed to (which reports its digest at close).
    digester: Digester,
    /// The file's first bytes, to label its kind.
    prefix: [u8; SNIFF_BYTES],
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Digester {
    /// `feed` brings the bytes to `verifier`.
    Own,
    /// The host digests what it writes; nothing is fed.
    Host,
    /// The host's digest of an in-order file, reported at close.
    HostDigested(ContentHash),
}

/// What `close` needs the worker to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum CloseStep {
    /// Stream the whole temporary file (`size` bytes) through `feed`, then close again.
    FullHash { size: u64 },
    /// The host that writes the file digested it: close it, report the
    /// digest (`host_digested`), then close again.
    HostDigest,
    /// The bytes are verified: commit them.
    Verified { size: u64 },
}

impl WriteSession {
    pub fn new(origin: Origin, hash: ContentHash, visibility: Visibility) -> Self {
        Self {
            origin,
            hash,
            visibility,
            cursor: 0,
            size: 0,
            verifier: Verifier::default(),
            sent: 0,
            in_order: true,
            pending: 0,
            feed_at: 0,
            rehashing: false,
            digester: Digester::Own,
            prefix: [0; SNIFF_BYTES],
        }
    }

    /// The file's size as written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of the planned write (or re-hash pass) not fed yet.
    pub fn missing_bytes(&self) -> u64 {
        self.pending
    }

    /// A label for what the file is, from its first bytes.
    pub fn kind(&self) -> &'static str {
        kind_of(&self.prefix[..self.size.min(SNIFF_BYTES as u64) as usize])
    }

    fn idle(&self) -> Result<()> {
        match (self.pending, self.rehashing) {
            (0, false) => Ok(()),
            (_, true) => Err(CosError::InvalidState("the file is being verified".into())),
            (n, false) => Err(CosError::InvalidState(format!("the previous write is missing {n} bytes"))),
        }
    }

    /// Whether the file's digest so far is this session's own running one:
    /// handing it over now loses nothing.
    pub fn digests_itself_in_order(&self) -> bool {
        self.digester == Digester::Own && self.in_order && self.pending == 0 && !self.rehashing
    }

    /// Whether the host the file was handed to digests its bytes.
    pub fn is_handed_over(&self) -> bool {
        self.digester != Digester::Own
    }

    /// From now on the host that writes the file digests it: first the
    /// `size` bytes it holds (returned), then every appended buffer as it
    /// writes it. Only while the running digest is still valid.
    pub fn hand_over(&mut self) -> Result<u64> {
        if !self.digests_itself_in_order() {
            return Err(CosError::InvalidState("only a file written in order is handed over".into()));
        }
        self.verifier = Verifier::default();
        self.digester = Digester::Host;
        Ok(self.size)
    }

    /// The host's digest of the whole file at close, and the file's first
    /// bytes (up to SNIFF_BYTES, to label its kind).
    pub fn host_digested(&mut self, digest: ContentHash, head: &[u8]) -> Result<()> {
        if self.digester != Digester::Host || !self.rehashing {
            return Err(CosError::InvalidState("no digest was asked of the host".into()));
        }
        if head.len() as u64 != self.size.min(SNIFF_BYTES as u64) {
            return Err(CosError::InvalidState("the file's first bytes do not match its size".into()));
        }
        self.prefix[..head.len()].copy_from_slice(head);
        self.digester = Digester::HostDigested(digest);
        Ok(())
    }

    /// Where a write of `len` bytes at `position` (default: the cursor) would
    /// land, and the file size after it; changes nothing.
    pub fn span_of_write(&self, position: Option<u64>, len: u64) -> Result<(u64, u64)> {
        self.idle()?;
        let at = position.unwrap_or(self.cursor);
        let end = at
            .checked_add(len)
            .filter(|&end| end <= MAX_POSITION)
            .ok_or_else(|| CosError::InvalidState("the write would end past the largest file position".into()))?;
        Ok((at, self.size.max(end)))
    }

    /// Plans a write of `len` bytes at `position` (default: the cursor);
    /// returns the offset the bytes go to. With `digested`, they are digested
    /// as they are written: fed next, or by the host the file was handed to;
    /// without, the bytes are hashed from the finished file at close.
    pub fn plan_write(&mut self, position: Option<u64>, len: u64, digested: bool) -> Result<u64> {
        let (at, size) = self.span_of_write(position, len)?;
        // Appending exactly at the end keeps the running hash valid; anything
        // else (overwrite, or a gap that the file system fills with zeros) does not.
        if at != self.size || !digested {
            self.in_order = false;
        }
        self.pending = if digested && self.digester == Digester::Own { len } else { 0 };
        self.feed_at = at;
        self.cursor = at + len;
        self.size = size;
        self.sent = self.sent.saturating_add(len);
        Ok(at)
    }

    /// Bytes of the planned write (or re-hash pass), in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let n = bytes.len() as u64;
        if n > self.pending {
            return Err(CosError::InvalidState(format!("{n} bytes fed, {} expected", self.pending)));
        }
        self.pending -= n;
        // Compared as u64: on wasm32 a position past 4 GiB would wrap as usize.
        if self.feed_at < SNIFF_BYTES as u64 {
            let at = self.feed_at as usize;
            let take = (SNIFF_BYTES - at).min(bytes.len());
            self.prefix[at..at + take].copy_from_slice(&bytes[..take]);
        }
        self.feed_at += n;
        if self.in_order {
            self.verifier.update(bytes);
        }
        Ok(())
    }

    pub fn seek(&mut self, position: u64) -> Result<()> {
        self.idle()?;
        if position > MAX_POSITION {
            return Err(CosError::InvalidState("seek past the largest file position".into()));
        }
        self.cursor = position;
        Ok(())
    }

    pub fn truncate(&mut self, size: u64) -> Result<()> {
        self.idle()?;
        if size > MAX_POSITION {
            return Err(CosError::InvalidState("truncate past the largest file position".into()));
        }
        if size != self.size {
            self.in_order = false;
        }
        if let Some(cut) = self.prefix.get_mut(size.min(SNIFF_BYTES as u64) as usize..) {
            cut.fill(0);
        }
        self.size = size;
        self.cursor = self.cursor.min(size);
        Ok(())
    }

    /// Finishes the write: asks for a re-hash pass, or reports the verified
    /// size. A mismatch or an empty file is an error (the session is done).
    pub fn close(&mut self) -> Result<CloseStep> {
        if self.pending > 0 {
            return Err(CosError::InvalidState(format!("the last write is missing {} bytes", self.pending)));
        }
        if self.size == 0 {
            return Err(CosError::EmptyWrite);
        }
        if self.rehashing {
            return self.finish();
        }
        let unwritten = self.size.saturating_sub(self.sent);
        if unwritten > MAX_UNWRITTEN {
            return Err(CosError::Unwritten { unwritten });
        }
        if self.in_order && self.digester == Digester::Host {
            self.rehashing = true;
            return Ok(CloseStep::HostDigest);
        }
        if !self.in_order {
            self.verifier = Verifier::default();
            self.digester = Digester::Own;
            self.in_order = true;
            self.rehashing = true;
            self.pending = self.size;
            self.feed_at = 0;
            return Ok(CloseStep::FullHash { size: self.size });
        }
        self.finish()
    }

    /// Compares the digest of every byte of the file with the declared hash.
    fn finish(&mut self) -> Result<CloseStep> {
        self.rehashing = false;
        let actual = match std::mem::replace(&mut self.digester, Digester::Own) {
            Digester::HostDigested(digest) => digest,
            Digester::Host => return Err(CosError::InvalidState("the host's digest has not arrived".into())),
            Digester::Own => {
                debug_assert_eq!(self.verifier.len(), self.size);
                std::mem::take(&mut self.verifier).finish()
            }
        };
        if actual != self.hash {
            return Err(CosError::IntegrityMismatch { expected: self.hash.to_string(), actual: actual.to_string() });
        }
        Ok(CloseStep::Verified { size: self.size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> ContentHash {
        let mut v = Verifier::default();
        v.update(bytes);
        v.finish()
    }

    fn session_for(bytes: &[u8]) -> WriteSession {
        WriteSession::new(Origin::parse("https://a.test").unwrap(), sha(bytes), Visibility::SameSite)
    }

    fn write(s: &mut WriteSession, position: Option<u64>, bytes: &[u8]) -> u64 {
        let at = s.plan_write(position, bytes.len() as u64, true).unwrap();
        for chunk in bytes.chunks(3) {
            s.feed(chunk).unwrap();
        }
        at
    }

    #[test]
    fn appends_verify_without_a_second_pass() {
        let mut s = session_for(b"hello world");
        assert_eq!(write(&mut s, None, b"hello "), 0);
        assert_eq!(write(&mut s, None, b"world"), 6);
        assert_eq!(s.close().unwrap(), CloseStep::Verified { size: 11 });
    }

    #[test]
    fn explicit_append_position_stays_in_order() {
        let mut s = session_for(b"abcdef");
        write(&mut s, Some(0), b"abc");
        write(&mut s, Some(3), b"def");
        assert_eq!(s.close().unwrap(), CloseStep::Verified { size: 6 });
    }

    #[test]
    fn overwrite_needs_a_full_pass_over_the_final_bytes() {
        let mut s = session_for(b"hallo");
        write(&mut s, None, b"hello");
        s.seek(1).unwrap();
        assert_eq!(write(&mut s, None, b"a"), 1);
        assert_eq!(s.close().unwrap(), CloseStep::FullHash { size: 5 });
        assert!(s.plan_write(None, 1, true).is_err(), "no writes during verification");
        s.feed(b"hal").unwrap();
        s.feed(b"lo").unwrap();
        assert_eq!(s.close().unwrap(), CloseStep::Verified { size: 5 });
    }

    #[test]
    fn truncate_and_gaps_break_the_running_hash() {
        let mut s = session_for(b"abc");
        write(&mut s, None, b"abcdef");
        s.truncate(3).unwrap();
        assert_eq!(s.close().unwrap(), CloseStep::FullHash { size: 3 });

        let mut s = session_for(b"x");
        write(&mut s, Some(4), b"x");
        assert_eq!(s.close().unwrap(), CloseStep::FullHash { size: 5 }, "a gap is zero-filled by the file system");
    }

    #[test]
    fn truncate_moves_the_cursor_back() {
        let mut s = session_for(b"abX");
        write(&mut s, None, b"abcdef");
        s.truncate(2).unwrap();
        assert_eq!(write(&mut s, None, b"X"), 2);
    }

    #[test]
    fn mismatch_and_empty_are_data_errors() {
        let mut s = session_for(b"right");
        write(&mut s, None, b"wrong");
        assert_eq!(s.close().unwrap_err().code(), "integrity-mismatch");
        let mut s = session_for(b"");
        assert_eq!(s.close().unwrap_err().code(), "empty-write");
    }

    #[test]
    fn feeding_more_than_planned_is_refused() {
        let mut s = session_for(b"ab");
        s.plan_write(None, 1, true).unwrap();
        assert!(s.feed(b"ab").is_err());
        s.feed(b"a").unwrap();
        s.plan_write(None, 1, true).unwrap();
        assert_eq!(s.close().unwrap_err().code(), "invalid-state", "short write");
    }

    #[test]
    fn kind_follows_the_final_first_bytes() {
        let mut s = session_for(b"x");
        write(&mut s, None, b"{\"a\":1}");
        assert_eq!(s.kind(), "json");
        write(&mut s, Some(0), b"\0asm");
        assert_eq!(s.kind(), "wasm");
        s.truncate(1).unwrap();
        assert_eq!(s.kind(), "binary");
    }

    #[test]
    fn unfed_bytes_are_hashed_from_the_file() {
        let mut s = session_for(b"blob");
        s.plan_write(None, 4, false).unwrap();
        assert!(s.feed(b"b").is_err(), "nothing to feed for a Blob write");
        assert_eq!(s.close().unwrap(), CloseStep::FullHash { size: 4 });
        s.feed(b"blob").unwrap();
        assert_eq!(s.close().unwrap(), CloseStep::Verified { size: 4 });
    }

    #[test]
    fn bytes_never_sent_are_bounded() {
        let mut s = session_for(b"x");
        write(&mut s, None, b"x");
        s.truncate(MAX_UNWRITTEN + 2).unwrap();
        assert_eq!(s.close().unwrap_err(), CosError::Unwritten { unwritten: MAX_UNWRITTEN + 1 });
        // Preallocating and then filling every byte is fine.
        let data = vec![7u8; 1000];
        let mut s = session_for(&data);
        s.truncate(1000).unwrap();
        write(&mut s, Some(0), &data);
        assert_eq!(s.close().unwrap(), CloseStep::FullHash { size: 1000 });
    }

    #[test]
    fn positions_are_bounded() {
        let mut s = session_for(b"a");
        assert!(s.plan_write(Some(MAX_POSITION), 2, true).is_err());
        assert!(s.plan_write(Some(u64::MAX), 1, true).is_err());
        assert!(s.seek(MAX_POSITION + 1).is_err());
    }
}
