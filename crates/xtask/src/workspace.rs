//! Facts about the workspace read straight from its manifests, so that xtask needs no
//! `cargo metadata` parsing and no JSON library.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root. `cargo run` sets CARGO_MANIFEST_DIR at run time as well; the
/// compile-time value is the fallback for running the binary directly.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    // crates/xtask is two levels below the root; if that ever changes this is the one place
    // to update.
    match manifest_dir.parent().and_then(Path::parent) {
        Some(root) => root.to_path_buf(),
        None => manifest_dir,
    }
}

/// The manifests of the member crates, `crates/*/Cargo.toml`, sorted for a stable order.
pub fn member_dirs(root: &Path) -> Result<Vec<PathBuf>, String> {
    let crates = root.join("crates");
    let entries = fs::read_dir(&crates)
        .map_err(|error| format!("cannot list {}: {error}", crates.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot list {}: {error}", crates.display()))?;
        let dir = entry.path();
        if dir.join("Cargo.toml").is_file() {
            dirs.push(dir);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Whether one of the member crates is called `name`.
pub fn has_package(root: &Path, name: &str) -> Result<bool, String> {
    for dir in member_dirs(root)? {
        let manifest = dir.join("Cargo.toml");
        let text = fs::read_to_string(&manifest)
            .map_err(|error| format!("cannot read {}: {error}", manifest.display()))?;
        if package_name(&text).as_deref() == Some(name) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `name` key of the `[package]` table. A line-based reading is enough for the
/// manifests in this repository, which all spell it `name = "..."`.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_name_reads_the_package_table_only() {
        let manifest = "[workspace]\nname = \"nope\"\n\n[package]\nversion = \"0.0.0\"\nname = \"hearth-loadgen\"\n\n[dependencies]\nname = \"also-nope\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("hearth-loadgen"));
    }

    #[test]
    fn package_name_is_none_without_a_package_table() {
        assert_eq!(package_name("[workspace]\nmembers = []\n"), None);
    }

    #[test]
    fn the_root_holds_this_crate() {
        assert!(root().join("crates/xtask/Cargo.toml").is_file());
    }
}
