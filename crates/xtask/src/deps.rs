//! The dependency rules of ARCHITECTURE.md, checked against the manifests.
//!
//! Which crate may import what is the architecture's main invariant (only the root package
//! imports `tauri`, the room core has no tokio or serde, and so on). The rules are checked
//! here as a unit test, so `cargo xtask test` (through `cargo test --workspace`) fails as
//! soon as a manifest breaks one.

#![cfg_attr(not(test), allow(dead_code))]

use std::path::Path;

/// The names in a manifest's `[dependencies]`, `[dev-dependencies]` and
/// `[build-dependencies]` tables (and `[dependencies.NAME]` headers), with the table kind.
pub(crate) fn dependencies(manifest: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut table: Option<&'static str> = None;
    for line in manifest.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = None;
            for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if header == kind {
                    table = Some(kind_name(kind));
                } else if let Some(name) = header.strip_prefix(&format!("{kind}.")) {
                    out.push((name.trim().to_owned(), kind_name(kind)));
                }
            }
            continue;
        }
        let Some(kind) = table else { continue };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let name = key.trim().trim_end_matches(".workspace").trim();
            out.push((name.to_owned(), kind));
        }
    }
    out
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "dev-dependencies" => "dev",
        "build-dependencies" => "build",
        _ => "normal",
    }
}

/// One broken rule, in words.
pub(crate) fn violations(root: &Path) -> Vec<String> {
    let mut manifests = vec![("hearth".to_string(), root.join("Cargo.toml"))];
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        for e in entries.flatten() {
            let path = e.path().join("Cargo.toml");
            if path.exists() {
                manifests.push((e.file_name().to_string_lossy().into_owned(), path));
            }
        }
    }
    let mut problems = Vec::new();
    let mut webrtc_users = Vec::new();
    for (krate, path) in manifests {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let deps = dependencies(&text);
        let normal: Vec<&str> = deps.iter().filter(|(_, k)| *k == "normal").map(|(n, _)| n.as_str()).collect();
        let any = |name: &str| deps.iter().any(|(n, _)| n == name);
        if krate != "hearth" && any("tauri") {
            problems.push(format!("{krate} depends on tauri; only the root package may"));
        }
        if any("webrtc") || any("rtc") {
            webrtc_users.push(krate.clone());
        }
        for device in ["cpal", "nokhwa"] {
            if krate != "hearth-media" && any(device) {
                problems.push(format!("{krate} depends on {device}; only hearth-media may"));
            }
        }
        // One crate owns mDNS, so what goes on the LAN and on which interfaces (tests: only
        // inside their namespaces) is decided in one place.
        if krate != "hearth-discovery" && any("mdns-sd") {
            problems.push(format!("{krate} depends on mdns-sd; only hearth-discovery may"));
        }
        let allowed: Option<&[&str]> = match krate.as_str() {
            // sha2 is pure Rust: the certificate fingerprint join links carry.
            "hearth-wire" => Some(&["serde", "serde_json", "thiserror", "sha2"]),
            "hearth-room" => Some(&["thiserror", "subtle"]),
            _ => None,
        };
        if let Some(allowed) = allowed {
            for dep in &normal {
                if !allowed.contains(dep) {
                    problems.push(format!("{krate} depends on {dep}; it may only use {allowed:?}"));
                }
            }
        }
        if krate == "hearth-client" && any("hearth-room") {
            problems.push("hearth-client depends on hearth-room; clients know only the wire".into());
        }
    }
    if webrtc_users.len() > 1 {
        problems.push(format!("several crates import webrtc/rtc: {webrtc_users:?}; only the peer crate may"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_follow_the_dependency_rules() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let problems = violations(&root);
        assert!(problems.is_empty(), "ARCHITECTURE.md dependency rules broken:\n{}", problems.join("\n"));
        // The check must see the real manifests, or it proves nothing.
        let room = std::fs::read_to_string(root.join("crates/hearth-room/Cargo.toml")).unwrap();
        assert!(dependencies(&room).iter().any(|(n, _)| n == "subtle"));
    }

    #[test]
    fn parser_reads_every_table_form() {
        let deps = dependencies(
            "[package]\nname = \"x\"\n[dependencies]\ntokio.workspace = true\nserde = { version = \"1\" }\n\
             [dependencies.tauri]\nversion = \"2\"\n[dev-dependencies]\nproptest = \"1\"\n[build-dependencies]\ntauri-build = \"2\"\n",
        );
        let names: Vec<_> = deps.iter().map(|(n, k)| format!("{n}:{k}")).collect();
        assert_eq!(names, ["tokio:normal", "serde:normal", "tauri:normal", "proptest:dev", "tauri-build:build"]);
    }

    #[test]
    fn a_forbidden_dependency_is_reported() {
        let dir = std::env::temp_dir().join(format!("hearth-deps-{}", std::process::id()));
        let room = dir.join("crates/hearth-room");
        std::fs::create_dir_all(&room).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[dependencies]\ntauri = \"2\"\nmdns-sd = \"0.21\"\n").unwrap();
        std::fs::write(room.join("Cargo.toml"), "[dependencies]\ntokio.workspace = true\ntauri = \"2\"\n").unwrap();
        let problems = violations(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        // tauri in the room core breaks two rules; tauri in the root package breaks none, and
        // mdns-sd there one.
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p == "hearth depends on mdns-sd; only hearth-discovery may"));
        assert!(problems.iter().any(|p| p.contains("hearth-room depends on tokio")));
        assert!(problems.iter().any(|p| p.contains("hearth-room depends on tauri; only the root")));
        assert!(!problems.iter().any(|p| p.starts_with("hearth depends on tauri")));
    }
}
