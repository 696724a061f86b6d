//! `cargo xtask`: the project's one-command setup, run and test entry points.
//!
//! `cargo xtask test` installs whatever is missing (system packages, npm packages, the UI
//! build) and then runs every test suite; `cargo xtask run` does the same set-up and starts
//! the desktop app. The alias lives in `.cargo/config.toml`. This crate uses the standard
//! library only, so it compiles in seconds before anything else is installed.

mod cmd;
mod deps;
mod fuzz;
mod icons;
mod package;
mod report;
mod rust;
mod system;
mod ui;
mod workspace;

use std::path::Path;
use std::process::ExitCode;

use report::{Outcome, Plan, StepResult};

const USAGE: &str = "\
Usage: cargo xtask <command> [args]

Commands:
  run [-- <app args>]     install what is missing, build the UI, then start the desktop app
  test                    install what is missing, then run every test suite
  bench [<loadgen args>]  run the load generator (hearth-loadgen) in release mode
  package [<tauri build args>]
                          build the release bundles with the Tauri CLI and, on Linux, check
                          the .deb and the AppImage: contents, and the app started from each
                          under Xvfb (screenshots in test-output/package/); not part of `test`
  help                    show this text

Environment:
  HEARTH_SKIP_SYSTEM_PACKAGES=1  do not check or install system packages
  HEARTH_SKIP_FUZZ=1             skip the fuzz smoke step of `test`
  HEARTH_FUZZ_SECONDS=<n>        run each fuzz target for n seconds (default 30)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    let root = workspace::root();

    match command.as_str() {
        "test" if rest.is_empty() => test(&root),
        "test" => usage_error(&format!("`test` takes no arguments, got {rest:?}")),
        "run" => run(&root, strip_separator(&rest)),
        "bench" => bench(&root, strip_separator(&rest)),
        "package" => package(&root, strip_separator(&rest)),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => usage_error(&format!("unknown command `{other}`")),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("xtask: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Accepts both `cargo xtask run -- --flag` and `cargo xtask run --flag`, the way `cargo run`
/// users expect.
fn strip_separator(args: &[String]) -> &[String] {
    match args.first() {
        Some(first) if first == "--" => &args[1..],
        _ => args,
    }
}

/// Set-up steps come first and stop the run when they fail, because every later step would
/// fail too and bury the real cause. Test steps all run even after one fails, so a single CI
/// run reports every broken suite.
fn test(root: &Path) -> ExitCode {
    let mut plan = Plan::new(&[
        "System packages",
        "UI dependencies and build",
        "UI unit tests",
        "UI browser tests",
        "Rust tests",
        "Fuzz smoke",
    ]);
    if !plan.step(system::ensure) || !plan.step(|| ui::install_and_build(root)) {
        return plan.finish(None);
    }
    plan.step(|| ui::test(root));
    plan.step(|| ui::browser_test(root));
    let mut counts = None;
    plan.step(|| {
        let (result, seen) = rust::test(root);
        counts = seen;
        result
    });
    plan.step(|| fuzz::smoke(root));
    plan.finish(counts)
}

fn run(root: &Path, app_args: &[String]) -> ExitCode {
    let mut plan = Plan::new(&[
        "System packages",
        "UI dependencies and build",
        "Start the app",
    ]);
    let _ = plan.step(system::ensure)
        && plan.step(|| ui::install_and_build(root))
        && plan.step(|| start_app(root, app_args));
    plan.finish(None)
}

fn start_app(root: &Path, app_args: &[String]) -> StepResult {
    check_display()?;
    // Without custom-protocol, Tauri's debug build loads tauri.conf.json's devUrl, a Vite
    // dev server that is not running here; with it, the window shows the ui/dist just built.
    let mut cargo = cmd::cargo();
    cargo
        .current_dir(root)
        .args([
            "run",
            "--package",
            "hearth",
            "--features",
            "custom-protocol",
            "--",
        ])
        .args(app_args);
    cmd::run(&mut cargo)?;
    Ok(Outcome::Done)
}

/// On Linux and the BSDs the webview needs an X11 or Wayland session; without one the app
/// dies with a GTK error that does not say what is wrong. macOS and Windows always have one.
fn check_display() -> Result<(), String> {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return Ok(());
    }
    let set = |name| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return Ok(());
    }
    Err(
        "no display: neither $DISPLAY nor $WAYLAND_DISPLAY is set, so the app cannot open \
         its window. Start it from a desktop session, or under a virtual display with \
         `xvfb-run -a cargo xtask run`"
            .to_string(),
    )
}

/// The release bundles and their checks. On Linux the .deb and the AppImage, each checked;
/// elsewhere every bundle tauri.conf.json lists for that system is built, unchecked.
fn package(root: &Path, tauri_args: &[String]) -> ExitCode {
    if !cfg!(target_os = "linux") {
        let mut plan = Plan::new(&[
            "System packages",
            "Icons",
            "UI dependencies and build",
            "Bundles",
        ]);
        let _ = plan.step(system::ensure)
            && plan.step(|| icons::check(root))
            && plan.step(|| ui::install_and_build(root))
            && plan.step(|| package::build(root, &[], tauri_args));
        return plan.finish(None);
    }
    let mut plan = Plan::new(&[
        "System packages",
        "Packaging check tools",
        "Icons",
        "UI dependencies and build",
        "Build the .deb and the AppImage",
        "Check the .deb",
        "Check the AppImage",
    ]);
    let ready = plan.step(system::ensure)
        && plan.step(|| system::ensure_extra(package::CHECK_PACKAGES))
        && plan.step(|| icons::check(root))
        && plan.step(|| ui::install_and_build(root));
    if !ready {
        return plan.finish(None);
    }
    // One CLI run for both: each run rebuilds ui/dist (beforeBuildCommand), which the app
    // embeds, so a second run would compile the app again. The bundle folders are emptied
    // first, so a check never passes on a bundle an earlier run left; each check runs when
    // its bundle exists, so a failed AppImage still leaves a checked .deb.
    plan.step(|| package::build(root, &package::LINUX_BUNDLES, tauri_args));
    plan.step(|| package::check_deb(root));
    plan.step(|| package::check_appimage(root));
    plan.finish(None)
}

fn bench(root: &Path, loadgen_args: &[String]) -> ExitCode {
    const LOADGEN: &str = "hearth-loadgen";
    match workspace::has_package(root, LOADGEN) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!(
                "xtask: the workspace has no `{LOADGEN}` package yet, so there is nothing to benchmark"
            );
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("xtask: {error}");
            return ExitCode::FAILURE;
        }
    }
    let mut cargo = cmd::cargo();
    cargo
        .current_dir(root)
        .args(["run", "--release", "--package", LOADGEN, "--"])
        .args(loadgen_args);
    match cmd::run(&mut cargo) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: bench: {error}");
            ExitCode::FAILURE
        }
    }
}
