//! A short fuzzing run of every fuzz target, as a smoke test that the targets build and do
//! not crash at once. Long fuzzing campaigns are run by hand with `cargo fuzz`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd;
use crate::report::{Outcome, StepResult, note};
use crate::workspace;

const DEFAULT_SECONDS: u32 = 30;

pub fn smoke(root: &Path) -> StepResult {
    if cmd::env_flag("HEARTH_SKIP_FUZZ") {
        return Ok(Outcome::Skipped("HEARTH_SKIP_FUZZ is set".to_string()));
    }
    let seconds = seconds()?;
    let crates = fuzzed_crates(root)?;
    if crates.is_empty() {
        return Ok(Outcome::Skipped(
            "no crate has fuzz targets yet (crates/*/fuzz)".to_string(),
        ));
    }
    ensure_cargo_fuzz()?;

    let mut failures = Vec::new();
    for (crate_dir, targets) in &crates {
        for target in targets {
            if let Err(error) = run_target(crate_dir, target, seconds) {
                failures.push(error);
            }
        }
    }
    if failures.is_empty() {
        Ok(Outcome::Done)
    } else {
        Err(failures.join("; "))
    }
}

fn seconds() -> Result<u32, String> {
    match std::env::var("HEARTH_FUZZ_SECONDS") {
        Err(_) => Ok(DEFAULT_SECONDS),
        Ok(text) => text.trim().parse().map_err(|_| {
            format!("HEARTH_FUZZ_SECONDS must be a whole number of seconds, not {text:?}")
        }),
    }
}

/// Every member crate with a cargo-fuzz project in `fuzz/`, with its targets: the file names
/// in `fuzz/fuzz_targets`, which is how `cargo fuzz add` names them.
fn fuzzed_crates(root: &Path) -> Result<Vec<(PathBuf, Vec<String>)>, String> {
    let mut found = Vec::new();
    for crate_dir in workspace::member_dirs(root)? {
        let fuzz = crate_dir.join("fuzz");
        if !fuzz.join("Cargo.toml").is_file() {
            continue;
        }
        let targets = target_names(&fuzz.join("fuzz_targets"))?;
        if targets.is_empty() {
            note(&format!(
                "{} has no targets in fuzz_targets/",
                fuzz.display()
            ));
            continue;
        }
        found.push((crate_dir, targets));
    }
    Ok(found)
}

fn target_names(dir: &Path) -> Result<Vec<String>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("cannot list {}: {error}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| format!("cannot list {}: {error}", dir.display()))?
            .path();
        if path.extension().is_some_and(|extension| extension == "rs")
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    if cmd::succeeds_quietly(cmd::cargo().args(["fuzz", "--version"])) {
        return Ok(());
    }
    note("cargo-fuzz is not installed; building it from crates.io (a few minutes, once)");
    cmd::run(cmd::cargo().args(["install", "cargo-fuzz", "--locked"]))
        .map_err(|error| format!("installing cargo-fuzz: {error}"))
}

/// cargo-fuzz passes nightly-only flags (the sanitizer and coverage instrumentation) to
/// rustc. RUSTC_BOOTSTRAP lets the stable toolchain every machine here has accept them, so
/// no nightly toolchain has to be downloaded.
fn run_target(crate_dir: &Path, target: &str, seconds: u32) -> Result<(), String> {
    let mut fuzz = cmd::cargo();
    fuzz.current_dir(crate_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", target, "--"])
        .arg(format!("-max_total_time={seconds}"));
    cmd::run(&mut fuzz).map_err(|error| format!("fuzz target `{target}`: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_rust_files_sorted() {
        let dir = std::env::temp_dir().join(format!("xtask-fuzz-targets-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create a temporary directory");
        for name in ["roundtrip.rs", "decode.rs", "README.md"] {
            fs::write(dir.join(name), "").expect("write a file in the temporary directory");
        }
        let names = target_names(&dir);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            names,
            Ok(vec!["decode".to_string(), "roundtrip".to_string()])
        );
    }

    #[test]
    fn a_missing_targets_folder_has_no_targets() {
        assert_eq!(
            target_names(Path::new("/nonexistent/fuzz_targets")),
            Ok(Vec::new())
        );
    }
}
