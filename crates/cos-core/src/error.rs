//! The one error contract of the store. Every variant has a stable `code`
//! (for tests, logs and the developer tools) and the `DOMException` name the
//! page sees; `to_wire` is the only place a page-visible error is built.
//!
//! A message a page can read depends only on that page's own input: never on
//! budgets, on other sites' files, or on what other sites are writing.

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CosError {
    /// The message did not match the schema (wrong shape, type, or size).
    #[error("malformed request: {0}")]
    InvalidMessage(String),

    #[error("hash.algorithm {0:?} is not a digest algorithm; use \"SHA-256\"")]
    UnknownAlgorithm(String),

    #[error("hash.algorithm {0:?} is valid but not supported by this store; use \"SHA-256\"")]
    UnsupportedAlgorithm(String),

    #[error("hash.value must be 64 lowercase hexadecimal characters for SHA-256: {0}")]
    InvalidHashValue(String),

    #[error("origins[{index}] ({value:?}) is not a valid origin: {reason}")]
    InvalidOrigin { index: usize, value: String, reason: &'static str },

    #[error("origins lists {count} origins; at most {max} are allowed")]
    TooManyOrigins { count: usize, max: usize },

    /// The caller has no usable origin (opaque, or not a web page).
    #[error("cross-origin storage is not available to {0}")]
    CallerNotAllowed(String),

    /// The Permissions Policy of the caller's document (its own header, or
    /// what the frames above it allow) leaves the feature off. Constant: it
    /// names no frame and no header.
    #[error("the Permissions Policy of this document does not allow \"cross-origin-storage\"")]
    DisabledByPermissionsPolicy,

    /// The user (or their administrator) turned the API off for the
    /// caller's own site: a frame loaded before that still has its scripts.
    /// Depends only on the caller's own site.
    #[error("cross-origin storage is turned off for this site; it is gone once the page reloads")]
    DisabledForSite,

    /// Missing and not-disclosed entries must be indistinguishable: one message for both.
    #[error("no file with this hash is available")]
    NotFound,

    #[error("the written bytes hash to {actual}, not to the declared {expected}; nothing was stored")]
    IntegrityMismatch { expected: String, actual: String },

    #[error("nothing was written; nothing was stored")]
    EmptyWrite,

    /// More of the file was never written than the store will hash on the page's behalf.
    #[error(
        "{unwritten} bytes of the file were never written (a gap or a truncate beyond the end); nothing was stored"
    )]
    Unwritten { unwritten: u64 },

    #[error("this writable is no longer open (closed, aborted, or the extension restarted)")]
    UnknownSession,

    #[error("invalid write state: {0}")]
    InvalidState(String),

    /// Deliberately without numbers: the limit derives from the disk, and a
    /// number in the message would be a fingerprint.
    #[error("storing this file would exceed the space this site may use")]
    QuotaExceeded,

    /// The extension's own storage failed; the message never carries the
    /// browser's text, which could name paths or other sites' files.
    #[error("the extension could not complete this operation; retry")]
    Io,

    /// A bug inside the extension (never the page's fault).
    #[error("internal error in the extension: {0}")]
    Internal(String),
}

impl CosError {
    /// Stable machine-readable code; never reworded.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidMessage(_) => "invalid-message",
            Self::UnknownAlgorithm(_) => "unknown-algorithm",
            Self::UnsupportedAlgorithm(_) => "unsupported-algorithm",
            Self::InvalidHashValue(_) => "invalid-hash-value",
            Self::InvalidOrigin { .. } => "invalid-origin",
            Self::TooManyOrigins { .. } => "too-many-origins",
            Self::CallerNotAllowed(_) => "caller-not-allowed",
            Self::DisabledByPermissionsPolicy => "permissions-policy",
            Self::DisabledForSite => "disabled-for-site",
            Self::NotFound => "not-found",
            Self::IntegrityMismatch { .. } => "integrity-mismatch",
            Self::EmptyWrite => "empty-write",
            Self::Unwritten { .. } => "unwritten",
            Self::UnknownSession => "unknown-session",
            Self::InvalidState(_) => "invalid-state",
            Self::QuotaExceeded => "quota-exceeded",
            Self::Io => "io",
            Self::Internal(_) => "internal",
        }
    }

    /// The `DOMException` name (or `TypeError`) the page's promise rejects with.
    pub fn dom_name(&self) -> &'static str {
        match self {
            Self::InvalidMessage(_)
            | Self::UnknownAlgorithm(_)
            | Self::InvalidHashValue(_)
            | Self::InvalidOrigin { .. }
            | Self::TooManyOrigins { .. } => "TypeError",
            Self::UnsupportedAlgorithm(_) => "NotSupportedError",
            Self::CallerNotAllowed(_) | Self::DisabledByPermissionsPolicy | Self::DisabledForSite => "NotAllowedError",
            Self::NotFound => "NotFoundError",
            Self::IntegrityMismatch { .. } | Self::EmptyWrite | Self::Unwritten { .. } => "DataError",
            Self::UnknownSession | Self::InvalidState(_) => "InvalidStateError",
            Self::QuotaExceeded => "QuotaExceededError",
            Self::Io | Self::Internal(_) => "UnknownError",
        }
    }

    /// The wire form sent back to the page: the only way an error leaves the engine.
    pub fn to_wire(&self) -> WireError {
        WireError { name: self.dom_name(), code: self.code(), message: self.to_string() }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WireError {
    pub name: &'static str,
    pub code: &'static str,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, CosError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_missing_look_the_same() {
        // There is only one NotFound variant, so only one wire form exists.
        let wire = CosError::NotFound.to_wire();
        assert_eq!(wire.name, "NotFoundError");
        assert_eq!(wire.code, "not-found");
    }

    #[test]
    fn validation_errors_are_type_errors_and_nothing_else_is() {
        for e in [
            CosError::UnknownAlgorithm("md5".into()),
            CosError::InvalidHashValue("x".into()),
            CosError::TooManyOrigins { count: 2, max: 1 },
            CosError::InvalidMessage("x".into()),
        ] {
            assert_eq!(e.dom_name(), "TypeError", "{e}");
        }
        // The extension's own failures never blame the page's arguments.
        for e in [CosError::Io, CosError::Internal("bug".into()), CosError::UnknownSession] {
            assert_ne!(e.dom_name(), "TypeError", "{e}");
        }
    }

    #[test]
    fn quota_message_carries_no_number() {
        let message = CosError::QuotaExceeded.to_string();
        assert!(!message.chars().any(|c| c.is_ascii_digit()), "{message}");
    }
}
