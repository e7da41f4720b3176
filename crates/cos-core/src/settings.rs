//! The user's settings, changed only from the extension's own pages.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Storage budget in bytes; `None` means the default (a share of the
    /// disk space the browser grants the extension).
    #[serde(default)]
    pub budget_bytes: Option<u64>,
    /// Disclose global files across sites only if on the Public Hash List.
    #[serde(default)]
    pub strict_global: bool,
}
