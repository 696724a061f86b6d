//! Hearth's camera session: the part of the client that turns "my camera is on" and "I am
//! watching Alice" into video.
//!
//! Cameras follow the BareRTC model. A member turns their camera on; others *open* it when
//! they want to watch. The server keeps the list of watchers and tells the broadcaster
//! (`watchers`), and the broadcaster sends video to exactly those members, each over its own
//! one-way peer connection (`hearth_peer::CameraSend`). No video is sent to anyone who has
//! not opened the camera; closing, booting, turning the camera off and leaving each stop the
//! stream at once, because the connection to that watcher is closed.
//!
//! A [`VideoSession`] is the one task that owns:
//! - the local camera, when on: a capture thread (source and VP8 encoder, see
//!   `capture.rs`) whose frames are sent once to every watcher; a keyframe is forced when a
//!   watcher connects and when a receiver asks (PLI), and the bitrate follows the worst
//!   watcher's loss (`BitrateController`);
//! - the cameras we opened: one `hearth_peer::CameraWatch` whose depacketized frames are
//!   decoded per broadcaster and put in that camera's [`FrameSlot`], where the newest frame
//!   wins if the front end draws slower than frames arrive.
//!
//! Like the voice session, it is driven by the client's events, which the front end hands to
//! [`VideoHandle::client_event`], and it relays its signaling through the client, tagged
//! with the camera's owner (`camera` on the wire) so it never mixes with voice signaling.
#![deny(missing_docs)]

mod capture;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hearth_client::ClientHandle;
use hearth_client::core::{Command, Event};
use hearth_media::video::{
    BitrateConfig, BitrateController, FrameSlot, I420Frame, VideoFormat, VideoSource, Vp8Decoder,
};
use hearth_peer::{
    CameraEvent, CameraSend, CameraWatch, ConnectionState, PeerConfig, VideoFrameOut,
};
use hearth_voice::SignalRewriter;
use hearth_voice::signaling::{ice_server, signal_in, signal_out};
use hearth_wire::MemberId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::capture::{CaptureControl, CaptureOutput, CaptureThread, EncoderSettings};

/// Control messages queued before senders wait.
const CONTROL_QUEUE: usize = 64;

/// Why a camera session call failed.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The session has stopped.
    #[error("the camera session has stopped")]
    Stopped,
}

/// Settings of a camera session.
#[derive(Debug, Clone)]
pub struct VideoConfig {
    /// WebRTC settings; the room's ICE servers are added to these.
    pub peer: PeerConfig,
    /// The encoder's bitrate when the camera turns on, kb/s.
    pub start_kbps: u32,
    /// The lowest bitrate loss may push the encoder to, kb/s.
    pub min_kbps: u32,
    /// The highest bitrate, kb/s.
    pub max_kbps: u32,
    /// Encoder threads for frames of 1280x720 and more; smaller frames always get one (see
    /// [`encoder_threads`]).
    pub encoder_threads: u32,
    /// Frames between forced keyframes, so a receiver that lost one recovers even if its
    /// request is lost too.
    pub keyframe_interval: u32,
    /// Rewrites every outgoing signal (tests point peers at a lossy relay with it).
    pub outgoing_signal: Option<SignalRewriter>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            peer: PeerConfig::default(),
            // A LAN has room: start high enough for a sharp 640x480 and let loss push down.
            start_kbps: 1200,
            min_kbps: 150,
            max_kbps: 2500,
            // One: libvpx's extra VP8 encoder threads wait for each other by spinning, which
            // on a 2-core machine starves everything else (see `encoder_threads`).
            encoder_threads: 1,
            keyframe_interval: 300,
            outgoing_signal: None,
        }
    }
}

