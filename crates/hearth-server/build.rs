//! Embeds the built web client (`ui/dist`, made by `npm run build`) in the server, so a
//! browser guest can load it from the room's own port and nothing else has to be installed.
//! Without a built UI the list is empty and the server says so to browsers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../ui/dist");
    // Cargo rescans a directory given here for any change below it.
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut out =
        String::from("/// The web client's files: URL path and contents.\npub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (url, path) in &files {
        let _ = writeln!(out, "    ({url:?}, include_bytes!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("web_assets.rs");
    std::fs::write(target, out).expect("write web_assets.rs");
}

/// Every file below `dir`, as (`/`-separated URL path from `root`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let url: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((format!("/{}", url.join("/")), absolute));
        }
    }
}
