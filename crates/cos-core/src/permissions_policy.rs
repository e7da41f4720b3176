//! Permissions Policy for the `cross-origin-storage` feature, whose default
//! allowlist is `self` (the spec's method, step 1). It is what keeps a
//! tracker framed on many sites from using the store at all: a cross-origin
//! frame may use it only if its parent allows it with `allow=` and the
//! parent may use it itself, and any document can turn it off for itself and
//! its frames with `Permissions-Policy: cross-origin-storage=()`.
//!
//! The facts come from the browser, through the host: each frame's origin,
//! its document's response header, and the `allow` attribute of the element
//! holding it, read in its parent's document (never what the framed page
//! says). A container the host could not observe counts as the narrowest
//! declaration: a frame is allowed only when the element holding it is known
//! to allow it. A response header the host did not see (a page its own
//! service worker served: `webRequest` does not report those; or one loaded
//! before the extension started) counts as absent: the default allowlist
//! `self` applies, so a cross-origin frame still needs its parent's `allow`.
//! What is lost is only a document's own opt-out (`=()`) for such pages;
//! refusing them instead would shut every service-worker app (most of the
//! web apps that run models) out of the store.
//!
//! The evaluation follows the spec's algorithms ("Define an inherited policy
//! for feature in container at origin", "Get feature value for origin",
//! "Is feature enabled in document for origin") down the chain of frames.

mod allowlist;
mod structured_field;

use crate::origin::Origin;
use allowlist::{Allowlist, PolicyOrigin};
use serde::Deserialize;

/// The feature's name in headers and `allow` attributes.
pub const FEATURE: &str = "cross-origin-storage";

/// A document's `Permissions-Policy` response header, as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Header {
    Absent,
    /// Its value (repeated headers joined with `, `, as HTTP combines them).
    Present {
        value: String,
    },
    /// The host did not see the response (for instance one a service worker
    /// served, which `webRequest` does not report): as `Absent`.
    Unknown,
}

/// The element holding a frame, in its parent's document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Container {
    /// An `<iframe>`: its `allow` attribute, if it has one, and the origin
    /// its `src` declares (what `'src'` means: `"null"` if sandboxed
    /// without `allow-same-origin`).
    Iframe {
        allow: Option<String>,
        #[serde(rename = "srcOrigin")]
        src_origin: String,
    },
    /// A `<frame>`, `<object>` or `<embed>`: no container policy of its own.
    Other,
    /// The host could not tell which element holds the frame.
    Unknown,
}

/// One frame above the caller's, as the browser reported it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Frame {
    /// Its document's serialized origin (`"null"` if opaque).
    pub origin: String,
    pub permissions_policy: Header,
    /// The element holding it; none for the top-level frame.
    #[serde(default)]
    pub container: Option<Container>,
}

/// A frame of the chain the evaluation walks.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub origin: &'a str,
    pub permissions_policy: &'a Header,
    pub container: Option<&'a Container>,
}

impl Frame {
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            origin: &self.origin,
            permissions_policy: &self.permissions_policy,
            container: self.container.as_ref(),
        }
    }
}

/// A frame once evaluated: what its children inherit from it.
struct Evaluated {
    origin: PolicyOrigin,
    /// Its header's declaration for the feature, if any.
    declared: Option<Allowlist>,
    /// Its inherited policy for the feature.
    inherited: bool,
}

impl Evaluated {
    /// The spec's "Get feature value for origin" in this frame's document.
    fn allows(&self, origin: &PolicyOrigin) -> bool {
        self.inherited && self.declared.as_ref().is_none_or(|d| d.matches(origin))
    }
}

/// Whether the feature is enabled in the document of the last frame of
/// `chain`, given top-level first. An empty chain, or one whose first frame
/// has a container (so it does not start at the top), enables nothing.
pub fn enabled<'a>(chain: impl IntoIterator<Item = FrameRef<'a>>) -> bool {
    let mut parent: Option<Evaluated> = None;
    for frame in chain {
        let origin = Origin::parse(frame.origin).ok();
        let inherited = match &parent {
            None => frame.container.is_none(),
            Some(parent) => inherited(parent, &origin, frame.container),
        };
        // Only a frame that inherited the feature can declare anything
        // about it; its header can then only narrow what it inherited.
        let declared = match frame.permissions_policy {
            Header::Absent | Header::Unknown => None,
            Header::Present { value } => allowlist::from_header(value, &origin),
        };
        parent = Some(Evaluated { origin, declared, inherited });
    }
    // The default allowlist `self` always matches a document's own origin.
    parent.is_some_and(|last| last.allows(&last.origin))
}

