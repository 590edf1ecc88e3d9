//! Release hygiene: one product version across the crate, the Unity package and the Unreal
//! plugin, a CHANGELOG entry for it, the C# binding's ABI constant equal to the header's, and
//! third-party notices that match the dependency tree (scripts/notices.py --check).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The string value of the first `"key": "value"` in a JSON text (package.json, .uplugin).
fn json_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Files below `dir` (recursively) whose name is `name`.
fn find_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_named(&path, name, out);
        } else if path.file_name().is_some_and(|n| n == name) {
            out.push(path);
        }
    }
}

#[test]
fn the_crate_the_unity_package_and_the_unreal_plugin_carry_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    let unity = json_string(&read("unity-sample/package.json"), "version");
    assert_eq!(unity.as_deref(), Some(version), "unity-sample/package.json version");
    let unreal = json_string(&read("bindings/unreal/PortOpen.uplugin"), "VersionName");
    assert_eq!(unreal.as_deref(), Some(version), "bindings/unreal/PortOpen.uplugin VersionName");
    for manifest in ["cli/Cargo.toml"] {
        let Ok(text) = std::fs::read_to_string(repo().join(manifest)) else { continue };
        let line = text.lines().find(|l| l.trim_start().starts_with("version")).unwrap_or_else(|| panic!("{manifest}: no version"));
        assert!(line.contains(&format!("\"{version}\"")) || line.contains("workspace = true"), "{manifest}: {line}");
    }
}

#[test]
fn the_changelog_has_an_entry_for_this_version() {
    let changelog = read("CHANGELOG.md");
    let heading = format!("## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(changelog.lines().any(|l| l.starts_with(&heading)), "CHANGELOG.md has no `{heading}` section");
    assert!(changelog.contains("## [Unreleased]"), "CHANGELOG.md has no [Unreleased] section");
}

#[test]
fn the_csharp_binding_expects_the_headers_abi_version() {
    let header = read("include/portopen.h");
    let abi = header.lines().find_map(|l| l.strip_prefix("#define PORTOPEN_ABI_VERSION ")).expect("PORTOPEN_ABI_VERSION in the header").trim().to_string();
    let mut files = Vec::new();
    for dir in ["bindings", "unity-sample"] {
        find_named(&repo().join(dir), "NativeMethods.cs", &mut files);
    }
    assert!(!files.is_empty(), "no NativeMethods.cs found");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let line = text.lines().find(|l| l.contains("const uint AbiVersion")).unwrap_or_else(|| panic!("{}: no AbiVersion", file.display()));
        assert!(line.contains(&format!("= {abi};")), "{}: {line} but the header says {abi}", file.display());
    }
}

#[test]
fn licence_texts_travel_with_every_package() {
    for file in ["LICENSE-MIT", "LICENSE-APACHE", "unity-sample/LICENSE.md", "bindings/unreal/LICENSE-MIT", "bindings/unreal/LICENSE-APACHE"] {
        let text = read(file);
        assert!(text.contains("Permission is hereby granted") || text.contains("Apache License"), "{file} is not a licence text");
    }
    let unity = read("unity-sample/LICENSE.md");
    assert!(unity.contains("Permission is hereby granted") && unity.contains("Apache License"), "unity-sample/LICENSE.md must hold both licences");
}

#[test]
fn third_party_notices_match_the_dependency_tree() {
    let out = Command::new("python3").arg(repo().join("scripts/notices.py")).arg("--check").current_dir(repo()).output().expect("python3 runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
