//! `cargo xtask package`: the release bundles through the Tauri CLI, then a smoke check of
//! each Linux bundle: its contents, and the packaged binary started under a virtual X
//! server until its window shows, screenshotted, and stopped.
//!
//! Not part of `cargo xtask test`: a release build of the app takes many minutes on a small
//! machine. docs/packaging.md has the measured times and sizes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cmd;
use crate::report::{Outcome, StepResult, note};

/// The Linux bundles this command builds and checks, in the Tauri CLI's names.
pub const LINUX_BUNDLES: [&str; 2] = ["deb", "appimage"];

/// Debian packages `package` uses beyond the build's own (`system::SYSTEM_PACKAGES`):
/// squashfs-tools packs the AppImage (crates/hearth-appimage); dpkg-deb is always there;
/// xwininfo finds the window, xwd and ImageMagick take the screenshot.
pub const CHECK_PACKAGES: &[&str] = &["squashfs-tools", "x11-utils", "x11-apps", "imagemagick"];

/// What the package must hold, as `dpkg-deb -c` lists it (less any leading `./`).
const DEB_MUST_HOLD: &[&str] = &[
    "usr/bin/hearth",
    "usr/share/applications/Hearth.desktop",
    "usr/share/icons/hicolor/32x32/apps/hearth.png",
    "usr/share/icons/hicolor/64x64/apps/hearth.png",
    "usr/share/icons/hicolor/128x128/apps/hearth.png",
    "usr/share/icons/hicolor/256x256@2/apps/hearth.png",
    "usr/share/icons/hicolor/512x512/apps/hearth.png",
];

/// The repository's target directory, as cargo (and so the Tauri CLI) resolves it.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn tauri_cli(root: &Path) -> Result<Command, String> {
    let name = if cfg!(windows) { "tauri.cmd" } else { "tauri" };
    let cli = root.join("ui/node_modules/.bin").join(name);
    if !cli.is_file() {
        return Err(format!(
            "the Tauri CLI is not at {}: the UI step installs it from ui/package.json",
            cli.display()
        ));
    }
    let mut command = Command::new(cli);
    command.current_dir(root);
    Ok(command)
}

/// `tauri build` for the given bundles (all of the configured ones when empty), timed.
/// `--ci` keeps the CLI from prompting; `useLocalToolsDir` keeps the tools the AppImage
/// bundler looks for in `<target>/.tauri` instead of the user's cache.
pub fn build(root: &Path, bundles: &[&str], extra_args: &[String]) -> StepResult {
    if bundles.contains(&"appimage") {
        install_appimage_tools(root)?;
    }
    for bundle in bundles {
        let dir = bundle_dir(root, bundle);
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|error| format!("cannot remove {}: {error}", dir.display()))?;
        }
    }
    let mut tauri = tauri_cli(root)?;
    tauri.args([
        "build",
        "--ci",
        "--config",
        r#"{"bundle":{"useLocalToolsDir":true}}"#,
    ]);
    // Passed to every build, not only the .deb's: the CLI hands its --config to the build
    // script, and a different one rebuilds the app.
    if cfg!(target_os = "linux")
        && let Some(depends) = deb_depends_config(root)?
    {
        tauri.args(["--config", &depends]);
    }
    if !bundles.is_empty() {
        tauri.args(["--bundles", &bundles.join(",")]);
    }
    tauri.args(extra_args);
    let started = Instant::now();
    let result = cmd::run(&mut tauri);
    note(&format!(
        "tauri build took {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    result?;
    Ok(Outcome::Done)
}

/// tauri.conf.json's .deb dependencies plus the package of the libvpx this machine links
/// (`libvpx.so.7` from libvpx7 on Debian 12 and Ubuntu 22.04, `.so.9` from libvpx9 on Ubuntu
/// 24.04): the binary needs that exact soname, so no fixed name in the config is right for
/// every build machine. None where dpkg is not the package manager.
fn deb_depends_config(root: &Path) -> Result<Option<String>, String> {
    if !cmd::on_path("dpkg") {
        return Ok(None);
    }
    // Debian's vpx.pc says libdir=/usr/lib, which is wrong on multiarch systems; the
    // linker's cache names the libvpx.so the build links.
    let cache = cmd::output(Command::new("ldconfig").arg("-p"))?;
    let linked = linker_cache_path(&cache, "libvpx.so")
        .ok_or("the linker cache (ldconfig -p) has no libvpx.so: install libvpx-dev")?;
    let library =
        fs::canonicalize(linked).map_err(|error| format!("cannot resolve {linked}: {error}"))?;
    let owner = cmd::output(Command::new("dpkg").arg("-S").arg(&library))?;
    let package = libvpx_package(&owner)
        .ok_or_else(|| format!("cannot read the package from `dpkg -S`: {owner}"))?;
    note(&format!("{} is in {package}", library.display()));
    const MERGE: &str = "const d = require('./tauri.conf.json').bundle.linux.deb.depends || []; \
         process.stdout.write(JSON.stringify( \
         {bundle: {linux: {deb: {depends: [...d, process.argv[1]]}}}}));";
    let merged = cmd::output(
        Command::new("node")
            .current_dir(root)
            .args(["-e", MERGE, package]),
    )?;
    Ok(Some(merged))
}

/// The path `ldconfig -p` gives for exactly `name` (for this machine's word size).
fn linker_cache_path<'a>(cache: &'a str, name: &str) -> Option<&'a str> {
    cache.lines().find_map(|line| {
        let (entry, path) = line.trim().split_once(" => ")?;
        let (entry_name, flags) = entry.split_once(' ')?;
        let native = !cfg!(target_pointer_width = "64") || flags.contains("64");
        (entry_name == name && native).then_some(path.trim())
    })
}

