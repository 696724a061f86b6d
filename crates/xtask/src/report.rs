//! Numbered steps with one header line each, and a summary at the end that names every step
//! that failed.

use std::process::ExitCode;

use crate::rust::TestCounts;

/// How a step that did not fail ended.
pub enum Outcome {
    Done,
    /// Nothing to do yet, with the reason shown in the summary.
    Skipped(String),
}

/// A step's result; the error is a complete sentence naming what failed.
pub type StepResult = Result<Outcome, String>;

pub struct Plan {
    names: &'static [&'static str],
    results: Vec<StepResult>,
}

impl Plan {
    pub fn new(names: &'static [&'static str]) -> Self {
        Plan {
            names,
            results: Vec::new(),
        }
    }

    /// Runs the next step and reports whether it succeeded (done or skipped).
    pub fn step(&mut self, body: impl FnOnce() -> StepResult) -> bool {
        let index = self.results.len();
        let name = self.names.get(index).copied().unwrap_or("(unnamed step)");
        eprintln!("\n==> [{}/{}] {name}", index + 1, self.names.len());
        let result = body();
        match &result {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Skipped(reason)) => eprintln!("    skipped: {reason}"),
            Err(error) => eprintln!("    error: {error}"),
        }
        let ok = result.is_ok();
        self.results.push(result);
        ok
    }

    /// Prints the summary and returns the exit code: failure if any step failed. When the
    /// Rust tests ran, their totals close the output as a plain `N passed, N failed` line,
    /// because CI reads the last lines and the fuzz step prints after cargo test's own.
    pub fn finish(self, counts: Option<TestCounts>) -> ExitCode {
        eprintln!("\n==> Summary");
        let mut failed = Vec::new();
        for (index, name) in self.names.iter().enumerate() {
            match self.results.get(index) {
                Some(Ok(Outcome::Done)) => eprintln!("    ok       {name}"),
                Some(Ok(Outcome::Skipped(reason))) => eprintln!("    skipped  {name}: {reason}"),
                Some(Err(error)) => {
                    eprintln!("    FAILED   {name}: {error}");
                    failed.push(*name);
                }
                None => eprintln!("    not run  {name}"),
            }
        }
        if !failed.is_empty() {
            eprintln!("xtask: failed step(s): {}", failed.join(", "));
        }
        if let Some(counts) = counts {
            for failure in &counts.failures {
                eprintln!("    failed test {}", failure.name);
                for line in &failure.excerpt {
                    eprintln!("        {line}");
                }
            }
            println!("{}", counts.closing_line());
        }
        if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// A line of extra information inside a step.
pub fn note(message: &str) {
    eprintln!("    {message}");
}
