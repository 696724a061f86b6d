//! The desktop app's figures (docs/benchmarks.md, "Desktop app"): the release `hearth`
//! binary in a real window (WebKitGTK under Xvfb, driven through WebDriver as the real-app
//! test drives it) hosting a room and joined to it, with headless Hearth clients (the same
//! app core, in this process) as the other members. It prints, it does not time out or fail
//! on a figure:
//!
//! 1. memory after 30 s idle, first on the start screen (the floor: the webview and the app
//!    with nothing open), then with the room hosted, joined and one guest in it: RSS and PSS
//!    of the `hearth` process and of each process below it (WebKit's web and network
//!    processes);
//! 2. CPU over 20 s of a 4-person voice call (the window clicks "Join voice", 3 headless
//!    clients are in voice, every microphone plays the synthetic tone);
//! 3. four 640x480@30 test-pattern cameras opened in the window: frames each tile received
//!    over the IPC channel and drew per second over 10 s, the animation frame rate, and CPU.
//!
//! `cargo bench -p hearth --bench app` (the bench profile, so a release `hearth`);
//! `HEARTH_APP=/path/to/hearth` measures another binary. Arguments `memory`, `voice`,
//! `video` pick parts (all by default). Screenshots go to `test-output/bench-app/`.

#[path = "../tests/app/driver.rs"]
#[allow(
    dead_code,
    reason = "shared with the real-app test, which uses the rest"
)]
mod driver;
#[path = "../tests/app/session_bus.rs"]
#[allow(
    dead_code,
    reason = "shared with the real-app test, which uses the rest"
)]
mod session_bus;
#[path = "../tests/app/webdriver.rs"]
#[allow(
    dead_code,
    reason = "shared with the real-app test, which uses the rest"
)]
mod webdriver;
#[path = "../tests/app/window.rs"]
#[allow(
    dead_code,
    reason = "shared with the real-app test, which uses the rest"
)]
mod window;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hearth_desktop::ipc::{AppEvent, CameraResolution};
use hearth_desktop::{AudioKind, CameraKind, Desktop, DesktopConfig, DesktopHandle};
use serde_json::Value;
use tokio::runtime::Runtime;

use window::{App, expect, output, tools};

const IDLE: Duration = Duration::from_secs(30);
const VOICE: Duration = Duration::from_secs(20);
const VIDEO_WARMUP: Duration = Duration::from_secs(3);
const VIDEO: Duration = Duration::from_secs(10);

/// The camera mode of every headless client, set explicitly (it is also the default).
const CAMERA: CameraResolution = CameraResolution {
    width: 640,
    height: 480,
    fps: 30,
};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn run(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The process's name (`/proc/PID/comm`, at most 15 bytes).
fn comm(pid: u32) -> String {
    read(&format!("/proc/{pid}/comm")).trim().to_string()
}

/// RSS and PSS in kB, from `/proc/PID/smaps_rollup`.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        rollup.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
    };
    Some((field("Rss")?, field("Pss")?))
}

/// utime + stime in clock ticks, from `/proc/PID/stat` (all the process's threads).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks() -> f64 {
    run("getconf", &["CLK_TCK"]).parse().unwrap_or(100.0)
}

/// The `hearth` process (below tauri-driver and WebKitWebDriver) and every process below it:
/// WebKit's web and network processes (and bubblewrap, when WebKit sandboxes them).
struct Processes {
    hearth: u32,
    below: Vec<u32>,
}

impl Processes {
    fn find(app: &App) -> Processes {
        let hearth = driver::descendants(app.desk.driver_pid())
            .into_iter()
            .find(|&pid| comm(pid) == "hearth")
            .expect("the hearth process below tauri-driver");
        Processes {
            hearth,
            below: driver::descendants(hearth),
        }
    }

    /// Every process, `hearth` first.
    fn all(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.hearth).chain(self.below.iter().copied())
    }

    fn ticks(&self) -> BTreeMap<u32, u64> {
        self.all()
            .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
            .collect()
    }
}

/// CPU use between two samples, as % of one core, per process of `procs` and of this
/// process (the headless clients); returns the app's total (hearth + the processes below).
fn print_cpu(
    procs: &Processes,
    before: &BTreeMap<u32, u64>,
    after: &BTreeMap<u32, u64>,
    own: (u64, u64),
    seconds: f64,
) -> f64 {
    let hz = clock_ticks();
    let percent = |ticks: u64| ticks as f64 / hz / seconds * 100.0;
    let mut total = 0.0;
    for pid in procs.all() {
        let (Some(a), Some(b)) = (before.get(&pid), after.get(&pid)) else {
            continue;
        };
        let p = percent(b - a);
        total += p;
        println!("    {:<16} pid {pid:>7}  {p:6.1} %", comm(pid));
    }
    println!(
        "    {:<16}              {total:6.1} %  (the app: hearth + WebKit)",
        "total"
    );
    println!(
        "    {:<16} pid {:>7}  {:6.1} %  (this bench process: the headless clients)",
        "headless",
        std::process::id(),
        percent(own.1 - own.0)
    );
    total
}

