//! What crosses between the engine and its host: the storage steps the
//! engine asks for, the outcomes the host reports, and the facts the host
//! supplies about each request (who asks, what data came with it).
//!
//! The host (the service worker, or `memory_host` in tests) knows how to
//! perform each step and nothing about why or in which order: it performs the
//! step, reports the outcome, and asks for the next, until `Done`.

use crate::error::WireError;
use crate::hash::ContentHash;
use crate::ids::SessionId;
use crate::message::PageRequest;
use crate::permissions_policy::{Blocked, Container, Frame, FrameRef, Header};
use crate::probes::Spent;
use crate::visibility::Visibility;
use serde::{Deserialize, Serialize, Serializer};

/// One request being carried out; the host echoes it back with each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u32);

/// The channel (one frame's port) a request came through, numbered by the
/// host. Write sessions belong to the channel that opened them and end with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(pub u32);

/// Who is asking, as the browser reported it to the host (never as the page
/// says): the caller's frame, and the frames above it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Caller {
    /// The frame's serialized origin (`MessageSender.origin`).
    pub origin: String,
    pub channel: ChannelId,
    /// The caller document's `Permissions-Policy` response header.
    pub permissions_policy: Header,
    /// The element holding the caller's frame; none for a top-level document.
    #[serde(default)]
    pub container: Option<Container>,
    /// The frames above the caller's, top-level first; empty for a top-level
    /// document. The first one's origin is the top-level origin.
    pub ancestors: Vec<Frame>,
    /// The caller document's `Cross-Origin-Storage-Allow-Origin` response
    /// header, if it had one (absent too when the host did not see it).
    #[serde(default)]
    pub allow_origin: Option<String>,
}

impl Caller {
    /// The origin of the tab's top-level document.
    pub fn top_origin(&self) -> &str {
        self.ancestors.first().map_or(&self.origin, |top| &top.origin)
    }

    /// The chain of frames, top-level first, ending with the caller's.
    pub fn frames(&self) -> impl Iterator<Item = FrameRef<'_>> {
        let own = FrameRef {
            origin: &self.origin,
            permissions_policy: &self.permissions_policy,
            container: self.container.as_ref(),
        };
        self.ancestors.iter().map(Frame::as_ref).chain(std::iter::once(own))
    }
}

/// The bytes that travelled beside a write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Data {
    /// A buffer the host holds privately: it writes and feeds the same bytes.
    Bytes { len: u64 },
    /// A Blob: the host copies it into the file without feeding; the engine
    /// then hashes the finished file, so what is verified is what is on disk.
    Blob { size: u64 },
}

impl Data {
    pub fn len(self) -> u64 {
        match self {
            Self::Bytes { len } => len,
            Self::Blob { size } => size,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A mutual exclusion the host provides (first come, first served). A task's
/// locks are released when it is done.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lock {
    /// Changes to which files are stored (commits, deletions, repairs).
    Store,
    /// One write session: its requests run one at a time, in arrival order.
    Session(SessionId),
}

impl Serialize for Lock {
    /// An opaque key for the host.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Store => s.serialize_str("store"),
            Self::Session(id) => s.serialize_str(&format!("session:{id}")),
        }
    }
}

