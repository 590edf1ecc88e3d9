//! The C API as a C program uses it: tests/c/*.c compiled with strict warnings against the
//! library's cdylib (built by cargo alongside the rlib these tests link), then run plainly and
//! under valgrind. The programs touch only loopback (see misuse.c).
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A run longer than this is a hang (misuse.c takes ~1 s, ~5 s under valgrind).
const RUN_LIMIT_SECS: &str = "300";

/// The directory holding the libportopen.so cargo built for this test run: `cargo test` builds
/// every crate type of the lib into target/<profile>/deps (only `cargo build` copies them up a
/// level, so the copy there may be stale).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("tests run from target/<profile>/deps");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join("libportopen.so").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!("libportopen.so not found next to {}: build the library with `cargo build --lib` first", exe.display());
}

/// Compile `tests/c/<name>.c` (once per test process) and return the program's path.
fn program(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built
        .entry(name.to_string())
        .or_insert_with(|| {
            let lib = library_dir();
            let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c");
            std::fs::create_dir_all(&out_dir).expect("create the C build directory");
            let exe = out_dir.join(name);
            let source = Path::new(ROOT).join("tests/c").join(format!("{name}.c"));
            let output = Command::new("gcc")
                .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
                .arg("-I")
                .arg(Path::new(ROOT).join("include"))
                .arg(&source)
                .arg("-o")
                .arg(&exe)
                .arg("-L")
                .arg(&lib)
                .arg("-lportopen")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-pthread")
                .output()
                .unwrap_or_else(|e| panic!("cannot run gcc ({e}): install gcc (the CI script installs it)"));
            assert!(output.status.success(), "gcc failed on {}:\n{}", source.display(), text(&output));
            exe
        })
        .clone()
}

fn text(output: &Output) -> String {
    format!("--- stdout\n{}--- stderr\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Run `command` under coreutils `timeout`, so a hang fails the test instead of stalling it.
fn run(command: &[&str], program: &Path, envs: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .arg(RUN_LIMIT_SECS)
        .args(command)
        .arg(program)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"))
}

#[test]
fn misuse_program_gets_statuses_not_crashes() {
    let output = run(&[], &program("misuse"), &[]);
    assert!(output.status.success(), "tests/c/misuse.c failed ({}):\n{}", output.status, text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(", 0 failed"), "{}", text(&output));
}

#[test]
fn misuse_program_is_clean_under_valgrind() {
    let found = Command::new("valgrind").arg("--version").output();
    assert!(found.as_ref().is_ok_and(|o| o.status.success()), "valgrind is not installed (apt-get install valgrind; the CI script installs it): {found:?}");
    let valgrind = ["valgrind", "--error-exitcode=97", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"];
    let output = run(&valgrind, &program("misuse"), &[("PORTOPEN_TEST_TIME_SCALE", "20")]);
    let report = text(&output);
    assert!(output.status.success(), "misuse.c under valgrind failed ({}):\n{report}", output.status);
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
    let summary: Vec<&str> = report.lines().filter(|l| l.contains("ERROR SUMMARY") || l.contains("lost:")).collect();
    println!("valgrind: {}", summary.join(" | "));
}

#[test]
fn every_exported_symbol_is_declared_in_the_header_and_back() {
    let lib = library_dir().join("libportopen.so");
    let output = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().expect("nm (binutils) runs");
    assert!(output.status.success(), "nm failed:\n{}", text(&output));
    let exported: BTreeSet<String> = String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| l.split_whitespace().nth(2)).map(str::to_string).collect();
    let header = std::fs::read_to_string(Path::new(ROOT).join("include/portopen.h")).expect("read include/portopen.h");
    let declared: BTreeSet<String> = header
        .lines()
        .filter(|l| l.contains('(') && !l.starts_with(' ') && !l.starts_with("typedef"))
        .filter_map(|l| l.split('(').next()?.rsplit([' ', '*']).next())
        .filter(|name| name.starts_with("portopen_"))
        .map(str::to_string)
        .collect();
    assert_eq!(exported, declared, "the library exports exactly the functions the header declares");
}