/// Prints RSS and PSS of each of the app's processes and their totals.
fn print_memory(procs: &Processes) {
    let (mut rss, mut pss) = (0, 0);
    for pid in procs.all() {
        match memory(pid) {
            Some((r, p)) => {
                rss += r;
                pss += p;
                println!(
                    "    {:<16} pid {pid:>7}  RSS {:6.1} MB  PSS {:6.1} MB",
                    comm(pid),
                    r as f64 / 1024.0,
                    p as f64 / 1024.0
                );
            }
            None => println!(
                "    {:<16} pid {pid:>7}  (smaps_rollup unreadable)",
                comm(pid)
            ),
        }
    }
    println!(
        "    {:<16}              RSS {:6.1} MB  PSS {:6.1} MB  (PSS total is the app's figure; RSS double-counts shared pages)",
        "total",
        rss as f64 / 1024.0,
        pss as f64 / 1024.0
    );
    println!("    load {}", loadavg());
}

/// A headless member: the app core with a synthetic microphone and test-pattern camera, its
/// events and video frames drained in the background.
struct Guest {
    name: String,
    handle: DesktopHandle,
}

impl Guest {
    async fn join(port: u16, name: &str) -> Guest {
        let mut desktop = Desktop::spawn(DesktopConfig {
            audio: AudioKind::Synthetic,
            camera: CameraKind::TestPattern,
            ..DesktopConfig::default()
        });
        let mut settings = desktop.handle.get_settings().await.expect("settings");
        settings.camera_resolution = CAMERA;
        desktop
            .handle
            .set_settings(settings)
            .await
            .expect("set 640x480@30");
        desktop
            .handle
            .connect(format!("127.0.0.1:{port}/bench"), name.into(), None)
            .await
            .expect("the headless client connects");
        expect(&mut desktop, "its welcome", |e| {
            matches!(e, AppEvent::Welcome { .. }).then_some(())
        })
        .await;
        let Desktop {
            handle,
            mut events,
            mut frames,
            ..
        } = desktop;
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        tokio::spawn(async move { while frames.recv().await.is_some() {} });
        Guest {
            name: name.into(),
            handle,
        }
    }
}

fn in_member_list(name: &str) -> String {
    format!(
        "[...document.querySelectorAll('[data-testid=member]')].some(m => m.textContent.includes({}))",
        Value::from(name)
    )
}

fn machine(binary: &str) {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_string()))
        .unwrap_or_default();
    let dirty = if run("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    println!("Hearth desktop app benchmark");
    println!(
        "  commit      {}{dirty}",
        run("git", &["rev-parse", "--short", "HEAD"])
    );
    println!("  binary      {binary}");
    println!(
        "  machine     {cpu}, {} cores, {memory} RAM, Linux {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        read("/proc/sys/kernel/osrelease").trim()
    );
    println!(
        "  WebKitGTK   {}",
        run(
            "dpkg-query",
            &["-W", "-f", "${Version}", "libwebkit2gtk-4.1-0"]
        )
    );
    println!("  load        {} (1, 5, 15 min)", loadavg());
}

