//! The one message schema between pages and the store.
//!
//! A page request is a plain object built by the injected API, but anything
//! on the page can send anything, so decoding is strict: bounded size, known
//! operations only, no unknown fields, exact types. The origin of the sender
//! is never part of a request; the host takes it from the browser.
//!
//! The host converts the structured-clone value it received into a
//! `serde_json::Value` under a `Budget`, before anything is copied whole into
//! the engine's memory: a hostile 100 MB string is refused by its length.

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::settings::Settings;
use crate::visibility::OriginsArg;
use serde::Deserialize;

/// Nesting no request needs more of: `{hash: {value}}`, `{origins: [..]}`.
pub const MAX_DEPTH: usize = 4;
/// Nesting of the extension's own values, the deepest being a caller:
/// `{ancestors: [{container: {allow}}]}`.
pub const HOST_MAX_DEPTH: usize = 6;
/// Array elements plus object fields: the largest request lists 64 origins.
pub const MAX_ITEMS: usize = 256;
/// Total bytes of all strings (UTF-16 code units, as the host measures them).
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// What the host may still copy out of one request.
#[derive(Debug)]
pub struct Budget {
    items: usize,
    string_bytes: usize,
    max_depth: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { items: MAX_ITEMS, string_bytes: MAX_STRING_BYTES, max_depth: MAX_DEPTH }
    }
}

impl Budget {
    /// For values the extension's own code built (a listing of thousands of
    /// files is fine); a depth limit still applies.
    pub fn unlimited() -> Self {
        Self { items: usize::MAX, string_bytes: usize::MAX, max_depth: HOST_MAX_DEPTH }
    }

    /// Called before descending into level `depth` (the top value is level 1).
    pub fn enter(&self, depth: usize) -> Result<()> {
        match depth > self.max_depth {
            true => Err(CosError::InvalidMessage(format!("nested deeper than {} levels", self.max_depth))),
            false => Ok(()),
        }
    }

    /// Called for every array element and object field, before reading it.
    pub fn item(&mut self) -> Result<()> {
        self.items = self
            .items
            .checked_sub(1)
            .ok_or_else(|| CosError::InvalidMessage(format!("more than {MAX_ITEMS} fields and elements")))?;
        Ok(())
    }

    /// Called with a string's length before it is copied.
    pub fn string(&mut self, len: usize) -> Result<()> {
        self.string_bytes = self
            .string_bytes
            .checked_sub(len)
            .ok_or_else(|| CosError::InvalidMessage(format!("strings longer than {MAX_STRING_BYTES} in all")))?;
        Ok(())
    }
}

/// `{algorithm, value}` exactly as the page passed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashArg {
    pub algorithm: String,
    pub value: String,
}

