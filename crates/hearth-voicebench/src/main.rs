//! `hearth-voicebench`: measures voice through a real `hearth-server` on 127.0.0.1 and real
//! WebRTC over loopback: software mouth-to-ear latency of a click train, the time from
//! `voice_join` to the first audio heard, and the CPU of one client process in a 4-person
//! call. See the "Voice" section of docs/benchmarks.md for the figures and how they are read.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use hearth_media::{CaptureConfig, FrameDuration, JitterConfig, SAMPLE_RATE, Silence, Sine, TransmitMode};
use hearth_peer::{ConnectionState, PeerConfig};
use hearth_voice::{AudioInput, AudioOutput, VoiceConfig, VoiceEvent};
use hearth_voicebench::{
    CpuMark, FirstSound, Member, NullSink, PhaseCpu, Recording, Server, Summary, TimedClicks, TimedRecorder,
    click_latencies, load_average, machine_busy_seconds, process_cpu_seconds,
};
use serde::Serialize;

/// Voice benchmark: mouth-to-ear latency, join time and client CPU, through a real
/// hearth-server (in this process, on 127.0.0.1) and real WebRTC over loopback.
#[derive(Parser, Debug)]
#[command(name = "hearth-voicebench", version, about)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,

    /// Frame lengths (ms) to measure latency at: 10, 20 or both.
    #[arg(long, value_delimiter = ',', default_value = "10,20")]
    frame_ms: Vec<u32>,

    /// Clicks measured per latency run (after a one-second warm-up).
    #[arg(long, default_value_t = 100)]
    clicks: usize,

    /// Time between clicks. Longer than voice activation's 300 ms hangover, so every click
    /// is a talk spurt of its own; not a multiple of a frame, so clicks land at every phase
    /// of the frame and the session's 10 ms tick.
    #[arg(long, default_value_t = 401.5)]
    click_period_ms: f64,

    /// Also measure latency and join time with the jitter buffer's minimum and start delay
    /// both set to this (a labelled variant; the product default is left alone). 0 skips it.
    #[arg(long, default_value_t = 0)]
    variant_delay_ms: u32,

    /// How the talker sends: `steady` holds push-to-talk over a quiet tone bed, so the
    /// stream never stops (a talker mid-sentence); `spurts` uses voice activation over digital
    /// silence, so every click is a talk spurt of its own after DTX and the hangover stopped
    /// the stream.
    #[arg(long, value_delimiter = ',', default_value = "steady,spurts")]
    modes: Vec<Mode>,

    /// Joins measured.
    #[arg(long, default_value_t = 20)]
    joins: usize,

    /// Members of the call whose per-client CPU is measured (each its own process).
    #[arg(long, default_value_t = 4)]
    cpu_members: usize,

    /// Seconds the CPU of the call is measured for (after a two-second warm-up).
    #[arg(long, default_value_t = 20)]
    cpu_seconds: u64,

    /// Frame length (ms) of the CPU run.
    #[arg(long, default_value_t = 20)]
    cpu_frame_ms: u32,

    #[arg(long)]
    skip_latency: bool,
    #[arg(long)]
    skip_join: bool,
    #[arg(long)]
    skip_cpu: bool,

    /// Also print the results as one JSON line at the end.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Steady,
    Spurts,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// One member of the CPU run, started by the benchmark itself: joins the call, says
    /// `ready` on stdout once audio flows both ways, and leaves when stdin closes.
    #[command(hide = true)]
    Member {
        #[arg(long)]
        url: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        tone: f32,
        #[arg(long)]
        frame_ms: u32,
        /// Peers to wait for before saying `ready`.
        #[arg(long)]
        peers: usize,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    cpus: usize,
    load_average_before: f64,
    latency: Vec<LatencyRun>,
    join: Vec<JoinRun>,
    cpu: Option<CpuRun>,
}

