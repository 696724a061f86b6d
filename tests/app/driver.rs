//! The parts the real-app test runs outside itself: an X server (Xvfb) for the window and
//! `tauri-driver`, which starts the app through WebKitGTK's WebDriver (`WebKitWebDriver`).
//! Both are killed when the [`Desk`] is dropped, also when a test fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xvfb, a D-Bus session bus and tauri-driver.
pub struct Desk {
    xvfb: Child,
    bus: Child,
    driver: Child,
    /// The session bus the app is on (its single-instance lock lives there).
    pub bus_address: String,
    /// The port tauri-driver listens on.
    pub port: u16,
    /// The X display, such as `:117`.
    pub display: String,
}

/// Where a program is: `$PATH`, then cargo's install folder (tauri-driver comes from
/// `cargo install`).
pub fn program(name: &str) -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `ready` every 50 ms for up to `limit`; panics naming `what` if it never holds.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Desk {
    /// Starts Xvfb on a free display and tauri-driver on a free port. The app that the
    /// driver starts inherits `app_env` (and the display).
    pub fn start(
        xvfb: &Path,
        tauri_driver: &Path,
        webkit_driver: &Path,
        app_env: &[(&str, &Path)],
        flags: &[(&str, &str)],
        log: &Path,
    ) -> Desk {
        let log = std::fs::File::create(log).expect("create the driver's log");
        // A display nobody uses: Xvfb takes a lock file per display.
        let number = (100 + std::process::id() % 400..600)
            .find(|n| {
                !Path::new(&format!("/tmp/.X{n}-lock")).exists()
                    && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            })
            .expect("a free X display");
        let display = format!(":{number}");
        let xvfb = Command::new(xvfb)
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        wait_until("Xvfb", Duration::from_secs(10), || socket.exists());

        // A private session bus: the app's single-instance lock and the second start that
        // hands it a link meet there, away from any real session's.
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut bus_address = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(bus.stdout.take().expect("dbus-daemon's stdout")),
            &mut bus_address,
        )
        .expect("read the bus address");
        let bus_address = bus_address.trim().to_string();
        assert!(!bus_address.is_empty(), "dbus-daemon printed no address");

        let port = free_port();
        let native_port = free_port();
        let mut driver = Command::new(tauri_driver);
        driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .arg("--native-driver")
            .arg(webkit_driver)
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            // The app's IPC is only reachable from WebDriver with this set.
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            // Into a file, not the test's output: WebKitWebDriver, which outlives a killed
            // tauri-driver unless reaped below, would otherwise hold the test runner's pipe.
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in app_env {
            driver.env(key, value);
        }
        for (key, value) in flags {
            driver.env(key, value);
        }
        let driver = driver.spawn().expect("start tauri-driver");
        let desk = Desk {
            xvfb,
            bus,
            driver,
            bus_address,
            port,
            display,
        };
        wait_until("tauri-driver", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        desk
    }
}

/// The processes whose parent is `parent`, from `/proc`.
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // The parent is the 4th field of /proc/PID/stat, after the name in parentheses.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// The processes below `root`: its children, theirs, and so on.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut found = children(root);
    let mut i = 0;
    while i < found.len() {
        found.extend(children(found[i]));
        i += 1;
    }
    found
}

impl Desk {
    /// tauri-driver's process id; the app runs below it.
    #[allow(dead_code, reason = "only the benchmark looks for the app's processes")]
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        // tauri-driver's WebKitWebDriver and, if the session was not ended, the app.
        for pid in descendants(self.driver.id()) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
