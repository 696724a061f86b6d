//! The Rust test suites of the whole workspace.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::Stdio;

use crate::cmd;
use crate::report::{Outcome, StepResult};

/// Totals over every `test result:` line cargo test printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl TestCounts {
    /// The plain closing line CI recognises in any language.
    pub fn closing_line(&self) -> String {
        format!(
            "tests: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }

    fn add_result_line(&mut self, line: &str) -> bool {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return false;
        };
        // "ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
        true
    }
}

/// Runs `cargo test` over the workspace. Its output passes through unchanged; stdout is
/// read on the way only to add up the results for the summary.
pub fn test(root: &Path) -> (StepResult, Option<TestCounts>) {
    if let Err(error) = ensure_tauri_driver() {
        return (Err(error), None);
    }
    if let Err(error) = build_tests(root) {
        return (Err(error), None);
    }
    let mut cargo = test_command(root);
    // Without it cargo stops at the first failing test binary and hides the others.
    cargo.arg("--no-fail-fast");

    let shown = cmd::describe(&cargo);
    eprintln!("    $ {shown}");
    let mut child = match cargo.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(error) => return (Err(cmd::spawn_error(&shown, &error)), None),
    };
    let mut counts = TestCounts::default();
    let mut seen = false;
    if let Some(stdout) = child.stdout.take() {
        pass_through(stdout, |line| seen |= counts.add_result_line(line));
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(Outcome::Done),
        Ok(status) => Err(format!("`{shown}` failed ({status})")),
        Err(error) => Err(format!("waiting for `{shown}`: {error}")),
    };
    (result, seen.then_some(counts))
}

/// `cargo test --workspace`, locked to Cargo.lock when there is one (--locked keeps CI
/// honest about it, but would fail before a lock file exists).
fn test_command(root: &Path) -> std::process::Command {
    let mut cargo = cmd::cargo();
    cargo.current_dir(root).args(["test", "--workspace"]);
    if root.join("Cargo.lock").is_file() {
        cargo.arg("--locked");
    }
    // A CI machine builds once from scratch: incremental artifacts would only cost time and
    // gigabytes of disk.
    if std::env::var_os("CI").is_some() {
        cargo.env("CARGO_INCREMENTAL", "0");
    }
    cargo
}

/// Builds every test binary before any runs. A failed build is tried once more, one job at
/// a time, after printing the free disk space and memory: a CI run once lost a C library's
/// cmake build for a reason its truncated log did not show, and a second try both survives a
/// passing cause and shows the real error on its own, unmixed with other jobs' output.
fn build_tests(root: &Path) -> Result<(), String> {
    let first = cmd::run(test_command(root).arg("--no-run"));
    let Err(error) = first else {
        return Ok(());
    };
    eprintln!("    the test build failed: {error}");
    for probe in [&["df", "-h", "."][..], &["free", "-m"][..]] {
        if let Ok(text) = cmd::output(
            std::process::Command::new(probe[0])
                .args(&probe[1..])
                .current_dir(root),
        ) {
            eprintln!("{text}");
        }
    }
    eprintln!("    building again with one job to show the error on its own");
    cmd::run(test_command(root).args(["--no-run", "--jobs", "1"]))
}

/// The version of tauri-driver the real-app test (tests/app) was written against.
const TAURI_DRIVER: &str = "2.1.0";

/// The real-app test drives the app through tauri-driver, which only crates.io has; it is
/// installed into cargo's bin folder like cargo-fuzz.
fn ensure_tauri_driver() -> Result<(), String> {
    let installed = cmd::output(cmd::cargo().args(["install", "--list"])).unwrap_or_default();
    if installed.contains(&format!("tauri-driver v{TAURI_DRIVER}:")) {
        return Ok(());
    }
    eprintln!(
        "    tauri-driver is not installed; building it from crates.io (a minute or two, once)"
    );
    cmd::run(cmd::cargo().args([
        "install",
        "tauri-driver",
        "--locked",
        "--version",
        TAURI_DRIVER,
    ]))
    .map_err(|error| format!("installing tauri-driver: {error}"))
}

/// Copies the child's stdout to ours as it arrives (partial lines too, so a hanging test
/// shows its name), and hands each complete line to `on_line`.
fn pass_through(mut from: impl Read, mut on_line: impl FnMut(&str)) {
    let mut out = io::stdout().lock();
    let mut buffer = [0u8; 8192];
    let mut pending = Vec::new();
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        // A closed stdout (say, piped into `head`) must not stop the tests themselves.
        let _ = out.write_all(&buffer[..read]).and_then(|()| out.flush());
        pending.extend_from_slice(&buffer[..read]);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            on_line(&String::from_utf8_lossy(&line));
        }
    }
    if !pending.is_empty() {
        on_line(&String::from_utf8_lossy(&pending));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_add_up() {
        let mut counts = TestCounts::default();
        assert!(counts.add_result_line(
            "test result: ok. 12 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.51s"
        ));
        assert!(counts.add_result_line(
            "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 5 filtered out; finished in 1.00s\n"
        ));
        assert!(!counts.add_result_line("running 4 tests"));
        assert_eq!(
            counts,
            TestCounts {
                passed: 15,
                failed: 1,
                ignored: 2
            }
        );
        assert_eq!(
            counts.closing_line(),
            "tests: 15 passed, 1 failed, 2 skipped"
        );
    }
}
