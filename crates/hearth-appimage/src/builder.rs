//! The builder role: what Tauri's bundler expects of linuxdeploy, for a GTK app.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::runtime::MAGIC;
use crate::{display, run as run_command};

/// Libraries left to the machine that runs the AppImage, as in the AppImage project's
/// exclude list: the C library family (tied to the kernel and to ld.so), the graphics
/// drivers' libraries (tied to the installed driver), and the X, font and sound libraries
/// every desktop has and that must match its servers and configuration.
const HOST_LIBRARIES: &[&str] = &[
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
    "libanl.so.1",
    "libBrokenLocale.so.1",
    "libc.so.6",
    "libdl.so.2",
    "libm.so.6",
    "libmvec.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "librt.so.1",
    "libthread_db.so.1",
    "libutil.so.1",
    "libstdc++.so.6",
    "libgcc_s.so.1",
    "libGL.so.1",
    "libEGL.so.1",
    "libGLX.so.0",
    "libGLdispatch.so.0",
    "libOpenGL.so.0",
    "libGLESv2.so.2",
    "libdrm.so.2",
    "libgbm.so.1",
    "libvulkan.so.1",
    "libX11.so.6",
    "libX11-xcb.so.1",
    "libxcb.so.1",
    "libICE.so.6",
    "libSM.so.6",
    "libfontconfig.so.1",
    "libfreetype.so.6",
    "libharfbuzz.so.0",
    "libasound.so.2",
    "libjack.so.0",
    "libcom_err.so.2",
    "libexpat.so.1",
    "libgpg-error.so.0",
    "libusb-1.0.so.0",
    "libuuid.so.1",
    "libz.so.1",
    "libp11-kit.so.0",
];

struct Options {
    appdir: PathBuf,
    libraries: Vec<PathBuf>,
    plugins: Vec<String>,
    appimage: bool,
}

fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut options = Options {
        appdir: PathBuf::new(),
        libraries: Vec::new(),
        plugins: Vec::new(),
        appimage: false,
    };
    let mut args = args.iter().map(|arg| arg.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((key, value)) if key.starts_with("--") => {
                (key.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{key} needs a value"))
        };
        match key.as_str() {
            "--appdir" => options.appdir = PathBuf::from(value()?),
            "--library" | "-l" => options.libraries.push(PathBuf::from(value()?)),
            "--plugin" | "-p" => options.plugins.push(value()?),
            "--output" | "-o" => match value()?.as_str() {
                "appimage" => options.appimage = true,
                other => return Err(format!("output plugin {other} is not supported")),
            },
            "--verbosity" | "-v" => drop(value()?),
            "--appimage-extract-and-run" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.appdir.as_os_str().is_empty() {
        return Err("--appdir is required".to_string());
    }
    Ok(options)
}

pub fn run(exe: &Path, args: &[OsString]) -> Result<(), String> {
    let options = parse(args)?;
    let appdir = &options.appdir;
    let lib_dir = appdir.join("usr/lib");
    fs::create_dir_all(&lib_dir)
        .map_err(|error| format!("cannot create {}: {error}", display(&lib_dir)))?;
    for library in &options.libraries {
        deploy_library(library, &lib_dir)?;
    }
    // A plugin calls back with --library only; the rest is the main run's.
    if std::env::var_os("LINUXDEPLOY_PLUGIN_MODE").is_some() {
        return Ok(());
    }
    let tools = exe.parent().ok_or("this program's file has no folder")?;
    for plugin in &options.plugins {
        let script = tools.join(format!("linuxdeploy-plugin-{plugin}.sh"));
        eprintln!("hearth-appimage: running {}", display(&script));
        run_command(
            Command::new("bash")
                .arg(&script)
                .arg("--appdir")
                .arg(appdir)
                .env("LINUXDEPLOY", exe),
        )?;
    }
    let mut elf_files = Vec::new();
    collect_elf_files(appdir, &mut elf_files)?;
    let mut deployed = BTreeSet::new();
    for file in &elf_files {
        for dependency in dependencies(file)? {
            if deployed.insert(dependency.clone()) {
                deploy_library(&dependency, &lib_dir)?;
            }
        }
    }
    eprintln!(
        "hearth-appimage: {} ELF files, {} libraries copied into usr/lib",
        elf_files.len(),
        deployed.len()
    );
    write_apprun(appdir)?;
    if options.appimage {
        let output = std::env::var_os("OUTPUT").ok_or("OUTPUT names no AppImage file")?;
        pack(exe, appdir, Path::new(&output))?;
    }
    Ok(())
}

/// Copies a library into usr/lib under its own file name (resolving links), then the
/// libraries it needs.
fn deploy_library(library: &Path, lib_dir: &Path) -> Result<(), String> {
    let name = library
        .file_name()
        .ok_or(format!("{} has no file name", display(library)))?;
    if HOST_LIBRARIES.contains(&name.to_string_lossy().as_ref()) {
        return Ok(());
    }
    let target = lib_dir.join(name);
    if !target.exists() {
        fs::copy(library, &target)
            .map_err(|error| format!("cannot copy {}: {error}", display(library)))?;
        let mut permissions = fs::metadata(&target)
            .map_err(|e| e.to_string())?
            .permissions();
        permissions.set_mode(permissions.mode() | 0o644);
        fs::set_permissions(&target, permissions).map_err(|e| e.to_string())?;
        for dependency in dependencies(library)? {
            deploy_library(&dependency, lib_dir)?;
        }
    }
    Ok(())
}

/// The libraries ldd resolves for a file (all of them, transitively), less the host's.
fn dependencies(file: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd")
        .arg(file)
        .output()
        .map_err(|error| format!("cannot run ldd: {error}"))?;
    // ldd fails on static files and scripts; they need nothing.
    if !output.status.success() {
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&String::from_utf8_lossy(&output.stdout)))
}

fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(" => ")?;
            let path = rest.split(" (").next()?.trim();
            (path.starts_with('/') && !HOST_LIBRARIES.contains(&name.trim()))
                .then(|| PathBuf::from(path))
        })
        .collect()
}