/// How many threads encode frames of `format`, given the configured most. libvpx's VP8
/// encoder threads hand rows to each other by spinning on `sched_yield`, so a second thread
/// only pays off when one cannot keep up: at 640x480 one thread encodes a frame in ~2.3 ms
/// (docs/benchmarks.md), while the desktop benchmark's four 640x480 cameras with two threads
/// each kept both cores of the test machine busy spinning and sent 7-13 fps instead of 30.
pub fn encoder_threads(format: VideoFormat, most: u32) -> u32 {
    if u64::from(format.width) * u64::from(format.height) >= 1280 * 720 {
        most.max(1)
    } else {
        1
    }
}

/// What a session reports to the front end.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoEvent {
    /// Our camera stopped by itself (unplugged, failed, or a file source ended); the room was
    /// told it is off. The text says why, for the user.
    CameraEnded(String),
    /// Who watches our camera now.
    Watchers(Vec<MemberId>),
    /// The server accepted our request to watch `member`'s camera.
    Opened(MemberId),
    /// We no longer receive `member`'s camera (we closed it, they turned it off, booted us,
    /// blocked us or left).
    Closed(MemberId),
    /// The server refused to let us watch `member`'s camera (it is off, they booted or
    /// blocked us, or we asked too fast); nothing is received from it. The text says why.
    OpenRefused {
        /// The camera's owner.
        member: MemberId,
        /// The server's words.
        reason: String,
    },
    /// The connection carrying a camera (ours to a watcher, or one we watch) changed state.
    PeerState {
        /// The other member.
        member: MemberId,
        /// Its new state.
        state: ConnectionState,
    },
}

/// Counters for one camera we watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchStats {
    /// Complete frames received.
    pub frames_received: u64,
    /// Frames decoded and put in the slot.
    pub frames_decoded: u64,
    /// Frames the decoder refused (a keyframe was requested after each).
    pub decode_errors: u64,
    /// Gaps in the stream (frames dropped until the next keyframe).
    pub frames_lost: u64,
}

/// Counters and state of a running session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoStats {
    /// Whether our camera is on.
    pub camera_on: bool,
    /// The members our camera is sent to (those with a connection).
    pub watchers: Vec<MemberId>,
    /// Frames encoded and handed to the watchers' connections.
    pub frames_sent: u64,
    /// Of those, keyframes.
    pub keyframes_sent: u64,
    /// The encoder's target bitrate, kb/s.
    pub bitrate_kbps: u32,
    /// The cameras we watch.
    pub watching: BTreeMap<MemberId, WatchStats>,
    /// Complete video frames received from any camera connection, including from cameras we
    /// did not open (which should stay zero: they are refused).
    pub frames_received_total: u64,
}

enum Control {
    ClientEvent(Box<Event>),
    CameraOn(Box<dyn VideoSource>),
    CameraOff,
    Open(MemberId, Arc<FrameSlot<I420Frame>>),
    Close(MemberId),
    Boot(MemberId),
    Stats(oneshot::Sender<VideoStats>),
    Shutdown,
}

/// Commands to a running [`VideoSession`]; cheap to clone.
#[derive(Clone)]
pub struct VideoHandle {
    control: mpsc::Sender<Control>,
}

impl VideoHandle {
    /// Hands the session a client event. Events that do not concern cameras are ignored, so
    /// a front end can pass on every event it reads.
    pub async fn client_event(&self, event: &Event) -> Result<(), VideoError> {
        if concerns_video(event) {
            self.send(Control::ClientEvent(Box::new(event.clone())))
                .await?;
        }
        Ok(())
    }

    /// Turns our camera on with `source` (a camera, a test pattern, a file) and tells the
    /// room. A camera already on is replaced.
    pub async fn camera_on(&self, source: Box<dyn VideoSource>) -> Result<(), VideoError> {
        self.send(Control::CameraOn(source)).await
    }

    /// Turns our camera off: every watcher's stream stops and the room is told.
    pub async fn camera_off(&self) -> Result<(), VideoError> {
        self.send(Control::CameraOff).await
    }

    /// Opens `member`'s camera: decoded frames will be put in `slot`.
    pub async fn open(
        &self,
        member: MemberId,
        slot: Arc<FrameSlot<I420Frame>>,
    ) -> Result<(), VideoError> {
        self.send(Control::Open(member, slot)).await
    }

