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
use serde::{Deserialize, Serialize};

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
struct Evaluated<'a> {
    /// Its origin as the browser reported it, and as the policy compares it.
    name: &'a str,
    origin: PolicyOrigin,
    /// Its header's declaration for the feature, if any.
    declared: Option<Allowlist>,
    /// Its header, for saying why a child was refused.
    header: &'a Header,
}

impl Evaluated<'_> {
    /// The spec's "Get feature value for origin" in this frame's document,
    /// for a frame that inherited the feature (the walk stops at the first
    /// that did not).
    fn allows(&self, origin: &PolicyOrigin) -> bool {
        self.declared.as_ref().is_none_or(|d| d.matches(origin))
    }
}

/// Why the feature is off in the caller's document: the first frame of the
/// chain (top-level first) in which it is off, and what turned it off there.
/// For the developer tools only: the page's error names no frame and no header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    /// The frame's position in the chain: 0 is the top-level document.
    pub frame: usize,
    /// That frame's origin.
    pub origin: String,
    /// The origin of the frame above it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub cause: BlockCause,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BlockCause {
    /// The host could not establish the chain of frames.
    NoFrames,
    /// The chain does not start at a top-level document.
    NotTopLevel,
    /// The frame's own `Permissions-Policy` header leaves its origin out.
    OwnHeader { header: String },
    /// The parent's `Permissions-Policy` header leaves the frame's origin out.
    ParentHeader { header: String },
    /// The host could not tell which element of the parent holds the frame.
    UnknownContainer,
    /// A `<frame>`, `<object>` or `<embed>` of another origin: such elements
    /// cannot delegate the feature.
    OtherContainer,
    /// The `<iframe>`'s `allow` attribute (none, if absent) does not let the
    /// frame's origin in; `src_origin` is what `'src'` stands for.
    IframeAllow {
        allow: Option<String>,
        #[serde(rename = "srcOrigin")]
        src_origin: String,
    },
}

/// Whether the feature is enabled in the document of the last frame of
/// `chain`, given top-level first; if not, why. An empty chain, or one whose
/// first frame has a container (so it does not start at the top), enables nothing.
pub fn check<'a>(chain: impl IntoIterator<Item = FrameRef<'a>>) -> Result<(), Blocked> {
    let mut parent: Option<Evaluated> = None;
    for (index, frame) in chain.into_iter().enumerate() {
        let origin = Origin::parse(frame.origin).ok();
        let blocked = |cause| Blocked {
            frame: index,
            origin: frame.origin.to_owned(),
            parent: parent.as_ref().map(|p| p.name.to_owned()),
            cause,
        };
        let inherited = match &parent {
            None if frame.container.is_some() => Err(BlockCause::NotTopLevel),
            None => Ok(()),
            Some(parent) => inherited(parent, &origin, frame.container),
        };
        inherited.map_err(blocked)?;
        // Only a frame that inherited the feature can declare anything
        // about it; its header can then only narrow what it inherited.
        let declared = match frame.permissions_policy {
            Header::Absent | Header::Unknown => None,
            Header::Present { value } => allowlist::from_header(value, &origin),
        };
        let evaluated = Evaluated { name: frame.origin, origin, declared, header: frame.permissions_policy };
        // The default allowlist `self` always matches a document's own
        // origin. A frame in which the feature is off turns it off for
        // every frame below it, so the first such frame is the answer.
        if !evaluated.allows(&evaluated.origin) {
            return Err(blocked(BlockCause::OwnHeader { header: header_text(frame.permissions_policy) }));
        }
        parent = Some(evaluated);
    }
    match parent {
        Some(_) => Ok(()),
        None => Err(Blocked { frame: 0, origin: "null".to_owned(), parent: None, cause: BlockCause::NoFrames }),
    }
}

