//! One WebRTC connection to one remote member, owned by one task.
//!
//! The [`Peer`] handle only holds channels into its task. The task owns the webrtc-rs
//! `PeerConnection`, the local audio track and the tasks that read the remote track, and it
//! runs perfect negotiation: because it handles one message at a time, a local offer can never
//! be half-made when a remote offer arrives, so a collision is exactly "an offer arrives while
//! we have a pending local offer".

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::{AudioPacket, ConnectionState, Error, Event, MemberId, PeerConfig, Signal};

/// The Opus payload type we offer. The answerer may choose another; the sender reads the
/// negotiated one back before writing.
const OPUS_PAYLOAD_TYPE: u8 = 111;
/// Audio packets queued for one peer before new ones are dropped. Late audio is useless, so a
/// peer whose task is stuck loses packets instead of growing a queue.
const AUDIO_QUEUE: usize = 32;
/// Remote candidates kept while no remote description is set. A real session has a handful;
/// the cap only bounds what a misbehaving member can make us hold.
const MAX_PENDING_CANDIDATES: usize = 64;
/// Event queue slots that received audio never takes; they are kept for signaling and state.
const CONTROL_RESERVE: usize = 64;
/// How long closing waits for the remote-track readers to see the end of their streams.
const READER_STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// A handle to one peer connection's task.
pub struct Peer {
    member: MemberId,
    control: mpsc::UnboundedSender<Control>,
    audio: mpsc::Sender<AudioOut>,
    task: JoinHandle<()>,
}

/// What the handle asks of the task.
enum Control {
    Connect,
    Signal(Signal),
    Close,
}

/// What the webrtc-rs event handler reports to the task, tagged with the generation of the
/// connection it belongs to, so events from a replaced connection are ignored.
enum Internal {
    Candidate(RTCIceCandidateInit),
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
}

impl Peer {
    /// Starts the task for a connection to `member`. `polite` decides which side yields when
    /// offers cross; the two ends must disagree. Nothing is sent until [`Peer::connect`] is
    /// called or an offer arrives. Must be called inside a tokio runtime.
    pub fn spawn(
        member: MemberId,
        polite: bool,
        config: Arc<PeerConfig>,
        events: mpsc::Sender<Event>,
    ) -> Peer {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (audio_tx, audio_rx) = mpsc::channel(AUDIO_QUEUE);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            member,
            polite,
            config,
            events,
            internal_tx,
            conn: None,
            generation: 0,
            pending_candidates: Vec::new(),
            ignore_offer: false,
            restart_deadline: None,
            restarted: false,
            readers: JoinSet::new(),
            send_errors: 0,
        };
        let task = tokio::spawn(actor.run(control_rx, audio_rx, internal_rx));
        Peer {
            member,
            control: control_tx,
            audio: audio_tx,
            task,
        }
    }

    /// The remote member this peer connects to.
    pub fn member(&self) -> MemberId {
        self.member
    }

    /// Makes an offer (the start of a connection). Safe to call on both ends at once.
    pub fn connect(&self) {
        let _ = self.control.send(Control::Connect);
    }

    /// Hands a signaling message from the remote member to the connection. Bad messages are
    /// logged and dropped; they never end the peer.
    pub fn handle_signal(&self, signal: Signal) {
        if self.control.send(Control::Signal(signal)).is_err() {
            debug!(member = self.member, "signal for a closed peer dropped");
        }
    }

    /// Queues one encoded Opus packet lasting `duration` for sending. Packets given before the
    /// connection is up, or while the queue is full, are dropped: audio is only worth sending
    /// on time.
    pub fn send_audio(&self, payload: Bytes, duration: Duration) {
        self.queue_audio(AudioOut { payload, duration, timestamp: None });
    }

    /// Like [`Peer::send_audio`], for a packet whose first sample is sample number
    /// `timestamp` of the sender's capture (48 kHz). Frames the sender did not send (silence
    /// under voice activation or DTX) still advance the RTP timestamp, so the receiver's
    /// jitter buffer does not take the first packet after a pause for one that is late by the
    /// whole pause; that packet also carries the marker bit of a new talk spurt (RFC 7587).
    pub fn send_audio_at(&self, payload: Bytes, timestamp: u32, duration: Duration) {
        self.queue_audio(AudioOut { payload, duration, timestamp: Some(timestamp) });
    }

    fn queue_audio(&self, packet: AudioOut) {
        if self.audio.try_send(packet).is_err() {
            debug!(
                member = self.member,
                "audio packet dropped (peer busy or closed)"
            );
        }
    }

    /// Closes the connection and waits for its task, and every task it spawned, to end. The
    /// last event the peer sends is [`Event::Closed`].
    pub async fn close(self) -> Result<(), Error> {
        let _ = self.control.send(Control::Close);
        self.task.await.map_err(|e| {
            warn!(member = self.member, "peer task ended abnormally: {e}");
            Error::Closed
        })
    }
}