impl HashArg {
    pub fn parse(&self) -> Result<ContentHash> {
        ContentHash::parse(&self.algorithm, &self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PageRequest {
    /// `getFileHandle` / `requestFileHandle`: validate, and for reads check disclosure.
    Open {
        hash: HashArg,
        #[serde(default)]
        create: bool,
        #[serde(default)]
        origins: Option<OriginsArg>,
        /// Which API method the page called, for the developer tools only:
        /// nothing is decided by it.
        #[serde(default)]
        method: Option<OpenMethod>,
    },
    /// `getFile()` on a read handle.
    Read {
        hash: HashArg,
    },
    /// `createWritable()` on a create handle.
    WriteBegin {
        hash: HashArg,
        #[serde(default)]
        origins: Option<OriginsArg>,
    },
    /// One `write`; the bytes travel beside the request (see `step::Data`).
    Write {
        session: String,
        #[serde(default)]
        position: Option<u64>,
    },
    Seek {
        session: String,
        position: u64,
    },
    Truncate {
        session: String,
        size: u64,
    },
    Close {
        session: String,
    },
    Abort {
        session: String,
    },
}

/// The API methods that open a handle (the closed set keeps the field bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OpenMethod {
    GetFileHandle,
    RequestFileHandle,
    RequestFileHandles,
    /// The `fetch()` integration.
    Fetch,
    /// The declarative `crossoriginstorage` attribute.
    Declarative,
}

impl OpenMethod {
    pub fn name(self) -> &'static str {
        match self {
            Self::GetFileHandle => "getFileHandle",
            Self::RequestFileHandle => "requestFileHandle",
            Self::RequestFileHandles => "requestFileHandles",
            Self::Fetch => "fetch",
            Self::Declarative => "declarative",
        }
    }
}

/// Requests from the extension's own pages (popup, settings): the user's
/// actions. Pages can never send these; the host routes by sender.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AdminRequest {
    /// Everything the popup shows; with `origin`, also which files touch
    /// that origin's site and which `delete-site` would delete.
    Summary {
        #[serde(default)]
        origin: Option<String>,
    },
    Delete {
        hash: ContentHash,
    },
    /// The user adds files to the Public Hash List's manual section
    /// (the settings page hashes the files they pick).
    AddPublicHashes {
        hashes: Vec<ContentHash>,
    },
    RemovePublicHashes {
        hashes: Vec<ContentHash>,
    },
    /// Delete every file that only origins of this site stored or used.
    DeleteSite {
        origin: String,
    },
    Clear {},
    /// Turns the API off for this origin's whole site (the per-site switch).
    DisableSite {
        origin: String,
    },
    /// Turns it back on for a site the user turned off (`scheme://registrable-domain`).
    EnableSite {
        site: String,
    },
    Settings {
        settings: Settings,
    },
}

fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    // serde would also read a tagged enum from an array (`["read", {...}]`);
    // the schema is objects with named fields only.
    if !value.is_object() {
        return Err(CosError::InvalidMessage("a request is an object".into()));
    }
    serde_json::from_value(value).map_err(|e| CosError::InvalidMessage(e.to_string()))
}

impl PageRequest {
    pub fn decode(value: serde_json::Value) -> Result<Self> {
        decode(value)
    }

    /// The operation's name on the wire.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Read { .. } => "read",
            Self::WriteBegin { .. } => "write-begin",
            Self::Write { .. } => "write",
            Self::Seek { .. } => "seek",
            Self::Truncate { .. } => "truncate",
            Self::Close { .. } => "close",
            Self::Abort { .. } => "abort",
        }
    }

    /// The API method behind the request, as the developer sees it.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Open { method, .. } => method.unwrap_or(OpenMethod::GetFileHandle).name(),
            Self::Read { .. } => "getFile",
            Self::WriteBegin { .. } => "createWritable",
            Self::Write { .. } => "write",
            Self::Seek { .. } => "seek",
            Self::Truncate { .. } => "truncate",
            Self::Close { .. } => "close",
            Self::Abort { .. } => "abort",
        }
    }
}

