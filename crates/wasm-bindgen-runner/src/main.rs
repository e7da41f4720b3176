//! `wasm-bindgen --target web` for scripts/build, as a workspace binary.
//!
//! An installed `wasm-bindgen` CLI must match the `wasm-bindgen` crate in
//! `Cargo.lock` exactly, or the generated glue and the Wasm disagree. Built
//! from this workspace, the CLI's library is pinned to the same version as
//! the crate (see the root `Cargo.toml` and `tests/lockfile.rs`), so they
//! cannot drift and nothing has to be installed.
//!
//! Usage: `wasm-bindgen-runner [--typescript] <input.wasm> <out-dir>`

use std::path::PathBuf;
use std::process::ExitCode;
use wasm_bindgen_cli_support::Bindgen;

const USAGE: &str = "usage: wasm-bindgen-runner [--typescript] <input.wasm> <out-dir>";

struct Args {
    input: PathBuf,
    out_dir: PathBuf,
    typescript: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut typescript = false;
    let mut paths = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--typescript" => typescript = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let [input, out_dir] =
        <[PathBuf; 2]>::try_from(paths).map_err(|paths| format!("expected 2 paths, got {}", paths.len()))?;
    Ok(Args { input, out_dir, typescript })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("wasm-bindgen-runner: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The same settings as `wasm-bindgen --target web [--no-typescript]`:
    // the library's default omits the glue's fallback `new URL(.., import.meta.url)`,
    // the CLI's does not.
    let generated = Bindgen::new().input_path(&args.input).web(true).and_then(|bindgen| {
        bindgen.typescript(args.typescript).omit_default_module_path(false).generate(&args.out_dir)
    });
    match generated {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasm-bindgen-runner: {} -> {}: {err:#}", args.input.display(), args.out_dir.display());
            ExitCode::FAILURE
        }
    }
}