/// `libvpx7:amd64: /usr/lib/x86_64-linux-gnu/libvpx.so.7.1.0` → `libvpx7`.
fn libvpx_package(dpkg_search: &str) -> Option<&str> {
    let package = dpkg_search.lines().next()?.split(':').next()?.trim();
    (!package.is_empty()).then_some(package)
}

/// The linuxdeploy build tauri-bundler 2.10 (in @tauri-apps/cli 2.12) asks for; its file name
/// must match, or the bundler downloads its own. Raise it with the CLI pin in ui/package.json.
const LINUXDEPLOY_VERSION: &str = "07333c6";

/// Puts crates/hearth-appimage where Tauri's AppImage bundler looks for linuxdeploy, its
/// AppRun and its AppImage output plugin, so it downloads none of them (the download hosts
/// are not package registries). See crates/hearth-appimage for what it does in their place.
fn install_appimage_tools(root: &Path) -> Result<(), String> {
    let target = target_dir(root);
    cmd::run(cmd::cargo().current_dir(root).args([
        "build",
        "--release",
        "--package",
        "hearth-appimage",
    ]))?;
    let built = target.join("release/hearth-appimage");
    let tools = target.join(".tauri");
    fs::create_dir_all(&tools)
        .map_err(|error| format!("cannot create {}: {error}", tools.display()))?;
    let arch = std::env::consts::ARCH;
    for name in [
        format!("linuxdeploy-{LINUXDEPLOY_VERSION}-{arch}.AppImage"),
        format!("AppRun-{arch}"),
        "linuxdeploy-plugin-appimage.AppImage".to_string(),
    ] {
        let path = tools.join(&name);
        // Replaced, not overwritten: the bundler may still have the old file open.
        let _ = fs::remove_file(&path);
        fs::copy(&built, &path).map_err(|error| {
            format!(
                "cannot copy {} to {}: {error}",
                built.display(),
                path.display()
            )
        })?;
    }
    note(&format!(
        "AppImage tools from crates/hearth-appimage in {}",
        tools.display()
    ));
    Ok(())
}

fn bundle_dir(root: &Path, bundle: &str) -> PathBuf {
    target_dir(root).join("release/bundle").join(bundle)
}

/// The newest file in `dir` whose name ends with `suffix`, if any.
fn newest(dir: &Path, suffix: &str) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(suffix))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .max()
        .map(|(_, path)| path)
}

fn show_size(path: &Path) {
    if let Ok(metadata) = fs::metadata(path) {
        note(&format!(
            "{}: {:.1} MiB",
            path.display(),
            metadata.len() as f64 / (1024.0 * 1024.0)
        ));
    }
}

/// Checks the .deb's control data, file list and desktop entry, then starts the binary it
/// installs.
pub fn check_deb(root: &Path) -> StepResult {
    let Some(deb) = newest(&bundle_dir(root, "deb"), ".deb") else {
        return Ok(Outcome::Skipped("no .deb was built".to_string()));
    };
    show_size(&deb);

    let info = cmd::output(Command::new("dpkg-deb").arg("-I").arg(&deb))?;
    for field in ["Package: hearth", "Depends:", "libwebkit2gtk-4.1-0"] {
        if !info.contains(field) {
            return Err(format!("`dpkg-deb -I` shows no `{field}`:\n{info}"));
        }
    }
    if let Some(depends) = info
        .lines()
        .find(|line| line.trim().starts_with("Depends:"))
    {
        note(depends.trim());
    }
    let listing = cmd::output(Command::new("dpkg-deb").arg("-c").arg(&deb))?;
    for path in DEB_MUST_HOLD {
        let listed = |line: &str| {
            line.split_whitespace()
                .last()
                .is_some_and(|name| name.trim_start_matches("./") == *path)
        };
        if !listing.lines().any(listed) {
            return Err(format!("{} does not hold {path}", deb.display()));
        }
    }
    note(&format!("holds {}", DEB_MUST_HOLD.join(", ")));

    let out = root.join("test-output/package/deb");
    let tree = out.join("root");
    recreate(&tree)?;
    cmd::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    let desktop = fs::read_to_string(tree.join("usr/share/applications/Hearth.desktop"))
        .map_err(|error| format!("cannot read the desktop entry: {error}"))?;
    check_desktop_entry(&desktop)?;
    note("desktop entry: Exec=hearth %u, MimeType=x-scheme-handler/hearth");

    smoke::run(&tree.join("usr/bin/hearth"), &[], &out)
}