impl AdminRequest {
    pub fn decode(value: serde_json::Value) -> Result<Self> {
        decode(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn page(v: serde_json::Value) -> Result<PageRequest> {
        PageRequest::decode(v)
    }

    #[test]
    fn decodes_every_operation() {
        let hash = json!({"algorithm": "SHA-256", "value": H});
        let cases = [
            json!({"op": "open", "hash": hash}),
            json!({"op": "open", "hash": hash, "create": true, "origins": "*"}),
            json!({"op": "open", "hash": hash, "origins": ["https://a.test"]}),
            json!({"op": "open", "hash": hash, "method": "requestFileHandles"}),
            json!({"op": "open", "hash": hash, "method": "fetch"}),
            json!({"op": "open", "hash": hash, "method": "declarative"}),
            json!({"op": "read", "hash": hash}),
            json!({"op": "write-begin", "hash": hash, "origins": null}),
            json!({"op": "write", "session": "s"}),
            json!({"op": "write", "session": "s", "position": 5}),
            json!({"op": "seek", "session": "s", "position": 0}),
            json!({"op": "truncate", "session": "s", "size": 3}),
            json!({"op": "close", "session": "s"}),
            json!({"op": "abort", "session": "s"}),
        ];
        for v in cases {
            assert!(page(v.clone()).is_ok(), "{v}");
        }
    }

    #[test]
    fn the_method_is_for_display() {
        let hash = json!({"algorithm": "SHA-256", "value": H});
        let method = |v| page(v).unwrap().method();
        assert_eq!(method(json!({"op": "open", "hash": hash})), "getFileHandle", "the default");
        assert_eq!(method(json!({"op": "open", "hash": hash, "method": "requestFileHandle"})), "requestFileHandle");
        assert_eq!(method(json!({"op": "read", "hash": hash})), "getFile");
        assert_eq!(method(json!({"op": "close", "session": "s"})), "close");
    }

    #[test]
    fn admin_requests_are_strict_too() {
        assert_eq!(AdminRequest::decode(json!({"op": "summary"})).unwrap(), AdminRequest::Summary { origin: None });
        assert!(AdminRequest::decode(json!({"op": "delete", "hash": H})).is_ok());
        for bad in [
            json!({"op": "delete", "hash": "../../x"}),
            json!({"op": "settings", "settings": {"budgetBytes": -1}}),
            json!({"op": "settings", "settings": {"unknown": 1}}),
            json!({"op": "read"}),
            json!({"op": "clear", "hash": true}),
            json!({"op": "summary", "extra": 1}),
            json!(["clear"]),
        ] {
            assert_eq!(AdminRequest::decode(bad.clone()).unwrap_err().code(), "invalid-message", "{bad}");
        }
    }

    #[test]
    fn rejects_hostile_shapes() {
        let hash = json!({"algorithm": "SHA-256", "value": H});
        let cases = [
            json!(null),
            json!([]),
            json!("open"),
            json!({"op": "delete-everything"}),
            json!({"op": "OPEN"}),
            json!({"op": "open", "hash": hash, "origin": "https://bank.test"}),
            json!({"op": "open", "hash": hash, "caller": "https://bank.test"}),
            json!({"op": "open", "hash": {"algorithm": "SHA-256", "value": H, "extra": 1}}),
            json!({"op": "open", "hash": "abc"}),
            json!({"op": "open", "hash": hash, "create": "yes"}),
            json!({"op": "open", "hash": hash, "method": "deleteEverything"}),
            json!({"op": "open", "hash": hash, "method": "x".repeat(1000)}),
            json!({"op": "read", "hash": hash, "method": "getFileHandle"}),
            json!({"op": "open", "hash": hash, "origins": 5}),
            json!({"op": "open", "hash": hash, "origins": [1, 2]}),
            json!({"op": "write", "session": "s", "position": -1}),
            json!({"op": "write", "session": "s", "position": 1.5}),
            json!({"op": "seek", "session": 7, "position": 1}),
            json!({"op": "truncate", "session": "s"}),
            json!(["seek", "s", 1]),
        ];
        for v in cases {
            assert_eq!(page(v.clone()).unwrap_err().code(), "invalid-message", "{v}");
        }
    }

    #[test]
    fn the_budget_refuses_before_copying() {
        let budget = Budget::default();
        assert!(budget.enter(MAX_DEPTH).is_ok());
        assert_eq!(budget.enter(MAX_DEPTH + 1).unwrap_err().code(), "invalid-message");
        assert!(Budget::unlimited().enter(HOST_MAX_DEPTH).is_ok());
        assert!(Budget::unlimited().enter(HOST_MAX_DEPTH + 1).is_err());
        let mut budget = Budget::default();
        assert!(budget.string(MAX_STRING_BYTES).is_ok());
        assert!(budget.string(1).is_err(), "the total is bounded, not each string");
        let mut budget = Budget::default();
        for _ in 0..MAX_ITEMS {
            budget.item().unwrap();
        }
        assert!(budget.item().is_err());
    }
}
