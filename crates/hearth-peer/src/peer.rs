//! One WebRTC connection to one remote member, owned by one task, for every kind of media.
//!
//! A [`Link`] handle only holds channels into its task. The task owns the webrtc-rs
//! `PeerConnection`, its local tracks and the tasks that read the remote track, and it runs
//! negotiation: because it handles one message at a time, a local offer can never be half-made
//! when a remote offer arrives, so a collision is exactly "an offer arrives while we have a
//! pending local offer". Trickle ICE, an ICE restart on failure, a fresh connection when that
//! does not reconnect, and a close that waits for every spawned task are the same for all
//! kinds; what differs (codec, tracks, what is sent and what becomes of received media) is the
//! kind's [`Media`], and who may offer is its [`Role`]. [`Group`] keys links by member for
//! the public types built on them ([`crate::Mesh`], [`crate::CameraSend`],
//! [`crate::CameraWatch`]).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::{ConnectionState, Error, Event, MemberId, PeerConfig, Signal};

/// Remote candidates kept while no remote description is set. A real session has a handful;
/// the cap only bounds what a misbehaving member can make us hold.
const MAX_PENDING_CANDIDATES: usize = 64;
/// Event queue slots that received media never takes; they are kept for signaling and state.
pub(crate) const CONTROL_RESERVE: usize = 64;
/// How long closing waits for the remote-track readers to see the end of their streams.
const READER_STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// The events every kind of connection reports, built for the kind's own event type.
pub(crate) trait PeerEvent: Send + 'static {
    /// A signaling message to relay to `member`.
    fn signal(member: MemberId, signal: Signal) -> Self;
    /// The connection to `member` changed state.
    fn state(member: MemberId, state: ConnectionState) -> Self;
    /// The connection's task has ended.
    fn closed(member: MemberId) -> Self;
}

impl PeerEvent for Event {
    fn signal(member: MemberId, signal: Signal) -> Self {
        Event::Signal { member, signal }
    }
    fn state(member: MemberId, state: ConnectionState) -> Self {
        Event::State { member, state }
    }
    fn closed(member: MemberId) -> Self {
        Event::Closed { member }
    }
}

/// Which side of a connection may make offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Both sides may offer (voice). On crossed offers the polite side yields (perfect
    /// negotiation); the two ends must disagree on `polite`.
    Mutual {
        /// Whether this side yields.
        polite: bool,
    },
    /// Only this side offers (a camera's broadcaster). It also restarts ICE and replaces the
    /// connection on failure; remote offers are refused.
    Offerer,
    /// Only the remote side offers (a camera's watcher); this side answers and never starts
    /// anything, since the offerer repairs failures.
    Answerer,
}

impl Role {
    fn polite(self) -> bool {
        match self {
            Role::Mutual { polite } => polite,
            Role::Offerer => false,
            Role::Answerer => true,
        }
    }

    fn offers(self) -> bool {
        self != Role::Answerer
    }

    fn answers(self) -> bool {
        self != Role::Offerer
    }
}

/// What differs between the kinds of connection (voice, a camera's sending and receiving
/// ends): codecs, tracks, what the handle queues for the task and what becomes of received
/// media. Negotiation, trickle ICE, restarts and closing are the task's, the same for all.
#[async_trait::async_trait]
pub(crate) trait Media: Send + Sync + 'static {
    /// The events this kind reports.
    type Event: PeerEvent;
    /// What the handle queues for the task (media to send, requests).
    type Out: Send + 'static;
    /// The media state of one connection (its tracks and RTP numbering); replaced with it.
    type Conn: Send + Sync;
    /// Whether closing tells the remote side with [`Signal::Bye`], so that it frees its end
    /// at once instead of waiting for ICE to time out.
    const BYE_ON_CLOSE: bool;

    /// Registers the codec and returns the interceptors for a new connection.
    fn configure(engine: &mut MediaEngine) -> Result<Registry, Error>;

    /// Adds this kind's tracks to a new connection.
    async fn attach(
        &mut self,
        member: MemberId,
        pc: &dyn PeerConnection,
        events: &mpsc::Sender<Self::Event>,
        readers: &mut JoinSet<()>,
    ) -> Result<Self::Conn, Error>;

    /// The connection has just connected (again).
    async fn connected(
        &mut self,
        member: MemberId,
        conn: &mut Self::Conn,
        events: &mpsc::Sender<Self::Event>,
    );

    /// The remote side's track arrived; its reader goes into `readers`.
    fn remote_track(
        &mut self,
        member: MemberId,
        conn: &mut Self::Conn,
        track: Arc<dyn TrackRemote>,
        events: &mpsc::Sender<Self::Event>,
        readers: &mut JoinSet<()>,
    );

    /// Handles one item from the handle; `conn` is `None` while not connected.
    async fn send(
        &mut self,
        member: MemberId,
        conn: Option<&mut Self::Conn>,
        out: Self::Out,
        events: &mpsc::Sender<Self::Event>,
    );
}

