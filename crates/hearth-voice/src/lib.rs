//! Hearth's voice session: the part of the client that turns "I am in voice channel X" into
//! audio.
//!
//! The client core ([`hearth_client`]) knows who is in which voice channel and relays WebRTC
//! signaling; the peer crate ([`hearth_peer`]) keeps one WebRTC connection per member; the
//! media crate ([`hearth_media`]) captures, encodes, buffers, decodes and mixes. A
//! [`VoiceSession`] is the one task that owns a mesh, a capture pipeline and a mixer and
//! keeps them in step with the client's events:
//!
//! - it connects to exactly the other members in our voice channel (reconciling after every
//!   event, so joins, leaves, moves and reconnects all take the same path);
//! - it encodes each captured frame once and sends the packet to every peer;
//! - it feeds each peer's packets to that peer's jitter buffer and plays the mix;
//! - it tells the room when we start and stop speaking, and applies mute, deafen, per-user
//!   volume and per-user local mute.
//!
//! The front end (desktop app, `hearth-cli`, tests) reads the client's events, hands each one
//! to [`VoiceHandle::client_event`] and keeps using the client for everything else.
//!
//! # Audio clock
//! Synthetic sources and sinks (tones, WAV files, recorders) have no clock of their own, so
//! the session paces them by the wall clock: every 10 ms it reads and plays as many samples
//! as have become due since it started. Devices bring their own clock: capture is read as it
//! arrives and playback is kept about two frames ahead of the device.
#![deny(missing_docs)]

pub mod signaling;

pub use signaling::{RewriteFuture, SignalRewriter};
use signaling::{ice_server, signal_in, signal_out};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use hearth_client::ClientHandle;
use hearth_client::core::{Command, Event};
use hearth_media::{
    AudioSink, AudioSource, CaptureConfig, CapturePipeline, CaptureStream, JitterConfig, MediaError,
    Mixer, PlaybackStream, ReceiverStats, SAMPLE_RATE,
};
use hearth_peer::{ConnectionState, Mesh, PeerConfig};
use hearth_wire::MemberId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// Samples in 10 ms at 48 kHz: the session's tick.
const TICK_SAMPLES: usize = (SAMPLE_RATE / 100) as usize;
/// How far ahead of a playback device the session keeps its queue, in samples (20 ms).
const DEVICE_LEAD: usize = 2 * TICK_SAMPLES;
/// A synthetic source or sink never catches up more than this at once (after a stall).
const MAX_CATCH_UP: usize = 10 * TICK_SAMPLES;
/// Control messages queued before senders wait.
const CONTROL_QUEUE: usize = 256;

/// Why a voice session could not start.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// The audio pipeline or a device could not be set up.
    #[error("audio: {0}")]
    Media(#[from] MediaError),
    /// The session has stopped.
    #[error("the voice session has stopped")]
    Stopped,
}

/// Where captured audio comes from.
pub enum AudioInput {
    /// A synthetic or file source, paced by the session. It must produce 48 kHz mono.
    Source(Box<dyn AudioSource + Send>),
    /// A capture device by name, or the default one.
    Device(Option<String>),
}

/// Where the mix goes.
pub enum AudioOutput {
    /// A sink (a WAV file, a recorder), paced by the session at 48 kHz mono.
    Sink(Box<dyn AudioSink + Send>),
    /// A playback device by name, or the default one.
    Device(Option<String>),
    /// Nowhere (a send-only bot).
    Discard,
}

/// Settings of a session.
#[derive(Debug, Clone, Default)]
pub struct VoiceConfig {
    /// Capture processing and Opus settings.
    pub capture: CaptureConfig,
    /// Jitter buffer settings for every peer.
    pub jitter: JitterConfig,
    /// WebRTC settings; the room's ICE servers are added to these.
    pub peer: PeerConfig,
    /// Rewrites every signal (offer, answer, trickled candidate) before it is sent to another
    /// member; `None` sends them as the mesh made them.
    pub outgoing_signal: Option<SignalRewriter>,
}

