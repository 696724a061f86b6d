//! `hearth-loadgen`: starts a real `hearth-server` on loopback, fills one room with N
//! WebSocket members and reports fan-out latency, sustained throughput and the server's
//! memory per idle connection. See docs/benchmarks.md for the figures and how they are read.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use hearth_loadgen::{FanoutReport, JoinProgress, Swarm, ThroughputReport};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Load generator for hearth-server: connects N real WebSocket members to one room on
/// 127.0.0.1 and measures fan-out latency, sustained throughput and server RSS per idle
/// connection. It starts the server itself, so the server's memory is measured apart from
/// the clients'.
#[derive(Parser, Debug)]
#[command(name = "hearth-loadgen", version, about)]
struct Args {
    /// Members to connect to the room.
    #[arg(long, default_value_t = 5000)]
    members: usize,

    /// Members that connect at once; the next batch waits until the previous one's
    /// `member_joined` frames have reached everyone. Keep it under the server's listen
    /// backlog (1024; servers older than commit c44b063 had tokio's default of 128): a larger
    /// burst of connects overflows the accept queue and the dropped SYNs are retried only
    /// after a second.
    #[arg(long, default_value_t = 100)]
    batch: usize,

    /// Chat messages posted by one member in the fan-out phase.
    #[arg(long, default_value_t = 50)]
    messages: usize,

    /// Milliseconds between fan-out messages.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,

    /// Members posting in the throughput phase (at most --members).
    #[arg(long, default_value_t = 10)]
    senders: usize,

    /// Unacknowledged messages each throughput sender keeps in flight.
    #[arg(long, default_value_t = 8)]
    window: usize,

    /// Seconds the throughput phase is measured for (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,

    /// Seconds to let the room sit idle before reading its RSS.
    #[arg(long, default_value_t = 2)]
    settle: u64,

    /// The hearth-server executable. Defaults to the one next to this executable (the same
    /// cargo target directory).
    #[arg(long)]
    server_bin: Option<PathBuf>,

    /// Passed to the server as --data-dir, to measure with history on disk instead of in
    /// memory.
    #[arg(long)]
    data_dir: Option<PathBuf>,

    /// Connect over TLS (`wss://`), as members on other computers do, instead of plain
    /// WebSocket (which the server allows only from this computer).
    #[arg(long)]
    tls: bool,

    /// Also print the results as one JSON line at the end.
    #[arg(long)]
    json: bool,
}

/// Everything the run measured, for `--json`.
#[derive(Debug, Serialize)]
struct Summary {
    members: usize,
    /// `ws` or `wss`.
    transport: &'static str,
    cpus: usize,
    join_seconds: f64,
    member_joined_frames: u64,
    probe_ms: f64,
    server_rss_baseline_kib: u64,
    server_rss_idle_kib: u64,
    server_rss_per_idle_connection_kib: f64,
    loadgen_rss_idle_kib: u64,
    fanout: FanoutReport,
    throughput: ThroughputReport,
    /// CPU seconds used by the server, the load generator and everything else on the
    /// machine (other builds, say) during each phase.
    cpu_seconds: PhaseCpu,
    /// Connection attempts the kernel dropped because a listen queue was full, during the
    /// join (a machine-wide counter).
    listen_overflows_during_join: u64,
    /// Server RSS after each join batch, (members, KiB).
    server_rss_by_members: Vec<(usize, u64)>,
    dropped_connections: u64,
    drop_reasons: Vec<String>,
    server_slow_drops_logged: usize,
    errors: u64,
    rate_limited: u64,
    targets: Targets,
}

#[derive(Debug, Serialize)]
struct PhaseCpu {
    join: CpuUse,
    fanout: CpuUse,
    throughput: CpuUse,
}

/// CPU seconds used during an interval.
#[derive(Debug, Clone, Copy, Serialize)]
struct CpuUse {
    wall: f64,
    server: f64,
    /// The part of `server` spent in the kernel (system calls, loopback TCP).
    server_kernel: f64,
    loadgen: f64,
    other: f64,
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "over {:.1} s wall: server {:.1} s ({:.0}% in the kernel), load generator {:.1} s, other processes {:.1} s of CPU",
            self.wall,
            self.server,
            100.0 * self.server_kernel / self.server.max(0.01),
            self.loadgen,
            self.other
        )
    }
}