/// The live WebRTC connection of a peer. Replaced wholesale on a fresh reconnect.
struct Conn {
    pc: Box<dyn PeerConnection>,
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    /// Numbering of the packets sent on this connection.
    rtp: RtpNumbering,
    /// The negotiated payload type, read once the connection is up.
    payload_type: Option<u8>,
    connected: bool,
}

struct Actor {
    member: MemberId,
    polite: bool,
    config: Arc<PeerConfig>,
    events: mpsc::Sender<Event>,
    internal_tx: mpsc::UnboundedSender<(u64, Internal)>,
    conn: Option<Conn>,
    /// Counts connections built, so events of a replaced one can be told apart.
    generation: u64,
    /// Remote candidates that came before the remote description.
    pending_candidates: Vec<RTCIceCandidateInit>,
    /// Set while we (impolite) ignore a colliding remote offer, so the errors its candidates
    /// cause are expected and not worth a warning.
    ignore_offer: bool,
    /// When an ICE restart that has not connected yet gives way to a fresh connection.
    restart_deadline: Option<tokio::time::Instant>,
    /// Whether the current connection has already been ICE-restarted since it last connected.
    restarted: bool,
    /// Tasks reading remote tracks; they end when the connection closes its event streams.
    readers: JoinSet<()>,
    send_errors: u64,
}