/// What a session reports to the front end.
#[derive(Debug, Clone, PartialEq)]
pub enum VoiceEvent {
    /// We started or stopped transmitting (voice activity or push-to-talk).
    Speaking(bool),
    /// The connection to a member changed state.
    PeerState {
        /// The member.
        member: MemberId,
        /// Its new state.
        state: ConnectionState,
    },
    /// An audio device changed under us (unplugged, fell back to the default, failed).
    Device(String),
}

/// Counters and levels of a running session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoiceStats {
    /// Members we have a peer connection with.
    pub peers: Vec<MemberId>,
    /// Packets handed to the mesh (each goes to every peer).
    pub packets_sent: u64,
    /// Packets received from all peers.
    pub packets_received: u64,
    /// Whether we are transmitting.
    pub speaking: bool,
    /// Input level of the last captured frame, dBFS.
    pub level_dbfs: f32,
    /// Our voice channel, as far as the session knows.
    pub channel: Option<String>,
    /// Each peer's receive counters: jitter buffer, decoded, FEC-recovered and concealed
    /// frames.
    pub receivers: BTreeMap<MemberId, ReceiverStats>,
}

enum Control {
    ClientEvent(Box<Event>),
    SetMuted(bool),
    SetDeafened(bool),
    PushToTalk(bool),
    UserVolume(MemberId, f32),
    UserMuted(MemberId, bool),
    Stats(oneshot::Sender<VoiceStats>),
    Capture(CaptureConfig),
    /// Boxed: open streams are large, and the other messages small.
    Audio(Box<(Option<Input>, Option<Output>)>),
    Shutdown,
}

/// Commands to a running [`VoiceSession`]; cheap to clone.
#[derive(Clone)]
pub struct VoiceHandle {
    control: mpsc::Sender<Control>,
}

impl VoiceHandle {
    /// Hands the session a client event. Events that do not concern voice are ignored, so a
    /// front end can pass on every event it reads.
    pub async fn client_event(&self, event: &Event) -> Result<(), VoiceError> {
        if concerns_voice(event) {
            self.send(Control::ClientEvent(Box::new(event.clone()))).await?;
        }
        Ok(())
    }

    /// Mutes or unmutes the microphone (and tells the room).
    pub async fn set_muted(&self, muted: bool) -> Result<(), VoiceError> {
        self.send(Control::SetMuted(muted)).await
    }

    /// Deafens (stops playback and mutes the microphone) or undeafens.
    pub async fn set_deafened(&self, deafened: bool) -> Result<(), VoiceError> {
        self.send(Control::SetDeafened(deafened)).await
    }

    /// Presses (true) or releases (false) the push-to-talk key; only matters in
    /// push-to-talk mode.
    pub async fn push_to_talk(&self, pressed: bool) -> Result<(), VoiceError> {
        self.send(Control::PushToTalk(pressed)).await
    }

    /// Sets how loud one member plays for us (1.0 is unchanged).
    pub async fn set_user_volume(&self, member: MemberId, volume: f32) -> Result<(), VoiceError> {
        self.send(Control::UserVolume(member, volume)).await
    }

    /// Mutes one member for us only.
    pub async fn set_user_muted(&self, member: MemberId, muted: bool) -> Result<(), VoiceError> {
        self.send(Control::UserMuted(member, muted)).await
    }

    /// Applies new capture settings (frame length, noise suppression, voice activation or
    /// push-to-talk) to the running session: the calls stay up, and the next frame is
    /// processed with them.
    pub async fn set_capture(&self, config: CaptureConfig) -> Result<(), VoiceError> {
        self.send(Control::Capture(config)).await
    }

    /// Moves the session to another microphone and/or speaker (`None` keeps the current
    /// one) while the calls stay up. The new devices are opened here, on a blocking thread,
    /// while the session goes on with the old ones; only a device that opened replaces
    /// anything, so on an error nothing changed.
    pub async fn set_devices(&self, input: Option<AudioInput>, output: Option<AudioOutput>) -> Result<(), VoiceError> {
        let (input, output) = tokio::task::spawn_blocking(move || {
            let input = input.map(open_input).transpose()?;
            let output = output.map(open_output).transpose()?;
            Ok::<_, MediaError>((input, output))
        })
        .await
        .map_err(|_| VoiceError::Stopped)??;
        self.send(Control::Audio(Box::new((input, output)))).await
    }