    /// Stops watching `member`'s camera.
    pub async fn close(&self, member: MemberId) -> Result<(), VideoError> {
        self.send(Control::Close(member)).await
    }

    /// Removes `member` from our watchers; they cannot reopen until our camera is turned off
    /// and on again. Their stream stops at once, before the server confirms.
    pub async fn boot(&self, member: MemberId) -> Result<(), VideoError> {
        self.send(Control::Boot(member)).await
    }

    /// The session's counters and state.
    pub async fn stats(&self) -> Result<VideoStats, VideoError> {
        let (tx, rx) = oneshot::channel();
        self.send(Control::Stats(tx)).await?;
        rx.await.map_err(|_| VideoError::Stopped)
    }

    /// Asks the session to stop its camera, close every connection and end.
    pub async fn shutdown(&self) -> Result<(), VideoError> {
        self.send(Control::Shutdown).await
    }

    async fn send(&self, msg: Control) -> Result<(), VideoError> {
        self.control
            .send(msg)
            .await
            .map_err(|_| VideoError::Stopped)
    }
}

fn concerns_video(event: &Event) -> bool {
    matches!(
        event,
        Event::Joined { .. }
            | Event::Watchers(_)
            | Event::CameraOpened { .. }
            | Event::CameraClosed { .. }
            | Event::Signal {
                camera: Some(_),
                ..
            }
            | Event::IceServers(_)
            | Event::Closed(_)
    ) || refusal_of_open(event).is_some()
}

/// If `event` says a `camera_open` we sent was not carried out, the reason.
fn refusal_of_open(event: &Event) -> Option<String> {
    match event {
        Event::ServerError {
            message,
            src: Some(src),
            ..
        } if src == "camera_open" => Some(message.clone()),
        Event::RateLimited {
            retry_after_ms,
            src: Some(src),
        } if src == "camera_open" => Some(format!(
            "opened cameras too fast; try again in {retry_after_ms} ms"
        )),
        Event::NotSent {
            what: "camera_open",
        } => Some("not in the room right now; try again once reconnected".to_string()),
        _ => None,
    }
}

/// A running camera session: its handle, its events and its task.
pub struct VideoSession {
    /// Commands to the session.
    pub handle: VideoHandle,
    /// What the session reports.
    pub events: mpsc::UnboundedReceiver<VideoEvent>,
    /// The session's task; it ends after [`VideoHandle::shutdown`], when every handle is
    /// dropped, or when the client closes for good.
    pub task: JoinHandle<()>,
}

impl VideoSession {
    /// Starts the session task. `client` relays signaling and camera state.
    pub fn spawn(client: ClientHandle, config: VideoConfig) -> VideoSession {
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (events_tx, events) = mpsc::unbounded_channel();
        let session = Session {
            client,
            bitrate: BitrateController::new(BitrateConfig {
                start_kbps: config.start_kbps,
                min_kbps: config.min_kbps,
                max_kbps: config.max_kbps,
            }),
            config,
            events: events_tx,
            epoch: Instant::now(),
            me: None,
            ice_servers: Vec::new(),
            camera: None,
            watch: None,
            watching: BTreeMap::new(),
            pending_opens: VecDeque::new(),
            frames_received_total: 0,
        };
        let task = tokio::spawn(session.run(control_rx));
        VideoSession {
            handle: VideoHandle { control },
            events,
            task,
        }
    }
}

/// Our camera while it is on.
struct Camera {
    capture: CaptureThread,
    frames: mpsc::Receiver<CaptureOutput>,
    send: CameraSend,
    send_events: mpsc::Receiver<CameraEvent>,
    /// The watchers the server last named.
    watchers: BTreeSet<MemberId>,
    frames_sent: u64,
    keyframes_sent: u64,
    /// Each watcher's last reported loss, for the bitrate controller.
    loss: BTreeMap<MemberId, f32>,
}

