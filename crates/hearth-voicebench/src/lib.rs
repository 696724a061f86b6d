//! Pieces of `hearth-voicebench`: an in-process server, call members, a click source and a
//! recorder that note the wall-clock time of every sample they hand over or take, the
//! per-click latency analysis, and CPU counters from /proc.
//!
//! Everything talks through a real `hearth-server` (its library's `run`, on 127.0.0.1) and
//! real WebRTC between members (`hearth-peer` on loopback), so the figures include the
//! signaling, ICE, DTLS and SRTP paths the app uses.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hearth_client::core::{Command, Event};
use hearth_client::{Client, ClientHandle, ClientOptions};
use hearth_media::analysis::find_delay;
use hearth_media::{AudioSink, AudioSource, ClickTrain, MediaError, SAMPLE_RATE};
use hearth_voice::{AudioInput, AudioOutput, VoiceConfig, VoiceEvent, VoiceHandle, VoiceSession, VoiceStats};
use hearth_wire::MemberId;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The voice channel every member joins (the default room's).
pub const CHANNEL: &str = "voice";
/// How long any one step of a call (connecting, joining, peers coming up) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// p50/p95 and friends of a set of durations, in ms.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Summary {
    /// Nearest-rank percentiles, so every figure is a value that was actually measured.
    pub fn of(values_ms: &[f64]) -> Option<Summary> {
        if values_ms.is_empty() {
            return None;
        }
        let mut v = values_ms.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        let r = |x: f64| (x * 100.0).round() / 100.0;
        Some(Summary {
            n: v.len(),
            p50_ms: r(rank(0.50)),
            p95_ms: r(rank(0.95)),
            min_ms: r(v[0]),
            max_ms: r(v[v.len() - 1]),
            mean_ms: r(v.iter().sum::<f64>() / v.len() as f64),
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p95 {:.1} ms (min {:.1}, mean {:.1}, max {:.1}; n = {})",
            self.p50_ms, self.p95_ms, self.min_ms, self.mean_ms, self.max_ms, self.n
        )
    }
}

/// A `hearth-server` running in this process on 127.0.0.1.
pub struct Server {
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), hearth_server::ServerError>>,
}

impl Server {
    /// Starts a server with the default configuration (one room with a `voice` channel).
    pub async fn start() -> Result<Server> {
        let listener = hearth_server::bind(([127, 0, 0, 1], 0).into()).context("binding the server to 127.0.0.1")?;
        let addr = listener.local_addr().context("reading the server's address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hearth_server::run(listener, hearth_server::Config::default(), async {
            let _ = stopped.await;
        }));
        Ok(Server { url: format!("ws://{addr}/lobby"), stop, task })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.task).await;
    }
}

/// One member of a call: a client and a voice session, with the front end's event loop.
pub struct Member {
    pub id: MemberId,
    pub client: ClientHandle,
    pub voice: VoiceHandle,
    /// What the session reports (peer connection states, speaking).
    pub voice_events: mpsc::UnboundedReceiver<VoiceEvent>,
    pump: JoinHandle<()>,
    session: JoinHandle<()>,
}

impl Member {
    /// Connects `name` to the room at `url` and starts its voice session (not yet in a voice
    /// channel).
    pub async fn join(
        url: &str,
        name: &str,
        config: VoiceConfig,
        input: AudioInput,
        output: AudioOutput,
    ) -> Result<Member> {
        let options = ClientOptions::new(Some("lobby".into()), name);
        let mut client = tokio::time::timeout(STEP_TIMEOUT, Client::connect(url, options))
            .await
            .with_context(|| format!("{name} timed out connecting to {url}"))?
            .with_context(|| format!("{name} connecting to {url}"))?;
        let session = VoiceSession::spawn(client.handle(), config, input, output)
            .with_context(|| format!("starting {name}'s voice session"))?;
        let (voice, handle) = (session.handle.clone(), client.handle());
        let (joined_tx, joined) = oneshot::channel();
        let pump_voice = voice.clone();
        // The front end's loop, as in the app: every client event goes to the voice session.
        let pump = tokio::spawn(async move {
            let mut joined_tx = Some(joined_tx);
            while let Some(event) = client.next_event().await {
                if let Event::Joined { you, .. } = &event
                    && let Some(tx) = joined_tx.take()
                {
                    let _ = tx.send(*you);
                }
                if pump_voice.client_event(&event).await.is_err() {
                    break;
                }
            }
        });
        let id = tokio::time::timeout(STEP_TIMEOUT, joined)
            .await
            .with_context(|| format!("{name} timed out joining the room"))?
            .with_context(|| format!("{name}'s client stopped before joining the room"))?;
        Ok(Member { id, client: handle, voice, voice_events: session.events, pump, session: session.task })
    }

    pub async fn voice_join(&self) -> Result<()> {
        self.client.send(Command::VoiceJoin { channel: CHANNEL.into() }).await.context("sending voice_join")
    }

    pub async fn stats(&self) -> Result<VoiceStats> {
        self.voice.stats().await.context("reading voice session stats")
    }

