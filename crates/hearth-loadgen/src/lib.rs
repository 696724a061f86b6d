//! The measuring half of Hearth's load generator: a swarm of real WebSocket members in one
//! room, and the phases that time chat fan-out through the server.
//!
//! The binary (`src/main.rs`) adds the server process, RSS readings and the report; keeping
//! the swarm here lets the smoke test drive the same code against an in-process server.
//!
//! # Why not `hearth_client::Connection`
//! A typed connection decodes every frame into a [`ServerMsg`]. Joining N members makes the
//! server send about N²/2 `member_joined` frames and welcomes of up to N members each, and
//! the load generator shares the machine's two cores with the server: decoding all of that
//! would take CPU away from the thing being measured. Members therefore read the `type` tag
//! of each frame by hand and decode only the few messages they act on; sending still goes
//! through [`hearth_wire::encode_client`], and anything unexpected falls back to
//! [`hearth_wire::decode_server`]. For the same reason members speak WebSocket through the
//! small [`socket::ClientSocket`] instead of a general-purpose client.
//!
//! # Tasks
//! The [`Swarm`] owns every member task in one `JoinSet` and talks to each through a small
//! control queue. A member task ends when its connection ends or when its control queue is
//! dropped; [`Swarm::finish`] waits for all of them and aborts stragglers, so no task
//! outlives the swarm.
//!
//! # One clock
//! Every chat message the swarm sends carries its send time, in nanoseconds since the swarm
//! was created, inside its `client_id` (`phase.sender.seq.nanos`). All members live in this
//! process, so a receiver subtracts that from its own reading of the same monotonic clock.
#![deny(missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod socket;

use std::io;

use hearth_wire::{ClientMsg, PROTOCOL_VERSION, ServerMsg, decode_server, encode_client};
use serde::Serialize;
use socket::{ClientSocket, Incoming};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

type Ws = ClientSocket;

/// Why a phase of the load test could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A member could not connect or authenticate.
    #[error("member m{member} could not join: {reason}")]
    Join {
        /// The member's index (its name is `m<index>`).
        member: usize,
        /// What went wrong.
        reason: String,
    },
    /// The `member_joined` frames of a batch did not all arrive in time.
    #[error(
        "the join storm did not drain: {arrived} of {expected} member_joined frames arrived with \
         {members} members ({dropped} connections dropped)"
    )]
    Drain {
        /// Frames received.
        arrived: u64,
        /// Frames due.
        expected: u64,
        /// Members in the room.
        members: usize,
        /// Connections lost so far.
        dropped: u64,
    },
    /// The probe message did not reach every member in time.
    #[error("the probe reached {reached} of {expected} members within {limit:?}")]
    Probe {
        /// Members that received it.
        reached: u64,
        /// Members in the room.
        expected: u64,
        /// How long it had.
        limit: Duration,
    },
    /// A member that had to send something has lost its connection.
    #[error("member m{0} is gone (its connection ended)")]
    MemberGone(usize),
    /// A phase number outside `0..MAX_PHASES`.
    #[error("phase {0} is out of range (0..{MAX_PHASES})")]
    Phase(usize),
}

/// Phases are small integers carried in `client_id`; counters exist for this many.
pub const MAX_PHASES: usize = 8;

/// How long one member may take to connect, get `hello` and get `welcome`. Generous, because
/// late joiners queue behind the join storm.
const JOIN_STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Reasons for dropped connections kept for the report; the rest are only counted.
const KEPT_DROP_REASONS: usize = 20;

/// Counters that all member tasks update and the coordinator reads.
#[derive(Default)]
struct Counters {
    /// `member_joined` frames received by all members together.
    member_joined: AtomicU64,
    /// `chat` frames of our own format received, per phase, by all members together.
    deliveries: [AtomicU64; MAX_PHASES],
    /// A sender's own `chat` coming back (the server's acknowledgement), per phase.
    acked: [AtomicU64; MAX_PHASES],
    /// `chat_send` frames written, per phase.
    sent: [AtomicU64; MAX_PHASES],
    /// `error` frames received.
    errors: AtomicU64,
    /// `rate_limit` frames received.
    rate_limited: AtomicU64,
    /// Connections that ended before the swarm was told the run is over.
    dropped: AtomicU64,
}

