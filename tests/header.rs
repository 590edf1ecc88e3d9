//! The committed C header is what the Rust generates (see build.rs: builds write the header
//! into the tree only with PORTOPEN_WRITE_HEADER=1, so a stale include/portopen.h fails here), and it compiles cleanly as
//! strict C11 and C++17.

use std::path::PathBuf;
use std::process::Command;

fn committed_header() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/portopen.h")
}

#[test]
fn committed_header_matches_the_rust_it_is_generated_from() {
    let fresh_path = env!("PORTOPEN_FRESH_HEADER");
    let fresh =
        std::fs::read(fresh_path).unwrap_or_else(|e| panic!("{fresh_path}: {e}: build.rs could not generate the header (see the cargo:warning of the build)"));
    let committed = std::fs::read(committed_header()).unwrap_or_else(|e| panic!("include/portopen.h: {e}"));
    assert!(
        fresh == committed,
        "include/portopen.h differs from the header generated from src/ffi ({fresh_path}): \
         run `PORTOPEN_WRITE_HEADER=1 cargo build` and commit include/portopen.h"
    );
}

fn compile_header(compiler: &str, args: &[&str]) {
    let output = Command::new(compiler)
        .args(args)
        .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .arg(committed_header())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler} ({e}): install gcc and g++ (the CI script installs them)"));
    assert!(
        output.status.success(),
        "{compiler} {args:?} rejects include/portopen.h:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn header_compiles_as_strict_c11() {
    compile_header("gcc", &["-x", "c", "-std=c11", "-pedantic"]);
}

#[test]
fn header_compiles_as_strict_cpp17() {
    compile_header("g++", &["-x", "c++", "-std=c++17", "-pedantic"]);
}
