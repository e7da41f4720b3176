//! The user's settings, changed only from the extension's own pages.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Storage budget in bytes; `None` means the default (derived from the
    /// disk's size by the host).
    #[serde(default)]
    pub budget_bytes: Option<u64>,
}
