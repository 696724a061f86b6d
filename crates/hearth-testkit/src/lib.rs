//! Test support shared by the integration tests of several crates.
//!
//! - [`BrowserGuest`]: a browser guest in Debian's Chromium, driven by a Playwright script
//!   (`tests/browser/guest.mjs` and a script per test), that talks to the Rust test over its
//!   printed lines.
//! - [`netns`]: two network namespaces joined by a veth pair, for tests that multicast (mDNS)
//!   or need a LAN that is not loopback.

pub mod netns;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running browser script: each line it prints is a step of the test's protocol.
pub struct BrowserGuest {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    input: ChildStdin,
}

impl BrowserGuest {
    /// Runs `node <script> <args…>` with Chromium and playwright-core at hand, or returns
    /// `None` (after saying so) when this machine lacks them or the server was built without
    /// the web client. Under CI a missing part fails the test: `cargo xtask test` installs
    /// Chromium and the UI's packages and builds `ui/dist` before the Rust tests.
    pub fn start(script: &Path, args: &[String], has_web_client: bool) -> Option<BrowserGuest> {
        BrowserGuest::start_in(None, script, args, has_web_client)
    }

    /// Like [`BrowserGuest::start`], with the browser inside the network namespace
    /// `namespace` (see [`netns`]) when one is given: a guest on another machine of the LAN.
    pub fn start_in(
        namespace: Option<&str>,
        script: &Path,
        args: &[String],
        has_web_client: bool,
    ) -> Option<BrowserGuest> {
        let root = repo_root();
        let playwright = root.join("ui/node_modules/playwright-core");
        let chromium = std::env::var("HEARTH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        if !has_web_client || !playwright.is_dir() || !Path::new(&chromium).exists() {
            assert!(std::env::var_os("CI").is_none(), "the browser test cannot run under CI");
            eprintln!("SKIPPED: needs ui/dist, ui/node_modules and {chromium}");
            return None;
        }
        let mut command = match namespace {
            Some(namespace) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", namespace, "node"]);
                command
            }
            None => Command::new("node"),
        };
        let mut child = command
            .arg(script)
            .args(args)
            .env("PLAYWRIGHT_CORE", playwright.join("index.mjs"))
            .env("HEARTH_CHROMIUM", &chromium)
            .current_dir(root.join("ui"))
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run node");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let input = child.stdin.take().expect("stdin");
        Some(BrowserGuest { child, lines, input })
    }

    /// The next line the script prints, waiting at most `within`.
    pub async fn next_line(&mut self, within: Duration) -> String {
        tokio::time::timeout(within, self.lines.next_line())
            .await
            .expect("the browser script went quiet")
            .expect("read the script's output")
            .unwrap_or_else(|| panic!("the browser script ended early"))
    }

    /// Reads lines until one starts with `prefix` and returns the rest of it.
    pub async fn expect_line(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let line = self.next_line(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
            eprintln!("browser: {line}");
        }
    }

    /// Tells the script `line` (it reads its standard input line by line).
    pub async fn send_line(&mut self, line: &str) {
        self.input.write_all(format!("{line}\n").as_bytes()).await.expect("write to the script");
        self.input.flush().await.expect("flush to the script");
    }

    /// Waits for the script to end and fails the test if it reported a failure.
    pub async fn finish(mut self, within: Duration) {
        while let Ok(Ok(Some(line))) = tokio::time::timeout(within, self.lines.next_line()).await {
            eprintln!("browser: {line}");
        }
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the browser script ends")
            .expect("wait for node");
        assert!(status.success(), "the browser script failed: {status}");
    }
}