fn main() {
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let binary =
        std::env::var("HEARTH_APP").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hearth").to_string());
    let tools = match tools() {
        Ok(tools) => tools,
        Err(missing) => {
            eprintln!("SKIPPED: the desktop benchmark needs {missing}");
            return;
        }
    };
    machine(&binary);

    let runtime = Runtime::new().expect("runtime");
    let app = App::launch(&tools, &binary, output("bench-app"));
    let procs = Processes::find(&app);
    if wants("memory") {
        // The floor: the same window before it hosts or joins anything, so the room's own
        // cost is the difference.
        app.wait_for("[data-testid=join-address]")
            .expect("the start screen");
        println!(
            "\n1a. Memory: the start screen, nothing hosted or joined, after {} s idle",
            IDLE.as_secs()
        );
        std::thread::sleep(IDLE);
        print_memory(&procs);
    }
    let port = app.host_and_join("bench");
    let procs = Processes::find(&app);
    let mut guests = vec![runtime.block_on(Guest::join(port, "guest1"))];
    app.until("guest1 in the member list", &in_member_list("guest1"));

    if wants("memory") {
        println!(
            "\n1b. Memory: hosting the room and joined to it, one headless guest, after {} s idle",
            IDLE.as_secs()
        );
        std::thread::sleep(IDLE);
        print_memory(&procs);
        app.shot("bench-memory");
    }

    if wants("voice") {
        for name in ["guest2", "guest3"] {
            guests.push(runtime.block_on(Guest::join(port, name)));
            app.until(&format!("{name} in the member list"), &in_member_list(name));
        }
        for guest in &guests {
            runtime
                .block_on(guest.handle.voice_join("voice".into()))
                .expect("voice_join");
        }
        app.click("[data-testid=voice-join]");
        app.until(
            "4 in the voice channel",
            "document.querySelectorAll('[data-testid=voice-member]').length >= 4",
        );
        std::thread::sleep(Duration::from_secs(3));
        let speaking = app
            .script(
                "return [...document.querySelectorAll('[data-testid=voice-member]')].filter(m => m.dataset.speaking === 'true').length;",
            )
            .unwrap_or_default();
        println!(
            "\n2. CPU: 4-person voice call (the window and 3 headless clients, synthetic tone in), % of one core over {} s",
            VOICE.as_secs()
        );
        let (before, own_before, start) =
            (procs.ticks(), cpu_ticks(std::process::id()), Instant::now());
        std::thread::sleep(VOICE);
        let (after, own_after, seconds) = (
            procs.ticks(),
            cpu_ticks(std::process::id()),
            start.elapsed().as_secs_f64(),
        );
        print_cpu(
            &procs,
            &before,
            &after,
            (own_before.unwrap_or(0), own_after.unwrap_or(0)),
            seconds,
        );
        println!(
            "    members shown speaking at the start: {speaking}; load {}",
            loadavg()
        );
        app.shot("bench-voice");
        app.click("[data-testid=voice-leave]");
        for guest in &guests {
            runtime
                .block_on(guest.handle.voice_leave())
                .expect("voice_leave");
        }
    }

    if wants("video") {
        while guests.len() < 4 {
            let name = format!("guest{}", guests.len() + 1);
            guests.push(runtime.block_on(Guest::join(port, &name)));
            app.until(
                &format!("{name} in the member list"),
                &in_member_list(&name),
            );
        }
        for guest in &guests {
            runtime
                .block_on(guest.handle.camera_on())
                .expect("camera_on");
        }
        app.click("[data-testid=video-toggle]");
        for guest in &guests {
            app.click(&format!(
                "[data-testid=open-camera][data-name={}]",
                guest.name
            ));
        }
        app.until(
            "4 tiles drawing",
            "Object.values(window.__hearthVideoStats ?? {}).filter(s => s.drawn > 10).length >= 4",
        );
        // Counts animation frames, the most the UI can draw (it draws once per frame).
        app.script(
            "window.__benchRaf = 0; const tick = () => { window.__benchRaf++; requestAnimationFrame(tick); }; requestAnimationFrame(tick); return true;",
        )
        .expect("install the animation frame counter");
        std::thread::sleep(VIDEO_WARMUP);
        let snapshot = || {
            app.script(
                "return { t: performance.now(), raf: window.__benchRaf, stats: JSON.parse(JSON.stringify(window.__hearthVideoStats)) };",
            )
            .expect("read the tile statistics")
        };
        let (before, ticks_before, own_before) =
            (snapshot(), procs.ticks(), cpu_ticks(std::process::id()));
        std::thread::sleep(VIDEO);
        let (after, ticks_after, own_after) =
            (snapshot(), procs.ticks(), cpu_ticks(std::process::id()));
        let seconds =
            (after["t"].as_f64().unwrap_or(0.0) - before["t"].as_f64().unwrap_or(0.0)) / 1000.0;
        println!(
            "\n3. Video: 4 headless cameras (test pattern, {}x{}@{}) open in the window, over {seconds:.1} s after {} s warm-up",
            CAMERA.width,
            CAMERA.height,
            CAMERA.fps,
            VIDEO_WARMUP.as_secs()
        );
        let rate = |a: &Value, b: &Value| {
            (b.as_f64().unwrap_or(0.0) - a.as_f64().unwrap_or(0.0)) / seconds
        };
        let empty = serde_json::Map::new();
        let tiles = after["stats"].as_object().unwrap_or(&empty);
        for (member, stats) in tiles {
            let old = &before["stats"][member];
            println!(
                "    tile member {member:>4}  painter {:<5}  received {:5.1} fps  drawn {:5.1} fps  errors {}",
                stats["painter"].as_str().unwrap_or("?"),
                rate(&old["received"], &stats["received"]),
                rate(&old["drawn"], &stats["drawn"]),
                stats["errors"]
            );
        }
        println!(
            "    animation frames {:5.1} /s in the window",
            rate(&before["raf"], &after["raf"])
        );
        println!("    CPU, % of one core:");
        print_cpu(
            &procs,
            &ticks_before,
            &ticks_after,
            (own_before.unwrap_or(0), own_after.unwrap_or(0)),
            seconds,
        );
        println!("    load {}", loadavg());
        app.shot("bench-video");
    }

    for guest in &guests {
        let _ = runtime.block_on(guest.handle.shutdown());
    }
    drop(app);
}