/// A camera we watch.
struct Watched {
    slot: Arc<FrameSlot<I420Frame>>,
    decoder: Option<Vp8Decoder>,
    stats: WatchStats,
}

/// The session task's state; only the task touches it.
struct Session {
    client: ClientHandle,
    config: VideoConfig,
    bitrate: BitrateController,
    events: mpsc::UnboundedSender<VideoEvent>,
    /// The clock origin of frame timestamps and of the bitrate controller.
    epoch: Instant,
    me: Option<MemberId>,
    ice_servers: Vec<hearth_peer::IceServer>,
    camera: Option<Camera>,
    watch: Option<(CameraWatch, mpsc::Receiver<CameraEvent>)>,
    watching: BTreeMap<MemberId, Watched>,
    /// `camera_open`s sent and not yet answered, oldest first. The server answers each, in
    /// order, with `camera_opened` or an error naming only the request type, so the oldest
    /// one is the one an error refers to.
    pending_opens: VecDeque<MemberId>,
    frames_received_total: u64,
}

/// What woke the session up.
enum Wake {
    Control(Option<Control>),
    Captured(Option<CaptureOutput>),
    Sent(Option<CameraEvent>),
    Watched(Option<CameraEvent>),
}

impl Session {
    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        loop {
            let wake = tokio::select! {
                msg = control.recv() => Wake::Control(msg),
                wake = next_camera(&mut self.camera) => wake,
                event = next_watch_event(&mut self.watch) => Wake::Watched(event),
            };
            match wake {
                Wake::Control(None | Some(Control::Shutdown)) => break,
                Wake::Control(Some(Control::ClientEvent(event))) => {
                    if matches!(*event, Event::Closed(_)) {
                        break;
                    }
                    self.on_client_event(*event).await;
                }
                Wake::Control(Some(msg)) => self.on_control(msg).await,
                Wake::Captured(Some(CaptureOutput::Frame(frame))) => self.on_encoded(frame),
                Wake::Captured(Some(CaptureOutput::Ended(reason))) => {
                    self.camera_ended(reason).await
                }
                Wake::Captured(None) => self.camera_ended("the camera stopped".into()).await,
                Wake::Sent(Some(event)) => self.on_send_event(event).await,
                Wake::Watched(Some(event)) => self.on_watch_event(event).await,
                // A peer queue closes only with its owner, which we are about to drop.
                Wake::Sent(None) | Wake::Watched(None) => {}
            }
        }
        self.stop_camera(false).await;
        self.close_watch().await;
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn peer_config(&self) -> PeerConfig {
        let mut config = self.config.peer.clone();
        config.ice_servers.extend(self.ice_servers.iter().cloned());
        config
    }

    async fn on_client_event(&mut self, event: Event) {
        match event {
            Event::Joined {
                you, ice_servers, ..
            } => {
                self.ice_servers = ice_servers.into_iter().map(ice_server).collect();
                if self.me != Some(you) {
                    // A new connection (the server restarted): every member id is new, so no
                    // watcher and no watched camera carries over. A camera that was on is
                    // announced again; watchers reopen it.
                    self.me = Some(you);
                    self.close_watch().await;
                    if let Some(camera) = &mut self.camera {
                        let watchers: Vec<MemberId> = camera.send.watchers().collect();
                        for member in watchers {
                            camera.send.remove_watcher(member).await;
                        }
                        camera.watchers.clear();
                        let _ = self.client.send(Command::Camera { on: true }).await;
                    }
                }
            }
            Event::IceServers(servers) => {
                self.ice_servers = servers.into_iter().map(ice_server).collect();
            }
            Event::Watchers(watchers) => self.set_watchers(watchers.into_iter().collect()).await,
            Event::CameraOpened { member } => {
                if let Some(at) = self.pending_opens.iter().position(|m| *m == member) {
                    self.pending_opens.remove(at);
                }
                let _ = self.events.send(VideoEvent::Opened(member));
            }
            Event::CameraClosed { member } => {
                if self.stop_watching(member).await {
                    let _ = self.events.send(VideoEvent::Closed(member));
                }
            }
            Event::Signal {
                from,
                data,
                camera: Some(owner),
            } => {
                let signal = signal_in(data);
                if Some(owner) == self.me {
                    match &mut self.camera {
                        Some(camera) => camera.send.handle_signal(from, signal),
                        None => {
                            tracing::debug!(from, "camera signal while our camera is off; dropped")
                        }
                    }
                } else if owner == from {
                    // CameraWatch refuses offers for cameras we have not opened.
                    self.watch_mut().handle_signal(from, signal);
                } else {
                    tracing::debug!(
                        from,
                        owner,
                        "camera signal about a third member's camera; dropped"
                    );
                }
            }
            other => {
                if let Some(reason) = refusal_of_open(&other)
                    && let Some(member) = self.pending_opens.pop_front()
                {
                    // Without this the camera would stay listed as watched, waiting for
                    // video that never comes.
                    self.stop_watching(member).await;
                    let _ = self.events.send(VideoEvent::OpenRefused { member, reason });
                }
            }
        }
    }

