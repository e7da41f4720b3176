//! The glue generator and the runtime crate must be the same release: the
//! generated JS calls into the Wasm by an ABI that changes between versions.
//! Cargo resolves both from the `=` pins in the root Cargo.toml; this fails
//! if a pin is loosened or edited on one side only.

use std::path::Path;

fn workspace_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every version of `crate_name` in Cargo.lock's `[[package]]` entries.
fn locked_versions(lock: &str, crate_name: &str) -> Vec<String> {
    let name_line = format!("name = \"{crate_name}\"");
    lock.split("[[package]]")
        .filter(|entry| entry.lines().any(|line| line == name_line))
        .filter_map(|entry| {
            entry.lines().find_map(|line| line.strip_prefix("version = \"").and_then(|rest| rest.strip_suffix('"')))
        })
        .map(str::to_owned)
        .collect()
}

/// The requirement of `crate_name` in the root `[workspace.dependencies]`.
fn workspace_requirement(manifest: &str, crate_name: &str) -> String {
    let prefix = format!("{crate_name} = \"");
    manifest
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{crate_name} is not declared as `{crate_name} = \"..\"`"))
        .to_owned()
}

#[test]
fn cli_support_and_runtime_resolve_to_one_version() {
    let lock = workspace_file("Cargo.lock");
    let runtime = locked_versions(&lock, "wasm-bindgen");
    let cli = locked_versions(&lock, "wasm-bindgen-cli-support");
    assert_eq!(runtime.len(), 1, "wasm-bindgen in Cargo.lock: {runtime:?}");
    assert_eq!(runtime, cli, "Cargo.lock resolves wasm-bindgen {runtime:?} but wasm-bindgen-cli-support {cli:?}");
}

#[test]
fn both_are_pinned_exactly_to_the_same_version() {
    let manifest = workspace_file("Cargo.toml");
    let runtime = workspace_requirement(&manifest, "wasm-bindgen");
    let cli = workspace_requirement(&manifest, "wasm-bindgen-cli-support");
    assert!(runtime.starts_with('='), "wasm-bindgen = \"{runtime}\" is not an exact pin");
    assert_eq!(runtime, cli);
}

#[test]
fn locked_versions_reads_each_entry() {
    let lock = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"ab\"\nversion = \"2.0.0\"\n\n[[package]]\nname = \"a\"\nversion = \"1.1.0\"\n";
    assert_eq!(locked_versions(lock, "a"), ["1.0.0", "1.1.0"]);
    assert_eq!(locked_versions(lock, "b"), Vec::<String>::new());
}