#[derive(Debug, Serialize)]
struct LatencyRun {
    mode: Mode,
    frame_ms: u32,
    jitter: String,
    clicks: usize,
    missed: usize,
    mouth_to_ear: Option<Summary>,
    target_p95_le_40ms_at_10ms: Option<bool>,
    machine: PhaseCpu,
}

#[derive(Debug, Serialize)]
struct JoinRun {
    jitter: String,
    /// voice_join sent -> first audible block written to the joiner's sink.
    join_to_audio: Option<Summary>,
    /// voice_join sent -> the joiner's peer connection reports Connected.
    join_to_connected: Option<Summary>,
    failed: usize,
    target_p95_le_200ms: Option<bool>,
    machine: PhaseCpu,
}

#[derive(Debug, Serialize)]
struct CpuRun {
    members: usize,
    frame_ms: u32,
    wall_s: f64,
    /// Each member process's CPU as % of one core.
    per_member_pct: Vec<f64>,
    mean_pct: f64,
    max_pct: f64,
    /// The in-process server (and this benchmark's idle runtime), % of one core.
    server_pct: f64,
    other_processes_cpu_s: f64,
    load_average_after: f64,
    target_max_le_10pct: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match args.role {
        Some(Role::Member { ref url, ref name, tone, frame_ms, peers }) => {
            runtime.block_on(member_process(url, name, tone, frame_ms, peers))
        }
        None => runtime.block_on(run(&args)),
    }
}

fn frame(ms: u32) -> Result<FrameDuration> {
    match ms {
        10 => Ok(FrameDuration::Ms10),
        20 => Ok(FrameDuration::Ms20),
        other => bail!("frame length must be 10 or 20 ms, not {other}"),
    }
}

/// Settings for synthetic test signals: RNNoise would (rightly) call clicks and tones noise
/// and never transmit them, so the level gate decides voice activity instead.
fn signal_config(frame_ms: u32, jitter: &JitterConfig) -> Result<VoiceConfig> {
    let capture = CaptureConfig { frame: frame(frame_ms)?, noise_suppression: false, ..CaptureConfig::default() };
    Ok(VoiceConfig { capture, jitter: jitter.clone(), peer: PeerConfig::loopback(), ..VoiceConfig::default() })
}

fn jitter_variants(args: &Args) -> Vec<(String, JitterConfig)> {
    let default = JitterConfig::default();
    let mut out = vec![(
        format!("default (min {} ms, start {} ms)", default.min_delay_ms, default.start_delay_ms),
        default.clone(),
    )];
    if args.variant_delay_ms > 0 {
        let d = args.variant_delay_ms;
        out.push((
            format!("variant (min {d} ms, start {d} ms)"),
            JitterConfig { min_delay_ms: d, start_delay_ms: d, ..default },
        ));
    }
    out
}

async fn run(args: &Args) -> Result<()> {
    for &ms in &args.frame_ms {
        frame(ms)?;
    }
    frame(args.cpu_frame_ms)?;
    ensure!(args.click_period_ms >= 50.0, "--click-period-ms must be at least 50");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut report = Report { cpus, load_average_before: load_average(), latency: Vec::new(), join: Vec::new(), cpu: None };
    println!(
        "hearth-voicebench: {cpus} CPUs, load average {:.2}; server in this process on 127.0.0.1, WebRTC over loopback",
        report.load_average_before
    );
    let variants = jitter_variants(args);
    if !args.skip_latency {
        for &mode in &args.modes {
            for (label, jitter) in &variants {
                for &frame_ms in &args.frame_ms {
                    let run = latency_run(args, mode, frame_ms, label, jitter).await?;
                    report.latency.push(run);
                }
            }
        }
    }
    if !args.skip_join {
        for (label, jitter) in &variants {
            let run = join_run(args, label, jitter).await?;
            report.join.push(run);
        }
    }
    if !args.skip_cpu {
        report.cpu = Some(cpu_run(args).await?);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).context("encoding the JSON report")?);
    }
    Ok(())
}

