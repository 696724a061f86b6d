//! The app in its window as the real-app test and the desktop benchmark (`benches/app.rs`)
//! both drive it: the tools it needs, starting it under Xvfb with a synthetic microphone and
//! camera, clicking and typing, screenshots, and hosting a room from the toggle then joining
//! it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_desktop::Desktop;
use hearth_desktop::ipc::AppEvent;
use serde_json::Value;

use crate::driver::{Desk, program};
use crate::session_bus::SessionBus;
use crate::webdriver::Session;

/// The programs that run the app: Xvfb, tauri-driver and WebKitWebDriver.
pub struct Tools {
    xvfb: PathBuf,
    tauri_driver: PathBuf,
    webkit_driver: PathBuf,
}

/// The tools, or why the app cannot be driven here. Besides the three that run the app,
/// ImageMagick's `import` takes the screenshots, xdotool presses keys with the window
/// hidden and dbus-daemon gives the app a private session bus.
pub fn tools() -> Result<Tools, String> {
    let find = |name: &str, from: &str| program(name).ok_or(format!("{name} ({from})"));
    let found = [
        find("Xvfb", "Debian package xvfb"),
        find("WebKitWebDriver", "Debian package webkit2gtk-driver"),
        find("tauri-driver", "cargo install tauri-driver --locked"),
        find("import", "Debian package imagemagick"),
        find("xdotool", "Debian package xdotool"),
        find("dbus-daemon", "Debian package dbus-daemon"),
    ];
    let missing: Vec<String> = found.iter().filter_map(|r| r.clone().err()).collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    let [xvfb, webkit_driver, tauri_driver, ..] = found.map(Result::unwrap);
    Ok(Tools {
        xvfb,
        tauri_driver,
        webkit_driver,
    })
}

/// The app's WebDriver session, which is ended (closing the app) even when an assertion
/// fails midway, then the X server and driver it runs under, and its settings folder.
pub struct App {
    session: Option<Session>,
    /// The notification server and tray the desktop session would offer, on the app's bus.
    pub bus: SessionBus,
    /// Xvfb and tauri-driver; dropped (killed) after the session ends.
    pub desk: Desk,
    /// Where screenshots go.
    shots: PathBuf,
    /// The app's settings (`XDG_CONFIG_HOME`) and hosted history (`XDG_DATA_HOME`).
    pub config: PathBuf,
    pub data: PathBuf,
    _home: tempfile::TempDir,
}

impl std::ops::Deref for App {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session.as_ref().expect("session")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.end();
        }
    }
}

impl App {
    /// Starts the app at `binary` in a new X display, with settings and hosted history in
    /// a temporary folder, a synthetic microphone and camera, and no LAN discovery.
    /// Screenshots and the driver's log go to `shots`.
    pub fn launch(tools: &Tools, binary: &str, shots: PathBuf) -> App {
        std::fs::create_dir_all(&shots).expect("create the screenshot folder");
        let home = tempfile::tempdir().expect("tempdir");
        let config = home.path().join("config");
        let data = home.path().join("data");
        let desk = Desk::start(
            &tools.xvfb,
            &tools.tauri_driver,
            &tools.webkit_driver,
            // Settings and hosted history go to the test's folder, not the user's.
            &[("XDG_CONFIG_HOME", &config), ("XDG_DATA_HOME", &data)],
            &[
                // A synthetic microphone and camera: this machine has neither.
                ("HEARTH_TEST_AUDIO", "1"),
                ("HEARTH_TEST_CAMERA", "1"),
                // Tests never multicast on real interfaces.
                ("HEARTH_LAN_DISCOVERY", "0"),
            ],
            &shots.join("driver.log"),
        );
        eprintln!(
            "Xvfb on {}, tauri-driver on port {}",
            desk.display, desk.port
        );
        // Before the app starts, as a desktop session's services are.
        let bus = SessionBus::start(&desk.bus_address).expect("serve the session bus");
        let session = Session::start(desk.port, binary).expect("start the app");
        App {
            session: Some(session),
            bus,
            desk,
            shots,
            config,
            data,
            _home: home,
        }
    }