/// Cumulative CPU counters at one moment.
struct CpuSample {
    at: Instant,
    server: f64,
    server_kernel: f64,
    own: f64,
    machine_busy: f64,
}

impl CpuSample {
    fn take(server_pid: u32) -> Result<CpuSample> {
        let (user, kernel) = cpu_seconds(Some(server_pid))?;
        let (own_user, own_kernel) = cpu_seconds(None)?;
        Ok(CpuSample {
            at: Instant::now(),
            server: user + kernel,
            server_kernel: kernel,
            own: own_user + own_kernel,
            machine_busy: machine_busy_seconds()?,
        })
    }

    fn since(&self, earlier: &CpuSample) -> CpuUse {
        let server = self.server - earlier.server;
        let loadgen = self.own - earlier.own;
        let busy = self.machine_busy - earlier.machine_busy;
        // The counters tick in hundredths of a second; rounding drops float noise.
        let r = |v: f64| (v * 100.0).round() / 100.0;
        CpuUse {
            wall: r((self.at - earlier.at).as_secs_f64()),
            server: r(server),
            server_kernel: r(self.server_kernel - earlier.server_kernel),
            loadgen: r(loadgen),
            other: r((busy - server - loadgen).max(0.0)),
        }
    }
}

#[derive(Debug, Serialize)]
struct Targets {
    fanout_p99_le_50ms: bool,
    rss_per_idle_connection_le_20kib: bool,
}

const ROOM: &str = "lobby";
const CHANNEL: &str = "general";
const PHASE_PROBE: usize = 1;
const PHASE_FANOUT: usize = 2;
const PHASE_THROUGHPUT: usize = 3;

fn main() -> Result<()> {
    let mut args = Args::parse();
    ensure!(args.members >= 1, "--members must be at least 1");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    ensure!(args.messages >= 1, "--messages must be at least 1");
    ensure!(args.interval_ms >= 1, "--interval-ms must be at least 1");
    ensure!(args.window >= 1, "--window must be at least 1");
    ensure!(args.duration >= 1, "--duration must be at least 1");
    // More senders than members cannot be; a small room simply has every member post.
    ensure!(args.senders >= 1, "--senders must be at least 1");
    args.senders = args.senders.min(args.members);
    raise_fd_limit(args.members)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(run(args))
}

/// Each member needs one descriptor here and the server one more for its side; the server
/// inherits this process's limit.
fn raise_fd_limit(members: usize) -> Result<()> {
    let needed = members as u64 + 256;
    let limit = rlimit::increase_nofile_limit(needed).context("raising RLIMIT_NOFILE")?;
    ensure!(
        limit >= needed,
        "{members} members need about {needed} open files, but the hard limit is {limit}; \
         raise it (ulimit -Hn) or use fewer --members"
    );
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_bin = match &args.server_bin {
        Some(path) => path.clone(),
        None => default_server_bin()?,
    };
    let mut server = ServerProcess::start(&server_bin, args.members, args.data_dir.as_deref())?;
    let outcome = measure(&args, cpus, &mut server).await;
    let stopped = server.stop();
    let summary = outcome?;
    stopped?;
    if args.json {
        println!("{}", serde_json::to_string(&summary).context("encoding the JSON summary")?);
    }
    Ok(())
}

