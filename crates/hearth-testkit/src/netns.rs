//! Two network namespaces joined by a veth pair, for tests that multicast.
//!
//! mDNS needs multicast, which loopback does not carry, and a test must never multicast on
//! the machine's real interfaces. So the LAN tests make their own: two namespaces, each with
//! `lo` and one end of a veth pair (IPv4, multicast on), created by the test and deleted when
//! the [`NetnsPair`] is dropped, also when the test panics. Nothing is added to the
//! machine's own namespace: both veth ends are created directly inside theirs.
//!
//! A namespace belongs to a thread, and mdns-sd and tokio start threads of their own, so
//! each side runs as a whole process inside its namespace: a copy of the test binary that
//! runs one test ([`Side::spawn_test`]) under `ip netns exec`.
//!
//! Needs root and `ip` (iproute2): CI runs as root on Debian with both.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The environment of a half: the veth it may use.
const INTERFACE_ENV: &str = "HEARTH_NETNS_INTERFACE";
/// The environment of a half: the other side's address.
const PEER_ENV: &str = "HEARTH_NETNS_PEER";
/// The environment of a half: the [`Steps`] folder both halves share.
const STEPS_ENV: &str = "HEARTH_NETNS_STEPS";

/// Pairs and step folders made by this process so far, so tests running at once never share
/// a name.
static MADE: AtomicU32 = AtomicU32::new(0);

/// One side of a [`NetnsPair`].
#[derive(Debug, Clone)]
pub struct Side {
    /// The namespace's name (`ip netns list`).
    pub namespace: String,
    /// The veth end inside it.
    pub interface: String,
    /// Its IPv4 address (in 10.77.0.0/24).
    pub address: Ipv4Addr,
}

/// Two namespaces and the veth pair between them; deleted on drop.
#[derive(Debug)]
pub struct NetnsPair {
    /// Side "a", at 10.77.0.1.
    pub a: Side,
    /// Side "b", at 10.77.0.2.
    pub b: Side,
}

impl NetnsPair {
    /// Creates the pair, or says why it cannot (not root, no `ip`, no namespace support).
    pub fn create() -> Result<NetnsPair, String> {
        if let Some(reason) = unavailable() {
            return Err(reason);
        }
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let side = |letter: &str, host: u8| Side {
            namespace: format!("hearth-{pid}-{n}-{letter}"),
            // Interface names have at most 15 bytes: "hv", 7 pid digits, n, the letter.
            interface: format!("hv{pid}{n}{letter}"),
            address: Ipv4Addr::new(10, 77, 0, host),
        };
        // From here on, drop deletes whatever was made.
        let pair = NetnsPair {
            a: side("a", 1),
            b: side("b", 2),
        };
        ip(&["netns", "add", &pair.a.namespace])?;
        ip(&["netns", "add", &pair.b.namespace])?;
        ip(&[
            "link",
            "add",
            &pair.a.interface,
            "netns",
            &pair.a.namespace,
            "type",
            "veth",
            "peer",
            "name",
            &pair.b.interface,
            "netns",
            &pair.b.namespace,
        ])?;
        for side in [&pair.a, &pair.b] {
            let ns = side.namespace.as_str();
            let dev = side.interface.as_str();
            let cidr = format!("{}/24", side.address);
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "addr", "add", &cidr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "multicast", "on", "up"])?;
            // mDNS goes to 224.0.0.251; the route makes the veth the way there.
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev])?;
        }
        Ok(pair)
    }

    /// The pair for a test, or `None` after printing why the test is skipped. Where the
    /// environment variable `CI` is set, a missing prerequisite fails the test instead: CI
    /// has what it takes, and a skipped test there would hide that the check never ran.
    pub fn for_test(test: &str) -> Option<NetnsPair> {
        match NetnsPair::create() {
            Ok(pair) => Some(pair),
            Err(reason) if std::env::var_os("CI").is_some() => {
                panic!("{test} needs network namespaces, and CI must have them: {reason}")
            }
            Err(reason) => {
                eprintln!("skipped {test}: {reason}");
                None
            }
        }
    }

    /// Runs the two halves of a test at once, `a_test` inside side a and `b_test` inside
    /// side b (tests of this binary, by full name), and waits up to `timeout` for both.
    /// Each half finds its interface, the other side's address and a shared [`Steps`]
    /// folder with [`Half::from_env`]. Panics with the failing half's output unless both
    /// pass; returns both outputs otherwise.
    pub fn run_halves(&self, a_test: &str, b_test: &str, timeout: Duration) -> (String, String) {
        let steps = Steps::create(a_test).expect("a steps folder");
        let dir = steps.path().to_string_lossy().into_owned();
        let spawn = |side: &Side, peer: &Side, test: &str| {
            let peer = peer.address.to_string();
            let envs = [
                (INTERFACE_ENV, side.interface.as_str()),
                (PEER_ENV, peer.as_str()),
                (STEPS_ENV, dir.as_str()),
            ];
            side.spawn_test(test, &envs)
                .unwrap_or_else(|e| panic!("could not start {test}: {e}"))
        };
        let started = Instant::now();
        let b = spawn(&self.b, &self.a, b_test);
        let a = spawn(&self.a, &self.b, a_test);
        let deadline = started + timeout;
        let (b, a) = (b.finish(deadline), a.finish(deadline));
        steps.remove();
        let a = a.unwrap_or_else(|e| panic!("{e}"));
        let b = b.unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{a_test}:\n{a}\n{b_test}:\n{b}\nboth halves passed in {:?}",
            started.elapsed()
        );
        (a, b)
    }
}