/// The next thing the host does for a task.
#[derive(Debug, Serialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub enum Step {
    /// Wait for `lock`, then report `done`.
    Acquire {
        task: TaskId,
        lock: Lock,
    },
    /// Create `tmp/<session>` and open it for writing.
    OpenTemp {
        task: TaskId,
        session: SessionId,
    },
    /// Write the request's data at `at` (`len` bytes). With `feed`, digest
    /// the same bytes as they are written: pass them to `Engine::feed`, or,
    /// for a file handed to the copier, the copier digests them.
    WriteTemp {
        task: TaskId,
        session: SessionId,
        at: u64,
        len: u64,
        feed: bool,
    },
    TruncateTemp {
        task: TaskId,
        session: SessionId,
        size: u64,
    },
    /// Give the temporary file to the copier (only to a host that said it
    /// has one, `Engine::set_copier_from`). The copier digests the `size`
    /// bytes the file holds, then performs this session's `WriteTemp`,
    /// `TruncateTemp`, `CloseTemp` and `DiscardTemp` steps: it writes each
    /// buffer and digests the same buffer (with `feed`), and its `CloseTemp`
    /// reports `Outcome::Digested` for all it digested, in order.
    HandTemp {
        task: TaskId,
        session: SessionId,
        size: u64,
    },
    /// Finish writing the temporary file (flush and close it).
    CloseTemp {
        task: TaskId,
        session: SessionId,
    },
    /// Stream the closed temporary file's `size` bytes through `Engine::feed`.
    HashTemp {
        task: TaskId,
        session: SessionId,
        size: u64,
    },
    /// Abandon the temporary file, if there is one.
    DiscardTemp {
        task: TaskId,
        session: SessionId,
    },
    /// Move the closed temporary file to `blobs/<hash>`.
    PlaceBlob {
        task: TaskId,
        session: SessionId,
        hash: ContentHash,
    },
    /// Delete these files from `blobs/`; a missing one is not an error.
    DeleteBlobs {
        task: TaskId,
        names: Vec<String>,
    },
    /// Make the index changes durable: take them with `Engine::take_changes`
    /// when performing this step, and report `done` only once they and every
    /// change taken before them are durable (the host writes them in the
    /// order it took them). Taking them when performing, not when the step
    /// was issued, means a late step never writes stale records.
    Persist {
        task: TaskId,
    },
    /// Open `blobs/<hash>`: report `found` with its size, or `missing`.
    ReadBlob {
        task: TaskId,
        hash: ContentHash,
    },
    /// List `blobs/`: report `listed`.
    ListBlobs {
        task: TaskId,
    },
    /// Empty `tmp/` (at start-up no write survives).
    ClearTemps {
        task: TaskId,
    },
    /// The task is over; send `reply` to whoever asked (nobody, for the
    /// engine's own tasks). A read's reply goes with the file `ReadBlob` opened.
    /// `trace` is for the developer tools only: never send it to the page.
    Done {
        task: TaskId,
        reply: Option<Reply>,
        trace: Box<Trace>,
    },
}

impl Step {
    pub fn task(&self) -> TaskId {
        match self {
            Self::Acquire { task, .. }
            | Self::OpenTemp { task, .. }
            | Self::WriteTemp { task, .. }
            | Self::TruncateTemp { task, .. }
            | Self::HandTemp { task, .. }
            | Self::CloseTemp { task, .. }
            | Self::HashTemp { task, .. }
            | Self::DiscardTemp { task, .. }
            | Self::PlaceBlob { task, .. }
            | Self::DeleteBlobs { task, .. }
            | Self::Persist { task, .. }
            | Self::ReadBlob { task, .. }
            | Self::ListBlobs { task }
            | Self::ClearTemps { task }
            | Self::Done { task, .. } => *task,
        }
    }
}

/// What happened in a task, as only the person at the keyboard may see it
/// (the developer tools): what the request was, why a lookup disclosed
/// nothing, which grant disclosed a file, what a write found and left. The
/// page sees none of it: its answer is `Reply`, the same for every refusal.
/// Every field is bounded by the request schema or made by the engine: a
/// page cannot make a trace large.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// The request's operation (`open`, `read`, `write-begin`, `close`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    /// The API method the page called (see `PageRequest::method`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<ContentHash>,
    /// An open's `create` option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
    /// The `origins` option, validated, as the page asked for it (before the
    /// Allow-Origin ceiling); absent for the default (same site).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origins: Option<RequestedOrigins>,
    /// The write session the request opened or worked on (the page's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// Why a lookup disclosed nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<super::Refusal>,
    /// Out of scope: how many origins the file is listed for (none is the caller's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed_origins: Option<usize>,
    /// Probe budget: the window that had no room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Spent>,
    /// Permissions Policy: the frame where the feature is off, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Blocked>,
    /// The Allow-Origin ceiling left listed origins out of the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<Ceiling>,
    /// Why a write did not fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaTrace>,
    /// The grant that disclosed the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::index::Grant>,
    /// Bytes read or written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// A close: whether the bytes hashed to the declared hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// A close that did not verify: what the bytes hashed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_hash: Option<String>,
    /// A verified write: whether the bytes were stored already.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_stored: Option<bool>,
    /// A verified write: the entry's grants afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants_after: Option<GrantsAfter>,
}