    /// Forgets a camera we watch and closes its connection; false if we did not watch it.
    async fn stop_watching(&mut self, member: MemberId) -> bool {
        if self.watching.remove(&member).is_none() {
            return false;
        }
        if let Some((watch, _)) = &mut self.watch {
            watch.close(member).await;
        }
        true
    }

    /// The camera watcher, created on first use.
    fn watch_mut(&mut self) -> &mut CameraWatch {
        if self.watch.is_none() {
            let me = self.me.unwrap_or_default();
            self.watch = Some(CameraWatch::new(me, self.peer_config()));
        }
        match &mut self.watch {
            Some((watch, _)) => watch,
            None => unreachable!("the watcher was just created"),
        }
    }

    /// Sends our camera to exactly `wanted`.
    async fn set_watchers(&mut self, wanted: BTreeSet<MemberId>) {
        let _ = self
            .events
            .send(VideoEvent::Watchers(wanted.iter().copied().collect()));
        let Some(camera) = &mut self.camera else {
            return;
        };
        let current: BTreeSet<MemberId> = camera.send.watchers().collect();
        for gone in current.difference(&wanted) {
            camera.send.remove_watcher(*gone).await;
            camera.loss.remove(gone);
        }
        for new in wanted.difference(&current) {
            camera.send.add_watcher(*new);
        }
        camera.watchers = wanted;
    }

    async fn on_control(&mut self, msg: Control) {
        match msg {
            Control::CameraOn(source) => {
                self.stop_camera(false).await;
                let settings = EncoderSettings {
                    bitrate_kbps: self.bitrate.bitrate_kbps(),
                    threads: encoder_threads(source.format(), self.config.encoder_threads),
                    keyframe_interval: self.config.keyframe_interval,
                };
                let (capture, frames) = CaptureThread::start(source, settings, self.epoch);
                let (send, send_events) =
                    CameraSend::new(self.me.unwrap_or_default(), self.peer_config());
                self.camera = Some(Camera {
                    capture,
                    frames,
                    send,
                    send_events,
                    watchers: BTreeSet::new(),
                    frames_sent: 0,
                    keyframes_sent: 0,
                    loss: BTreeMap::new(),
                });
                let _ = self.client.send(Command::Camera { on: true }).await;
            }
            Control::CameraOff => self.stop_camera(true).await,
            Control::Open(member, slot) => {
                self.watching.insert(
                    member,
                    Watched {
                        slot,
                        decoder: None,
                        stats: WatchStats::default(),
                    },
                );
                self.watch_mut().open(member);
                self.pending_opens.push_back(member);
                let _ = self.client.send(Command::CameraOpen { member }).await;
            }
            Control::Close(member) => {
                if self.stop_watching(member).await {
                    let _ = self.client.send(Command::CameraClose { member }).await;
                }
            }
            Control::Boot(member) => {
                if let Some(camera) = &mut self.camera {
                    camera.send.remove_watcher(member).await;
                    camera.watchers.remove(&member);
                    camera.loss.remove(&member);
                }
                let _ = self.client.send(Command::CameraBoot { member }).await;
            }
            Control::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Control::ClientEvent(_) | Control::Shutdown => {}
        }
    }