/// The spec's "Define an inherited policy for feature in container at
/// origin", for a frame of `origin` held by `container` in `parent`.
fn inherited(parent: &Evaluated, origin: &PolicyOrigin, container: Option<&Container>) -> bool {
    if !parent.allows(&parent.origin) || !parent.allows(origin) {
        return false;
    }
    let same_origin_as_parent = origin.is_some() && *origin == parent.origin;
    match container {
        // Below the top, a frame with no container is a fact the host did not supply.
        None | Some(Container::Unknown) => false,
        Some(Container::Other) => same_origin_as_parent,
        Some(Container::Iframe { allow, src_origin }) => {
            let src = Origin::parse(src_origin).ok();
            match allow.as_deref().and_then(|allow| allowlist::from_allow_attribute(allow, &parent.origin, &src)) {
                Some(list) => list.matches(origin),
                // The default allowlist `self`.
                None => same_origin_as_parent,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "https://a.example";
    const SUB_A: &str = "https://sub.a.example";
    const B: &str = "https://b.example";
    const TRACKER: &str = "https://tracker.example";

    /// One frame, written as `origin`, `origin [header]`, each optionally
    /// followed by ` <- allow` (an iframe whose `src` declares the frame's
    /// own origin), ` <- allow @src` (another `src` origin), ` <- ?`
    /// (container unknown) or ` <- other` (a `<frame>`/`<object>`).
    /// `[?]` is an unknown header.
    fn frame(spec: &str) -> Frame {
        let (document, container) = match spec.split_once(" <- ") {
            Some((d, c)) => (d, Some(c)),
            None => (spec, None),
        };
        let (origin, header) = match document.split_once(" [") {
            Some((o, h)) => (o, Some(h.strip_suffix(']').unwrap())),
            None => (document, None),
        };
        let permissions_policy = match header {
            None => Header::Absent,
            Some("?") => Header::Unknown,
            Some(value) => Header::Present { value: value.to_owned() },
        };
        let container = container.map(|c| match c {
            "?" => Container::Unknown,
            "other" => Container::Other,
            "-" => Container::Iframe { allow: None, src_origin: origin.to_owned() },
            c => {
                let (allow, src) = match c.split_once(" @") {
                    Some((allow, src)) => (allow, src),
                    None => (c, origin),
                };
                Container::Iframe { allow: Some(allow.to_owned()), src_origin: src.to_owned() }
            }
        });
        Frame { origin: origin.to_owned(), permissions_policy, container }
    }

    fn allowed(chain: &[&str]) -> bool {
        let frames: Vec<Frame> = chain.iter().map(|f| frame(f)).collect();
        enabled(frames.iter().map(Frame::as_ref))
    }

    const COS: &str = "cross-origin-storage";

    /// Each chain (top-level first) and whether its last frame may use the store.
    const CHAINS: &[(&[&str], bool, &str)] = &[
        // Top-level documents.
        (&[A], true, "a top-level document"),
        (&["https://a.example [cross-origin-storage=()]"], false, "a document turns it off for itself"),
        (&["https://a.example [cross-origin-storage=*]"], true, "*"),
        (&["https://a.example [cross-origin-storage=self]"], true, "self"),
        (&["https://a.example [cross-origin-storage=(self)]"], true, "(self)"),
        (&["https://a.example [cross-origin-storage=(\"https://b.example\")]"], false, "a list without itself"),
        (&["https://a.example [camera=()]"], true, "another feature"),
        (&["https://a.example [Cross-Origin-Storage=()]"], true, "a malformed header is ignored, as browsers do"),
        (&["https://a.example [cross-origin-storage=(self]"], true, "a malformed header is ignored, as browsers do"),
        (&["https://a.example [?]"], true, "an unknown header counts as absent"),
        (&[], false, "no facts"),
        (&["https://a.example <- -"], false, "a chain that does not start at the top"),
        // Same-origin frames: the default allowlist `self` delegates.
        (&[A, "https://a.example <- -"], true, "a same-origin iframe without allow"),
        (&[A, "https://a.example <- other"], true, "a same-origin <object>"),
        (&["https://a.example [cross-origin-storage=()]", "https://a.example <- -"], false, "the parent turned it off"),
        (&[A, "https://a.example [cross-origin-storage=()] <- -"], false, "the frame turned it off"),
        (&[A, "https://a.example <- cross-origin-storage 'none'"], false, "the container turned it off"),
        (&[A, "https://a.example <- ?"], false, "an unknown container, even same-origin"),
        (&[A, "https://a.example"], false, "a frame below the top with no container"),
        (&[A, "https://sub.a.example <- -"], false, "same-site is not same-origin"),
        // Cross-origin frames need the parent's allow.
        (&[A, "https://b.example <- cross-origin-storage"], true, "allow (means 'src')"),
        (&[A, "https://b.example <- cross-origin-storage 'src'"], true, "allow 'src'"),
        (&[A, "https://b.example <- cross-origin-storage *"], true, "allow *"),
        (&[A, "https://b.example <- cross-origin-storage https://b.example"], true, "allow an origin"),
        (&[A, "https://b.example <- camera; cross-origin-storage"], true, "among other features"),
        (&[A, "https://b.example <- cross-origin-storage 'self'"], false, "allow 'self' is the parent's origin"),
        (&[A, "https://b.example <- camera"], false, "allow without the feature"),
        (&[A, "https://b.example <- other"], false, "a cross-origin <object>"),
        (
            &["https://a.example [cross-origin-storage=*]", "https://b.example <- -"],
            false,
            "a parent's * is not an allow",
        ),
        (
            &[
                "https://a.example [cross-origin-storage=(self \"https://b.example\")]",
                "https://b.example <- cross-origin-storage",
            ],
            true,
            "the parent lists the child and allows it",
        ),
        (
            &["https://a.example [cross-origin-storage=(self)]", "https://b.example <- cross-origin-storage"],
            false,
            "the parent's header does not list the child",
        ),
        (
            &[
                "https://a.example [cross-origin-storage=(\"https://b.example\")]",
                "https://b.example <- cross-origin-storage",
            ],
            false,
            "the parent's header does not list the parent itself",
        ),
        (
            &["https://a.example [?]", "https://b.example <- cross-origin-storage *"],
            true,
            "the parent's header is unknown",
        ),
        (
            &["https://a.example [?]", "https://b.example <- -"],
            false,
            "unknown headers do not let a frame in without allow",
        ),
        (&[A, "https://b.example [cross-origin-storage=()] <- cross-origin-storage"], false, "a child may narrow"),
        (&[A, "https://b.example [?] <- cross-origin-storage"], true, "the child's header is unknown"),
        (
            &[A, "https://b.example <- cross-origin-storage https://*.b.example"],
            false,
            "a wildcard covers subdomains only",
        ),
        (&[A, "https://x.b.example <- cross-origin-storage https://*.b.example"], true, "a wildcard"),
        // Deeper chains: a frame passes on only what it has.
        (&[A, "https://b.example <- cross-origin-storage", "https://b.example <- -"], true, "b's same-origin child"),
        (
            &[A, "https://b.example <- cross-origin-storage", "https://a.example <- -"],
            false,
            "a's frame inside b without b's allow",
        ),
        (
            &[A, "https://b.example <- cross-origin-storage *", "https://a.example <- cross-origin-storage"],
            true,
            "delegated twice",
        ),
        (
            &[
                "https://a.example [cross-origin-storage=()]",
                "https://a.example <- -",
                "https://b.example <- cross-origin-storage",
            ],
            false,
            "allow inside a frame whose parent turned it off",
        ),
        (&["null <- cross-origin-storage *", "https://a.example <- -"], false, "an opaque top"),
        (
            &[A, "null <- cross-origin-storage *", "https://a.example <- cross-origin-storage *"],
            true,
            "through an opaque frame that was allowed",
        ),
        (
            &[A, "null <- cross-origin-storage *", "https://a.example <- -"],
            false,
            "an opaque parent has no same-origin children",
        ),
        (&[A, "https://b.example <- cross-origin-storage 'src' @null"], false, "'src' of a sandboxed iframe"),
    ];

    #[test]
    fn chains() {
        for (chain, expected, why) in CHAINS {
            assert_eq!(allowed(chain), *expected, "{why}: {chain:?}");
        }
    }

    /// The supercookie the policy closes: a tracker framed on many sites.
    #[test]
    fn the_tracker_iframe() {
        for top in [A, B, SUB_A] {
            let tracker = format!("{TRACKER} <- -");
            assert!(!allowed(&[top, &tracker]), "on {top}, without allow");
            // Its own header cannot grant it, nor can the frame that embeds it.
            let with_header = format!("{TRACKER} [{COS}=*] <- -");
            assert!(!allowed(&[top, &with_header]), "its header");
            let ad = "https://ads.example <- -";
            let granted = format!("{TRACKER} <- {COS} *");
            assert!(!allowed(&[top, ad, &granted]), "an ad frame that was not allowed allows it");
            // Allowed for one document, then navigated to the tracker by the frame itself.
            let navigated = format!("{TRACKER} <- {COS} @https://widget.example");
            assert!(!allowed(&[top, &navigated]), "'src' names the origin the parent chose");
            // A parent that lets it in is the control.
            let allowed_in = format!("{TRACKER} <- {COS}");
            assert!(allowed(&[top, &allowed_in]), "the control: allowed by the parent");
        }
    }

    #[test]
    fn facts_from_the_host() {
        let frames: Vec<Frame> = serde_json::from_value(serde_json::json!([
            {"origin": A, "permissionsPolicy": {"kind": "present", "value": "cross-origin-storage=*"}},
            {"origin": B, "permissionsPolicy": {"kind": "absent"},
             "container": {"kind": "iframe", "allow": "cross-origin-storage", "srcOrigin": B}},
            {"origin": B, "permissionsPolicy": {"kind": "unknown"}, "container": {"kind": "unknown"}},
        ]))
        .unwrap();
        assert_eq!(frames[1], frame("https://b.example <- cross-origin-storage"));
        assert_eq!(frames[2], frame("https://b.example [?] <- ?"));
        let bad = serde_json::json!([{"origin": A, "permissionsPolicy": {"kind": "absent"}, "allow": "*"}]);
        assert!(serde_json::from_value::<Vec<Frame>>(bad).is_err(), "unknown fields are refused");
    }
}