impl Actor {
    async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut audio: mpsc::Receiver<AudioOut>,
        mut internal: mpsc::UnboundedReceiver<(u64, Internal)>,
    ) {
        loop {
            let deadline = self.restart_deadline;
            tokio::select! {
                // Control first: a close must not wait behind a queue of audio.
                biased;
                msg = control.recv() => match msg {
                    Some(Control::Connect) => self.make_offer(false).await,
                    Some(Control::Signal(signal)) => self.on_signal(signal).await,
                    // A dropped handle closes the peer too, so the task always ends.
                    Some(Control::Close) | None => break,
                },
                Some((generation, ev)) = internal.recv() => {
                    if generation == self.generation {
                        self.on_internal(ev).await;
                    }
                }
                Some(done) = self.readers.join_next(), if !self.readers.is_empty() => {
                    if let Err(e) = done {
                        warn!(member = self.member, "track reader ended abnormally: {e}");
                    }
                }
                () = sleep_until(deadline) => {
                    self.restart_deadline = None;
                    info!(member = self.member, "ICE restart did not reconnect; starting a fresh connection");
                    self.fresh_connection().await;
                }
                Some(packet) = audio.recv() => self.send_audio(packet).await,
            }
        }
        self.teardown().await;
        // The owner may be waiting in `close` without draining events, so the last two are
        // offered, not awaited; the audio reserve normally leaves room for them.
        let _ = self.events.try_send(Event::State {
            member: self.member,
            state: ConnectionState::Closed,
        });
        if self
            .events
            .try_send(Event::Closed {
                member: self.member,
            })
            .is_err()
        {
            debug!(
                member = self.member,
                "Closed event dropped (event queue full or gone)"
            );
        }
    }

    async fn emit(&self, event: Event) {
        // The receiver is gone only when the owner is shutting down; nothing to report to.
        let _ = self.events.send(event).await;
    }

    /// Builds the connection if there is none yet.
    async fn ensure_conn(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        self.generation += 1;
        match build_conn(&self.config, self.generation, self.internal_tx.clone()).await {
            Ok(conn) => {
                self.conn = Some(conn);
                true
            }
            Err(e) => {
                warn!(
                    member = self.member,
                    "could not create a peer connection: {e}"
                );
                false
            }
        }
    }

    /// Closes the connection and waits for its track readers.
    async fn teardown(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(e) = conn.pc.close().await
        {
            debug!(member = self.member, "closing the peer connection: {e}");
        }
        self.pending_candidates.clear();
        self.ignore_offer = false;
        self.restart_deadline = None;
        self.restarted = false;
        // Closing ends the remote tracks' event streams, so the readers finish on their own;
        // the timeout only guards against a stream that never ends.
        let drain = async { while self.readers.join_next().await.is_some() {} };
        if tokio::time::timeout(READER_STOP_TIMEOUT, drain)
            .await
            .is_err()
        {
            warn!(
                member = self.member,
                "track readers did not stop; aborting them"
            );
            self.readers.shutdown().await;
        }
    }

    async fn fresh_connection(&mut self) {
        self.teardown().await;
        self.make_offer(false).await;
    }

    async fn make_offer(&mut self, ice_restart: bool) {
        if !self.ensure_conn().await {
            return;
        }
        let Some(conn) = &self.conn else { return };
        if ice_restart && let Err(e) = conn.pc.restart_ice().await {
            warn!(member = self.member, "ICE restart refused: {e}");
        }
        let offer = match conn.pc.create_offer(None).await {
            Ok(offer) => offer,
            Err(e) => {
                warn!(member = self.member, "create_offer failed: {e}");
                return;
            }
        };
        if let Err(e) = conn.pc.set_local_description(offer.clone()).await {
            warn!(
                member = self.member,
                "set_local_description(offer) failed: {e}"
            );
            return;
        }
        self.emit(Event::Signal {
            member: self.member,
            signal: Signal::Offer { sdp: offer.sdp },
        })
        .await;
    }

    async fn on_signal(&mut self, signal: Signal) {
        match signal {
            Signal::Offer { sdp } => self.on_offer(sdp).await,
            Signal::Answer { sdp } => self.on_answer(sdp).await,
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => {
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..Default::default()
                };
                self.on_candidate(init).await;
            }
            Signal::Bye => {
                info!(member = self.member, "remote hung up");
                self.teardown().await;
                self.emit(Event::State {
                    member: self.member,
                    state: ConnectionState::Closed,
                })
                .await;
            }
        }
    }

    async fn on_offer(&mut self, sdp: String) {
        let fingerprint = fingerprint(&sdp);
        let offer = match RTCSessionDescription::offer(sdp) {
            Ok(offer) => offer,
            Err(e) => {
                warn!(
                    member = self.member,
                    "malformed offer dropped: {}",
                    brief(&e)
                );
                return;
            }
        };
        // A different DTLS fingerprint means the remote built a new connection (it restarted,
        // or gave up on an ICE restart); ours cannot renegotiate with it, so replace it too.
        if let Some(conn) = &self.conn {
            let current = conn.pc.remote_description().await;
            if let Some(current) = current
                && fingerprint.is_some()
                && fingerprint != self::fingerprint(&current.sdp)
            {
                info!(
                    member = self.member,
                    "remote started a new session; replacing the connection"
                );
                self.teardown().await;
            }
        }
        if !self.ensure_conn().await {
            return;
        }
        let Some(conn) = &self.conn else { return };
        let collision = conn.pc.pending_local_description().await.is_some();
        self.ignore_offer = !self.polite && collision;
        if self.ignore_offer {
            debug!(
                member = self.member,
                "offer collision: impolite side ignores the remote offer"
            );
            return;
        }
        if collision {
            debug!(
                member = self.member,
                "offer collision: polite side rolls back its offer"
            );
            let rollback = match RTCSessionDescription::rollback(None) {
                Ok(rollback) => rollback,
                Err(e) => {
                    warn!(member = self.member, "cannot build a rollback: {e}");
                    return;
                }
            };
            if let Err(e) = conn.pc.set_local_description(rollback).await {
                warn!(member = self.member, "rollback failed: {e}");
                return;
            }
        }
        if let Err(e) = conn.pc.set_remote_description(offer).await {
            warn!(member = self.member, "offer refused: {}", brief(&e));
            return;
        }
        self.flush_candidates().await;
        let Some(conn) = &self.conn else { return };
        let answer = match conn.pc.create_answer(None).await {
            Ok(answer) => answer,
            Err(e) => {
                warn!(member = self.member, "create_answer failed: {e}");
                return;
            }
        };
        if let Err(e) = conn.pc.set_local_description(answer.clone()).await {
            warn!(
                member = self.member,
                "set_local_description(answer) failed: {e}"
            );
            return;
        }
        self.emit(Event::Signal {
            member: self.member,
            signal: Signal::Answer { sdp: answer.sdp },
        })
        .await;
    }

    async fn on_answer(&mut self, sdp: String) {
        let Some(conn) = &self.conn else {
            warn!(member = self.member, "answer without a connection dropped");
            return;
        };
        if conn.pc.pending_local_description().await.is_none() {
            warn!(
                member = self.member,
                "answer without a pending offer dropped"
            );
            return;
        }
        let answer = match RTCSessionDescription::answer(sdp) {
            Ok(answer) => answer,
            Err(e) => {
                warn!(
                    member = self.member,
                    "malformed answer dropped: {}",
                    brief(&e)
                );
                return;
            }
        };
        if let Err(e) = conn.pc.set_remote_description(answer).await {
            warn!(member = self.member, "answer refused: {}", brief(&e));
            return;
        }
        self.ignore_offer = false;
        self.flush_candidates().await;
    }

    async fn on_candidate(&mut self, init: RTCIceCandidateInit) {
        let has_remote = match &self.conn {
            Some(conn) => conn.pc.remote_description().await.is_some(),
            None => false,
        };
        if !has_remote {
            // Trickle ICE may deliver candidates before the description they belong to.
            if self.pending_candidates.len() < MAX_PENDING_CANDIDATES {
                self.pending_candidates.push(init);
            } else {
                warn!(
                    member = self.member,
                    "too many early candidates; one dropped"
                );
            }
            return;
        }
        self.add_candidate(init).await;
    }

    async fn flush_candidates(&mut self) {
        for init in std::mem::take(&mut self.pending_candidates) {
            self.add_candidate(init).await;
        }
    }

    async fn add_candidate(&self, init: RTCIceCandidateInit) {
        let Some(conn) = &self.conn else { return };
        if let Err(e) = conn.pc.add_ice_candidate(init).await {
            if self.ignore_offer {
                debug!(
                    member = self.member,
                    "candidate of an ignored offer refused: {}",
                    brief(&e)
                );
            } else {
                warn!(member = self.member, "candidate refused: {}", brief(&e));
            }
        }
    }

    async fn on_internal(&mut self, ev: Internal) {
        match ev {
            Internal::Candidate(init) => {
                let signal = Signal::Candidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_mline_index: init.sdp_mline_index,
                };
                self.emit(Event::Signal {
                    member: self.member,
                    signal,
                })
                .await;
            }
            Internal::Track(track) => {
                let member = self.member;
                let events = self.events.clone();
                self.readers.spawn(read_track(member, track, events));
            }
            Internal::State(state) => self.on_state(state).await,
        }
    }

    async fn on_state(&mut self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::New => ConnectionState::New,
            RTCPeerConnectionState::Connecting => ConnectionState::Connecting,
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            RTCPeerConnectionState::Closed => ConnectionState::Closed,
            _ => return,
        };
        debug!(member = self.member, ?state, "connection state");
        if let Some(conn) = &mut self.conn {
            conn.connected = state == ConnectionState::Connected;
            if conn.connected && conn.payload_type.is_none() {
                conn.payload_type = negotiated_payload_type(&*conn.sender).await;
            }
        }
        match state {
            ConnectionState::Connected => {
                self.restarted = false;
                self.restart_deadline = None;
            }
            ConnectionState::Failed if !self.restarted => {
                info!(member = self.member, "connection failed; restarting ICE");
                self.restarted = true;
                self.restart_deadline =
                    Some(tokio::time::Instant::now() + self.config.restart_timeout);
                self.make_offer(true).await;
            }
            ConnectionState::Failed => {
                info!(
                    member = self.member,
                    "connection failed again; starting a fresh connection"
                );
                self.restart_deadline = None;
                self.fresh_connection().await;
            }
            _ => {}
        }
        self.emit(Event::State {
            member: self.member,
            state,
        })
        .await;
    }

    async fn send_audio(&mut self, packet: AudioOut) {
        let Some(conn) = &mut self.conn else { return };
        let Some(pt) = conn.payload_type.filter(|_| conn.connected) else {
            return;
        };
        let samples = (packet.duration.as_micros() * u128::from(OPUS_CLOCK_RATE) / 1_000_000) as u32;
        let rtp = &mut conn.rtp;
        let at = packet.timestamp.unwrap_or(rtp.next);
        // The first packet, and the first after frames that were not sent, start a talk spurt.
        let marker = !rtp.started || at != rtp.next;
        let header = rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: rtp.sequence,
            timestamp: rtp.base.wrapping_add(at),
            ssrc: conn.ssrc,
            ..Default::default()
        };
        rtp.sequence = rtp.sequence.wrapping_add(1);
        rtp.next = at.wrapping_add(samples);
        rtp.started = true;
        let rtp_packet = rtc::rtp::packet::Packet { header, payload: packet.payload };
        if let Err(e) = conn.track.write_rtp(rtp_packet).await {
            self.send_errors += 1;
            // One line per burst is enough to see the problem without flooding the log.
            if self.send_errors.is_power_of_two() {
                warn!(
                    member = self.member,
                    errors = self.send_errors,
                    "audio send failed: {e}"
                );
            }
        }
    }
}

