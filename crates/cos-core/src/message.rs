//! The one message schema between pages and the store.
//!
//! A page request is JSON text built by the injected API, but anything on the
//! page can send anything, so decoding is strict: bounded size, known
//! operations only, no unknown fields, exact types. The origin of the sender
//! is never part of a request; the worker takes it from the browser.

use crate::error::{CosError, Result};
use crate::hash::ContentHash;
use crate::settings::Settings;
use crate::visibility::OriginsArg;
use serde::{Deserialize, Serialize};

/// No legitimate request comes close: the largest is 64 listed origins.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

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
    /// One `write`; the bytes travel beside the JSON (a Blob, or an ArrayBuffer).
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

/// Requests from the extension's own pages (popup, settings): the user's
/// actions. Pages can never send these; the worker routes by sender.
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
    /// Delete every file that only origins of this site stored or used.
    DeleteSite {
        origin: String,
    },
    Clear {},
    Settings {
        settings: Settings,
    },
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    if json.len() > MAX_REQUEST_BYTES {
        return Err(CosError::InvalidMessage(format!("request is larger than {MAX_REQUEST_BYTES} bytes")));
    }
    // serde would also read a tagged enum from an array (`["read", {...}]`);
    // the schema is objects with named fields only.
    if !json.trim_start().starts_with('{') {
        return Err(CosError::InvalidMessage("a request is a JSON object".into()));
    }
    serde_json::from_str(json).map_err(|e| CosError::InvalidMessage(e.to_string()))
}

impl PageRequest {
    pub fn decode(json: &str) -> Result<Self> {
        decode(json)
    }

    /// The write session a request belongs to; the worker runs each
    /// session's requests in arrival order.
    pub fn session(&self) -> Option<&str> {
        match self {
            Self::Open { .. } | Self::Read { .. } | Self::WriteBegin { .. } => None,
            Self::Write { session, .. }
            | Self::Seek { session, .. }
            | Self::Truncate { session, .. }
            | Self::Close { session }
            | Self::Abort { session } => Some(session),
        }
    }
}

impl AdminRequest {
    pub fn decode(json: &str) -> Result<Self> {
        decode(json)
    }
}

/// What the worker does next for a request. The engine decides; the worker
/// only performs the I/O named here and reports back.
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub enum Step {
    /// Answer the page with `value`.
    Reply {
        value: serde_json::Value,
    },
    /// Answer with the stored file `blobs/<hash>`.
    ReadFile {
        hash: ContentHash,
        size: u64,
    },
    /// Create the session's temporary file; answer `{session}`.
    OpenTemp {
        session: String,
    },
    /// Stream the request's data (Blob or bytes) into the temporary file at `at`, feeding the engine.
    WriteData {
        session: String,
        at: u64,
    },
    Truncate {
        session: String,
        size: u64,
    },
    /// Close the temporary file, stream all `size` bytes of it through the
    /// engine, then send the same close request again.
    FullHash {
        session: String,
        size: u64,
    },
    /// Verified. One commit at a time: move the temporary file to
    /// `blobs/<hash>` (or delete it if `Engine::is_stored`), then commit the session.
    Commit {
        session: String,
        hash: ContentHash,
    },
    /// Delete the session's temporary file; answer `{}`.
    Discard {
        session: String,
    },
    /// Persist the index, then delete these stored files; answer `value`.
    DeleteFiles {
        hashes: Vec<ContentHash>,
        value: serde_json::Value,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn decodes_every_operation() {
        let hash = format!(r#"{{"algorithm":"SHA-256","value":"{H}"}}"#);
        let cases = [
            format!(r#"{{"op":"open","hash":{hash}}}"#),
            format!(r#"{{"op":"open","hash":{hash},"create":true,"origins":"*"}}"#),
            format!(r#"{{"op":"open","hash":{hash},"origins":["https://a.test"]}}"#),
            format!(r#"{{"op":"read","hash":{hash}}}"#),
            format!(r#"{{"op":"write-begin","hash":{hash},"origins":null}}"#),
            r#"{"op":"write","session":"s"}"#.to_owned(),
            r#"{"op":"write","session":"s","position":5}"#.to_owned(),
            r#"{"op":"seek","session":"s","position":0}"#.to_owned(),
            r#"{"op":"truncate","session":"s","size":3}"#.to_owned(),
            r#"{"op":"close","session":"s"}"#.to_owned(),
            r#"{"op":"abort","session":"s"}"#.to_owned(),
        ];
        for json in cases {
            assert!(PageRequest::decode(&json).is_ok(), "{json}");
        }
    }

    #[test]
    fn admin_requests_are_strict_too() {
        assert_eq!(AdminRequest::decode(r#"{"op":"summary"}"#).unwrap(), AdminRequest::Summary { origin: None });
        assert!(AdminRequest::decode(&format!(r#"{{"op":"delete","hash":"{H}"}}"#)).is_ok());
        let ok = r#"{"op":"settings","settings":{"budgetBytes":null,"strictGlobal":true}}"#;
        assert!(AdminRequest::decode(ok).is_ok());
        for bad in [
            r#"{"op":"delete","hash":"../../x"}"#,
            r#"{"op":"settings","settings":{"budgetBytes":-1}}"#,
            r#"{"op":"settings","settings":{"unknown":1}}"#,
            r#"{"op":"read"}"#,
            r#"{"op":"clear","hash":true}"#,
            r#"{"op":"summary","extra":1}"#,
            r#"["clear"]"#,
        ] {
            assert_eq!(AdminRequest::decode(bad).unwrap_err().code(), "invalid-message", "{bad}");
        }
    }

    #[test]
    fn rejects_hostile_shapes() {
        let hash = format!(r#"{{"algorithm":"SHA-256","value":"{H}"}}"#);
        let cases = [
            String::new(),
            "null".into(),
            "[]".into(),
            "\"open\"".into(),
            r#"{"op":"delete-everything"}"#.into(),
            r#"{"op":"OPEN"}"#.into(),
            format!(r#"{{"op":"open","hash":{hash},"origin":"https://bank.test"}}"#),
            format!(r#"{{"op":"open","hash":{hash},"caller":"https://bank.test"}}"#),
            format!(r#"{{"op":"open","hash":{{"algorithm":"SHA-256","value":"{H}","extra":1}}}}"#),
            r#"{"op":"open","hash":"abc"}"#.into(),
            format!(r#"{{"op":"open","hash":{hash},"create":"yes"}}"#),
            format!(r#"{{"op":"open","hash":{hash},"origins":5}}"#),
            format!(r#"{{"op":"open","hash":{hash},"origins":[1,2]}}"#),
            r#"{"op":"write","session":"s","position":-1}"#.into(),
            r#"{"op":"write","session":"s","position":1.5}"#.into(),
            r#"{"op":"seek","session":7,"position":1}"#.into(),
            r#"{"op":"truncate","session":"s"}"#.into(),
            "{\"op\":\"close\",\"session\":\"s\"".into(),
            r#"["seek","s",1]"#.into(),
            format!(r#"{{"op":"open","hash":{hash},"origins":{}}}"#, "[".repeat(500) + &"]".repeat(500)),
            " ".repeat(MAX_REQUEST_BYTES + 1),
        ];
        for json in cases {
            let err = PageRequest::decode(&json).unwrap_err();
            assert_eq!(err.code(), "invalid-message", "{}", &json[..json.len().min(80)]);
        }
    }
}