    fn stats(&self) -> VideoStats {
        VideoStats {
            camera_on: self.camera.is_some(),
            watchers: self
                .camera
                .as_ref()
                .map(|c| c.send.watchers().collect())
                .unwrap_or_default(),
            frames_sent: self.camera.as_ref().map_or(0, |c| c.frames_sent),
            keyframes_sent: self.camera.as_ref().map_or(0, |c| c.keyframes_sent),
            bitrate_kbps: self.bitrate.bitrate_kbps(),
            watching: self.watching.iter().map(|(m, w)| (*m, w.stats)).collect(),
            frames_received_total: self.frames_received_total,
        }
    }

    fn on_encoded(&mut self, frame: hearth_media::video::EncodedFrame) {
        let Some(camera) = &mut self.camera else {
            return;
        };
        camera.frames_sent += 1;
        camera.keyframes_sent += u64::from(frame.keyframe);
        // RTP video runs on a 90 kHz clock; it wraps, which RTP expects.
        let timestamp = (frame.timestamp_us.wrapping_mul(9) / 100) as u32;
        let out = VideoFrameOut {
            data: Bytes::from(frame.data),
            keyframe: frame.keyframe,
            timestamp,
        };
        if let Err(e) = camera.send.send_frame(&out) {
            tracing::warn!(error = %e, "a video frame could not be sent");
        }
    }

    /// Sends one of our camera connections' signals to `to` through the server, tagged with
    /// the camera's `owner`, after the configured rewriter.
    async fn relay_signal(
        &mut self,
        to: MemberId,
        signal: hearth_peer::Signal,
        owner: Option<MemberId>,
    ) {
        let signal = match &self.config.outgoing_signal {
            Some(rewriter) => rewriter.rewrite(signal).await,
            None => signal,
        };
        let command = Command::Signal {
            to,
            data: signal_out(signal),
            camera: owner,
        };
        let _ = self.client.send(command).await;
    }

    async fn on_send_event(&mut self, event: CameraEvent) {
        let now = self.now();
        let Some(camera) = &mut self.camera else {
            return;
        };
        match event {
            CameraEvent::Signal { member, signal } => {
                let owner = self.me;
                self.relay_signal(member, signal, owner).await;
            }
            CameraEvent::State { member, state } => {
                let _ = self.events.send(VideoEvent::PeerState { member, state });
            }
            // A watcher that just connected, asked (PLI/FIR) or missed frames: until the next
            // keyframe it is sent nothing, so make the next frame one.
            CameraEvent::KeyframeRequest { .. } => camera.capture.send(CaptureControl::Keyframe),
            CameraEvent::Report {
                member,
                fraction_lost,
                fraction_nacked,
                ..
            } => {
                // The path's loss before repair: retransmissions cost bandwidth too, and
                // loss that NACK hides now shows as frozen frames once it grows.
                camera
                    .loss
                    .insert(member, fraction_lost.max(fraction_nacked));
                // One encoding serves every watcher, so the worst link decides.
                let worst = camera.loss.values().copied().fold(0.0f32, f32::max);
                let before = self.bitrate.bitrate_kbps();
                let kbps = self.bitrate.handle_loss(now, worst);
                if kbps != before {
                    camera.capture.send(CaptureControl::Bitrate(kbps));
                }
            }
            CameraEvent::Closed { member } => {
                tracing::debug!(member, "camera connection to a watcher closed")
            }
            CameraEvent::Frame { member, .. } | CameraEvent::FrameLost { member } => {
                tracing::debug!(member, "unexpected receive event on the sending side");
            }
        }
    }