    /// The session's counters and state.
    pub async fn stats(&self) -> Result<VoiceStats, VoiceError> {
        let (tx, rx) = oneshot::channel();
        self.send(Control::Stats(tx)).await?;
        rx.await.map_err(|_| VoiceError::Stopped)
    }

    /// Asks the session to close its peer connections and stop.
    pub async fn shutdown(&self) -> Result<(), VoiceError> {
        self.send(Control::Shutdown).await
    }

    async fn send(&self, msg: Control) -> Result<(), VoiceError> {
        self.control.send(msg).await.map_err(|_| VoiceError::Stopped)
    }
}

fn concerns_voice(event: &Event) -> bool {
    matches!(
        event,
        Event::Joined { .. }
            | Event::MemberJoined(_)
            | Event::MemberUpdated(_)
            | Event::MemberLeft { .. }
            | Event::VoiceJoined { .. }
            | Event::VoiceLeft { .. }
            | Event::Signal { .. }
            | Event::IceServers(_)
            | Event::Closed(_)
    )
}

/// A running voice session: its handle, its events and its task.
pub struct VoiceSession {
    /// Commands to the session.
    pub handle: VoiceHandle,
    /// What the session reports.
    pub events: mpsc::UnboundedReceiver<VoiceEvent>,
    /// The session's task; it ends after [`VoiceHandle::shutdown`], when every handle is
    /// dropped, or when the client closes for good.
    pub task: JoinHandle<()>,
}

impl VoiceSession {
    /// Opens the audio input and output and starts the session task. `client` is used to
    /// relay signaling and report speaking and mute state.
    pub fn spawn(
        client: ClientHandle,
        config: VoiceConfig,
        input: AudioInput,
        output: AudioOutput,
    ) -> Result<VoiceSession, VoiceError> {
        let pipeline = CapturePipeline::new(config.capture.clone())?;
        let input = open_input(input)?;
        let output = open_output(output)?;
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (events_tx, events) = mpsc::unbounded_channel();
        let session = Session {
            client,
            mixer: Mixer::new(config.jitter.clone()),
            config,
            pipeline,
            input,
            output,
            events: events_tx,
            me: None,
            channel: None,
            members: BTreeMap::new(),
            ice_servers: Vec::new(),
            mesh: None,
            muted: false,
            deafened: false,
            user_volume: BTreeMap::new(),
            user_muted: BTreeSet::new(),
            pending: Vec::new(),
            frame: Vec::new(),
            mix: vec![0.0; TICK_SAMPLES],
            packets_sent: 0,
            packets_received: 0,
            level_dbfs: f32::NEG_INFINITY,
            due_total: 0,
        };
        let task = tokio::spawn(session.run(control_rx));
        Ok(VoiceSession { handle: VoiceHandle { control }, events, task })
    }
}

/// Opens a device (this may block on the sound server); a paced source starts due now.
fn open_input(input: AudioInput) -> Result<Input, MediaError> {
    Ok(match input {
        AudioInput::Source(source) => Input::Paced { source, due: 0 },
        AudioInput::Device(name) => Input::Device(Box::new(CaptureStream::open(name.as_deref())?)),
    })
}

/// Opens a device (this may block on the sound server); a paced sink starts due now.
fn open_output(output: AudioOutput) -> Result<Output, MediaError> {
    Ok(match output {
        AudioOutput::Sink(sink) => Output::Paced { sink, due: 0 },
        AudioOutput::Device(name) => Output::Device(Box::new(PlaybackStream::open(name.as_deref())?)),
        AudioOutput::Discard => Output::Discard,
    })
}

// The device streams are boxed: they are ten times the size of the other variants, and
// the session holds one of each for its whole life.
enum Input {
    Paced { source: Box<dyn AudioSource + Send>, due: u64 },
    Device(Box<CaptureStream>),
}

enum Output {
    Paced { sink: Box<dyn AudioSink + Send>, due: u64 },
    Device(Box<PlaybackStream>),
    Discard,
}

