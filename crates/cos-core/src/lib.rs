//! Cross-Origin Storage core: every rule of the store, with no browser
//! dependency, so it is tested natively. The service worker does the I/O the
//! [`Engine`] asks for and nothing else.

pub mod disabled_sites;
pub mod engine;
pub mod error;
pub mod hash;
pub mod ids;
pub mod index;
pub mod memory_host;
pub mod message;
pub mod origin;
pub mod permissions_policy;
pub mod probes;
pub mod public_hash_list;
pub mod session;
pub mod settings;
pub mod site;
pub mod sniff;
pub mod verifier;
pub mod visibility;

pub use engine::Engine;
pub use error::{CosError, Result};
pub use site::SiteRules;