fn collect_elf_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        fs::read_dir(dir).map_err(|error| format!("cannot list {}: {error}", display(dir)))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_elf_files(&path, found)?;
        } else if kind.is_file() && is_elf(&path) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

/// The AppDir's entry point. The GTK plugin's hook is bash, hence bash; the plugin also
/// rewrites `/usr` in libwebkit* to `././`, so WebKit finds its helper processes and
/// injected bundle relative to the working directory, which must be the AppDir's usr/.
fn write_apprun(appdir: &Path) -> Result<(), String> {
    let binary = main_binary(appdir)?;
    let script = format!(
        r#"#!/usr/bin/env bash
# Written by hearth-appimage (crates/hearth-appimage).
HERE="$(dirname "$(readlink -f "$0")")"
export APPDIR="${{APPDIR:-$HERE}}"
export OWD="${{OWD:-$PWD}}"
export PATH="$HERE/usr/bin:$PATH"
export LD_LIBRARY_PATH="$HERE/usr/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
export XDG_DATA_DIRS="$HERE/usr/share:${{XDG_DATA_DIRS:-/usr/local/share:/usr/share}}"
for hook in "$HERE"/apprun-hooks/*.sh; do
    [ -f "$hook" ] && . "$hook"
done
cd "$HERE/usr" || exit 1
exec "$HERE/usr/bin/{binary}" "$@"
"#
    );
    let path = appdir.join("AppRun");
    let _ = fs::remove_file(&path);
    fs::write(&path, script).map_err(|error| format!("cannot write AppRun: {error}"))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

/// The program the desktop entry at the AppDir's top starts (`Exec=hearth %u` → hearth).
fn main_binary(appdir: &Path) -> Result<String, String> {
    let entries =
        fs::read_dir(appdir).map_err(|error| format!("cannot list the AppDir: {error}"))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "desktop") {
            let text = fs::read_to_string(&path).map_err(|e| e.to_string())?;
            if let Some(exec) = text.lines().find_map(|line| line.strip_prefix("Exec=")) {
                let program = exec
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"');
                return Ok(program.to_string());
            }
        }
    }
    Err("the AppDir has no desktop entry with an Exec line".to_string())
}

/// The AppImage: this program with the type-2 magic, then the AppDir as squashfs.
fn pack(exe: &Path, appdir: &Path, output: &Path) -> Result<(), String> {
    let image = output.with_extension("squashfs");
    run_command(Command::new("mksquashfs").arg(appdir).arg(&image).args([
        "-root-owned",
        "-noappend",
        "-quiet",
        "-comp",
        "gzip",
    ]))?;
    let mut runtime =
        fs::read(exe).map_err(|error| format!("cannot read {}: {error}", display(exe)))?;
    runtime[8..11].copy_from_slice(&MAGIC);
    let payload =
        fs::read(&image).map_err(|error| format!("cannot read {}: {error}", display(&image)))?;
    let mut file = fs::File::create(output)
        .map_err(|error| format!("cannot create {}: {error}", display(output)))?;
    file.write_all(&runtime)
        .and_then(|()| file.write_all(&payload))
        .map_err(|error| format!("cannot write {}: {error}", display(output)))?;
    fs::set_permissions(output, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(&image);
    eprintln!(
        "hearth-appimage: wrote {} ({} bytes of runtime, {} of squashfs)",
        display(output),
        runtime.len(),
        payload.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_resolved_paths_less_the_host_libraries() {
        let text = "\tlinux-vdso.so.1 (0x00007ffc)\n\
                    \tlibgtk-3.so.0 => /lib/x86_64-linux-gnu/libgtk-3.so.0 (0x00007f01)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n\
                    \tlibmissing.so.1 => not found\n";
        assert_eq!(
            parse_ldd(text),
            [PathBuf::from("/lib/x86_64-linux-gnu/libgtk-3.so.0")]
        );
    }

    #[test]
    fn arguments_take_both_spellings() {
        let args: Vec<OsString> = [
            "--appimage-extract-and-run",
            "--verbosity",
            "1",
            "--appdir=/a",
            "--library",
            "/l/libx.so",
            "--plugin",
            "gtk",
            "--output",
            "appimage",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let options = parse(&args).unwrap();
        assert_eq!(options.appdir, PathBuf::from("/a"));
        assert_eq!(options.libraries, [PathBuf::from("/l/libx.so")]);
        assert_eq!(options.plugins, ["gtk"]);
        assert!(options.appimage);
    }
}