/// A handle to one connection's task, for any kind of media.
pub(crate) struct Link<M: Media> {
    member: MemberId,
    control: mpsc::UnboundedSender<Control>,
    out: mpsc::Sender<M::Out>,
    task: JoinHandle<()>,
}

/// Connections of one kind keyed by remote member: the shared core of [`crate::Mesh`],
/// [`crate::CameraSend`] and [`crate::CameraWatch`]. A plain value owned by one task; every
/// connection's events arrive on the one receiver returned by [`Group::new`].
pub(crate) struct Group<M: Media> {
    local: MemberId,
    config: Arc<PeerConfig>,
    links: HashMap<MemberId, Link<M>>,
    events: mpsc::Sender<M::Event>,
}

impl<M: Media> Group<M> {
    /// An empty group for local member `local`, with an event queue of `queue` events.
    pub(crate) fn new(
        local: MemberId,
        config: PeerConfig,
        queue: usize,
    ) -> (Self, mpsc::Receiver<M::Event>) {
        let (events, rx) = mpsc::channel(queue);
        let group = Group {
            local,
            config: Arc::new(config),
            links: HashMap::new(),
            events,
        };
        (group, rx)
    }

    /// The local member's id.
    pub(crate) fn local(&self) -> MemberId {
        self.local
    }

    /// The remote members with a connection, in no particular order.
    pub(crate) fn members(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.links.keys().copied()
    }

    /// Every connection, in no particular order.
    pub(crate) fn links(&self) -> impl Iterator<Item = &Link<M>> + '_ {
        self.links.values()
    }

    /// The sender of the group's events, for events that belong to no connection.
    pub(crate) fn events(&self) -> &mpsc::Sender<M::Event> {
        &self.events
    }

    /// Starts a connection to `member` and returns it, or `None` (doing nothing) for the
    /// local member or a member already present. Must be called inside a tokio runtime.
    pub(crate) fn add(
        &mut self,
        member: MemberId,
        role: Role,
        media: M,
        queue: usize,
    ) -> Option<&Link<M>> {
        if member == self.local || self.links.contains_key(&member) {
            debug!(member, "connection not added (self or already present)");
            return None;
        }
        let link = Link::spawn(
            member,
            role,
            media,
            Arc::clone(&self.config),
            self.events.clone(),
            queue,
        );
        Some(self.links.entry(member).or_insert(link))
    }

    /// Closes the connection to `member` and waits for its tasks. Returns false when there
    /// was none.
    pub(crate) async fn remove(&mut self, member: MemberId) -> bool {
        let Some(link) = self.links.remove(&member) else {
            return false;
        };
        if let Err(e) = link.close().await {
            warn!(member, "closing connection: {e}");
        }
        true
    }

    /// Hands a signaling message from `from` to its connection, or gives it back when there
    /// is none.
    pub(crate) fn route(&self, from: MemberId, signal: Signal) -> Result<(), Signal> {
        match self.links.get(&from) {
            Some(link) => {
                link.handle_signal(signal);
                Ok(())
            }
            None => Err(signal),
        }
    }

    /// The connection to `member`, if any.
    pub(crate) fn get(&self, member: MemberId) -> Option<&Link<M>> {
        self.links.get(&member)
    }

    /// Closes every connection and waits for all their tasks.
    pub(crate) async fn close(mut self) {
        for (member, link) in self.links.drain() {
            if let Err(e) = link.close().await {
                warn!(member, "closing connection: {e}");
            }
        }
    }
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

