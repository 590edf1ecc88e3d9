//! Generates the C header `include/portopen.h` from `src/ffi` with cbindgen (cbindgen.toml).
//!
//! Keeping the committed header fresh:
//! - Every build generates the header into `$OUT_DIR/portopen.h` and passes that path to the
//!   crate's targets as `PORTOPEN_FRESH_HEADER`.
//! - A build never writes into the source tree by default (cargo forbids it when publishing).
//!   A developer who changed `src/ffi` opts in with `PORTOPEN_WRITE_HEADER=1 cargo build`: the
//!   fresh header is then copied to `include/portopen.h` when its content differs, to be
//!   committed.
//! - `tests/header.rs` compares the committed header byte for byte with the fresh one: a commit
//!   whose header does not match its Rust fails there. `PORTOPEN_CHECK_HEADER=1` (CI) forbids
//!   the copy even when `PORTOPEN_WRITE_HEADER` is set, so the check can never fix itself.
//! - If cbindgen fails, the build only warns (the library still builds); `tests/header.rs` then
//!   fails because the fresh header is missing.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=include/portopen.h");
    println!("cargo:rerun-if-env-changed=PORTOPEN_CHECK_HEADER");
    println!("cargo:rerun-if-env-changed=PORTOPEN_WRITE_HEADER");

    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let fresh = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("portopen.h");
    println!("cargo:rustc-env=PORTOPEN_FRESH_HEADER={}", fresh.display());
    let _ = std::fs::remove_file(&fresh);

    let header = match generate(&root) {
        Ok(h) => h,
        Err(e) => {
            println!("cargo:warning=C header not generated: {e}");
            return;
        }
    };
    if let Err(e) = std::fs::write(&fresh, &header) {
        println!("cargo:warning=cannot write {}: {e}", fresh.display());
        return;
    }
    let is_set = |name: &str| std::env::var_os(name).is_some_and(|v| v == "1");
    if !is_set("PORTOPEN_WRITE_HEADER") || is_set("PORTOPEN_CHECK_HEADER") {
        return;
    }
    let committed = root.join("include/portopen.h");
    if std::fs::read(&committed).ok().as_deref() != Some(&header[..]) {
        let written = std::fs::create_dir_all(root.join("include")).and_then(|()| std::fs::write(&committed, &header));
        if let Err(e) = written {
            println!("cargo:warning=cannot write {}: {e}", committed.display());
        }
    }
}

fn generate(root: &Path) -> Result<Vec<u8>, String> {
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    let bindings = cbindgen::Builder::new().with_config(config).with_src(root.join("src/ffi/mod.rs")).generate().map_err(|e| e.to_string())?;
    let mut header = Vec::new();
    bindings.write(&mut header);
    Ok(header)
}
