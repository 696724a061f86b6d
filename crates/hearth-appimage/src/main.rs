//! Hearth's AppImage tooling, in one binary with two roles.
//!
//! **Builder.** Tauri's AppImage bundler runs `linuxdeploy` (and copies an `AppRun`) from its
//! tools directory, downloading both from GitHub when they are missing. `cargo xtask package`
//! puts this binary there under those names instead, so the AppImage is made from what the
//! package registries offer: Debian's squashfs-tools and ldd. Called the way the bundler calls
//! linuxdeploy (`--appdir DIR --plugin gtk --output appimage`, `OUTPUT=file`), it runs the
//! bundler's own GTK plugin script, copies the shared libraries the AppDir's ELF files need
//! (less the ones every desktop has), writes `AppRun`, packs the AppDir with `mksquashfs`, and
//! writes the AppImage: a copy of itself with the AppImage type-2 magic, then the squashfs.
//!
//! **Runtime.** When its own file carries a squashfs image after the ELF image, it is an
//! AppImage: it mounts the image with `squashfuse` (or, without FUSE, with
//! `--appimage-extract-and-run` or `APPIMAGE_EXTRACT_AND_RUN=1`, extracts it with
//! `unsquashfs`) and replaces itself with the AppDir's `AppRun`, so the AppImage's process is
//! the app's and signals reach it. Unlike the upstream runtime it links no squashfs code:
//! the machine running the AppImage needs squashfuse or squashfs-tools.

use std::process::ExitCode;
#[cfg(unix)]
use std::{env, ffi::OsString, path::Path};

#[cfg(unix)]
mod builder;
#[cfg(unix)]
mod runtime;

/// AppImages are a Linux format; the crate still compiles elsewhere so that workspace-wide
/// builds and tests work on every system.
#[cfg(not(unix))]
fn main() -> ExitCode {
    fail("AppImages are made and run on Linux only")
}

#[cfg(unix)]
fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let exe = match env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return fail(&format!("cannot find this program's own file: {error}")),
    };
    let outcome = match runtime::payload_offset(&exe) {
        Ok(Some(offset)) => runtime::run(&exe, offset, &args),
        Ok(None) => builder::run(&exe, &args),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("hearth-appimage: {message}");
    ExitCode::FAILURE
}

/// Runs a command to completion; the error names it and its exit status.
#[cfg(unix)]
fn run(command: &mut std::process::Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{shown} failed ({status})")),
        Err(error) => Err(format!("cannot run {shown}: {error}")),
    }
}

#[cfg(unix)]
fn on_path(name: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

#[cfg(unix)]
fn display(path: &Path) -> String {
    path.display().to_string()
}