impl<M: Media> Link<M> {
    /// Starts the task for a connection to `member` with the given role and media. Nothing
    /// is sent until [`Link::connect`] is called or an offer arrives. `queue` bounds what the
    /// handle may queue for the task. Must be called inside a tokio runtime.
    pub(crate) fn spawn(
        member: MemberId,
        role: Role,
        media: M,
        config: Arc<PeerConfig>,
        events: mpsc::Sender<M::Event>,
        queue: usize,
    ) -> Self {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::channel(queue);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            member,
            role,
            media,
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
        };
        let task = tokio::spawn(actor.run(control_rx, out_rx, internal_rx));
        Link {
            member,
            control: control_tx,
            out: out_tx,
            task,
        }
    }

    /// The remote member this connection goes to.
    pub(crate) fn member(&self) -> MemberId {
        self.member
    }

    /// Makes an offer (the start of a connection). Ignored by an answering role.
    pub(crate) fn connect(&self) {
        let _ = self.control.send(Control::Connect);
    }

    /// Hands a signaling message from the remote member to the connection. Bad messages are
    /// logged and dropped; they never end the task.
    pub(crate) fn handle_signal(&self, signal: Signal) {
        if self.control.send(Control::Signal(signal)).is_err() {
            debug!(member = self.member, "signal for a closed peer dropped");
        }
    }

    /// Queues one item for the task; returns false (and drops it) when the queue is full or
    /// the task has ended.
    pub(crate) fn queue(&self, out: M::Out) -> bool {
        self.out.try_send(out).is_ok()
    }

    /// Closes the connection and waits for its task, and every task it spawned, to end. The
    /// last event the task sends is the kind's `Closed`.
    pub(crate) async fn close(self) -> Result<(), Error> {
        let _ = self.control.send(Control::Close);
        self.task.await.map_err(|e| {
            warn!(member = self.member, "peer task ended abnormally: {e}");
            Error::Closed
        })
    }
}

/// The live WebRTC connection of a peer. Replaced wholesale on a fresh reconnect.
struct Conn<C> {
    pc: Box<dyn PeerConnection>,
    /// The kind's tracks and numbering on this connection.
    media: C,
    connected: bool,
}

struct Actor<M: Media> {
    member: MemberId,
    role: Role,
    media: M,
    config: Arc<PeerConfig>,
    events: mpsc::Sender<M::Event>,
    internal_tx: mpsc::UnboundedSender<(u64, Internal)>,
    conn: Option<Conn<M::Conn>>,
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
}