/// Sender: a click train (see [`Mode`]). Receiver: silent, recording what it plays.
async fn latency_run(args: &Args, mode: Mode, frame_ms: u32, label: &str, jitter: &JitterConfig) -> Result<LatencyRun> {
    let period = (args.click_period_ms * f64::from(SAMPLE_RATE) / 1000.0).round() as u64;
    let max_lag = Duration::from_millis(300);
    let server = Server::start().await?;
    let mut config = signal_config(frame_ms, jitter)?;
    let listener_config = config.clone();
    // The bed is -29 dBFS: well above the level gate, so nothing but the clicks matter.
    let bed = match mode {
        Mode::Steady => {
            config.capture.mode = TransmitMode::PushToTalk;
            0.05
        }
        Mode::Spurts => 0.0,
    };
    let (clicks, reads) = TimedClicks::new(period, 0.5, bed);
    let recording = Arc::new(Mutex::new(Recording::default()));
    let talker =
        Member::join(&server.url, "talker", config.clone(), AudioInput::Source(Box::new(clicks)), AudioOutput::Discard)
            .await?;
    let listener = Member::join(
        &server.url,
        "listener",
        listener_config,
        AudioInput::Source(Box::new(Silence::new(SAMPLE_RATE))),
        AudioOutput::Sink(Box::new(TimedRecorder(recording.clone()))),
    )
    .await?;
    if mode == Mode::Steady {
        talker.voice.push_to_talk(true).await.context("pressing the talker's push-to-talk")?;
    }
    talker.voice_join().await?;
    listener.voice_join().await?;
    listener.until_flowing(1, 0).await.context("listener waiting for the talker's audio")?;
    // Let the first talk spurts pass, so the jitter buffer has its measured target rather
    // than its start delay (that case is the join figure).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from = Instant::now();
    let cpu = CpuMark::now()?;
    let duration = Duration::from_secs_f64(args.clicks as f64 * args.click_period_ms / 1000.0) + max_lag;
    tokio::time::sleep(duration + Duration::from_millis(100)).await;
    let machine = cpu.since(0.0)?;
    talker.leave().await;
    listener.leave().await;
    server.stop().await;

    let reads = reads.lock().map_err(|_| anyhow::anyhow!("read log poisoned"))?.clone();
    let rec = recording.lock().map_err(|_| anyhow::anyhow!("recording poisoned"))?;
    let found = click_latencies(&reads, &rec, period, from, max_lag);
    let mouth_to_ear = Summary::of(&found.latencies_ms);
    println!(
        "latency, {mode:?}, {frame_ms} ms frames, jitter buffer {label}: {} of {} clicks found; mouth to ear {}; other processes {:.1} s CPU over {:.1} s, load {:.2}",
        found.latencies_ms.len(),
        found.clicks,
        mouth_to_ear.as_ref().map_or("-".to_owned(), |s| s.to_string()),
        machine.other_s,
        machine.wall_s,
        machine.load_average_after,
    );
    Ok(LatencyRun {
        mode,
        frame_ms,
        jitter: label.to_owned(),
        clicks: found.clicks,
        missed: found.missed,
        target_p95_le_40ms_at_10ms: (frame_ms == 10).then(|| mouth_to_ear.as_ref().is_some_and(|s| s.p95_ms <= 40.0)),
        mouth_to_ear,
        machine,
    })
}