    /// Waits until the session has `peers` peers and has received more than `packets`
    /// packets in all.
    pub async fn until_flowing(&self, peers: usize, packets: u64) -> Result<VoiceStats> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let stats = self.stats().await?;
            if stats.peers.len() == peers && stats.packets_received > packets {
                return Ok(stats);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {peers} peers and {packets} packets received: {stats:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the session and leaves the room.
    pub async fn leave(self) {
        let _ = self.voice.shutdown().await;
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.session).await;
        let _ = self.client.send(Command::Leave).await;
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.pump).await;
    }
}

/// When each read of a [`TimedClicks`] happened: (wall clock, source position after it).
pub type ReadLog = Arc<Mutex<Vec<(Instant, u64)>>>;

/// A click train that notes the wall-clock time of every read the session makes, over an
/// optional quiet 300 Hz bed.
pub struct TimedClicks {
    clicks: ClickTrain,
    bed: f32,
    position: u64,
    log: ReadLog,
}

/// Frequency of the bed: far enough below the clicks' 2 kHz not to disturb the correlation.
const BED_HZ: f64 = 300.0;

impl TimedClicks {
    /// Clicks of `amplitude` every `period_samples`; `bed` is the bed's amplitude (0 for
    /// digital silence between clicks). A bed keeps Opus DTX from stopping the stream.
    pub fn new(period_samples: u64, amplitude: f32, bed: f32) -> (TimedClicks, ReadLog) {
        let log = ReadLog::default();
        let clicks = ClickTrain::new(SAMPLE_RATE, period_samples, amplitude);
        (TimedClicks { clicks, bed, position: 0, log: log.clone() }, log)
    }
}

impl AudioSource for TimedClicks {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, MediaError> {
        let n = self.clicks.read(buf)?;
        if self.bed != 0.0 {
            for (i, x) in buf[..n].iter_mut().enumerate() {
                let t = (self.position + i as u64) as f64 / f64::from(SAMPLE_RATE);
                *x += self.bed * (std::f64::consts::TAU * BED_HZ * t).sin() as f32;
            }
        }
        self.position += n as u64;
        // The session reads at most once per 10 ms tick, so this lock is never contended
        // in a way that matters; the analysis takes it only after the run.
        if let Ok(mut log) = self.log.lock() {
            log.push((Instant::now(), self.position));
        }
        Ok(n)
    }
}

/// Everything a [`TimedRecorder`] was given, with the wall-clock time of each write.
#[derive(Default)]
pub struct Recording {
    pub samples: Vec<f32>,
    /// (index of the block's first sample, when the block was written).
    pub blocks: Vec<(usize, Instant)>,
}

/// A sink that keeps what it is given and when.
pub struct TimedRecorder(pub Arc<Mutex<Recording>>);

impl AudioSink for TimedRecorder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        let now = Instant::now();
        if let Ok(mut rec) = self.0.lock() {
            let start = rec.samples.len();
            rec.blocks.push((start, now));
            rec.samples.extend_from_slice(samples);
        }
        Ok(())
    }
}

/// A sink that notes when it first gets audible audio (peak above `threshold`).
pub struct FirstSound {
    pub threshold: f32,
    pub heard: Arc<Mutex<Option<Instant>>>,
}

impl AudioSink for FirstSound {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        if samples.iter().any(|x| x.abs() > self.threshold)
            && let Ok(mut heard) = self.heard.lock()
            && heard.is_none()
        {
            *heard = Some(Instant::now());
        }
        Ok(())
    }
}

/// A sink that throws the mix away after it was rendered, as a device would take it.
pub struct NullSink;

impl AudioSink for NullSink {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn write(&mut self, _samples: &[f32]) -> Result<(), MediaError> {
        Ok(())
    }
}

fn secs(samples: f64) -> Duration {
    Duration::from_secs_f64(samples.max(0.0) / f64::from(SAMPLE_RATE))
}

/// When sample `s` of the source would have left an ideal real-time microphone: the read
/// that delivered it, minus the time the samples after it in that read took to "record".
/// So the wait for the session's next 10 ms tick counts as latency, as a device's capture
/// period would.
fn mouth_time(reads: &[(Instant, u64)], s: u64) -> Option<Instant> {
    let i = reads.partition_point(|&(_, end)| end <= s);
    let &(at, end) = reads.get(i)?;
    at.checked_sub(secs((end - s) as f64))
}

/// When each block would start playing on a device that plays a sample as soon as it is
/// written and never faster than 48 kHz: the later of its write time and the end of the
/// previous block. Writes made together after a stall so queue up instead of overlapping.
fn play_times(rec: &Recording) -> Vec<Instant> {
    let mut out: Vec<Instant> = Vec::with_capacity(rec.blocks.len());
    for (k, &(start, at)) in rec.blocks.iter().enumerate() {
        let t = match (k.checked_sub(1), out.last()) {
            (Some(prev), Some(&prev_play)) => at.max(prev_play + secs((start - rec.blocks[prev].0) as f64)),
            _ => at,
        };
        out.push(t);
    }
    out
}