/// What every member task shares.
struct Shared {
    base: Instant,
    counters: Counters,
    /// Set before the server is stopped, so that connections ending afterwards are not
    /// counted as drops.
    stopping: AtomicBool,
    drop_reasons: Mutex<Vec<String>>,
    error_samples: Mutex<Vec<String>>,
    channel: String,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn keep(list: &Mutex<Vec<String>>, text: String) {
        if let Ok(mut list) = list.lock()
            && list.len() < KEPT_DROP_REASONS
        {
            list.push(text);
        }
    }
}

/// One delivery of one chat message to one member.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When the sender wrote the message, in nanoseconds since the swarm started.
    pub sent_ns: u64,
    /// Receive time minus send time, in microseconds.
    pub latency_us: u32,
}

/// What the coordinator asks of a member task.
enum Control {
    /// Send one chat message tagged with this phase.
    Send { phase: usize },
    /// Keep `window` messages of this phase unacknowledged until told to stop.
    Burst { phase: usize, window: usize },
    /// Stop sending new burst messages; those in flight still count when they arrive.
    StopBurst,
    /// Hand over (and forget) the deliveries recorded for a phase.
    Collect { phase: usize, reply: oneshot::Sender<Vec<Sample>> },
}

/// Latency percentiles over a set of deliveries.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// How many deliveries the figures are over.
    pub count: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Largest, milliseconds.
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `latencies_us`, which this sorts.
    pub fn of(latencies_us: &mut [u32]) -> Latency {
        latencies_us.sort_unstable();
        let n = latencies_us.len();
        let at = |p: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least p of the samples at or below it.
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
            f64::from(latencies_us[rank - 1]) / 1000.0
        };
        Latency { count: n, p50_ms: at(0.50), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: at(1.0) }
    }
}

/// Result of [`Swarm::fanout`].
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    /// Messages posted.
    pub messages: usize,
    /// Members that should have received each message (all members that were connected).
    pub members: usize,
    /// Deliveries recorded, out of `messages * members`.
    pub delivered: usize,
    /// Members that missed at least one message.
    pub incomplete_members: usize,
    /// Send-to-receive latency over all deliveries.
    pub latency: Latency,
}

/// Result of [`Swarm::throughput`].
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    /// Members posting.
    pub senders: usize,
    /// Unacknowledged messages each sender keeps in flight.
    pub window: usize,
    /// Length of the measured interval, seconds (after the warm-up).
    pub seconds: f64,
    /// Messages the server acknowledged during the interval, per second.
    pub accepted_per_sec: f64,
    /// Chat frames received by all members during the interval, per second.
    pub deliveries_per_sec: f64,
    /// Messages sent in the whole phase, warm-up included.
    pub sent_total: u64,
    /// Members that did not receive every message of the phase.
    pub incomplete_members: usize,
    /// Send-to-receive latency of the messages sent during the measured interval.
    pub latency: Latency,
}

/// Progress of [`Swarm::join`], handed to its callback after every batch.
#[derive(Debug, Clone, Copy)]
pub struct JoinProgress {
    /// Members in the room so far.
    pub joined: usize,
    /// Members asked for.
    pub target: usize,
    /// Time since the join started.
    pub elapsed: Duration,
    /// Time the last batch took to connect and get welcomed.
    pub batch_connect: Duration,
    /// Time the last batch then took until every `member_joined` it caused had arrived.
    pub batch_drain: Duration,
}

/// Members of one room, each a WebSocket connection with its own task that keeps reading.
pub struct Swarm {
    url: String,
    room: String,
    shared: Arc<Shared>,
    controls: Vec<mpsc::Sender<Control>>,
    tasks: JoinSet<()>,
}