impl<M: Media> Actor<M> {
    async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut out: mpsc::Receiver<M::Out>,
        mut internal: mpsc::UnboundedReceiver<(u64, Internal)>,
    ) {
        loop {
            let deadline = self.restart_deadline;
            tokio::select! {
                // Control first: a close must not wait behind a queue of media.
                biased;
                msg = control.recv() => match msg {
                    Some(Control::Connect) if self.role.offers() => self.make_offer(false).await,
                    Some(Control::Connect) => {}
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
                Some(item) = out.recv() => {
                    let conn = self.conn.as_mut().filter(|c| c.connected).map(|c| &mut c.media);
                    self.media.send(self.member, conn, item, &self.events).await;
                }
            }
        }
        let had_conn = self.conn.is_some();
        self.teardown().await;
        // The owner may be waiting in `close` without draining events, so the last ones are
        // offered, not awaited; the media reserve normally leaves room for them.
        if M::BYE_ON_CLOSE && had_conn {
            let _ = self
                .events
                .try_send(M::Event::signal(self.member, Signal::Bye));
        }
        let _ = self
            .events
            .try_send(M::Event::state(self.member, ConnectionState::Closed));
        if self.events.try_send(M::Event::closed(self.member)).is_err() {
            debug!(
                member = self.member,
                "Closed event dropped (event queue full or gone)"
            );
        }
    }

    async fn emit(&self, event: M::Event) {
        // The receiver is gone only when the owner is shutting down; nothing to report to.
        let _ = self.events.send(event).await;
    }

    /// Builds the connection if there is none yet.
    async fn ensure_conn(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        self.generation += 1;
        let built = build_conn(
            &mut self.media,
            self.member,
            &self.config,
            self.generation,
            self.internal_tx.clone(),
            &self.events,
            &mut self.readers,
        )
        .await;
        match built {
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
        self.emit(M::Event::signal(
            self.member,
            Signal::Offer { sdp: offer.sdp },
        ))
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
                self.emit(M::Event::state(self.member, ConnectionState::Closed))
                    .await;
            }
        }
    }

    async fn on_offer(&mut self, sdp: String) {
        if !self.role.answers() {
            // Only this side offers on this connection; an offer is a confused or hostile peer.
            warn!(
                member = self.member,
                "offer on a send-only connection refused"
            );
            return;
        }
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
        self.ignore_offer = !self.role.polite() && collision;
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
        self.emit(M::Event::signal(
            self.member,
            Signal::Answer { sdp: answer.sdp },
        ))
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
                self.emit(M::Event::signal(self.member, signal)).await;
            }
            Internal::Track(track) => {
                if let Some(conn) = &mut self.conn {
                    self.media.remote_track(
                        self.member,
                        &mut conn.media,
                        track,
                        &self.events,
                        &mut self.readers,
                    );
                }
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
            if conn.connected {
                self.media
                    .connected(self.member, &mut conn.media, &self.events)
                    .await;
            }
        }
        match state {
            ConnectionState::Connected => {
                self.restarted = false;
                self.restart_deadline = None;
            }
            // The answering side waits: the offerer restarts ICE or replaces the connection.
            ConnectionState::Failed if !self.role.offers() => {}
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
        self.emit(M::Event::state(self.member, state)).await;
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

pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
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

/// The payload type the remote accepted for `sender`'s codec, which may differ from the one
/// we offered.
pub(crate) async fn negotiated_payload_type(sender: &dyn RtpSender) -> Option<u8> {
    match sender.get_parameters().await {
        Ok(params) => params.rtp_parameters.codecs.first().map(|c| c.payload_type),
        Err(e) => {
            warn!("cannot read the negotiated payload type: {e}");
            None
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

/// A local track description with one encoding: `codec` on synchronisation source `ssrc`.
pub(crate) fn local_track(
    kind: RtpCodecKind,
    stream: &str,
    label: &str,
    codec: RTCRtpCodec,
    ssrc: u32,
) -> MediaStreamTrack {
    MediaStreamTrack::new(
        stream.to_owned(),
        label.to_owned(),
        label.to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )
}

/// A random non-zero 32-bit value, for SSRCs and RTP sequence and timestamp bases.
pub(crate) fn random_ssrc() -> u32 {
    // RandomState is seeded randomly per instance, which is all an SSRC needs.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x5353_5243);
    (h.finish() as u32).max(1)
}

/// Builds a connection of kind `M` with its tracks attached.
async fn build_conn<M: Media>(
    media: &mut M,
    member: MemberId,
    config: &PeerConfig,
    generation: u64,
    tx: mpsc::UnboundedSender<(u64, Internal)>,
    events: &mpsc::Sender<M::Event>,
    readers: &mut JoinSet<()>,
) -> Result<Conn<M::Conn>, Error> {
    let mut engine = MediaEngine::default();
    let registry = M::configure(&mut engine)?;
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
        // Browsers hide a page's LAN addresses behind `<uuid>.local` names unless it may use
        // the camera or microphone, so a guest who only watches and listens is reachable
        // only if we resolve them. QueryOnly resolves them and publishes no names of ours
        // (native peers show their addresses). It is rtc's default, said here because
        // browser guests depend on it (hearth-video's `mdns` test).
        .with_multicast_dns_mode(MulticastDnsMode::QueryOnly)
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
        .with_media_engine(engine)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler::new(generation, tx)))
        .with_udp_addrs(config.udp_addrs.clone())
        .build()
        .await?;
    let pc: Box<dyn PeerConnection> = Box::new(pc);
    match media.attach(member, &*pc, events, readers).await {
        Ok(media) => Ok(Conn {
            pc,
            media,
            connected: false,
        }),
        Err(e) => {
            let _ = pc.close().await;
            Err(e)
        }
    }
}