/// Per-click result of [`click_latencies`].
#[derive(Debug, Clone, Serialize)]
pub struct ClickLatencies {
    /// Clicks whose mouth time fell in the measured window.
    pub clicks: usize,
    /// Mouth-to-ear latency of each click that was found, ms.
    pub latencies_ms: Vec<f64>,
    /// Clicks not found at the receiver within `max_lag` (normalised correlation below 0.5).
    pub missed: usize,
}

/// Finds each click sent after `from` in the recording by cross-correlating the click's
/// waveform with what was played in the `max_lag` after it was "spoken", and returns the
/// time from mouth to the best-matching sample's play time.
pub fn click_latencies(
    reads: &[(Instant, u64)],
    rec: &Recording,
    period: u64,
    from: Instant,
    max_lag: Duration,
) -> ClickLatencies {
    let mut template = vec![0.0f32; ClickTrain::click_len(SAMPLE_RATE) as usize];
    // Amplitude does not matter for where the correlation peaks.
    let _ = ClickTrain::new(SAMPLE_RATE, u64::MAX, 1.0).read(&mut template);
    let play = play_times(rec);
    // Play time of sample j.
    let ear = |j: usize| -> Option<Instant> {
        let b = rec.blocks.partition_point(|&(start, _)| start <= j).checked_sub(1)?;
        Some(play[b] + secs((j - rec.blocks[b].0) as f64))
    };
    let last_play = rec.samples.len().checked_sub(1).and_then(ear);
    let mut out = ClickLatencies { clicks: 0, latencies_ms: Vec::new(), missed: 0 };
    let Some(&(_, produced)) = reads.last() else { return out };
    for k in 0.. {
        let s = k * period;
        if s + template.len() as u64 > produced {
            break;
        }
        let Some(mouth) = mouth_time(reads, s) else { break };
        if mouth < from {
            continue;
        }
        if last_play.is_none_or(|t| mouth + max_lag > t) {
            break;
        }
        out.clicks += 1;
        // Sample range whose play time lies in [mouth, mouth + max_lag].
        let first_block = play.partition_point(|&t| t + Duration::from_millis(10) < mouth).saturating_sub(1);
        let lo = rec.blocks.get(first_block).map_or(0, |b| b.0);
        let last_block = play.partition_point(|&t| t <= mouth + max_lag);
        let hi = rec.blocks.get(last_block).map_or(rec.samples.len(), |b| b.0);
        let window = &rec.samples[lo..hi.max(lo)];
        let found = window
            .len()
            .checked_sub(template.len())
            .and_then(|max| find_delay(&template, window, max))
            .filter(|&lag| normalised_correlation(&template, &window[lag..lag + template.len()]) >= 0.5)
            .and_then(|lag| ear(lo + lag))
            .filter(|&t| t >= mouth);
        match found {
            Some(t) => out.latencies_ms.push((t - mouth).as_secs_f64() * 1000.0),
            None => out.missed += 1,
        }
    }
    out
}

fn normalised_correlation(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

/// User and system CPU seconds of a process (this one for `None`).
pub fn process_cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may contain spaces; utime and stime are the 12th and 13th fields
    // after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).with_context(|| format!("odd {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields.get(i).and_then(|v| v.parse::<u64>().ok()).map(|v| v as f64).with_context(|| format!("odd {path}"))
    };
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// CPU seconds the whole machine has spent busy (not idle or waiting for IO) since boot.
pub fn machine_busy_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    ensure!(ticks.len() >= 8, "odd /proc/stat: {line}");
    // user, nice, system, (idle), (iowait), irq, softirq, steal.
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7];
    Ok(busy as f64 / 100.0)
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// CPU used on the machine during a phase, split into this process (with its children
/// measured apart by the caller) and everything else.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseCpu {
    pub wall_s: f64,
    /// This process (server and in-process members), CPU seconds.
    pub bench_s: f64,
    /// Every other process on the machine (other builds, say), CPU seconds.
    pub other_s: f64,
    pub load_average_after: f64,
}

/// Counters at the start of a phase.
pub struct CpuMark {
    at: Instant,
    own: f64,
    busy: f64,
}

impl CpuMark {
    pub fn now() -> Result<CpuMark> {
        Ok(CpuMark { at: Instant::now(), own: process_cpu_seconds(None)?, busy: machine_busy_seconds()? })
    }

    /// CPU since the mark; `children_s` is CPU the caller's child processes used, which the
    /// machine counter includes but this process's does not.
    pub fn since(&self, children_s: f64) -> Result<PhaseCpu> {
        let own = process_cpu_seconds(None)? - self.own;
        let busy = machine_busy_seconds()? - self.busy;
        let r = |v: f64| (v * 100.0).round() / 100.0;
        Ok(PhaseCpu {
            wall_s: r(self.at.elapsed().as_secs_f64()),
            bench_s: r(own),
            other_s: r((busy - own - children_s).max(0.0)),
            load_average_after: load_average(),
        })
    }
}