impl Swarm {
    /// A swarm with no members yet, for the server at `url` (`ws://127.0.0.1:PORT/`, or
    /// `wss://` for TLS), room `room`, posting to text channel `channel`.
    pub fn new(url: &str, room: &str, channel: &str) -> Swarm {
        Swarm {
            url: url.to_owned(),
            room: room.to_owned(),
            shared: Arc::new(Shared {
                base: Instant::now(),
                counters: Counters::default(),
                stopping: AtomicBool::new(false),
                drop_reasons: Mutex::new(Vec::new()),
                error_samples: Mutex::new(Vec::new()),
                channel: channel.to_owned(),
            }),
            controls: Vec::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Members joined so far.
    pub fn len(&self) -> usize {
        self.controls.len()
    }

    /// Whether no member has joined yet.
    pub fn is_empty(&self) -> bool {
        self.controls.is_empty()
    }

    /// Connections that ended while the run was going on.
    pub fn dropped(&self) -> u64 {
        self.shared.counters.dropped.load(Ordering::Relaxed)
    }

    /// Why connections ended early (the first few).
    pub fn drop_reasons(&self) -> Vec<String> {
        self.shared.drop_reasons.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// `error` and `rate_limit` frames received, and the first few of them.
    pub fn errors(&self) -> (u64, u64, Vec<String>) {
        let c = &self.shared.counters;
        let samples = self.shared.error_samples.lock().map(|l| l.clone()).unwrap_or_default();
        (c.errors.load(Ordering::Relaxed), c.rate_limited.load(Ordering::Relaxed), samples)
    }

    /// `member_joined` frames received by all members together.
    pub fn member_joined_frames(&self) -> u64 {
        self.shared.counters.member_joined.load(Ordering::Relaxed)
    }

    /// Brings the room up to `target` members, `batch` at a time. Each batch connects
    /// concurrently; the next starts only when every `member_joined` the batch caused has
    /// reached every member, so the join storm never piles up in the server's queues.
    /// Member names are `m<index>`.
    pub async fn join(
        &mut self,
        target: usize,
        batch: usize,
        mut progress: impl FnMut(JoinProgress),
    ) -> Result<(), LoadError> {
        let batch = batch.max(1);
        let start = Instant::now();
        while self.controls.len() < target {
            let first = self.controls.len();
            let last = (first + batch).min(target);
            let batch_start = Instant::now();
            let mut connecting = JoinSet::new();
            for index in first..last {
                let (url, room) = (self.url.clone(), self.room.clone());
                connecting.spawn(async move { (index, join_member(&url, &room, index).await) });
            }
            let mut joined: Vec<(usize, Ws)> = Vec::with_capacity(last - first);
            while let Some(done) = connecting.join_next().await {
                // The connecting tasks do not panic and are not aborted while awaited here.
                let Ok((index, ws)) = done else { continue };
                joined.push((index, ws.map_err(|reason| LoadError::Join { member: index, reason })?));
            }
            if joined.len() < last - first {
                let missing = (first..last).find(|i| !joined.iter().any(|(j, _)| j == i)).unwrap_or(first);
                return Err(LoadError::Join { member: missing, reason: "its task failed".into() });
            }
            // Member tasks are spawned in index order so that `controls[i]` is member `m{i}`.
            joined.sort_by_key(|(index, _)| *index);
            for (index, ws) in joined {
                let (control, control_rx) = mpsc::channel(16);
                let member = Member::new(index, ws, self.shared.clone());
                self.tasks.spawn(member.run(control_rx));
                self.controls.push(control);
            }
            let batch_connect = batch_start.elapsed();
            let k = self.controls.len() as u64;
            let expected = k * (k - 1) / 2;
            let drained = self
                .wait_for(
                    || self.shared.counters.member_joined.load(Ordering::Relaxed) >= expected,
                    Duration::from_secs(120),
                )
                .await;
            if !drained {
                return Err(LoadError::Drain {
                    arrived: self.member_joined_frames(),
                    expected,
                    members: self.controls.len(),
                    dropped: self.dropped(),
                });
            }
            progress(JoinProgress {
                joined: self.controls.len(),
                target,
                elapsed: start.elapsed(),
                batch_connect,
                batch_drain: batch_start.elapsed() - batch_connect,
            });
        }
        Ok(())
    }

    /// Member `sender` posts one message and every member must receive it; returns how long
    /// the last delivery took.
    pub async fn probe(&mut self, phase: usize, sender: usize, limit: Duration) -> Result<Duration, LoadError> {
        check_phase(phase)?;
        let started = Instant::now();
        self.control(sender, Control::Send { phase }).await?;
        let expected = self.controls.len() as u64;
        let c = &self.shared.counters;
        if !self.wait_for(|| c.deliveries[phase].load(Ordering::Relaxed) >= expected, limit).await {
            let reached = c.deliveries[phase].load(Ordering::Relaxed);
            return Err(LoadError::Probe { reached, expected, limit });
        }
        self.collect(phase).await;
        Ok(started.elapsed())
    }

    /// Member `sender` posts `messages` chat messages, one every `interval`; every member
    /// records when each arrives. Waits up to `limit` after the last one for stragglers.
    pub async fn fanout(
        &mut self,
        phase: usize,
        sender: usize,
        messages: usize,
        interval: Duration,
        limit: Duration,
    ) -> Result<FanoutReport, LoadError> {
        check_phase(phase)?;
        let members = self.controls.len();
        let mut tick = tokio::time::interval(interval);
        for _ in 0..messages {
            tick.tick().await;
            self.control(sender, Control::Send { phase }).await?;
        }
        let expected = (messages * members) as u64;
        let c = &self.shared.counters;
        // A shortfall is reported in the figures, not treated as a failure of the run.
        self.wait_for(|| c.deliveries[phase].load(Ordering::Relaxed) >= expected, limit).await;
        let per_member = self.collect(phase).await;
        let incomplete_members = per_member.iter().filter(|s| s.len() < messages).count();
        let mut latencies: Vec<u32> = per_member.iter().flatten().map(|s| s.latency_us).collect();
        Ok(FanoutReport {
            messages,
            members,
            delivered: latencies.len(),
            incomplete_members,
            latency: Latency::of(&mut latencies),
        })
    }

    /// Members `0..senders` post as fast as the server acknowledges, each keeping `window`
    /// messages unacknowledged, for `warmup` and then `duration`. Rates count only the
    /// `duration` interval; so do the latencies (by send time).
    ///
    /// The window is what makes the rate sustained: a sender's own copy of a message travels
    /// through the same server queues as everyone else's, so a sender cannot get more than
    /// `window` messages ahead of what the server is actually writing out, and no member's
    /// queue can hold more than about `senders * window` chat frames.
    pub async fn throughput(
        &mut self,
        phase: usize,
        senders: usize,
        window: usize,
        warmup: Duration,
        duration: Duration,
        drain_limit: Duration,
    ) -> Result<ThroughputReport, LoadError> {
        check_phase(phase)?;
        let senders = senders.clamp(1, self.controls.len().max(1));
        let window = window.max(1);
        for s in 0..senders {
            self.control(s, Control::Burst { phase, window }).await?;
        }
        let c = &self.shared.counters;
        tokio::time::sleep(warmup).await;
        let (a0, d0, t0) =
            (c.acked[phase].load(Ordering::Relaxed), c.deliveries[phase].load(Ordering::Relaxed), self.shared.now_ns());
        tokio::time::sleep(duration).await;
        let (a1, d1, t1) =
            (c.acked[phase].load(Ordering::Relaxed), c.deliveries[phase].load(Ordering::Relaxed), self.shared.now_ns());
        for s in 0..senders {
            self.control(s, Control::StopBurst).await?;
        }
        // Let the messages still in flight arrive, so that every member can be checked for
        // having received every message.
        let members = self.controls.len() as u64;
        // Members still missing messages after the limit show up in `incomplete_members`.
        self.wait_for(
            || {
                let sent = c.sent[phase].load(Ordering::Relaxed);
                c.acked[phase].load(Ordering::Relaxed) >= sent
                    && c.deliveries[phase].load(Ordering::Relaxed) >= sent * members
            },
            drain_limit,
        )
        .await;
        let sent_total = c.sent[phase].load(Ordering::Relaxed);
        let per_member = self.collect(phase).await;
        let incomplete_members = per_member.iter().filter(|s| (s.len() as u64) < sent_total).count();
        let mut latencies: Vec<u32> =
            per_member.iter().flatten().filter(|s| s.sent_ns >= t0 && s.sent_ns < t1).map(|s| s.latency_us).collect();
        let seconds = (t1 - t0) as f64 / 1e9;
        Ok(ThroughputReport {
            senders,
            window,
            seconds,
            accepted_per_sec: (a1 - a0) as f64 / seconds,
            deliveries_per_sec: (d1 - d0) as f64 / seconds,
            sent_total,
            incomplete_members,
            latency: Latency::of(&mut latencies),
        })
    }

    /// Marks the run as over: connections that end from now on (because the server stops)
    /// are not counted as drops.
    pub fn stopping(&self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
    }

    /// Waits up to `limit` for every member task to end (call after stopping the server),
    /// then closes what is left and aborts tasks that still do not end.
    pub async fn finish(mut self, limit: Duration) {
        self.stopping();
        let ended = tokio::time::timeout(limit, async { while self.tasks.join_next().await.is_some() {} }).await;
        if ended.is_err() {
            // Dropping the control queues makes each remaining member close its socket.
            self.controls.clear();
            let closed =
                tokio::time::timeout(Duration::from_secs(5), async { while self.tasks.join_next().await.is_some() {} })
                    .await;
            if closed.is_err() {
                self.tasks.shutdown().await;
            }
        }
    }

    async fn control(&self, member: usize, msg: Control) -> Result<(), LoadError> {
        let control = self.controls.get(member).ok_or(LoadError::MemberGone(member))?;
        control.send(msg).await.map_err(|_| LoadError::MemberGone(member))
    }

    /// Every member's deliveries of `phase`, in member order; a member whose task ended
    /// counts as having received nothing.
    async fn collect(&self, phase: usize) -> Vec<Vec<Sample>> {
        let mut replies = Vec::with_capacity(self.controls.len());
        for control in &self.controls {
            let (reply, answer) = oneshot::channel();
            let sent = control.send(Control::Collect { phase, reply }).await.is_ok();
            replies.push(sent.then_some(answer));
        }
        let mut out = Vec::with_capacity(replies.len());
        for answer in replies {
            out.push(match answer {
                Some(answer) => answer.await.unwrap_or_default(),
                None => Vec::new(),
            });
        }
        out
    }

    /// Polls `done` until it holds (true) or `limit` has passed (false).
    async fn wait_for(&self, mut done: impl FnMut() -> bool, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !done() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }
}

fn check_phase(phase: usize) -> Result<(), LoadError> {
    if phase >= MAX_PHASES {
        return Err(LoadError::Phase(phase));
    }
    Ok(())
}

/// Connects, reads `hello`, authenticates as `m<index>` and reads `welcome`; fails with a
/// sentence saying which step went wrong.
async fn join_member(url: &str, room: &str, index: usize) -> Result<Ws, String> {
    let (rest, tls) = if let Some(rest) = url.strip_prefix("ws://") {
        (rest, None)
    } else if let Some(rest) = url.strip_prefix("wss://") {
        // The server's self-signed certificate, whichever it is: a benchmark on loopback has
        // nobody in between to guard against.
        let config = hearth_client::pin::checked_config(None, Default::default()).map_err(|e| format!("TLS setup: {e}"))?;
        (rest, Some(config))
    } else {
        return Err(format!("{url} is not a ws:// or wss:// URL"));
    };
    let (addr, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let mut ws = tokio::time::timeout(JOIN_STEP_TIMEOUT, ClientSocket::connect(addr, path, index as u32, tls))
        .await
        .map_err(|_| format!("no WebSocket connection within {JOIN_STEP_TIMEOUT:?}"))?
        .map_err(|e| format!("WebSocket handshake: {e}"))?;
    expect(&mut ws, "hello").await?;
    let auth = ClientMsg::Auth {
        protocol: PROTOCOL_VERSION,
        room: room.into(),
        name: format!("m{index}"),
        password: None,
        token: None,
    };
    ws.send_text(&encode_client(&auth)).await.map_err(|e| format!("sending auth: {e}"))?;
    expect(&mut ws, "welcome").await?;
    Ok(ws)
}

/// Reads the next text message and fails unless its type is `ty`.
async fn expect(ws: &mut Ws, ty: &str) -> Result<(), String> {
    let mut text = String::new();
    tokio::time::timeout(JOIN_STEP_TIMEOUT, async {
        loop {
            match ws.next_message(&mut text) {
                Ok(Some(Incoming::Text)) => return Ok(()),
                Ok(Some(Incoming::Close(code, reason))) => {
                    return Err(format!("server closed the connection: {code:?} {reason}"));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for {ty}: {e}")),
            }
            match ws.read_more().await {
                Ok(0) => return Err(format!("connection ended while waiting for {ty}")),
                Ok(_) => {}
                Err(e) => return Err(format!("waiting for {ty}: {e}")),
            }
        }
    })
    .await
    .map_err(|_| format!("no {ty} within {JOIN_STEP_TIMEOUT:?}"))??;
    if tag(&text) == Some(ty) {
        return Ok(());
    }
    Err(match decode_server(&text) {
        Ok(ServerMsg::Error { code, message, .. }) => format!("expected {ty}, got error {}: {message}", code.as_str()),
        Ok(other) => format!("expected {ty}, got {}", other.type_name()),
        Err(e) => format!("expected {ty}, got an undecodable frame: {e}"),
    })
}

/// The `type` of a frame as the server writes it (`{"type":"…",` first), read without
/// parsing the rest. `None` when the frame is shaped otherwise; callers then decode it.
fn tag(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    rest.find('"').map(|end| &rest[..end])
}

/// A `client_id` the swarm wrote: `phase.sender.seq.nanos`.
struct OurId {
    phase: usize,
    sender: usize,
    sent_ns: u64,
}

impl OurId {
    fn format(phase: usize, sender: usize, seq: u64, sent_ns: u64) -> String {
        format!("{phase}.{sender}.{seq}.{sent_ns}")
    }

    fn parse(id: &str) -> Option<OurId> {
        let mut parts = id.split('.');
        let phase = parts.next()?.parse().ok()?;
        let sender = parts.next()?.parse().ok()?;
        let _seq: u64 = parts.next()?.parse().ok()?;
        let sent_ns = parts.next()?.parse().ok()?;
        if parts.next().is_some() || phase >= MAX_PHASES {
            return None;
        }
        Some(OurId { phase, sender, sent_ns })
    }
}

/// The `client_id` of a `chat` frame. The server writes `message.id` (a number) and then
/// `client_id` before any user text, so the first `"client_id":"` is the right one; if the
/// shape ever changes, the frame is decoded properly instead.
fn chat_client_id(text: &str) -> Option<String> {
    const KEY: &str = r#""client_id":""#;
    if let Some(start) = text.find(KEY) {
        let rest = &text[start + KEY.len()..];
        if let Some(end) = rest.find('"') {
            return Some(rest[..end].to_owned());
        }
    }
    match decode_server(text) {
        Ok(ServerMsg::Chat { message }) => Some(message.client_id),
        _ => None,
    }
}

/// One member's connection and what it recorded.
struct Member {
    index: usize,
    ws: Ws,
    shared: Arc<Shared>,
    seq: u64,
    /// Deliveries per phase, until collected.
    samples: Vec<Vec<Sample>>,
    /// The phase being sent as fast as acknowledgements allow, if any.
    burst: Option<usize>,
    in_flight: usize,
    /// The last `disconnect` the server sent, to explain a drop.
    notice: Option<String>,
}

impl Member {
    fn new(index: usize, ws: Ws, shared: Arc<Shared>) -> Member {
        Member {
            index,
            ws,
            shared,
            seq: 0,
            samples: vec![Vec::new(); MAX_PHASES],
            burst: None,
            in_flight: 0,
            notice: None,
        }
    }

    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let mut text = String::new();
        let ended = 'member: loop {
            // Act on every complete message already read before waiting again.
            loop {
                match self.ws.next_message(&mut text) {
                    Ok(Some(Incoming::Text)) => {
                        if let Err(e) = self.on_text(&text).await {
                            break 'member format!("send failed: {e}");
                        }
                    }
                    Ok(Some(Incoming::Close(code, reason))) => {
                        break 'member format!("closed by the server: {code:?} {reason}");
                    }
                    Ok(None) => break,
                    Err(e) => break 'member format!("websocket error: {e}"),
                }
            }
            tokio::select! {
                read = self.ws.read_more() => match read {
                    Ok(0) => break "connection ended".to_owned(),
                    Ok(_) => {}
                    Err(e) => break format!("read failed: {e}"),
                },
                ctl = control.recv() => match ctl {
                    Some(ctl) => {
                        if let Err(e) = self.on_control(ctl).await {
                            break format!("send failed: {e}");
                        }
                    }
                    None => {
                        // The swarm is finishing: leave politely, but do not wait long.
                        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close()).await;
                        return;
                    }
                },
            }
        };
        if !self.shared.stopping.load(Ordering::Relaxed) {
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let notice = self.notice.take().map(|n| format!(" after {n}")).unwrap_or_default();
            Shared::keep(&self.shared.drop_reasons, format!("m{}: {ended}{notice}", self.index));
        }
    }

    async fn on_text(&mut self, text: &str) -> io::Result<()> {
        let c = &self.shared.counters;
        match tag(text) {
            Some("member_joined") => {
                c.member_joined.fetch_add(1, Ordering::Relaxed);
            }
            Some("chat") => {
                let now = self.shared.now_ns();
                let Some(id) = chat_client_id(text).as_deref().and_then(OurId::parse) else { return Ok(()) };
                let latency_us = u32::try_from(now.saturating_sub(id.sent_ns) / 1000).unwrap_or(u32::MAX);
                self.samples[id.phase].push(Sample { sent_ns: id.sent_ns, latency_us });
                c.deliveries[id.phase].fetch_add(1, Ordering::Relaxed);
                if id.sender == self.index {
                    c.acked[id.phase].fetch_add(1, Ordering::Relaxed);
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.refill().await?;
                }
            }
            // Frames a member takes no action on are not decoded at all.
            Some("history" | "member_left" | "member_updated" | "typing" | "pong") => {}
            _ => self.on_other(text).await?,
        }
        Ok(())
    }

    async fn on_other(&mut self, text: &str) -> io::Result<()> {
        let c = &self.shared.counters;
        match decode_server(text) {
            Ok(ServerMsg::Ping { nonce }) => {
                // Members send nothing else, so without this the server's heartbeat would
                // time them out after 30 s.
                self.send(&ClientMsg::Pong { nonce }).await?;
            }
            Ok(ServerMsg::Error { code, message, src, client_id }) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                let src = src.unwrap_or_default();
                Shared::keep(
                    &self.shared.error_samples,
                    format!("m{}: {} on {src}: {message}", self.index, code.as_str()),
                );
                // A refused message of ours will never be acknowledged: free its slot.
                if client_id.as_deref().and_then(OurId::parse).is_some() {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.refill().await?;
                }
            }
            Ok(ServerMsg::RateLimit { retry_after_ms, src }) => {
                c.rate_limited.fetch_add(1, Ordering::Relaxed);
                let src = src.unwrap_or_default();
                Shared::keep(
                    &self.shared.error_samples,
                    format!("m{}: rate_limit on {src}, retry after {retry_after_ms} ms", self.index),
                );
                if src == "chat_send" {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.refill().await?;
                }
            }
            Ok(ServerMsg::Disconnect { code, message }) => {
                self.notice = Some(format!("disconnect {}: {message}", code.as_str()));
            }
            Ok(ServerMsg::Shutdown { message }) => {
                self.notice = Some(format!("shutdown: {message}"));
            }
            Ok(_) => {}
            Err(e) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                Shared::keep(&self.shared.error_samples, format!("m{}: undecodable frame: {e}", self.index));
            }
        }
        Ok(())
    }

