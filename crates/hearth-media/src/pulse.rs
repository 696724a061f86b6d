//! A private PulseAudio daemon with null sinks, for device tests and benchmarks on machines
//! without a sound card (CI, servers).
//!
//! cpal finds PulseAudio through `XDG_RUNTIME_DIR`. A process cannot safely change its own
//! environment (and this workspace forbids the `unsafe` that Rust 2024 requires for it), so
//! callers start the daemon here and run the device code in a child process made with
//! [`PrivatePulse::command`], whose environment points at the daemon.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the daemon may take to create its socket.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A PulseAudio daemon in its own runtime directory; killed, and the directory removed, on
/// drop (also when a test fails).
pub struct PrivatePulse {
    dir: PathBuf,
}

impl PrivatePulse {
    /// Starts `pulseaudio` in a fresh runtime directory named after `name` and this process,
    /// with one null sink per `(sink name, sample rate)`. Each sink's monitor is a capture
    /// device named `<sink>.monitor`.
    pub fn start(name: &str, null_sinks: &[(&str, u32)]) -> io::Result<PrivatePulse> {
        let dir = std::env::temp_dir().join(format!("{name}-pulse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        // From here on, drop cleans up whatever happens.
        let pulse = PrivatePulse { dir };
        let mut args = vec![
            "--daemonize=yes".to_owned(),
            "--exit-idle-time=-1".to_owned(),
            "-n".to_owned(),
            "--load=module-native-protocol-unix".to_owned(),
        ];
        args.extend(
            null_sinks.iter().map(|(sink, rate)| {
                format!("--load=module-null-sink sink_name={sink} rate={rate}")
            }),
        );
        let status = pulse.command("pulseaudio").args(&args).status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "pulseaudio did not start: {status}"
            )));
        }
        let socket = pulse.dir.join("pulse/native");
        let deadline = Instant::now() + START_DEADLINE;
        while !socket.exists() {
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "pulseaudio made no socket at {}",
                    socket.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(pulse)
    }

    /// Runs the ignored test `name` (its full path, matched exactly) of the running test
    /// binary in a copy of it whose environment points at this daemon and has `marker` set
    /// to `1`, so the test knows it is that copy. Returns the copy's stderr when the test
    /// passed, and both its outputs in the error when not.
    ///
    /// A failed run is tried once more, and the failure is printed either way. Sound through
    /// a real sound server on a shared 2-core CI machine now and then loses a few hundred
    /// milliseconds to scheduling (seen in 3 of about 20 full CI runs, in a different device
    /// test each time, never in runs of one binary alone); a broken device path fails both
    /// runs, so the test still fails for what it is about.
    pub fn run_test(&self, name: &str, marker: &str) -> Result<String, String> {
        match self.run_test_once(name, marker) {
            Ok(stderr) => Ok(stderr),
            Err(first) => {
                eprintln!("{name}: the first run failed; running it once more. It printed:\n{first}");
                self.run_test_once(name, marker)
            }
        }
    }

    fn run_test_once(&self, name: &str, marker: &str) -> Result<String, String> {
        let exe = std::env::current_exe().map_err(|e| format!("no test binary: {e}"))?;
        let output = self
            .command(exe)
            .args([
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(marker, "1")
            .output()
            .map_err(|e| format!("the test binary did not start: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() && stdout.contains("1 passed") {
            Ok(stderr)
        } else {
            Err(format!("{stdout}\n{stderr}"))
        }
    }

    /// A command whose environment points at this daemon.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("XDG_RUNTIME_DIR", &self.dir);
        command
    }
}

impl Drop for PrivatePulse {
    fn drop(&mut self) {
        let _ = self.command("pulseaudio").arg("--kill").status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