/// An error message cut to a loggable length: webrtc-rs quotes the offending input, which a
/// remote member controls and may make arbitrarily long.
fn brief(e: &impl std::fmt::Display) -> String {
    const MAX: usize = 160;
    let mut s = e.to_string();
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The `a=fingerprint:` value of an SDP, which identifies the DTLS certificate and so the
/// connection that made it.
fn fingerprint(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))
        .map(str::to_owned)
}

async fn negotiated_payload_type(sender: &dyn RtpSender) -> Option<u8> {
    match sender.get_parameters().await {
        Ok(params) => params.rtp_parameters.codecs.first().map(|c| c.payload_type),
        Err(e) => {
            warn!("cannot read the negotiated payload type: {e}");
            None
        }
    }
}

/// Reads one remote track until its stream ends (the connection closed).
async fn read_track(member: MemberId, track: Arc<dyn TrackRemote>, events: mpsc::Sender<Event>) {
    let mut dropped: u64 = 0;
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
            continue;
        };
        if pkt.payload.is_empty() {
            // An RTP packet without payload carries no audio (padding or a probe).
            debug!(member, "empty RTP packet ignored");
            continue;
        }
        let packet = AudioPacket {
            sequence_number: pkt.header.sequence_number,
            timestamp: pkt.header.timestamp,
            ssrc: pkt.header.ssrc,
            payload: pkt.payload,
        };
        // Never block the reader on a slow consumer: old audio is worthless. Audio also leaves
        // the last slots of the queue to signaling and state events, so a consumer that falls
        // behind on audio never stalls a negotiation or a close.
        if events.capacity() <= CONTROL_RESERVE
            || events.try_send(Event::Audio { member, packet }).is_err()
        {
            dropped += 1;
            if dropped.is_power_of_two() {
                debug!(member, dropped, "received audio dropped (event queue full)");
            }
        }
    }
}

