//! The Rust test suites of the whole workspace.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::Stdio;

use crate::cmd;
use crate::report::{Outcome, StepResult};

/// Totals over every `test result:` line cargo test printed, and what each failing test
/// printed first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    /// Failing tests in the order their output appeared, each with the first lines of it.
    pub failures: Vec<FailedTest>,
    /// The failure whose `---- name stdout ----` block is being read.
    reading: Option<usize>,
}

/// One failing test and the start of its output (the panic message, usually).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedTest {
    pub name: String,
    pub excerpt: Vec<String>,
}

/// CI shows only the end of the output, so the summary repeats each failure briefly.
const EXCERPT_LINES: usize = 6;
const EXCERPT_CHARS: usize = 240;

impl TestCounts {
    /// The plain closing line CI recognises in any language.
    pub fn closing_line(&self) -> String {
        format!(
            "tests: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }

    /// Reads one line of cargo test's stdout; true if it was a `test result:` line.
    pub fn add_line(&mut self, line: &str) -> bool {
        let trimmed = line.trim_end();
        if let Some(name) = trimmed
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            self.failures.push(FailedTest {
                name: name.to_owned(),
                excerpt: Vec::new(),
            });
            self.reading = Some(self.failures.len() - 1);
            return false;
        }
        // A backtrace (RUST_BACKTRACE is set on CI) would crowd out the other failures.
        if trimmed == "failures:" || trimmed == "stack backtrace:" || trimmed.starts_with("test result: ") {
            self.reading = None;
        }
        if let Some(index) = self.reading {
            let excerpt = &mut self.failures[index].excerpt;
            // Backtrace hints and blank lines say nothing about the failure.
            let useful = !trimmed.is_empty() && !trimmed.starts_with("note: run with");
            if useful && excerpt.len() < EXCERPT_LINES {
                excerpt.push(trimmed.chars().take(EXCERPT_CHARS).collect());
            }
            return false;
        }
        self.add_result_line(line)
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
        pass_through(stdout, |line| seen |= counts.add_line(line));
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
            (counts.passed, counts.failed, counts.ignored),
            (15, 1, 2)
        );
        assert_eq!(
            counts.closing_line(),
            "tests: 15 passed, 1 failed, 2 skipped"
        );
    }

    #[test]
    fn failing_tests_are_named_with_the_start_of_their_output() {
        let mut counts = TestCounts::default();
        let output = "running 2 tests
test a::works ... ok
test b::breaks ... FAILED

failures:

---- b::breaks stdout ----
thread 'b::breaks' panicked at crates/x/tests/it.rs:10:5:
assertion `left == right` failed
  left: 1
 right: 2
stack backtrace:
   0: __rustc::rust_begin_unwind


failures:
    b::breaks

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";
        for line in output.lines() {
            counts.add_line(line);
        }
        assert_eq!((counts.passed, counts.failed), (1, 1));
        assert_eq!(counts.failures.len(), 1);
        assert_eq!(counts.failures[0].name, "b::breaks");
        assert_eq!(
            counts.failures[0].excerpt,
            [
                "thread 'b::breaks' panicked at crates/x/tests/it.rs:10:5:",
                "assertion `left == right` failed",
                "  left: 1",
                " right: 2"
            ]
        );
    }
}
