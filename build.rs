//! Generates the C header `include/portopen.h` from `src/ffi` with cbindgen (cbindgen.toml).
//!
//! Keeping the committed header fresh:
//! - Every build generates the header into `$OUT_DIR/portopen.h` and passes that path to the
//!   crate's targets as `PORTOPEN_FRESH_HEADER`.
//! - A normal build then copies it to `include/portopen.h` when the content differs (only then,
//!   so builds never touch an up-to-date tree): a developer sees the change and commits it.
//! - With `PORTOPEN_CHECK_HEADER=1` (CI) the committed header is left alone, and
//!   `tests/header.rs` compares it byte for byte with the fresh one: a commit whose header does
//!   not match its Rust fails there.
//! - If cbindgen fails, the build only warns (the library still builds); `tests/header.rs` then
//!   fails because the fresh header is missing.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=include/portopen.h");
    println!("cargo:rerun-if-env-changed=PORTOPEN_CHECK_HEADER");

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
    if std::env::var_os("PORTOPEN_CHECK_HEADER").is_some_and(|v| v == "1") {
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