/// An existing member plays a tone; a new member joins the voice channel again and again.
async fn join_run(args: &Args, label: &str, jitter: &JitterConfig) -> Result<JoinRun> {
    let server = Server::start().await?;
    // 20 ms frames: the product default.
    let config = signal_config(20, jitter)?;
    let talker = Member::join(
        &server.url,
        "talker",
        config.clone(),
        AudioInput::Source(Box::new(Sine::new(SAMPLE_RATE, 440.0, 0.3))),
        AudioOutput::Discard,
    )
    .await?;
    talker.voice_join().await?;
    let cpu = CpuMark::now()?;
    let (mut to_audio, mut to_connected, mut failed) = (Vec::new(), Vec::new(), 0);
    for i in 0..args.joins {
        let heard = Arc::new(Mutex::new(None));
        let sink = FirstSound { threshold: 0.01, heard: heard.clone() };
        let mut joiner = Member::join(
            &server.url,
            &format!("joiner-{i}"),
            config.clone(),
            AudioInput::Source(Box::new(Silence::new(SAMPLE_RATE))),
            AudioOutput::Sink(Box::new(sink)),
        )
        .await?;
        let start = Instant::now();
        joiner.voice_join().await?;
        let deadline = start + Duration::from_secs(5);
        let mut connected = None;
        let first = loop {
            while let Ok(event) = joiner.voice_events.try_recv() {
                if let VoiceEvent::PeerState { state: ConnectionState::Connected, .. } = event {
                    connected.get_or_insert_with(Instant::now);
                }
            }
            if let Some(t) = *heard.lock().map_err(|_| anyhow::anyhow!("first-sound lock poisoned"))? {
                break Some(t);
            }
            if Instant::now() > deadline {
                break None;
            }
            // Polling adds at most 1 ms to the connected time; the audio time is stamped by
            // the sink itself.
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        match first {
            Some(t) => to_audio.push((t - start).as_secs_f64() * 1000.0),
            None => failed += 1,
        }
        if let Some(t) = connected {
            to_connected.push((t - start).as_secs_f64() * 1000.0);
        }
        joiner.leave().await;
        // Let the talker drop the old peer before the next join.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let machine = cpu.since(0.0)?;
    talker.leave().await;
    server.stop().await;
    let join_to_audio = Summary::of(&to_audio);
    let join_to_connected = Summary::of(&to_connected);
    let show = |s: &Option<Summary>| s.as_ref().map_or("-".to_owned(), |s| s.to_string());
    println!(
        "join, jitter buffer {label}: voice_join to first audio {}; to peer connected {}; {failed} failed; other processes {:.1} s CPU over {:.1} s, load {:.2}",
        show(&join_to_audio),
        show(&join_to_connected),
        machine.other_s,
        machine.wall_s,
        machine.load_average_after,
    );
    Ok(JoinRun {
        jitter: label.to_owned(),
        target_p95_le_200ms: join_to_audio.as_ref().map(|s| failed == 0 && s.p95_ms <= 200.0),
        join_to_audio,
        join_to_connected,
        failed,
        machine,
    })
}

/// A member process of the CPU run and the lines it has printed.
struct MemberProcess {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl MemberProcess {
    fn spawn(url: &str, name: &str, tone: f32, frame_ms: u32, peers: usize) -> Result<MemberProcess> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut child = Process::new(&exe)
            .args(["member", "--url", url, "--name", name, "--frame-ms", &frame_ms.to_string()])
            .args(["--tone", &tone.to_string(), "--peers", &peers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdout = child.stdout.take().context("member stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(MemberProcess { child, lines })
    }

    fn wait_for(&self, prefix: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(_) => bail!("member process {} did not say {prefix:?} in time", self.child.id()),
            }
        }
    }
}

/// N member processes in one call, all transmitting; measures each one's CPU.
async fn cpu_run(args: &Args) -> Result<CpuRun> {
    ensure!(args.cpu_members >= 2, "--cpu-members must be at least 2");
    let server = Server::start().await?;
    let tones = [440.0, 660.0, 990.0, 1320.0, 550.0, 770.0, 880.0, 1100.0];
    let mut members = Vec::new();
    for i in 0..args.cpu_members {
        let tone = tones[i % tones.len()];
        members.push(MemberProcess::spawn(&server.url, &format!("m{i}"), tone, args.cpu_frame_ms, args.cpu_members - 1)?);
    }
    let outcome = measure_cpu(args, &members).await;
    for m in &mut members {
        // Closing stdin tells the member to leave; it says `done` with its counters.
        drop(m.child.stdin.take());
    }
    for m in &mut members {
        if let Ok(line) = m.wait_for("done", Duration::from_secs(10)) {
            println!("  member {}: {line}", m.child.id());
        }
        let _ = m.child.kill();
        let _ = m.child.wait();
    }
    server.stop().await;
    outcome
}

async fn measure_cpu(args: &Args, members: &[MemberProcess]) -> Result<CpuRun> {
    for m in members {
        // Blocking is fine here: the server runs on the runtime's other threads.
        tokio::task::block_in_place(|| m.wait_for("ready", Duration::from_secs(30)))?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pids: Vec<u32> = members.iter().map(|m| m.child.id()).collect();
    let before: Vec<f64> = pids.iter().map(|&p| process_cpu_seconds(Some(p))).collect::<Result<_>>()?;
    let (t0, own0, busy0) = (Instant::now(), process_cpu_seconds(None)?, machine_busy_seconds()?);
    tokio::time::sleep(Duration::from_secs(args.cpu_seconds)).await;
    let after: Vec<f64> = pids.iter().map(|&p| process_cpu_seconds(Some(p))).collect::<Result<_>>()?;
    let (wall, own, busy) =
        (t0.elapsed().as_secs_f64(), process_cpu_seconds(None)? - own0, machine_busy_seconds()? - busy0);
    let used: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let r = |v: f64| (v * 10.0).round() / 10.0;
    let per_member_pct: Vec<f64> = used.iter().map(|u| r(100.0 * u / wall)).collect();
    let mean_pct = r(100.0 * used.iter().sum::<f64>() / used.len() as f64 / wall);
    let max_pct = per_member_pct.iter().copied().fold(0.0, f64::max);
    let other = (busy - own - used.iter().sum::<f64>()).max(0.0);
    let run = CpuRun {
        members: members.len(),
        frame_ms: args.cpu_frame_ms,
        wall_s: r(wall),
        mean_pct,
        max_pct,
        server_pct: r(100.0 * own / wall),
        other_processes_cpu_s: r(other),
        load_average_after: load_average(),
        target_max_le_10pct: max_pct <= 10.0,
        per_member_pct,
    };
    println!(
        "cpu, {} member processes, all transmitting, {} ms frames, noise suppression on: per client {:?} % of one core (mean {:.1} %, max {:.1} %) over {:.1} s; server {:.1} %; other processes {:.1} s CPU, load {:.2}",
        run.members,
        run.frame_ms,
        run.per_member_pct,
        run.mean_pct,
        run.max_pct,
        run.wall_s,
        run.server_pct,
        run.other_processes_cpu_s,
        run.load_average_after
    );
    Ok(run)
}

/// The `member` role: the app's default capture settings (noise suppression on), with the
/// push-to-talk key held so the member transmits all the time: every member talking at
/// once is the most a client has to encode, decode and mix.
async fn member_process(url: &str, name: &str, tone: f32, frame_ms: u32, peers: usize) -> Result<()> {
    let capture = CaptureConfig { frame: frame(frame_ms)?, mode: TransmitMode::PushToTalk, ..CaptureConfig::default() };
    let config = VoiceConfig { capture, peer: PeerConfig::loopback(), ..VoiceConfig::default() };
    let member = Member::join(
        url,
        name,
        config,
        AudioInput::Source(Box::new(Sine::new(SAMPLE_RATE, tone, 0.3))),
        AudioOutput::Sink(Box::new(NullSink)),
    )
    .await?;
    member.voice.push_to_talk(true).await.context("pressing push-to-talk")?;
    member.voice_join().await?;
    // Each peer sends 50 packets a second at 20 ms frames; wait for about half a second of
    // each before calling the call up.
    member.until_flowing(peers, 25 * peers as u64).await?;
    println!("ready {}", member.id);
    std::io::stdout().flush().context("flushing stdout")?;
    // Stay in the call until the benchmark closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    })
    .await
    .context("waiting for stdin to close")?;
    let stats = member.stats().await?;
    println!("done packets_sent={} packets_received={} peers={}", stats.packets_sent, stats.packets_received, stats.peers.len());
    std::io::stdout().flush().context("flushing stdout")?;
    member.leave().await;
    Ok(())
}