    async fn on_control(&mut self, ctl: Control) -> io::Result<()> {
        match ctl {
            Control::Send { phase } => self.send_chat(phase).await?,
            Control::Burst { phase, window } => {
                self.burst = Some(phase);
                self.in_flight = 0;
                for _ in 0..window {
                    self.send_chat(phase).await?;
                    self.in_flight += 1;
                }
            }
            Control::StopBurst => self.burst = None,
            Control::Collect { phase, reply } => {
                let samples = self.samples.get_mut(phase).map(std::mem::take).unwrap_or_default();
                let _ = reply.send(samples);
            }
        }
        Ok(())
    }

    /// In a burst, replaces an acknowledged message with a new one.
    async fn refill(&mut self) -> io::Result<()> {
        if let Some(phase) = self.burst {
            self.send_chat(phase).await?;
            self.in_flight += 1;
        }
        Ok(())
    }

    async fn send_chat(&mut self, phase: usize) -> io::Result<()> {
        self.seq += 1;
        let sent_ns = self.shared.now_ns();
        let msg = ClientMsg::ChatSend {
            channel: self.shared.channel.clone(),
            client_id: OurId::format(phase, self.index, self.seq, sent_ns),
            text: format!("load test message {} from m{}", self.seq, self.index),
            reply_to: None,
            image: None,
        };
        self.shared.counters.sent[phase].fetch_add(1, Ordering::Relaxed);
        self.send(&msg).await
    }

    async fn send(&mut self, msg: &ClientMsg) -> io::Result<()> {
        self.ws.send_text(&encode_client(msg)).await
    }
}
