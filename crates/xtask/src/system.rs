//! System packages: the libraries Tauri's webview links against, the C toolchain, and the
//! virtual X server the GUI tests run under.
//!
//! On Debian and Ubuntu they are checked with `dpkg -s` and installed with apt-get, as root
//! or through passwordless sudo. Anywhere else, or without the rights to install, the exact
//! commands to run by hand are printed instead.

use std::process::Command;

use crate::cmd;
use crate::report::{Outcome, StepResult, note};

/// One system package, with its names on the distributions we give instructions for. An
/// empty name means the distribution needs nothing extra for it.
pub struct SystemPackage {
    pub debian: &'static str,
    pub fedora: &'static str,
    pub arch: &'static str,
}

/// Everything the build and the tests need from the system. This table is the one place to
/// add a package: a new row is checked, installed, and listed in the by-hand instructions.
#[rustfmt::skip]
pub const SYSTEM_PACKAGES: &[SystemPackage] = &[
    // Tauri's webview and the GTK window around it.
    SystemPackage { debian: "libwebkit2gtk-4.1-dev", fedora: "webkit2gtk4.1-devel", arch: "webkit2gtk-4.1" },
    SystemPackage { debian: "libgtk-3-dev", fedora: "gtk3-devel", arch: "gtk3" },
    SystemPackage { debian: "libsoup-3.0-dev", fedora: "libsoup3-devel", arch: "libsoup3" },
    SystemPackage { debian: "librsvg2-dev", fedora: "librsvg2-devel", arch: "librsvg" },
    // The tray icon.
    SystemPackage {
        debian: "libayatana-appindicator3-dev",
        fedora: "libappindicator-gtk3-devel",
        arch: "libappindicator-gtk3",
    },
    // Compilers, and the tools -sys crates use to find the libraries above.
    SystemPackage { debian: "pkg-config", fedora: "pkgconf-pkg-config", arch: "pkgconf" },
    SystemPackage { debian: "build-essential", fedora: "gcc gcc-c++ make", arch: "base-devel" },
    SystemPackage { debian: "libssl-dev", fedora: "openssl-devel", arch: "openssl" },
    // hearth-media: cmake builds libopus from source; cpal's ALSA host links libasound; the
    // device test plays and records through a PulseAudio null sink it starts itself.
    SystemPackage { debian: "cmake", fedora: "cmake", arch: "cmake" },
    SystemPackage { debian: "libasound2-dev", fedora: "alsa-lib-devel", arch: "alsa-lib" },
    SystemPackage { debian: "pulseaudio", fedora: "pulseaudio", arch: "pulseaudio" },
    // hearth-media's video: VP8 through the system libvpx; nokhwa's V4L2 bindings run bindgen,
    // which needs libclang.
    SystemPackage { debian: "libvpx-dev", fedora: "libvpx-devel", arch: "libvpx" },
    SystemPackage { debian: "libclang-dev", fedora: "clang-devel", arch: "clang" },
    // A virtual display, so GUI tests run on machines without a screen (CI).
    SystemPackage { debian: "xvfb", fedora: "xorg-x11-server-Xvfb", arch: "xorg-server-xvfb" },
    SystemPackage { debian: "xauth", fedora: "xorg-x11-xauth", arch: "xorg-xauth" },
    // The real-app test: WebKitGTK's WebDriver (behind tauri-driver), ImageMagick's `import`
    // for screenshots of the display, and an emoji font so the UI's icons are not boxes.
    SystemPackage {
        debian: "webkit2gtk-driver",
        fedora: "webkit2gtk4.1-devel",
        arch: "webkit2gtk-4.1",
    },
    SystemPackage { debian: "imagemagick", fedora: "ImageMagick", arch: "imagemagick" },
    // ... xdotool presses the push-to-talk key with the window hidden, and a private D-Bus
    // session bus carries the single-instance hand-over of a hearth:// link.
    SystemPackage { debian: "xdotool", fedora: "xdotool", arch: "xdotool" },
    SystemPackage { debian: "dbus-daemon", fedora: "dbus-daemon", arch: "dbus" },
    SystemPackage {
        debian: "fonts-noto-color-emoji",
        fedora: "google-noto-emoji-color-fonts",
        arch: "noto-fonts-emoji",
    },
    // The UI's browser tests: Playwright drives this Chromium headless (never a downloaded one).
    SystemPackage { debian: "chromium", fedora: "chromium", arch: "chromium" },
    // The LAN discovery tests make their own network namespaces and veth pairs with `ip`.
    SystemPackage { debian: "iproute2", fedora: "iproute", arch: "iproute2" },
];