async fn measure(args: &Args, cpus: usize, server: &mut ServerProcess) -> Result<Summary> {
    let n = args.members;
    println!(
        "hearth-loadgen: {n} members, server pid {} on {}, {cpus} CPUs shared by server and load generator",
        server.pid, server.addr
    );
    wait_healthy(server).await?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before the run: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));

    // Phase 1: baseline, then the join storm.
    let baseline = vm_rss_kib(Some(server.pid))?;
    println!("[1/4] baseline: server RSS {} with no connections", kib(baseline));
    let cpu0 = CpuSample::take(server.pid)?;
    let overflows0 = listen_overflows()?;
    let transport = if args.tls { "wss" } else { "ws" };
    println!("members connect over {transport}://");
    let url = format!("{transport}://{}/", server.addr);
    let mut swarm = Swarm::new(&url, ROOM, CHANNEL);
    let every = (n / 10).max(args.batch);
    let mut last_report = 0;
    let mut rss_by_members = vec![(0, baseline)];
    let server_pid = server.pid;
    let join_start = Instant::now();
    let joined = swarm
        .join(n, args.batch, |p: JoinProgress| {
            // The server's RSS after each batch shows whether a member's cost depends on how
            // many joined before it.
            let rss = vm_rss_kib(Some(server_pid)).unwrap_or(0);
            let (prev_members, prev_rss) = rss_by_members.last().copied().unwrap_or((0, baseline));
            rss_by_members.push((p.joined, rss));
            if p.joined - last_report >= every || p.joined == p.target {
                last_report = p.joined;
                let added = (p.joined - prev_members).max(1) as f64;
                println!(
                    "[1/4] joined {:>6}/{} after {:>6.1} s (last batch: {:>5.0} ms to welcome, {:>5.0} ms until its \
                     member_joined frames arrived); server RSS {} (+{:.1} KiB per member of the last batch)",
                    p.joined,
                    p.target,
                    p.elapsed.as_secs_f64(),
                    p.batch_connect.as_secs_f64() * 1e3,
                    p.batch_drain.as_secs_f64() * 1e3,
                    kib(rss),
                    rss.saturating_sub(prev_rss) as f64 / added
                );
            }
        })
        .await;
    if let Err(e) = joined {
        report_trouble(&swarm, server);
        swarm.finish(Duration::from_secs(1)).await;
        return Err(e.into());
    }
    let join_seconds = join_start.elapsed().as_secs_f64();
    let health = health(&server.addr).await?;
    ensure!(health == n as u64, "/health reports {health} members, expected {n}");
    let probe = swarm.probe(PHASE_PROBE, 0, Duration::from_secs(30)).await?;
    let cpu1 = CpuSample::take(server.pid)?;
    let overflows = listen_overflows()?.saturating_sub(overflows0);
    println!(
        "[1/4] join storm done: {n} members in {join_seconds:.1} s, {} member_joined frames delivered; \
         /health reports {health} members; a probe message reached all in {:.1} ms",
        swarm.member_joined_frames(),
        probe.as_secs_f64() * 1e3
    );
    let join_cpu = cpu1.since(&cpu0);
    println!("[1/4] CPU during the join {join_cpu}");
    println!("[1/4] listen queue overflows (SYNs dropped) on this machine during the join: {overflows}");

    // Phase 2: idle memory.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let idle = vm_rss_kib(Some(server.pid))?;
    let own = vm_rss_kib(None)?;
    let per_conn = idle.saturating_sub(baseline) as f64 / n as f64;
    let rss_ok = per_conn <= 20.0;
    println!(
        "[2/4] idle: server RSS {} (+{} over baseline) = {per_conn:.1} KiB per idle connection \
         [target <= 20 KiB: {}]; load generator RSS {}",
        kib(idle),
        kib(idle.saturating_sub(baseline)),
        verdict(rss_ok),
        kib(own)
    );

    // Phase 3: fan-out latency of single messages.
    let interval = Duration::from_millis(args.interval_ms);
    let fanout_limit = Duration::from_secs(30);
    let fanout = swarm.fanout(PHASE_FANOUT, 0, args.messages, interval, fanout_limit).await?;
    let cpu2 = CpuSample::take(server.pid)?;
    let fanout_ok = fanout.latency.p99_ms <= 50.0 && fanout.incomplete_members == 0;
    let l = &fanout.latency;
    println!(
        "[3/4] fan-out: {} messages x {} members, {} of {} deliveries, {} members missed some; \
         latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms [target p99 <= 50 ms: {}]",
        fanout.messages,
        fanout.members,
        fanout.delivered,
        fanout.messages * fanout.members,
        fanout.incomplete_members,
        l.p50_ms,
        l.p95_ms,
        l.p99_ms,
        l.max_ms,
        verdict(fanout_ok)
    );
    let fanout_cpu = cpu2.since(&cpu1);
    println!("[3/4] CPU during fan-out (incl. the idle wait) {fanout_cpu}");

    // Phase 4: sustained throughput.
    let throughput = swarm
        .throughput(
            PHASE_THROUGHPUT,
            args.senders,
            args.window,
            Duration::from_secs(1),
            Duration::from_secs(args.duration),
            Duration::from_secs(30),
        )
        .await?;
    let cpu3 = CpuSample::take(server.pid)?;
    let t = &throughput;
    println!(
        "[4/4] throughput: {} senders x window {} for {:.1} s: {:.0} messages/s accepted, {:.0} deliveries/s; \
         latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} messages sent, {} members missed some",
        t.senders,
        t.window,
        t.seconds,
        t.accepted_per_sec,
        t.deliveries_per_sec,
        t.latency.p50_ms,
        t.latency.p95_ms,
        t.latency.p99_ms,
        t.latency.max_ms,
        t.sent_total,
        t.incomplete_members
    );
    let throughput_cpu = cpu3.since(&cpu2);
    println!("[4/4] CPU during throughput (incl. warm-up and drain) {throughput_cpu}");

    let (errors, rate_limited, error_samples) = swarm.errors();
    let dropped = swarm.dropped();
    let drop_reasons = swarm.drop_reasons();
    let slow_drops = server.slow_drops();
    println!(
        "drops: {dropped} connections ended early, server logged {slow_drops} 'stopped reading' drops; \
         {errors} error frames, {rate_limited} rate_limit frames"
    );
    for reason in drop_reasons.iter().chain(&error_samples) {
        println!("  {reason}");
    }
    swarm.stopping();
    let summary = Summary {
        members: n,
        transport,
        cpus,
        join_seconds,
        member_joined_frames: swarm.member_joined_frames(),
        probe_ms: probe.as_secs_f64() * 1e3,
        server_rss_baseline_kib: baseline,
        server_rss_idle_kib: idle,
        server_rss_per_idle_connection_kib: per_conn,
        loadgen_rss_idle_kib: own,
        fanout,
        throughput,
        cpu_seconds: PhaseCpu { join: join_cpu, fanout: fanout_cpu, throughput: throughput_cpu },
        listen_overflows_during_join: overflows,
        server_rss_by_members: rss_by_members,
        dropped_connections: dropped,
        drop_reasons,
        server_slow_drops_logged: slow_drops,
        errors,
        rate_limited,
        targets: Targets { fanout_p99_le_50ms: fanout_ok, rss_per_idle_connection_le_20kib: rss_ok },
    };
    // Stop the server before the members: it then closes every socket itself. Members
    // leaving one by one instead would make it send N²/2 `member_left` frames.
    server.interrupt();
    swarm.finish(Duration::from_secs(15)).await;
    Ok(summary)
}

