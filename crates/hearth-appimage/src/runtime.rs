//! The AppImage runtime role: find the squashfs image after the ELF image, make it a
//! directory (FUSE mount or extraction) and become its `AppRun`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{display, on_path, run as run_command};

/// `AI` and type 2 at bytes 8 to 10 of the ELF header (unused padding there), as the
/// AppImage specification asks.
pub const MAGIC: [u8; 3] = *b"AI\x02";
const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";

/// Where the squashfs image starts: the end of the ELF image, which for a linked executable
/// is the end of its section header table. None when nothing follows it (the builder role).
pub fn payload_offset(exe: &Path) -> Result<Option<u64>, String> {
    let mut file =
        File::open(exe).map_err(|error| format!("cannot open {}: {error}", display(exe)))?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)
        .map_err(|error| format!("cannot read {}: {error}", display(exe)))?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(format!(
            "{} is not a 64-bit little-endian ELF file",
            display(exe)
        ));
    }
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let u16_at = |at: usize| u64::from(u16::from_le_bytes([header[at], header[at + 1]]));
    let end = u64_at(0x28) + u16_at(0x3a) * u16_at(0x3c);
    let length = file
        .metadata()
        .map_err(|error| format!("cannot read {}: {error}", display(exe)))?
        .len();
    if length <= end {
        return Ok(None);
    }
    let mut magic = [0u8; 4];
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(end))
        .and_then(|_| file.read_exact(&mut magic))
        .map_err(|error| format!("cannot read {}: {error}", display(exe)))?;
    Ok((&magic == SQUASHFS_MAGIC).then_some(end))
}

pub fn run(exe: &Path, offset: u64, args: &[OsString]) -> Result<(), String> {
    let first = args.first().and_then(|arg| arg.to_str()).unwrap_or("");
    match first {
        "--appimage-offset" => {
            println!("{offset}");
            Ok(())
        }
        "--appimage-extract" => extract(exe, offset, Path::new("squashfs-root")),
        "--appimage-extract-and-run" => extract_and_run(exe, offset, &args[1..]),
        other if other.starts_with("--appimage-") => Err(format!(
            "{other} is not supported; this runtime knows --appimage-extract, \
             --appimage-extract-and-run and --appimage-offset"
        )),
        _ if std::env::var_os("APPIMAGE_EXTRACT_AND_RUN").is_some_and(|v| v == "1") => {
            extract_and_run(exe, offset, args)
        }
        _ if on_path("squashfuse") && Path::new("/dev/fuse").exists() => {
            mount_and_run(exe, offset, args)
        }
        _ => extract_and_run(exe, offset, args),
    }
}

fn extract(exe: &Path, offset: u64, dest: &Path) -> Result<(), String> {
    if !on_path("unsquashfs") {
        return Err(
            "extracting this AppImage needs unsquashfs: install squashfs-tools (Debian, \
             Ubuntu, Fedora, Arch all call it that)"
                .to_string(),
        );
    }
    run_command(
        Command::new("unsquashfs")
            .args(["-q", "-n", "-f", "-o", &offset.to_string(), "-d"])
            .arg(dest)
            .arg(exe)
            .stdout(Stdio::null()),
    )
}

fn scratch_dir(prefix: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("{prefix}_{}_{nanos:08x}", std::process::id()))
}

fn extract_and_run(exe: &Path, offset: u64, args: &[OsString]) -> Result<(), String> {
    let dir = scratch_dir("appimage_extracted_hearth");
    extract(exe, offset, &dir)?;
    // This process becomes the app, so the clean-up waits for its id to go away.
    clean_up_after_exit("rm -rf \"$1\"", &dir)?;
    exec_apprun(exe, &dir, args)
}

fn mount_and_run(exe: &Path, offset: u64, args: &[OsString]) -> Result<(), String> {
    let dir = scratch_dir(".mount_hearth");
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", display(&dir)))?;
    let mounted = run_command(
        Command::new("squashfuse")
            .arg("-o")
            .arg(format!("offset={offset}"))
            .arg(exe)
            .arg(&dir),
    );
    if let Err(error) = mounted {
        let _ = fs::remove_dir(&dir);
        eprintln!("hearth-appimage: {error}; extracting instead");
        return extract_and_run(exe, offset, args);
    }
    clean_up_after_exit(
        "fusermount -u \"$1\" 2>/dev/null || fusermount3 -u \"$1\"; rmdir \"$1\"",
        &dir,
    )?;
    exec_apprun(exe, &dir, args)
}

/// Starts a detached shell that waits for this process id (the app, after the exec) to end
/// and then runs `script` with the directory as `$1`.
fn clean_up_after_exit(script: &str, dir: &Path) -> Result<(), String> {
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {script}",
        pid = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &watcher, "hearth-appimage-cleanup"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|error| format!("cannot start the clean-up shell: {error}"))
}

fn exec_apprun(exe: &Path, dir: &Path, args: &[OsString]) -> Result<(), String> {
    let apprun = dir.join("AppRun");
    let owd = std::env::current_dir().unwrap_or_default();
    let error = Command::new(&apprun)
        .args(args)
        .env("APPIMAGE", exe)
        .env("APPDIR", dir)
        .env("OWD", owd)
        .env(
            "ARGV0",
            std::env::args_os().next().unwrap_or_else(|| exe.into()),
        )
        .exec();
    Err(format!("cannot run {}: {error}", display(&apprun)))
}
