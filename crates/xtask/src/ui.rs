//! The web UI in ui/: npm dependencies, the production build in ui/dist that the Tauri
//! build embeds, the UI's unit tests, and its browser tests (Playwright driving the system's
//! Chromium against the built UI with the mock backend).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::cmd;
use crate::report::{Outcome, StepResult, note};

pub fn install_and_build(root: &Path) -> StepResult {
    let ui = root.join("ui");
    if !ui.join("package.json").is_file() {
        return Ok(Outcome::Skipped(
            "ui/package.json does not exist yet".to_string(),
        ));
    }
    check_npm()?;
    install(&ui)?;
    if script(&ui, "build")?.is_none() {
        return Ok(Outcome::Skipped(
            "ui/package.json has no build script".to_string(),
        ));
    }
    cmd::run(npm(&ui).args(["run", "build"]))
        .map_err(|error| format!("building the UI: {error}"))?;
    Ok(Outcome::Done)
}

pub fn test(root: &Path) -> StepResult {
    let ui = root.join("ui");
    if !ui.join("package.json").is_file() {
        return Ok(Outcome::Skipped(
            "ui/package.json does not exist yet".to_string(),
        ));
    }
    // `npm init` writes a test script that only fails; it means there are no tests yet.
    match script(&ui, "test")? {
        Some(text) if !text.contains("no test specified") => {}
        _ => {
            return Ok(Outcome::Skipped(
                "ui/package.json has no test script".to_string(),
            ));
        }
    }
    let mut npm_test = npm(&ui);
    npm_test.arg("test");
    // Test runners such as vitest and jest watch for changes when run from a terminal; CI
    // set makes them run once and exit, as a test step must.
    if std::env::var_os("CI").is_none() {
        npm_test.env("CI", "true");
    }
    cmd::run(&mut npm_test)?;
    Ok(Outcome::Done)
}

/// Where the browser tests find Chromium unless `HEARTH_CHROMIUM` names another binary:
/// Debian's `chromium` package (never a browser Playwright downloads).
const CHROMIUM: &str = "/usr/bin/chromium";

pub fn browser_test(root: &Path) -> StepResult {
    let ui = root.join("ui");
    if !ui.join("package.json").is_file() {
        return Ok(Outcome::Skipped(
            "ui/package.json does not exist yet".to_string(),
        ));
    }
    if script(&ui, "test:e2e")?.is_none() {
        return Ok(Outcome::Skipped(
            "ui/package.json has no test:e2e script".to_string(),
        ));
    }
    let chromium = std::env::var_os("HEARTH_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(CHROMIUM).to_path_buf());
    if !chromium.is_file() {
        return Err(format!(
            "the UI browser tests need Chromium at {}: install the chromium package (the \
             system packages step does on Debian and Ubuntu), or set HEARTH_CHROMIUM to a \
             Chromium binary",
            chromium.display()
        ));
    }
    // The tests serve ui/dist, which the build step has just written.
    let mut e2e = npm(&ui);
    e2e.args(["run", "test:e2e"])
        .env("HEARTH_CHROMIUM", &chromium);
    if std::env::var_os("CI").is_none() {
        e2e.env("CI", "true");
    }
    cmd::run(&mut e2e)?;
    Ok(Outcome::Done)
}

fn npm(ui: &Path) -> Command {
    let mut command = Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" });
    command.current_dir(ui);
    command
}

fn check_npm() -> Result<(), String> {
    let version = |program: &str| {
        let program = if cfg!(windows) && program == "npm" {
            "npm.cmd"
        } else {
            program
        };
        cmd::output(Command::new(program).arg("--version")).map(|text| text.trim().to_string())
    };
    match (version("node"), version("npm")) {
        (Ok(node), Ok(npm)) => {
            note(&format!("node {node}, npm {npm}"));
            Ok(())
        }
        (Err(error), _) | (_, Err(error)) => Err(format!(
            "Node.js and npm are needed for the UI ({error}); install Node.js 20 or newer \
             with npm (https://nodejs.org, or your system's nodejs and npm packages if they \
             are recent enough) and run again"
        )),
    }
}

/// `npm ci` gives exactly the locked versions, but wipes node_modules each time, so it only
/// runs when the lock file changed after the last install. npm writes
/// node_modules/.package-lock.json on every install, which makes it the marker.
fn install(ui: &Path) -> Result<(), String> {
    let lock = ui.join("package-lock.json");
    let Some(reason) = install_reason(ui)? else {
        note("node_modules is up to date with package-lock.json");
        return Ok(());
    };
    note(&format!("installing npm packages: {reason}"));
    let subcommand = if lock.is_file() {
        "ci"
    } else {
        note("ui/package-lock.json is missing, so `npm install` will create it; commit it");
        "install"
    };
    cmd::run(npm(ui).args([subcommand, "--no-audit", "--no-fund"]))
        .map_err(|error| format!("installing npm packages: {error}"))
}

fn install_reason(ui: &Path) -> Result<Option<&'static str>, String> {
    let marker = ui.join("node_modules").join(".package-lock.json");
    if !ui.join("node_modules").is_dir() {
        return Ok(Some("node_modules is missing"));
    }
    let Some(installed) = modified(&marker)? else {
        return Ok(Some("node_modules has no install marker"));
    };
    let lock = ui.join("package-lock.json");
    let source = if lock.is_file() {
        lock
    } else {
        ui.join("package.json")
    };
    match modified(&source)? {
        Some(changed) if changed > installed => {
            Ok(Some("the lock file changed since the last install"))
        }
        _ => Ok(None),
    }
}

fn modified(path: &Path) -> Result<Option<SystemTime>, String> {
    match fs::metadata(path) {
        Ok(metadata) => metadata
            .modified()
            .map(Some)
            .map_err(|error| format!("cannot read the time {} changed: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// The text of a script in ui/package.json, or None. Node reads the file, since it is there
/// anyway and this crate has no JSON parser.
fn script(ui: &Path, name: &str) -> Result<Option<String>, String> {
    const READ_SCRIPT: &str = "const s = require('./package.json').scripts || {}; \
         const v = s[process.argv[1]]; \
         process.stdout.write(typeof v === 'string' ? 'script:' + v : 'none');";
    let mut node = Command::new("node");
    node.current_dir(ui).args(["-e", READ_SCRIPT, name]);
    let text =
        cmd::output(&mut node).map_err(|error| format!("reading ui/package.json: {error}"))?;
    Ok(text.strip_prefix("script:").map(str::to_string))
}