/// webrtc-rs connections whose event handler is still alive. The handler is owned by the
/// connection's innards, so it is dropped only when the whole connection is freed; a count that
/// keeps growing is the reference-cycle leak of webrtc-rs issue 906.
static LIVE_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// How many webrtc-rs connections made by this crate have not been freed yet.
pub fn live_connections() -> usize {
    LIVE_CONNECTIONS.load(Ordering::Relaxed)
}

impl Handler {
    fn new(generation: u64, tx: mpsc::UnboundedSender<(u64, Internal)>) -> Self {
        LIVE_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        Handler { generation, tx }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        LIVE_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Forwards webrtc-rs events to the peer task. It holds only a channel sender, never the
/// connection, so it cannot form a reference cycle with it.
struct Handler {
    generation: u64,
    tx: mpsc::UnboundedSender<(u64, Internal)>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.tx.send((self.generation, Internal::Candidate(init)));
            }
            Err(e) => warn!("local candidate not serialisable: {e}"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send((self.generation, Internal::State(state)));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send((self.generation, Internal::Track(track)));
    }
}

fn binding_requests(interval: Duration) -> u16 {
    let per = interval.as_millis().max(1);
    (1400 / per).clamp(7, 200) as u16
}

fn random_ssrc() -> u32 {
    // RandomState is seeded randomly per instance, which is all an SSRC needs.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x5353_5243);
    (h.finish() as u32).max(1)
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

async fn build_conn(
    config: &PeerConfig,
    generation: u64,
    tx: mpsc::UnboundedSender<(u64, Internal)>,
) -> Result<Conn, Error> {
    let mut media = MediaEngine::default();
    media.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: OPUS_PAYLOAD_TYPE,
        },
        RtpCodecKind::Audio,
    )?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(config.include_loopback)
        .with_ice_timeouts(
            Some(config.ice_disconnected_timeout),
            Some(config.ice_failed_timeout),
            None,
        )
        // Keep the total time ICE tries a candidate pair near webrtc-rs's default (7 checks
        // at 200 ms), whatever the interval.
        .with_ice_connection_attempts(
            Some(config.ice_check_interval),
            Some(binding_requests(config.ice_check_interval)),
        )
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler::new(generation, tx)))
        .with_udp_addrs(config.udp_addrs.clone())
        .build()
        .await?;
    let pc: Box<dyn PeerConnection> = Box::new(pc);
    let ssrc = random_ssrc();
    let track = MediaStreamTrack::new(
        "hearth".to_owned(),
        "audio".to_owned(),
        "mic".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: opus_codec(),
            ..Default::default()
        }],
    );
    let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?);
    let sender = match pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
    {
        Ok(sender) => sender,
        Err(e) => {
            let _ = pc.close().await;
            return Err(e.into());
        }
    };
    Ok(Conn {
        pc,
        track,
        sender,
        ssrc,
        rtp: RtpNumbering { sequence: random_ssrc() as u16, base: random_ssrc(), next: 0, started: false },
        payload_type: None,
        connected: false,
    })
}

/// One audio packet queued for the peer task.
struct AudioOut {
    payload: Bytes,
    duration: Duration,
    /// The sender's sample number of the packet's first sample; `None` continues from the
    /// previous packet.
    timestamp: Option<u32>,
}

/// RTP sequence numbers and timestamps of one connection's audio. Both start at random
/// values (RFC 3550 §5.1); the timestamp is `base` plus the sender's sample number.
struct RtpNumbering {
    sequence: u16,
    base: u32,
    /// The sample number the next packet starts at if nothing was skipped.
    next: u32,
    started: bool,
}

/// Opus's RTP clock rate, whatever the audio's real rate (RFC 7587 §4.1).
const OPUS_CLOCK_RATE: u32 = 48_000;