/// Runs the AppImage the way a machine without FUSE can (extract, then run).
pub fn check_appimage(root: &Path) -> StepResult {
    let Some(appimage) = newest(&bundle_dir(root, "appimage"), ".AppImage") else {
        return Ok(Outcome::Skipped("no AppImage was built".to_string()));
    };
    show_size(&appimage);
    let out = root.join("test-output/package/appimage");
    recreate(&out)?;
    smoke::run(&appimage, &["--appimage-extract-and-run"], &out)
}

/// The desktop entry must pass `hearth://` links to the app (`%u`) and claim the scheme.
fn check_desktop_entry(text: &str) -> Result<(), String> {
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
    };
    if value("Exec") != "hearth %u" {
        return Err(format!(
            "the desktop entry's Exec is `{}`, not `hearth %u`",
            value("Exec")
        ));
    }
    if !value("MimeType")
        .split(';')
        .any(|mime| mime == "x-scheme-handler/hearth")
    {
        return Err("the desktop entry does not handle x-scheme-handler/hearth".to_string());
    }
    Ok(())
}

fn recreate(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir)
            .map_err(|error| format!("cannot remove {}: {error}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

#[cfg(unix)]
mod smoke {
    //! The packaged app under its own Xvfb: it must open a window titled "Hearth" that
    //! draws something, keep running, and end promptly on SIGTERM (not crash).

    use std::fs::File;
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::thread::sleep;
    use std::time::{Duration, Instant};

    use crate::cmd;
    use crate::report::{Outcome, StepResult, note};

    const WINDOW_TITLE: &str = "\"Hearth\"";
    const WINDOW_TIMEOUT: Duration = Duration::from_secs(60);
    /// How long the app runs after its window appeared, so the webview paints the UI.
    const SETTLE: Duration = Duration::from_secs(5);
    const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

    /// Kills the child on every way out, so a failed check leaves no process behind.
    struct Guard(Child);

    impl Drop for Guard {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }

    pub fn run(program: &Path, args: &[&str], out: &Path) -> StepResult {
        let display = free_display()?;
        let log = |name: &str| {
            File::create(out.join(name)).map_err(|error| format!("cannot create a log: {error}"))
        };
        let mut xvfb = Command::new("Xvfb");
        xvfb.args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(log("xvfb.log")?);
        let _xvfb = Guard(
            xvfb.spawn()
                .map_err(|error| cmd::spawn_error("Xvfb", &error))?,
        );
        wait_for(Duration::from_secs(10), "Xvfb to start", || {
            Path::new(&format!("/tmp/.X11-unix/X{}", &display[1..])).exists()
        })?;

        // A config and data directory of its own, so the check neither reads nor changes
        // the settings of whoever runs it; no LAN advertising from a check.
        let home = out.join("home");
        std::fs::create_dir_all(&home).map_err(|error| format!("cannot create {error}"))?;
        let mut app = Command::new(program);
        app.args(args)
            .env("DISPLAY", &display)
            .env("HEARTH_LAN_DISCOVERY", "0")
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("APPIMAGE_EXTRACT_AND_RUN", "1")
            .current_dir(out)
            .stdin(Stdio::null())
            .stdout(log("app.log")?)
            .stderr(log("app.err.log")?);
        note(&format!("$ {}", cmd::describe(&app)));
        let started = Instant::now();
        let mut app = Guard(
            app.spawn()
                .map_err(|error| cmd::spawn_error(&program.display().to_string(), &error))?,
        );

        let mut window = String::new();
        wait_for(WINDOW_TIMEOUT, "the window titled Hearth", || {
            if let Ok(Some(status)) = app.0.try_wait() {
                window = format!("exited early: {status}");
                return true;
            }
            match window_line(&display) {
                Some(line) => {
                    window = line;
                    true
                }
                None => false,
            }
        })
        .map_err(|error| format!("{error}; see {}/app.err.log", out.display()))?;
        if window.starts_with("exited early") {
            return Err(format!(
                "the app {window}; see {}/app.err.log",
                out.display()
            ));
        }
        note(&format!(
            "window after {:.1} s: {window}",
            started.elapsed().as_secs_f64()
        ));
        sleep(SETTLE);
        if let Ok(Some(status)) = app.0.try_wait() {
            return Err(format!("the app exited while showing its window: {status}"));
        }

        let shot = out.join("window.png");
        screenshot(&display, &shot, out)?;
        let spread = cmd::output(Command::new("convert").arg(&shot).args([
            "-format",
            "%[fx:standard_deviation]",
            "info:",
        ]))?;
        let spread: f64 = spread.trim().parse().unwrap_or(0.0);
        if spread < 0.01 {
            return Err(format!(
                "the screenshot {} is one flat colour: the window drew nothing",
                shot.display()
            ));
        }
        note(&format!(
            "screenshot {} (pixel standard deviation {spread:.3})",
            shot.display()
        ));

        let status = terminate(&mut app.0)?;
        note(&format!("stopped with SIGTERM: {status}"));
        Ok(Outcome::Done)
    }

    /// SIGTERM, then the exit status: a clean end is exit code 0 or death by that SIGTERM;
    /// anything else (SIGSEGV, SIGABRT, a hang) fails.
    fn terminate(child: &mut Child) -> Result<ExitStatus, String> {
        cmd::run(Command::new("kill").args(["-TERM", &child.id().to_string()]))?;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|error| format!("waiting for the app: {error}"))?
            {
                return if status.success() || status.signal() == Some(15) {
                    Ok(status)
                } else {
                    Err(format!("the app did not end cleanly on SIGTERM: {status}"))
                };
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the app was still running {} s after SIGTERM",
                    EXIT_TIMEOUT.as_secs()
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }

    fn window_line(display: &str) -> Option<String> {
        let tree = cmd::output(
            Command::new("xwininfo")
                .env("DISPLAY", display)
                .args(["-root", "-tree"]),
        )
        .ok()?;
        tree.lines()
            .find(|line| line.contains(WINDOW_TITLE) && line.contains('x'))
            .map(|line| line.trim().to_string())
    }

    fn screenshot(display: &str, png: &Path, out: &Path) -> Result<(), String> {
        let xwd = out.join("window.xwd");
        cmd::output(
            Command::new("xwd")
                .env("DISPLAY", display)
                .args(["-root", "-silent", "-out"])
                .arg(&xwd),
        )?;
        cmd::output(Command::new("convert").arg(&xwd).arg(png))?;
        let _ = std::fs::remove_file(&xwd);
        Ok(())
    }

    /// The first X display number from 90 on with neither a socket nor a lock file.
    fn free_display() -> Result<String, String> {
        (90..190)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .map(|n| format!(":{n}"))
            .ok_or_else(|| "no free X display number between :90 and :189".to_string())
    }

    fn wait_for(
        timeout: Duration,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !ready() {
            if Instant::now() > deadline {
                return Err(format!(
                    "gave up after {} s waiting for {what}",
                    timeout.as_secs()
                ));
            }
            sleep(Duration::from_millis(250));
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod smoke {
    use std::path::Path;

    use crate::report::{Outcome, StepResult};

    pub fn run(_program: &Path, _args: &[&str], _out: &Path) -> StepResult {
        Ok(Outcome::Skipped(
            "the smoke check needs Xvfb, so it runs on Linux only".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_libvpx_package_is_the_first_word_of_dpkg_search() {
        let line = "libvpx7:amd64: /usr/lib/x86_64-linux-gnu/libvpx.so.7.1.0\n";
        assert_eq!(libvpx_package(line), Some("libvpx7"));
        assert_eq!(libvpx_package(""), None);
    }

    #[test]
    fn the_linker_cache_gives_the_exact_name() {
        let cache = "2 libs found in cache `/etc/ld.so.cache'\n\
            \tlibvpx.so.7 (libc6,x86-64) => /lib/x86_64-linux-gnu/libvpx.so.7\n\
            \tlibvpx.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libvpx.so\n";
        assert_eq!(
            linker_cache_path(cache, "libvpx.so"),
            Some("/lib/x86_64-linux-gnu/libvpx.so")
        );
        assert_eq!(linker_cache_path(cache, "libopus.so"), None);
    }

    #[test]
    fn desktop_entry_must_pass_links_and_claim_the_scheme() {
        let good = "[Desktop Entry]\nExec=hearth %u\nMimeType=x-scheme-handler/hearth;\n";
        assert!(check_desktop_entry(good).is_ok());
        assert!(check_desktop_entry("Exec=hearth\nMimeType=x-scheme-handler/hearth;\n").is_err());
        assert!(check_desktop_entry("Exec=hearth %u\nMimeType=text/plain;\n").is_err());
    }
}