/// What a half of a test run by [`NetnsPair::run_halves`] is given.
#[derive(Debug)]
pub struct Half {
    /// The veth end in this half's namespace: the only interface it may use.
    pub interface: String,
    /// The other side's address.
    pub peer: Ipv4Addr,
    /// The folder the two halves tell each other their steps in.
    pub steps: Steps,
}

impl Half {
    /// What the parent test gave this process; `None` (and a note) when the half was run
    /// any other way, for which it must pass without doing anything.
    pub fn from_env() -> Option<Half> {
        let Ok(interface) = std::env::var(INTERFACE_ENV) else {
            eprintln!("skipped: runs inside a namespace made by its parent test");
            return None;
        };
        let peer = std::env::var(PEER_ENV).ok().and_then(|p| p.parse().ok());
        let steps = std::env::var_os(STEPS_ENV).map(Steps::at);
        Some(Half {
            interface,
            peer: peer.expect("the parent test gives the peer's address"),
            steps: steps.expect("the parent test gives a steps folder"),
        })
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace also deletes the veth end inside it, and with it the peer.
        for side in [&self.a, &self.b] {
            if let Err(e) = ip(&["netns", "delete", &side.namespace]) {
                eprintln!("could not delete network namespace {}: {e}", side.namespace);
            }
        }
    }
}

/// Why namespaces cannot be made here, if they cannot.
pub fn unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces exist only on Linux".into());
    }
    if Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Some("`ip` (iproute2) is not installed".into());
    }
    // The effective uid, read from /proc because asking libc would need unsafe code.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("making network namespaces needs root".into());
    }
    None
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Side {
    /// Routes everything not on the veth through `gateway`, as a laptop on a LAN does.
    /// Browsers need a default route: a page without camera or microphone permission
    /// gathers ICE candidates only on the interface the default route takes.
    pub fn route_default_via(&self, gateway: Ipv4Addr) -> Result<(), String> {
        ip(&["-n", &self.namespace, "route", "add", "default", "via", &gateway.to_string()])
    }

    /// `program` run inside this namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace, program]);
        command
    }

    /// Starts this test binary inside the namespace running only the test `name` (marked
    /// `#[ignore]`, so it runs nowhere else), with `envs` set. Its output goes to files that
    /// [`ChildTest::finish`] reads, so a chatty child never blocks on a full pipe.
    pub fn spawn_test(&self, name: &str, envs: &[(&str, &str)]) -> io::Result<ChildTest> {
        let exe = std::env::current_exe()?;
        let out = std::env::temp_dir().join(format!(
            "{}-{}.log",
            self.namespace,
            name.replace("::", "-")
        ));
        let log = File::create(&out)?;
        let child = self
            .command(&exe.to_string_lossy())
            .args([
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .envs(envs.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(ChildTest {
            name: format!("{name} in {}", self.namespace),
            child,
            out,
        })
    }
}

/// A folder both sides of a test see, where one side tells the other that a step is done:
/// the steps of a LAN test depend on what the other process has seen.
#[derive(Debug, Clone)]
pub struct Steps(PathBuf);

impl Steps {
    /// A fresh folder for this process's test `name`; pass [`Steps::path`] to the children.
    pub fn create(name: &str) -> io::Result<Steps> {
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hearth-steps-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Steps(dir))
    }

    /// The folder a child was given.
    pub fn at(path: impl Into<PathBuf>) -> Steps {
        Steps(path.into())
    }

    /// Where the folder is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Says `step` is done.
    pub fn done(&self, step: &str) {
        File::create(self.0.join(step)).expect("the steps folder is writable");
    }

    /// Waits up to `timeout` for the other side to say `step` is done; panics naming it if
    /// it does not.
    pub async fn wait(&self, step: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.0.join(step).exists() {
            assert!(
                Instant::now() < deadline,
                "the other side never did {step:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Removes the folder.
    pub fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test running in a child process ([`Side::spawn_test`]).
pub struct ChildTest {
    name: String,
    child: Child,
    out: PathBuf,
}

impl ChildTest {
    /// Waits until `deadline` for the child to end, killing it then, and returns its output:
    /// `Ok` when it passed its one test, `Err` with the output otherwise.
    pub fn finish(mut self, deadline: Instant) -> Result<String, String> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        let output = std::fs::read_to_string(&self.out).unwrap_or_default();
        let _ = std::fs::remove_file(&self.out);
        match status {
            Some(s) if s.success() && output.contains("1 passed") => Ok(output),
            Some(s) => Err(format!("{} failed ({s}):\n{output}", self.name)),
            None => Err(format!("{} timed out:\n{output}", self.name)),
        }
    }
}

impl Drop for ChildTest {
    fn drop(&mut self) {
        // A child left running would keep its namespace alive after the pair is deleted.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