    async fn on_watch_event(&mut self, event: CameraEvent) {
        match event {
            CameraEvent::Signal { member, signal } => {
                self.relay_signal(member, signal, Some(member)).await;
            }
            CameraEvent::State { member, state } => {
                let _ = self.events.send(VideoEvent::PeerState { member, state });
            }
            CameraEvent::Frame { member, frame } => {
                self.frames_received_total += 1;
                let Some(watched) = self.watching.get_mut(&member) else {
                    return;
                };
                watched.stats.frames_received += 1;
                let decoder = match &mut watched.decoder {
                    Some(decoder) => decoder,
                    slot @ None => match Vp8Decoder::new() {
                        Ok(decoder) => slot.insert(decoder),
                        Err(e) => {
                            tracing::warn!(member, error = %e, "cannot create a VP8 decoder");
                            return;
                        }
                    },
                };
                let timestamp_us = u64::from(frame.timestamp) * 100 / 9;
                match decoder.decode(&frame.data, timestamp_us) {
                    Ok(Some(picture)) => {
                        watched.stats.frames_decoded += 1;
                        watched.slot.put(picture);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        watched.stats.decode_errors += 1;
                        tracing::debug!(member, error = %e, "undecodable video frame; asking for a keyframe");
                        if let Some((watch, _)) = &mut self.watch {
                            watch.request_keyframe(member);
                        }
                    }
                }
            }
            CameraEvent::FrameLost { member } => {
                if let Some(watched) = self.watching.get_mut(&member) {
                    watched.stats.frames_lost += 1;
                }
            }
            CameraEvent::Closed { member } => tracing::debug!(member, "camera connection closed"),
            CameraEvent::KeyframeRequest { .. } | CameraEvent::Report { .. } => {}
        }
    }

    /// Our camera stopped by itself: tell the room and the user.
    async fn camera_ended(&mut self, reason: String) {
        tracing::info!(%reason, "camera ended");
        self.stop_camera(true).await;
        let _ = self.events.send(VideoEvent::CameraEnded(reason));
    }

    /// Stops the capture thread and closes every watcher's connection; `announce` tells the
    /// room the camera is off.
    async fn stop_camera(&mut self, announce: bool) {
        if let Some(camera) = self.camera.take() {
            camera.send.close().await;
            // Dropping the capture thread stops and joins it; it notices within one frame.
            let capture = camera.capture;
            let _ = tokio::task::spawn_blocking(move || drop(capture)).await;
            if announce {
                let _ = self.client.send(Command::Camera { on: false }).await;
            }
        }
    }

    async fn close_watch(&mut self) {
        self.pending_opens.clear();
        if let Some((watch, _)) = self.watch.take() {
            watch.close_all().await;
        }
        for member in std::mem::take(&mut self.watching).into_keys() {
            let _ = self.events.send(VideoEvent::Closed(member));
        }
    }
}

/// The next frame or connection event of our camera; never, while it is off.
async fn next_camera(camera: &mut Option<Camera>) -> Wake {
    match camera {
        Some(camera) => tokio::select! {
            out = camera.frames.recv() => Wake::Captured(out),
            event = camera.send_events.recv() => Wake::Sent(event),
        },
        None => std::future::pending().await,
    }
}

async fn next_watch_event(
    watch: &mut Option<(CameraWatch, mpsc::Receiver<CameraEvent>)>,
) -> Option<CameraEvent> {
    match watch {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_frames_of_720p_and_more_get_extra_encoder_threads() {
        let format = |width, height| VideoFormat {
            width,
            height,
            fps: 30,
        };
        assert_eq!(encoder_threads(format(640, 480), 4), 1);
        assert_eq!(encoder_threads(format(1280, 720), 2), 2);
        assert_eq!(encoder_threads(format(1920, 1080), 0), 1, "at least one");
        assert_eq!(VideoConfig::default().encoder_threads, 1);
    }
}