    /// Saves a picture of the screen. WebKitWebDriver's own screenshot never answers without
    /// a GPU (WebKitGTK 2.50 under Xvfb), so this photographs the X display instead, which
    /// shows the real window, title bar and all.
    pub fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        let status = std::process::Command::new("import")
            .args(["-display", &self.desk.display, "-window", "root"])
            .arg(&path)
            .status()
            .expect("run ImageMagick's import");
        assert!(status.success(), "import failed to save {}", path.display());
    }

    /// Runs `script` (a JavaScript expression) until it is truthy and returns its value.
    pub fn until(&self, what: &str, script: &str) -> Value {
        self.wait(what, || {
            let value = self.script(&format!("return ({script});")).ok()?;
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            truthy.then_some(value)
        })
        .unwrap_or_else(|e| {
            self.shot(&format!("failed-{}", what.replace(' ', "-")));
            panic!("{e}")
        })
    }

    pub fn click(&self, css: &str) {
        self.wait_for(css).expect(css);
        let element = format!("document.querySelector({})", Value::from(css));
        self.click_at(&element).unwrap_or_else(|e| {
            let alive = std::process::Command::new("sh")
                .args(["-c", "ps -eo pid,stat,comm | grep -E 'hearth|WebKit|tauri'"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!("click {css}: {e}\nprocesses:\n{alive}")
        });
    }

    pub fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).expect(css);
        self.clear(&element).expect("clear");
        self.type_text(&element, text).expect("type");
    }

    /// From the start screen: hosts the room `room` from the toggle on a free port, checks
    /// the join link and QR code, then joins it as its host. Returns the port.
    pub fn host_and_join(&self, room: &str) -> u16 {
        // 1. The start screen.
        self.wait_for("[data-testid=join-address]")
            .expect("the start screen");
        self.shot("01-start");

        // 2. Host from the toggle.
        let port = std::net::TcpListener::bind(("0.0.0.0", 0))
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        self.click("[data-testid=tab-host]");
        self.fill("[data-testid=host-port]", &port.to_string());
        self.fill("[data-testid=host-room]", room);
        self.click("[data-testid=host-toggle]");
        self.until(
            "hosting",
            "document.querySelector('[data-testid=host-toggle]')?.getAttribute('aria-checked') === 'true'",
        );
        let link = self.until(
            "the join link",
            "document.querySelector('[data-testid=join-link]')?.textContent",
        );
        // https://<LAN address>:<port>/<room>#fp=<the certificate's 64 hex digits>
        let pinned = link
            .as_str()
            .and_then(|l| l.strip_prefix("https://"))
            .and_then(|l| {
                let (address, fingerprint) = l.split_once('#')?;
                let fingerprint = fingerprint.strip_prefix("fp=")?;
                Some(
                    address.ends_with(&format!(":{port}/{room}"))
                        && fingerprint.len() == 64
                        && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
                )
            });
        assert_eq!(pinned, Some(true), "join link {link}");
        self.until(
            "the QR code",
            "document.querySelectorAll('[data-testid=host-qr] rect').length > 100",
        );
        self.shot("02-hosting");

        // 3. The host joins their own room.
        self.click_at(
            "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Join my room')",
        )
        .expect("click Join my room");
        self.until(
            "the room",
            "document.querySelector('[data-testid=connection]')?.dataset.state === 'connected' \
             && document.querySelector('[data-testid=chat-title]')?.textContent === '#general'",
        );
        self.shot("03-room");
        port
    }
}

/// Waits for the headless client's event that `pick` accepts.
pub async fn expect<T>(
    desktop: &mut Desktop,
    what: &str,
    mut pick: impl FnMut(&AppEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let event = desktop
                .events
                .recv()
                .await
                .expect("the headless client ended");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the headless client timed out waiting for {what}"))
}

/// `test-output/<name>` in the package.
pub fn output(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-output")
        .join(name)
}