impl Trace {
    /// What the request asks, as far as it is valid (an invalid part is
    /// left out: the reply's error says what was wrong with it).
    pub(crate) fn describe(&mut self, request: &PageRequest) {
        (self.op, self.method) = (Some(request.op()), Some(request.method()));
        let (hash, origins) = match request {
            PageRequest::Open { hash, create, origins, .. } => {
                self.create = Some(*create);
                (hash, origins)
            }
            PageRequest::WriteBegin { hash, origins } => (hash, origins),
            PageRequest::Read { hash } => (hash, &None),
            _ => return,
        };
        self.hash = hash.parse().ok();
        self.origins = match Visibility::from_arg(origins.as_ref()) {
            Ok(Visibility::Global) => Some(RequestedOrigins::Everyone("*")),
            Ok(Visibility::Listed(list)) => {
                Some(RequestedOrigins::Listed(list.iter().map(ToString::to_string).collect()))
            }
            Ok(Visibility::SameSite) | Err(_) => None,
        };
    }
}

/// The `origins` option of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RequestedOrigins {
    /// `"*"`.
    Everyone(&'static str),
    Listed(Vec<String>),
}

/// What the `Cross-Origin-Storage-Allow-Origin` ceiling did to a write's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ceiling {
    /// The writing document's header, if it had one.
    pub header: Option<String>,
    /// Listed origins the header did not authorize: left out.
    pub dropped: Vec<String>,
}

/// Why a write did not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum QuotaTrace {
    /// The origin's stored files and open writes (`charged`), plus `adding`,
    /// would pass what one origin may hold.
    Origin { charged_bytes: u64, adding_bytes: u64, limit_bytes: u64 },
    /// The site already stores the most files one site may.
    Files { stored: usize, max: usize },
    /// The browser refused the extension more disk space.
    Disk,
}

/// An entry's grants, as the developer tools show them after a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantsAfter {
    pub global: bool,
    pub on_public_list: bool,
    pub listed: Vec<String>,
    pub storers: usize,
}

/// What the host reports after performing a step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Outcome {
    Done,
    /// `ReadBlob`: the file exists with this size.
    Found {
        size: u64,
    },
    /// `ReadBlob`: no such file.
    Missing,
    /// `CloseTemp` of a file handed to the copier: the SHA-256 of the bytes
    /// it digested, and the file's first bytes (as many as it has, up to
    /// 16), to label its kind.
    Digested {
        sha256: String,
        head: Vec<u8>,
    },
    /// `ListBlobs`: `(name, size)` per entry; `None` for a directory.
    Listed {
        files: Vec<(String, Option<u64>)>,
    },
    /// The step failed; `name` is the `DOMException` name the platform gave.
    Failed {
        name: String,
    },
}

/// The answer to a request: `{ok: true, value}` or `{ok: false, error}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Ok { ok: True, value: Value },
    Err { ok: False, error: WireError },
}

/// A serialized `true`/`false` tag, so the reply shape is checked by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct True;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct False;

impl Serialize for True {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl Serialize for False {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(false)
    }
}

/// The value of a successful reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// `getFileHandle`: a handle for `hash`; `size` when it may be read now.
    Handle {
        hash: ContentHash,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// `createWritable()`.
    Writable { session: SessionId },
    /// `close()`: stored and verified. `warnings` come only from the caller's
    /// own request and context, never from the state of the entry.
    Committed { hash: ContentHash, size: u64, warnings: Vec<String> },
    /// Everything else a page does: nothing to say.
    Empty {},
    /// An answer for the extension's own pages.
    Admin(serde_json::Value),
}

impl Reply {
    pub fn ok(value: Value) -> Self {
        Self::Ok { ok: True, value }
    }

    pub fn err(error: &crate::CosError) -> Self {
        Self::Err { ok: False, error: error.to_wire() }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }
}