/// The spec's "Define an inherited policy for feature in container at
/// origin", for a frame of `origin` held by `container` in `parent` (in
/// which the feature is enabled: the walk stops at the first frame where it is not).
fn inherited(parent: &Evaluated, origin: &PolicyOrigin, container: Option<&Container>) -> Result<(), BlockCause> {
    if !parent.allows(origin) {
        return Err(BlockCause::ParentHeader { header: header_text(parent.header) });
    }
    let same_origin_as_parent = origin.is_some() && *origin == parent.origin;
    match container {
        // Below the top, a frame with no container is a fact the host did not supply.
        None | Some(Container::Unknown) => Err(BlockCause::UnknownContainer),
        Some(Container::Other) if same_origin_as_parent => Ok(()),
        Some(Container::Other) => Err(BlockCause::OtherContainer),
        Some(Container::Iframe { allow, src_origin }) => {
            let src = Origin::parse(src_origin).ok();
            let allowed = match allow.as_deref().and_then(|a| allowlist::from_allow_attribute(a, &parent.origin, &src))
            {
                Some(list) => list.matches(origin),
                // The default allowlist `self`.
                None => same_origin_as_parent,
            };
            match allowed {
                true => Ok(()),
                false => Err(BlockCause::IframeAllow { allow: allow.clone(), src_origin: src_origin.clone() }),
            }
        }
    }
}

/// A header as the developer tools show it.
fn header_text(header: &Header) -> String {
    match header {
        Header::Present { value } => value.clone(),
        Header::Absent | Header::Unknown => String::new(),
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
        check(frames.iter().map(Frame::as_ref)).is_ok()
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

    /// Why, for the developer tools: the first frame where the feature is
    /// off, and what turned it off there.
    #[test]
    fn the_first_blocked_frame_and_its_cause() {
        let why = |chain: &[&str]| {
            let frames: Vec<Frame> = chain.iter().map(|f| frame(f)).collect();
            check(frames.iter().map(Frame::as_ref)).unwrap_err()
        };
        let at = |frame: usize, origin: &str, parent: Option<&str>, cause: BlockCause| Blocked {
            frame,
            origin: origin.to_owned(),
            parent: parent.map(str::to_owned),
            cause,
        };
        let allow = |allow: Option<&str>, src: &str| BlockCause::IframeAllow {
            allow: allow.map(str::to_owned),
            src_origin: src.to_owned(),
        };
        let header = |h: &str| h.to_owned();
        let cases: &[(&[&str], Blocked)] = &[
            (&[A, "https://b.example <- -"], at(1, B, Some(A), allow(None, B))),
            (&[A, "https://b.example <- camera"], at(1, B, Some(A), allow(Some("camera"), B))),
            (
                &[A, "https://b.example <- cross-origin-storage @https://widget.example"],
                at(1, B, Some(A), allow(Some(COS), "https://widget.example")),
            ),
            (
                &["https://a.example [cross-origin-storage=()]"],
                at(0, A, None, BlockCause::OwnHeader { header: header("cross-origin-storage=()") }),
            ),
            (
                &["https://a.example [cross-origin-storage=()]", "https://a.example <- -", "https://b.example <- -"],
                at(0, A, None, BlockCause::OwnHeader { header: header("cross-origin-storage=()") }),
            ),
            (
                &["https://a.example [cross-origin-storage=(self)]", "https://b.example <- cross-origin-storage"],
                at(1, B, Some(A), BlockCause::ParentHeader { header: header("cross-origin-storage=(self)") }),
            ),
            (
                &[A, "https://b.example [cross-origin-storage=()] <- cross-origin-storage"],
                at(1, B, Some(A), BlockCause::OwnHeader { header: header("cross-origin-storage=()") }),
            ),
            (&[A, "https://a.example <- ?"], at(1, A, Some(A), BlockCause::UnknownContainer)),
            (&[A, "https://a.example"], at(1, A, Some(A), BlockCause::UnknownContainer)),
            (&[A, "https://b.example <- other"], at(1, B, Some(A), BlockCause::OtherContainer)),
            (&[A, "https://b.example <- -", "https://b.example <- -"], at(1, B, Some(A), allow(None, B))),
            (
                &[A, "https://b.example <- cross-origin-storage", "https://a.example <- -"],
                at(2, A, Some(B), allow(None, A)),
            ),
            (&["https://a.example <- -"], at(0, A, None, BlockCause::NotTopLevel)),
            (&[], Blocked { frame: 0, origin: "null".into(), parent: None, cause: BlockCause::NoFrames }),
        ];
        for (chain, expected) in cases {
            assert_eq!(&why(chain), expected, "{chain:?}");
        }
        let json = serde_json::to_value(why(&[A, "https://b.example <- -"])).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"frame": 1, "origin": B, "parent": A,
                "cause": {"kind": "iframe-allow", "allow": null, "srcOrigin": B}})
        );
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