/// Waiting for the dpkg lock instead of failing at once matters on fresh cloud machines,
/// where unattended upgrades often hold it for the first minutes after boot.
const APT_LOCK_TIMEOUT: &str = "DPkg::Lock::Timeout=600";

pub fn ensure() -> StepResult {
    if cmd::env_flag("HEARTH_SKIP_SYSTEM_PACKAGES") {
        return Ok(Outcome::Skipped(
            "HEARTH_SKIP_SYSTEM_PACKAGES is set".to_string(),
        ));
    }
    if cfg!(target_os = "linux") && cmd::on_path("dpkg") && cmd::on_path("apt-get") {
        return ensure_debian();
    }
    if cfg!(target_os = "macos") {
        return ensure_macos();
    }
    note("This is not Debian or Ubuntu, so system packages cannot be checked here.");
    note("If the build fails for a missing library, install these by hand:");
    print_other_systems();
    Ok(Outcome::Skipped(
        "not a Debian or Ubuntu system; see the list above".to_string(),
    ))
}

fn ensure_debian() -> StepResult {
    let wanted: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .map(|package| package.debian)
        .collect();
    ensure_debian_packages(&wanted)
}

/// Extra Debian packages for one command (such as `package`'s checks); elsewhere they are
/// named and skipped, since the command says what fails without them.
pub fn ensure_extra(wanted: &[&str]) -> StepResult {
    if cmd::env_flag("HEARTH_SKIP_SYSTEM_PACKAGES") {
        return Ok(Outcome::Skipped(
            "HEARTH_SKIP_SYSTEM_PACKAGES is set".to_string(),
        ));
    }
    if cfg!(target_os = "linux") && cmd::on_path("dpkg") && cmd::on_path("apt-get") {
        return ensure_debian_packages(wanted);
    }
    Ok(Outcome::Skipped(format!(
        "not a Debian or Ubuntu system; the equivalents of {} are needed",
        wanted.join(" ")
    )))
}

fn ensure_debian_packages(wanted: &[&str]) -> StepResult {
    let missing = missing_debian_packages(wanted);
    if missing.is_empty() {
        note(&format!(
            "all {} packages are installed: {}",
            wanted.len(),
            wanted.join(" ")
        ));
        return Ok(Outcome::Done);
    }
    note(&format!("missing: {}", missing.join(" ")));

    let Some(privilege) = Privilege::detect() else {
        print_by_hand(&missing);
        return Err(format!(
            "{} system package(s) are missing and installing them needs root, but this is \
             not root and passwordless sudo is not available; install them as shown above \
             and run again",
            missing.len()
        ));
    };
    // An update failure is often one broken third-party source; the install may still work
    // with the lists already on the machine, and fails clearly if not.
    if let Err(error) = cmd::run(&mut privilege.apt_get(&["update"])) {
        note(&format!("warning: {error}; trying the install anyway"));
    }
    let mut install = privilege.apt_get(&["install", "-y"]);
    install.args(&missing);
    if let Err(error) = cmd::run(&mut install) {
        // The usual cause on Ubuntu: the tray library is in the universe component, which
        // minimal images leave disabled.
        note("If apt-get could not find a package on Ubuntu, enable the universe component");
        note("(sudo add-apt-repository universe) and run again.");
        return Err(format!("installing system packages: {error}"));
    }

    let still_missing = missing_debian_packages(wanted);
    if !still_missing.is_empty() {
        return Err(format!(
            "apt-get finished but these packages are still not installed: {}",
            still_missing.join(" ")
        ));
    }
    Ok(Outcome::Done)
}

/// The packages from `wanted` that dpkg does not report as installed.
pub fn missing_debian_packages<'a>(wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|name| !debian_package_installed(name))
        .collect()
}

/// `dpkg -s` also succeeds for packages that were removed but left their configuration
/// behind, so the Status line is what decides.
fn debian_package_installed(name: &str) -> bool {
    let mut dpkg = Command::new("dpkg");
    dpkg.args(["-s", name]);
    match cmd::output(&mut dpkg) {
        Ok(text) => status_is_installed(&text),
        Err(_) => false,
    }
}