/// The session task's state; only the task touches it.
struct Session {
    client: ClientHandle,
    config: VoiceConfig,
    pipeline: CapturePipeline,
    mixer: Mixer<MemberId>,
    input: Input,
    output: Output,
    events: mpsc::UnboundedSender<VoiceEvent>,
    me: Option<MemberId>,
    channel: Option<String>,
    /// Every member of the room and their voice channel.
    members: BTreeMap<MemberId, Option<String>>,
    ice_servers: Vec<hearth_peer::IceServer>,
    mesh: Option<(Mesh, mpsc::Receiver<hearth_peer::Event>)>,
    muted: bool,
    deafened: bool,
    user_volume: BTreeMap<MemberId, f32>,
    user_muted: BTreeSet<MemberId>,
    /// Captured samples not yet making a whole frame.
    pending: Vec<f32>,
    frame: Vec<f32>,
    mix: Vec<f32>,
    packets_sent: u64,
    packets_received: u64,
    level_dbfs: f32,
    /// Samples due since the session started, as of the last tick (paces what is swapped in).
    due_total: u64,
}

impl Session {
    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = control.recv() => match msg {
                    Some(Control::Shutdown) | None => break,
                    Some(Control::ClientEvent(event)) => {
                        if matches!(*event, Event::Closed(_)) {
                            break;
                        }
                        self.on_client_event(*event).await;
                    }
                    Some(other) => self.on_control(other).await,
                },
                event = next_mesh_event(&mut self.mesh) => match event {
                    Some(event) => self.on_mesh_event(event, start.elapsed()).await,
                    // The mesh's queue only closes with the mesh; drop our side of it.
                    None => {
                        if let Some((mesh, _)) = self.mesh.take() {
                            mesh.close().await;
                        }
                    }
                },
                _ = tick.tick() => self.on_tick(start.elapsed()).await,
            }
        }
        if let Some((mesh, _)) = self.mesh.take() {
            mesh.close().await;
        }
    }

    async fn on_client_event(&mut self, event: Event) {
        match event {
            Event::Joined { you, members, ice_servers, .. } => {
                // A new connection means new member ids for everyone: no old peer can be
                // reused.
                if self.me != Some(you) {
                    self.close_mesh().await;
                }
                self.me = Some(you);
                self.members = members.into_iter().map(|m| (m.id, m.voice_channel)).collect();
                self.ice_servers = ice_servers.into_iter().map(ice_server).collect();
            }
            Event::MemberJoined(m) | Event::MemberUpdated(m) => {
                self.members.insert(m.id, m.voice_channel);
            }
            Event::MemberLeft { id, .. } => {
                self.members.remove(&id);
            }
            Event::VoiceJoined { channel, .. } => self.channel = Some(channel),
            Event::VoiceLeft { channel } => {
                if self.channel.as_deref() == Some(channel.as_str()) {
                    self.channel = None;
                }
            }
            Event::IceServers(servers) => self.ice_servers = servers.into_iter().map(ice_server).collect(),
            Event::Signal { from, data, camera: None } => {
                match &mut self.mesh {
                    Some((mesh, _)) if mesh.members().any(|m| m == from) => mesh.handle_signal(from, signal_in(data)),
                    // Signaling from someone not in our channel (a stale peer, a member
                    // who just left, or a stranger) is not a reason to connect to them.
                    _ => tracing::debug!(from, "signal from a member we have no peer for; dropped"),
                }
                return;
            }
            _ => return,
        }
        self.reconcile().await;
    }

    /// Connects to exactly the other members of our voice channel.
    async fn reconcile(&mut self) {
        let (Some(me), Some(channel)) = (self.me, self.channel.as_deref()) else {
            self.close_mesh().await;
            return;
        };
        let wanted: BTreeSet<MemberId> = self
            .members
            .iter()
            .filter(|(id, ch)| **id != me && ch.as_deref() == Some(channel))
            .map(|(id, _)| *id)
            .collect();
        if self.mesh.is_none() {
            let mut config = self.config.peer.clone();
            config.ice_servers.extend(self.ice_servers.iter().cloned());
            self.mesh = Some(Mesh::new(me, config));
        }
        let Some((mesh, _)) = &mut self.mesh else { return };
        let current: BTreeSet<MemberId> = mesh.members().collect();
        for gone in current.difference(&wanted) {
            mesh.remove_member(*gone).await;
            self.mixer.remove_peer(gone);
        }
        for new in wanted.difference(&current) {
            mesh.add_member(*new);
            match self.mixer.add_peer(*new) {
                Ok(peer) => {
                    peer.set_volume(self.user_volume.get(new).copied().unwrap_or(1.0));
                    peer.set_muted(self.user_muted.contains(new));
                }
                Err(e) => tracing::warn!(member = new, error = %e, "cannot decode this member's audio"),
            }
        }
    }

    async fn close_mesh(&mut self) {
        if let Some((mesh, _)) = self.mesh.take() {
            for member in mesh.members().collect::<Vec<_>>() {
                self.mixer.remove_peer(&member);
            }
            mesh.close().await;
        }
    }

    async fn on_control(&mut self, msg: Control) {
        match msg {
            Control::SetMuted(muted) => {
                self.muted = muted;
                self.apply_voice_state().await;
            }
            Control::SetDeafened(deafened) => {
                self.deafened = deafened;
                self.mixer.set_deafened(deafened);
                self.apply_voice_state().await;
            }
            Control::PushToTalk(pressed) => self.pipeline.set_push_to_talk(pressed),
            Control::UserVolume(member, volume) => {
                self.user_volume.insert(member, volume);
                if let Some(peer) = self.mixer.peer_mut(&member) {
                    peer.set_volume(volume);
                }
            }
            Control::UserMuted(member, muted) => {
                if muted {
                    self.user_muted.insert(member);
                } else {
                    self.user_muted.remove(&member);
                }
                if let Some(peer) = self.mixer.peer_mut(&member) {
                    peer.set_muted(muted);
                }
            }
            Control::Stats(reply) => {
                let peers: Vec<MemberId> =
                    self.mesh.as_ref().map(|(m, _)| m.members().collect()).unwrap_or_default();
                let receivers = peers
                    .iter()
                    .filter_map(|id| Some((*id, self.mixer.peer_mut(id)?.stats())))
                    .collect();
                let _ = reply.send(VoiceStats {
                    peers,
                    receivers,
                    packets_sent: self.packets_sent,
                    packets_received: self.packets_received,
                    speaking: self.pipeline.speaking(),
                    level_dbfs: self.level_dbfs,
                    channel: self.channel.clone(),
                });
            }
            Control::Capture(config) => {
                if let Err(e) = self.pipeline.reconfigure(config.clone()) {
                    tracing::warn!(error = %e, "capture settings refused");
                    return;
                }
                // Samples gathered for a frame of the old length go into frames of the new;
                // a change of speaking (push-to-talk with the key up) comes out of the next
                // frame like any other.
                self.config.capture = config;
            }
            Control::Audio(audio) => {
                let (input, output) = *audio;
                // Replacing the devices is a restart of the audio ends only: the pipeline, the
                // mixer's jitter buffers and the peer connections stay, so the calls do not
                // notice beyond the moment of the switch.
                if let Some(mut input) = input {
                    if let Input::Paced { due, .. } = &mut input {
                        *due = self.due_total;
                    }
                    self.input = input;
                    self.pending.clear();
                }
                if let Some(mut output) = output {
                    if let Output::Paced { due, .. } = &mut output {
                        *due = self.due_total;
                    }
                    self.output = output;
                }
            }
            Control::ClientEvent(_) | Control::Shutdown => {}
        }
    }

    /// Deafen implies mute: nobody should hear someone who cannot hear them.
    async fn apply_voice_state(&mut self) {
        self.pipeline.set_muted(self.muted || self.deafened);
        let cmd = Command::VoiceState { muted: self.muted, deafened: self.deafened };
        let _ = self.client.send(cmd).await;
    }

    async fn on_mesh_event(&mut self, event: hearth_peer::Event, now: Duration) {
        match event {
            hearth_peer::Event::Signal { member, signal } => {
                let signal = match &self.config.outgoing_signal {
                    Some(rewriter) => rewriter.rewrite(signal).await,
                    None => signal,
                };
                let _ = self.client.send(Command::Signal { to: member, data: signal_out(signal), camera: None }).await;
            }
            hearth_peer::Event::Audio { member, packet } => {
                self.packets_received += 1;
                let pushed =
                    self.mixer.push_packet(&member, packet.sequence_number, packet.timestamp, &packet.payload, now);
                if let Some(Err(e)) = pushed {
                    tracing::debug!(member, error = %e, "dropped a bad audio packet");
                }
            }
            hearth_peer::Event::State { member, state } => {
                let _ = self.events.send(VoiceEvent::PeerState { member, state });
            }
            hearth_peer::Event::Closed { member } => tracing::debug!(member, "peer connection closed"),
        }
    }

    async fn on_tick(&mut self, elapsed: Duration) {
        let due_total = elapsed.as_micros() as u64 * u64::from(SAMPLE_RATE) / 1_000_000;
        self.due_total = due_total;
        self.capture(due_total).await;
        self.play(due_total, elapsed);
    }

    async fn capture(&mut self, due_total: u64) {
        match &mut self.input {
            Input::Paced { source, due } => {
                let want = (due_total.saturating_sub(*due) as usize).min(MAX_CATCH_UP);
                *due = due_total;
                let start = self.pending.len();
                self.pending.resize(start + want, 0.0);
                let mut filled = start;
                while filled < self.pending.len() {
                    match source.read(&mut self.pending[filled..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => filled += n,
                    }
                }
                // A finished file source leaves silence, so peers hear the end cleanly.
                self.pending[filled..].fill(0.0);
            }
            Input::Device(stream) => {
                stream.read(&mut self.pending);
                while let Some(event) = stream.poll_event() {
                    tracing::info!(?event, "capture device changed");
                    let _ = self.events.send(VoiceEvent::Device(format!("{event:?}")));
                }
            }
        }
        let frame_samples = self.pipeline.frame_samples();
        while self.pending.len() >= frame_samples {
            self.frame.clear();
            self.frame.extend(self.pending.drain(..frame_samples));
            let out = match self.pipeline.process(&self.frame) {
                Ok(out) => out,
                Err(e) => {
                    tracing::warn!(error = %e, "capture frame failed");
                    continue;
                }
            };
            self.level_dbfs = out.level.rms_dbfs;
            if let Some(speaking) = out.speaking_changed {
                let _ = self.events.send(VoiceEvent::Speaking(speaking));
                if self.channel.is_some() {
                    let _ = self.client.send(Command::Speaking { speaking }).await;
                }
            }
            if let (Some(packet), Some((mesh, _))) = (out.packet, &self.mesh) {
                let duration = Duration::from_micros(u64::from(packet.samples) * 1_000_000 / u64::from(SAMPLE_RATE));
                // The pipeline numbers every frame, sent or not, so the RTP timestamp jumps
                // over silence and the receiver does not mistake a pause for lateness.
                mesh.send_audio_at(Bytes::from(packet.data), packet.timestamp, duration);
                self.packets_sent += 1;
            }
        }
    }

    fn play(&mut self, due_total: u64, now: Duration) {
        match &mut self.output {
            Output::Paced { sink, due } => {
                let mut want = (due_total.saturating_sub(*due) as usize).min(MAX_CATCH_UP);
                *due = due_total;
                // The mixer renders whole 10 ms blocks; keep the remainder due for later.
                let rest = want % TICK_SAMPLES;
                *due -= rest as u64;
                want -= rest;
                for _ in 0..want / TICK_SAMPLES {
                    self.mixer.mix(&mut self.mix, now);
                    if let Err(e) = sink.write(&self.mix) {
                        tracing::warn!(error = %e, "audio sink failed");
                    }
                }
            }
            Output::Device(stream) => {
                while stream.queued_frames() < DEVICE_LEAD && stream.writable() >= TICK_SAMPLES {
                    self.mixer.mix(&mut self.mix, now);
                    stream.write(&self.mix);
                }
                while let Some(event) = stream.poll_event() {
                    let _ = self.events.send(VoiceEvent::Device(format!("{event:?}")));
                }
            }
            Output::Discard => {
                // Keep the jitter buffers draining so they do not grow without bound.
                self.mixer.mix(&mut self.mix, now);
            }
        }
    }
}

async fn next_mesh_event(mesh: &mut Option<(Mesh, mpsc::Receiver<hearth_peer::Event>)>) -> Option<hearth_peer::Event> {
    match mesh {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}