fn report_trouble(swarm: &Swarm, server: &ServerProcess) {
    eprintln!(
        "trouble after {} members: {} connections dropped, {} 'stopped reading' drops in the server log",
        swarm.len(),
        swarm.dropped(),
        server.slow_drops()
    );
    for reason in swarm.drop_reasons() {
        eprintln!("  {reason}");
    }
    for line in server.log_tail() {
        eprintln!("  server: {line}");
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn kib(v: u64) -> String {
    format!("{:.1} MiB", v as f64 / 1024.0)
}

fn default_server_bin() -> Result<PathBuf> {
    let me = std::env::current_exe().context("finding this executable's path")?;
    let dir = me.parent().context("this executable has no parent directory")?;
    let bin = dir.join(format!("hearth-server{}", std::env::consts::EXE_SUFFIX));
    ensure!(
        bin.is_file(),
        "{} does not exist: build it with `cargo build --release -p hearth-server` in the same target \
         directory, or pass --server-bin",
        bin.display()
    );
    Ok(bin)
}

/// The server as a child process, with the tail of its log kept for error reports.
struct ServerProcess {
    child: Child,
    pid: u32,
    addr: String,
    log: Arc<Mutex<Log>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    exited: bool,
}

#[derive(Default)]
struct Log {
    tail: std::collections::VecDeque<String>,
    slow_drops: usize,
}

impl ServerProcess {
    fn start(bin: &Path, members: usize, data_dir: Option<&Path>) -> Result<ServerProcess> {
        // Ask the kernel for a free port, then hand it to the server. Another process could
        // take it in between; the health check would then fail with a clear error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port on 127.0.0.1")?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        cmd.args(["--bind", &addr, "--rate-per-sec", "100000", "--rate-burst", "100000"])
            .args(["--max-connections", &(members + 100).to_string()])
            // Info level logs the slow-client drops, which the report counts.
            .args(["--log", "info"])
            .env_remove("HEARTH_CONFIG")
            .env_remove("HEARTH_PASSWORD")
            .env_remove("HEARTH_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = data_dir {
            cmd.arg("--data-dir").arg(dir);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let log = Arc::new(Mutex::new(Log::default()));
        let mut readers = Vec::new();
        let pipes: Vec<Box<dyn std::io::Read + Send>> = [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for pipe in pipes {
            let log = log.clone();
            // A plain thread per pipe: it ends when the server closes the pipe on exit.
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut log) = log.lock() {
                        if line.contains("stopped reading") {
                            log.slow_drops += 1;
                        }
                        if log.tail.len() == 40 {
                            log.tail.pop_front();
                        }
                        log.tail.push_back(line);
                    }
                }
            }));
        }
        Ok(ServerProcess { child, pid, addr, log, readers, exited: false })
    }

    fn slow_drops(&self) -> usize {
        self.log.lock().map_or(0, |l| l.slow_drops)
    }

    fn log_tail(&self) -> Vec<String> {
        self.log.lock().map(|l| l.tail.iter().cloned().collect()).unwrap_or_default()
    }

    /// Asks the server to shut down gracefully (SIGINT, as Ctrl-C would).
    fn interrupt(&mut self) {
        if self.exited {
            return;
        }
        let sent = Command::new("kill").args(["-INT", &self.pid.to_string()]).status();
        if !matches!(sent, Ok(s) if s.success()) {
            let _ = self.child.kill();
        }
    }

    /// Interrupts the server if that has not happened yet, waits for it to exit (killing it
    /// after 15 s) and for its log readers to finish.
    fn stop(&mut self) -> Result<()> {
        if self.exited {
            return Ok(());
        }
        self.interrupt();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().context("waiting for the server")? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.exited = true;
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!("the server exited with {s}; its log ends:\n{}", self.log_tail().join("\n")),
            None => bail!("the server did not stop within 15 s of SIGINT and was killed"),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // On every path out, including errors: never leave a server running.
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until the server answers `/health`, failing early if it exits.
async fn wait_healthy(server: &mut ServerProcess) -> Result<()> {
    let addr = server.addr.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if health(&addr).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = server.child.try_wait().context("checking the server process")? {
            server.exited = true;
            bail!("the server exited with {status} before answering; its log ends:\n{}", server.log_tail().join("\n"));
        }
        if Instant::now() >= deadline {
            bail!("the server did not answer /health on {addr} within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Members in all rooms, from `GET /health`.
async fn health(addr: &str) -> Result<u64> {
    let body = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    })
    .await
    .context("/health timed out")?
    .context("/health request")?;
    let (_, json) = body.split_once("\r\n\r\n").context("/health answer has no body")?;
    let value: serde_json::Value = serde_json::from_str(json).context("/health body is not JSON")?;
    value["members"].as_u64().context("/health body has no member count")
}

/// Resident set size of a process (this one for `None`), in KiB, from /proc.
fn vm_rss_kib(pid: Option<u32>) -> Result<u64> {
    let path = proc_path(pid, "status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

/// User and system CPU time a process (this one for `None`) has used, in seconds.
fn cpu_seconds(pid: Option<u32>) -> Result<(f64, f64)> {
    let path = proc_path(pid, "stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may contain spaces; the numeric fields start after its closing
    // parenthesis, with utime and stime at positions 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).with_context(|| format!("odd {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields.get(i).and_then(|v| v.parse::<u64>().ok()).map(|v| v as f64).with_context(|| format!("odd {path}"))
    };
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Ok((ticks(11)? / 100.0, ticks(12)? / 100.0))
}

/// CPU seconds the whole machine has spent busy (not idle or waiting for IO) since boot.
fn machine_busy_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    ensure!(ticks.len() >= 8, "odd /proc/stat: {line}");
    // user, nice, system, (idle), (iowait), irq, softirq, steal.
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7];
    Ok(busy as f64 / 100.0)
}

/// The kernel's count of connections dropped because a listen queue was full.
fn listen_overflows() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").context("reading /proc/net/netstat")?;
    let mut lines = text.lines();
    // The file pairs a line of names with a line of values, each starting with `TcpExt:`.
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if names.starts_with("TcpExt:") {
            let found = names.split_whitespace().zip(values.split_whitespace()).find(|(n, _)| *n == "ListenOverflows");
            return found.and_then(|(_, v)| v.parse().ok()).context("no ListenOverflows in /proc/net/netstat");
        }
    }
    bail!("no TcpExt section in /proc/net/netstat")
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}