fn status_is_installed(dpkg_status: &str) -> bool {
    dpkg_status.lines().any(|line| {
        line.strip_prefix("Status:")
            .is_some_and(|status| status.split_whitespace().eq(["install", "ok", "installed"]))
    })
}

/// How apt-get can be run with the rights it needs.
enum Privilege {
    Root,
    Sudo,
}

impl Privilege {
    fn detect() -> Option<Privilege> {
        let uid = cmd::output(Command::new("id").arg("-u")).unwrap_or_default();
        if uid.trim() == "0" {
            return Some(Privilege::Root);
        }
        // -n never prompts: CI has no stdin, and a hidden password prompt would hang it.
        if cmd::on_path("sudo") && cmd::succeeds_quietly(Command::new("sudo").args(["-n", "true"]))
        {
            return Some(Privilege::Sudo);
        }
        None
    }

    /// apt-get in non-interactive mode: no prompts for configuration questions, and `-y`
    /// where the caller asks for it. sudo drops most of the environment, hence `env`.
    fn apt_get(&self, args: &[&str]) -> Command {
        let mut command = match self {
            Privilege::Root => {
                let mut command = Command::new("apt-get");
                command.env("DEBIAN_FRONTEND", "noninteractive");
                command
            }
            Privilege::Sudo => {
                let mut command = Command::new("sudo");
                command.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
                command
            }
        };
        command.args(["-o", APT_LOCK_TIMEOUT]).args(args);
        command
    }
}

fn ensure_macos() -> StepResult {
    if cmd::succeeds_quietly(Command::new("xcode-select").arg("-p")) {
        note("Xcode Command Line Tools are installed");
        return Ok(Outcome::Done);
    }
    Err(
        "the Xcode Command Line Tools are missing; install them with `xcode-select --install` \
         and run again"
            .to_string(),
    )
}

fn print_by_hand(missing: &[&str]) {
    note("Install the missing packages as root, then run this command again:");
    note(&format!(
        "    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
        missing.join(" ")
    ));
    note("On other systems, the equivalents are:");
    print_other_systems();
}

fn print_other_systems() {
    let names = |pick: fn(&SystemPackage) -> &'static str| {
        SYSTEM_PACKAGES
            .iter()
            .map(pick)
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    note(&format!(
        "    Debian/Ubuntu: sudo apt-get install -y {}",
        names(|p| p.debian)
    ));
    note(&format!(
        "    Fedora:        sudo dnf install {}",
        names(|p| p.fedora)
    ));
    note(&format!(
        "    Arch:          sudo pacman -S --needed {}",
        names(|p| p.arch)
    ));
    note("    macOS:         xcode-select --install   (Xcode Command Line Tools)");
    note("    Windows:       the WebView2 runtime (built into Windows 10 1803+ and 11) and");
    note("                   Visual Studio Build Tools with \"Desktop development with C++\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fully_installed_status_counts() {
        assert!(status_is_installed(
            "Package: xauth\nStatus: install ok installed\nPriority: optional\n"
        ));
        assert!(!status_is_installed(
            "Package: xauth\nStatus: deinstall ok config-files\n"
        ));
        assert!(!status_is_installed(
            "Package: xauth\nStatus: install ok unpacked\n"
        ));
        assert!(!status_is_installed(""));
    }

    /// Exercises the real dpkg query on Debian-like machines: dpkg itself is always
    /// installed there, and the other name cannot exist.
    #[test]
    fn dpkg_query_tells_installed_from_missing() {
        if !cmd::on_path("dpkg") {
            return;
        }
        let wanted = ["dpkg", "hearth-xtask-no-such-package"];
        assert_eq!(
            missing_debian_packages(&wanted),
            ["hearth-xtask-no-such-package"]
        );
    }

    #[test]
    fn debian_names_are_listed_once() {
        let mut names: Vec<&str> = SYSTEM_PACKAGES
            .iter()
            .map(|package| package.debian)
            .collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(
            names.len(),
            before,
            "a package is listed twice in SYSTEM_PACKAGES"
        );
    }

    #[test]
    fn every_package_has_a_debian_name() {
        for package in SYSTEM_PACKAGES {
            assert!(!package.debian.is_empty() && !package.debian.contains(' '));
        }
    }
}
