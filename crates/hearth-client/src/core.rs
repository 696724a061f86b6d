//! The sans-IO client state machine.
//!
//! [`ClientCore`] knows the protocol and the room as one member sees it, and nothing of
//! sockets or clocks. The shell feeds it what happened (`handle_*`, each with `now`) and
//! carries out what it asks for ([`ClientCore::poll_output`]) until `None`, then sleeps until
//! [`ClientCore::poll_timeout`] and calls [`ClientCore::handle_timeout`]. The same core runs
//! under the tokio shell ([`crate::Client`]), under tests as plain data, and later under the
//! desktop app.
//!
//! # Reconnecting
//! When a connection ends for a reason that may pass (a network drop, a server restart, a
//! ghost of ourselves still holding our name), the core schedules a new connection with
//! [`Backoff`], then enters the same room under the same name, rejoins the voice channel it
//! was in, reapplies mute and deafen, and resends every chat message the server has not
//! acknowledged with its original `client_id`. The server stores a `client_id` once per
//! author (durably, across its own restarts), and the core shows each message id once, so
//! nothing is lost and nothing is shown twice. Fatal endings (bad password, banned, kicked,
//! or a refused first `auth`) end the core with [`Event::Closed`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use hearth_wire::{
    ChatMessage, ClientMsg, ErrorCode, IceServer, Image, LeaveReason, Limits, Member, MemberId, MessageId,
    PROTOCOL_VERSION, Presence, RoomInfo, RoomSummary, ServerInfo, ServerMsg, SignalData,
};

use crate::backoff::{Backoff, SplitMix};
use crate::pin::CertificateMismatch;

/// Milliseconds on the shell's monotonic clock. Only differences matter to the core.
pub type Millis = u64;

/// How long a typing indicator lasts after the member's last `typing` (protocol.md).
pub const TYPING_EXPIRY_MS: Millis = 6_000;
/// Most extra history pages fetched per channel after a reconnect to fill the gap; beyond
/// that the older part of the gap is left to the user's own paging.
const MAX_CATCHUP_PAGES: u32 = 10;
/// The heartbeat limits assumed until `hello` announces the server's own.
const DEFAULT_PING_INTERVAL_MS: Millis = 10_000;
const DEFAULT_HEARTBEAT_TIMEOUT_MS: Millis = 30_000;

/// Who to be and where, and how to retry.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// The room to enter; `None` enters the first room `hello` lists.
    pub room: Option<String>,
    /// Display name, kept across reconnects.
    pub name: String,
    /// The room password, if the server wants one.
    pub password: Option<String>,
    /// An operator token.
    pub token: Option<String>,
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
    /// Whether to keep retrying when the very first connection fails. Off by default: a
    /// user who typed a wrong address wants to hear so at once.
    pub retry_first_connect: bool,
    /// Seed for the jitter of reconnect delays; give every client a different one.
    pub seed: u64,
}

impl CoreOptions {
    /// Options for `name` in `room` with default backoff and no password.
    pub fn new(room: Option<String>, name: impl Into<String>) -> Self {
        CoreOptions {
            room,
            name: name.into(),
            password: None,
            token: None,
            backoff: Backoff::default(),
            retry_first_connect: false,
            seed: 0,
        }
    }
}

/// A request from the user (or the voice session) to the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Post a chat message; `client_id` must be unique for this author (see
    /// [`ClientIds`]). Kept until acknowledged, across reconnects.
    SendChat {
        /// The client-chosen id, which is also how the acknowledgement is matched.
        client_id: String,
        /// A text channel id, or `@name` for a direct message.
        channel: String,
        /// The text.
        text: String,
        /// The message replied to.
        reply_to: Option<MessageId>,
        /// An inline image.
        image: Option<Image>,
    },
    /// Replace the text of one's own message.
    EditChat {
        /// The message.
        id: MessageId,
        /// The new text.
        text: String,
    },
    /// Delete a message.
    DeleteChat {
        /// The message.
        id: MessageId,
    },
    /// Add a reaction.
    React {
        /// The message.
        id: MessageId,
        /// The reaction.
        emoji: String,
    },
    /// Remove one's own reaction.
    Unreact {
        /// The message.
        id: MessageId,
        /// The reaction.
        emoji: String,
    },
    /// Say that the user is typing in `channel`.
    Typing {
        /// A text channel id or `@name`.
        channel: String,
    },
    /// Ask for an older page of history; the answer arrives as [`Event::History`].
    LoadHistory {
        /// A text channel id or `@name`.
        channel: String,
        /// Only messages older than this id.
        before: Option<MessageId>,
        /// Page size.
        limit: Option<u32>,
    },
    /// Set presence and status text.
    SetPresence {
        /// Online, away or busy.
        presence: Presence,
        /// Free text; `None` clears it.
        status_text: Option<String>,
    },
    /// Join a voice channel; remembered and rejoined after a reconnect.
    VoiceJoin {
        /// The voice channel id.
        channel: String,
    },
    /// Leave the voice channel.
    VoiceLeave,
    /// Set mute and deafen; remembered and reapplied after a reconnect.
    VoiceState {
        /// Microphone muted.
        muted: bool,
        /// Playback off (implies muted on the server).
        deafened: bool,
    },
    /// Voice activity started or stopped. Not remembered: it is momentary.
    Speaking {
        /// True while transmitting.
        speaking: bool,
    },
    /// Turn one's camera on or off.
    Camera {
        /// True when broadcasting.
        on: bool,
    },
    /// Watch a member's camera.
    CameraOpen {
        /// The broadcaster.
        member: MemberId,
    },
    /// Stop watching a member's camera.
    CameraClose {
        /// The broadcaster.
        member: MemberId,
    },
    /// Remove a watcher from one's camera.
    CameraBoot {
        /// The watcher.
        member: MemberId,
    },
    /// Block a member.
    Block {
        /// The member.
        member: MemberId,
    },
    /// Unblock a member.
    Unblock {
        /// The member.
        member: MemberId,
    },
    /// Send WebRTC signaling to one member.
    Signal {
        /// The recipient.
        to: MemberId,
        /// The payload.
        data: SignalData,
        /// `None` for the voice connection; for a camera connection, the camera's owner.
        camera: Option<MemberId>,
    },
    /// Ask for the ICE server list again.
    RefreshIceServers,
    /// Send any other message as is (moderation: kick, ban, lock, server mute, …). Sent only
    /// while in the room; `auth`, `ping` and `pong` are the core's own and are refused.
    Raw(ClientMsg),
    /// Leave the room and stop for good.
    Leave,
}

/// Something the UI (or the voice session) should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection attempt starts; `attempt` is 0 for the first since the last success.
    Connecting {
        /// Failed attempts since the last successful join.
        attempt: u32,
    },
    /// The server said `hello`.
    Connected {
        /// The server's name and version.
        server: ServerInfo,
        /// The rooms it offers.
        rooms: Vec<RoomSummary>,
        /// Whether `auth` needs a password.
        password_required: bool,
    },
    /// We are in the room. After a reconnect (`rejoin`), member ids are all new: replace
    /// the member list and drop every peer connection keyed by an old id.
    Joined {
        /// Our own member id on this connection.
        you: MemberId,
        /// The room and its channels.
        room: RoomInfo,
        /// Everyone in the room, us included.
        members: Vec<Member>,
        /// STUN and TURN servers.
        ice_servers: Vec<IceServer>,
        /// True when this is a reconnect, not the first join.
        rejoin: bool,
    },
    /// Messages not seen before, from a join-time page or a requested page; oldest first.
    History {
        /// The conversation.
        channel: String,
        /// The new messages, oldest first.
        messages: Vec<ChatMessage>,
        /// Whether older messages exist.
        has_more: bool,
    },
    /// A new message, shown once: live, our own acknowledged one, or one missed while
    /// disconnected (delivered in id order after a reconnect).
    Message(ChatMessage),
    /// A known message changed (edit, delete, reactions): replace it.
    MessageUpdated(ChatMessage),
    /// The server stored our message with this `client_id`.
    SendAcked {
        /// Our id for it.
        client_id: String,
        /// The server's id for it.
        id: MessageId,
    },
    /// The server refused our message; it will not be resent.
    SendFailed {
        /// Our id for it.
        client_id: String,
        /// Why.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// A member started typing in `channel` (for a DM, `@` + their name).
    Typing {
        /// The conversation.
        channel: String,
        /// Who.
        member: MemberId,
    },
    /// A typing indicator expired.
    TypingStopped {
        /// The conversation.
        channel: String,
        /// Who.
        member: MemberId,
    },
    /// A member entered the room.
    MemberJoined(Member),
    /// A member's record changed (presence, voice channel, mute, deafen, camera, operator).
    MemberUpdated(Member),
    /// A member left the room.
    MemberLeft {
        /// Their id.
        id: MemberId,
        /// Their name, when known.
        name: Option<String>,
        /// Why.
        reason: LeaveReason,
    },
    /// A member started or stopped speaking.
    Speaking {
        /// Who.
        member: MemberId,
        /// True while transmitting.
        speaking: bool,
    },
    /// The room's state changed (lock).
    RoomUpdated(RoomInfo),
    /// We are now in a voice channel, as the server confirms. `rejoin` is true when the core
    /// rejoined it by itself after a reconnect: the voice session should (re)build its peers
    /// with the members now in `channel`.
    VoiceJoined {
        /// The voice channel id.
        channel: String,
        /// True after an automatic rejoin.
        rejoin: bool,
    },
    /// We are no longer in this voice channel (left, moved, or the connection dropped).
    VoiceLeft {
        /// The voice channel id.
        channel: String,
    },
    /// WebRTC signaling from another member.
    Signal {
        /// The sender, stamped by the server.
        from: MemberId,
        /// The payload.
        data: SignalData,
        /// `None` for the voice connection; for a camera connection, the camera's owner.
        camera: Option<MemberId>,
    },
    /// A member opened our camera.
    CameraRing {
        /// The watcher.
        watcher: MemberId,
    },
    /// Our `camera_open` was accepted.
    CameraOpened {
        /// The broadcaster.
        member: MemberId,
    },
    /// A camera we watched is no longer sent to us.
    CameraClosed {
        /// The broadcaster.
        member: MemberId,
    },
    /// Who watches our camera now.
    Watchers(Vec<MemberId>),
    /// A new ICE server list.
    IceServers(Vec<IceServer>),
    /// The server refused a request other than a chat message.
    ServerError {
        /// Why.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The request's type.
        src: Option<String>,
    },
    /// We sent too fast; the request named by `src` was dropped. Unacknowledged chat is
    /// resent by the core after the delay; other requests are the caller's to repeat.
    RateLimited {
        /// Milliseconds to wait.
        retry_after_ms: u64,
        /// The dropped request's type.
        src: Option<String>,
    },
    /// A command needed the room and we are not in it right now; it was dropped. (Chat,
    /// voice join/leave and mute/deafen are never dropped: they are kept for the reconnect.)
    NotSent {
        /// The command's wire type.
        what: &'static str,
    },
    /// The server announced that it is stopping; a reconnect follows.
    ServerShutdown {
        /// The server's words.
        message: String,
    },
    /// The connection ended and a new one is scheduled.
    Disconnected {
        /// What happened, for humans.
        reason: String,
        /// When the next attempt starts.
        retry_in_ms: Millis,
    },
    /// The core stopped for good; the last event.
    Closed(CloseReason),
}

/// Why the core stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseReason {
    /// The user asked to leave. `unsent` lists the chat messages never acknowledged.
    Left {
        /// `client_id`s of messages the server never acknowledged.
        unsent: Vec<String>,
    },
    /// Retrying cannot help: bad password, banned, kicked, a refused first join, or a first
    /// connection that failed.
    Fatal {
        /// The server's code, when the server gave one.
        code: Option<ErrorCode>,
        /// What happened, for humans.
        message: String,
    },
    /// The server presented another certificate than the pinned one, on the first
    /// connection or on a reconnection: retrying cannot help, and must not happen quietly.
    CertificateMismatch(CertificateMismatch),
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new connection, then call [`ClientCore::handle_connected`] or
    /// [`ClientCore::handle_connect_failed`].
    Connect,
    /// Send this message on the current connection.
    Send(ClientMsg),
    /// Hand this event to the application.
    Event(Event),
    /// Close the current connection (the core already counts it as gone; do not report
    /// its end back).
    Close,
}

/// Where the core is in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The shell is opening a connection.
    Connecting,
    /// Connected; waiting for `hello`.
    Handshake,
    /// `auth` sent; waiting for `welcome`.
    Authenticating,
    /// In the room.
    Joined,
    /// Disconnected; the next attempt starts at this time.
    Waiting(Millis),
    /// Stopped for good.
    Finished,
}

/// One conversation (text channel or DM) as far as this client has seen it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// Messages by id (ids order history).
    pub messages: BTreeMap<MessageId, ChatMessage>,
}

/// A chat message sent but not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingChat {
    /// Our id for it.
    pub client_id: String,
    /// Where it goes.
    pub channel: String,
    /// The text.
    pub text: String,
    /// The message replied to.
    pub reply_to: Option<MessageId>,
    /// An inline image.
    pub image: Option<Image>,
    /// Sent on the current connection (and not dropped by a `rate_limit` since).
    sent: bool,
}

impl PendingChat {
    fn to_wire(&self) -> ClientMsg {
        ClientMsg::ChatSend {
            channel: self.channel.clone(),
            client_id: self.client_id.clone(),
            text: self.text.clone(),
            reply_to: self.reply_to,
            image: self.image.clone(),
        }
    }
}

/// Makes `client_id`s: a per-process random prefix and a counter. The prefix matters because
/// the server deduplicates by (author name, `client_id`) forever, so a second run of a bot
/// under the same name must not reuse the first run's ids.
#[derive(Debug, Clone)]
pub struct ClientIds {
    prefix: String,
    next: u64,
}

impl ClientIds {
    /// Ids `"{prefix}-1"`, `"{prefix}-2"`, … The prefix must be unique per run (e.g. random).
    pub fn new(prefix: impl Into<String>) -> Self {
        ClientIds { prefix: prefix.into(), next: 1 }
    }

    /// A prefix drawn from `seed`, as 16 hex digits.
    pub fn from_seed(seed: u64) -> Self {
        ClientIds::new(format!("{:016x}", SplitMix::new(seed).next()))
    }

    /// The next fresh id.
    pub fn next_id(&mut self) -> String {
        let id = format!("{}-{}", self.prefix, self.next);
        self.next += 1;
        id
    }
}

/// A channel whose missed messages are being collected after a reconnect; they are emitted
/// together, in id order, once the gap is filled.
#[derive(Debug, Default)]
struct CatchUp {
    known_max: MessageId,
    buffer: BTreeMap<MessageId, ChatMessage>,
    pages: u32,
}

/// The client state machine. See the module docs for the calling convention.
pub struct ClientCore {
    opts: CoreOptions,
    phase: Phase,
    rng: SplitMix,
    /// Failed attempts since the last successful join.
    attempt: u32,
    out: VecDeque<Output>,
    ever_joined: bool,
    limits: Option<Limits>,
    me: Option<MemberId>,
    room: Option<RoomInfo>,
    members: BTreeMap<MemberId, Member>,
    ice_servers: Vec<IceServer>,
    conversations: BTreeMap<String, Conversation>,
    pending: Vec<PendingChat>,
    typing: BTreeMap<(String, MemberId), Millis>,
    want_voice: Option<String>,
    want_muted: bool,
    want_deafened: bool,
    voice_now: Option<String>,
    /// Set at a rejoin that must also rejoin voice, so that the confirmation says `rejoin`.
    voice_rejoining: bool,
    last_rx: Millis,
    ping_sent: bool,
    next_nonce: u64,
    resend_at: Option<Millis>,
    last_disconnect: Option<(ErrorCode, String)>,
    shutdown_notice: Option<String>,
    catchup: HashMap<String, CatchUp>,
}

impl ClientCore {
    /// A core that starts by asking the shell to connect.
    pub fn new(opts: CoreOptions) -> Self {
        let rng = SplitMix::new(opts.seed);
        let mut core = ClientCore {
            opts,
            phase: Phase::Connecting,
            rng,
            attempt: 0,
            out: VecDeque::new(),
            ever_joined: false,
            limits: None,
            me: None,
            room: None,
            members: BTreeMap::new(),
            ice_servers: Vec::new(),
            conversations: BTreeMap::new(),
            pending: Vec::new(),
            typing: BTreeMap::new(),
            want_voice: None,
            want_muted: false,
            want_deafened: false,
            voice_now: None,
            voice_rejoining: false,
            last_rx: 0,
            ping_sent: false,
            next_nonce: 1,
            resend_at: None,
            last_disconnect: None,
            shutdown_notice: None,
            catchup: HashMap::new(),
        };
        core.event(Event::Connecting { attempt: 0 });
        core.out.push_back(Output::Connect);
        core
    }

    // ---- reading state -------------------------------------------------------------

    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Our member id on the current connection, while in the room.
    pub fn me(&self) -> Option<MemberId> {
        self.me
    }

    /// The name we enter with.
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The room, once joined (kept while reconnecting).
    pub fn room(&self) -> Option<&RoomInfo> {
        self.room.as_ref()
    }

    /// Everyone in the room, with presence, voice channel, mute, deafen, speaking and
    /// camera state. Empty while disconnected: ids do not survive a connection.
    pub fn members(&self) -> &BTreeMap<MemberId, Member> {
        &self.members
    }

    /// The members in voice channel `channel`.
    pub fn voice_members(&self, channel: &str) -> impl Iterator<Item = &Member> {
        self.members.values().filter(move |m| m.voice_channel.as_deref() == Some(channel))
    }

    /// The voice channel the server says we are in.
    pub fn voice_channel(&self) -> Option<&str> {
        self.voice_now.as_deref()
    }

    /// The voice channel we want to be in (rejoined after a reconnect).
    pub fn wanted_voice_channel(&self) -> Option<&str> {
        self.want_voice.as_deref()
    }

    /// The STUN and TURN servers for WebRTC.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// The conversations seen so far, by channel (`@name` for DMs).
    pub fn conversations(&self) -> &BTreeMap<String, Conversation> {
        &self.conversations
    }

    /// Chat messages sent and not yet acknowledged, in send order.
    pub fn pending(&self) -> &[PendingChat] {
        &self.pending
    }

    /// Members typing now in `channel`.
    pub fn typing_in<'a>(&'a self, channel: &'a str) -> impl Iterator<Item = MemberId> + 'a {
        self.typing.keys().filter(move |(c, _)| c == channel).map(|(_, m)| *m)
    }

    // ---- inputs --------------------------------------------------------------------

    /// The shell opened the connection asked for by [`Output::Connect`].
    pub fn handle_connected(&mut self, now: Millis) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.phase = Phase::Handshake;
        self.last_rx = now;
        self.ping_sent = false;
        self.last_disconnect = None;
        self.shutdown_notice = None;
    }

    /// The connection asked for by [`Output::Connect`] could not be opened.
    pub fn handle_connect_failed(&mut self, now: Millis, error: &str) {
        if self.phase == Phase::Connecting {
            self.connection_lost(now, format!("could not connect: {error}"));
        }
    }

    /// The connection asked for by [`Output::Connect`] reached a server whose certificate is
    /// not the pinned one. Unlike other failures this ends the client, even after it was in
    /// the room: the next try would meet the same stranger.
    pub fn handle_certificate_mismatch(&mut self, _now: Millis, mismatch: CertificateMismatch) {
        if self.phase == Phase::Connecting {
            self.forget_session();
            self.phase = Phase::Finished;
            self.event(Event::Closed(CloseReason::CertificateMismatch(mismatch)));
        }
    }

    /// The current connection ended (closed by the server, or failed). `close` is the
    /// close frame's code and reason, when there was one.
    pub fn handle_closed(&mut self, now: Millis, close: Option<(u16, String)>) {
        if !matches!(self.phase, Phase::Handshake | Phase::Authenticating | Phase::Joined) {
            return;
        }
        let reason = match (&self.last_disconnect, &self.shutdown_notice, close) {
            (Some((code, message)), _, _) => format!("disconnected by the server ({}): {message}", code.as_str()),
            (None, Some(message), _) => format!("the server is shutting down: {message}"),
            (None, None, Some((code, reason))) => format!("connection closed (code {code}) {reason}"),
            (None, None, None) => "connection lost".to_owned(),
        };
        self.connection_lost(now, reason);
    }

    /// One message from the server.
    pub fn handle_message(&mut self, now: Millis, msg: ServerMsg) {
        if !matches!(self.phase, Phase::Handshake | Phase::Authenticating | Phase::Joined) {
            return;
        }
        // Any frame proves the server is alive.
        self.last_rx = now;
        self.ping_sent = false;
        match msg {
            ServerMsg::Hello { server, rooms, password_required, limits, .. } => {
                self.on_hello(server, rooms, password_required, limits)
            }
            ServerMsg::Welcome { you, room, members, ice_servers } => {
                self.on_welcome(now, you, room, members, ice_servers)
            }
            ServerMsg::Ping { nonce } => self.send(ClientMsg::Pong { nonce }),
            ServerMsg::Pong { .. } => {}
            ServerMsg::MemberJoined { member } => {
                self.members.insert(member.id, member.clone());
                self.event(Event::MemberJoined(member));
            }
            ServerMsg::MemberUpdated { member } => self.on_member_updated(member),
            ServerMsg::MemberLeft { id, reason } => {
                let name = self.members.remove(&id).map(|m| m.name);
                let stopped: Vec<_> = self.typing.keys().filter(|(_, m)| *m == id).cloned().collect();
                for key in stopped {
                    self.typing.remove(&key);
                }
                self.event(Event::MemberLeft { id, name, reason });
            }
            ServerMsg::RoomUpdated { room } => {
                self.room = Some(room.clone());
                self.event(Event::RoomUpdated(room));
            }
            ServerMsg::Chat { message } => self.on_chat(message),
            ServerMsg::ChatUpdated { message } => self.on_chat_updated(message),
            ServerMsg::Typing { channel, member } => {
                let fresh = self.typing.insert((channel.clone(), member), now + TYPING_EXPIRY_MS).is_none();
                if fresh {
                    self.event(Event::Typing { channel, member });
                }
            }
            ServerMsg::History { channel, messages, has_more } => self.on_history(channel, messages, has_more),
            ServerMsg::Speaking { member, speaking } => {
                if let Some(m) = self.members.get_mut(&member) {
                    m.speaking = speaking;
                }
                self.event(Event::Speaking { member, speaking });
            }
            ServerMsg::CameraRing { watcher } => self.event(Event::CameraRing { watcher }),
            ServerMsg::CameraOpened { member } => self.event(Event::CameraOpened { member }),
            ServerMsg::CameraClosed { member } => self.event(Event::CameraClosed { member }),
            ServerMsg::Watchers { watchers } => self.event(Event::Watchers(watchers)),
            ServerMsg::Signal { from, data, camera } => self.event(Event::Signal { from, data, camera }),
            ServerMsg::IceServers { servers } => {
                self.ice_servers = servers.clone();
                self.event(Event::IceServers(servers));
            }
            ServerMsg::Error { code, message, src, client_id } => self.on_error(now, code, message, src, client_id),
            ServerMsg::RateLimit { retry_after_ms, src } => {
                if src.as_deref() == Some("chat_send") {
                    // rate_limit carries no client_id, so every unacknowledged message is
                    // resent; the server stores each client_id once (protocol.md).
                    for p in &mut self.pending {
                        p.sent = false;
                    }
                    self.resend_at = Some(now + retry_after_ms);
                }
                self.event(Event::RateLimited { retry_after_ms, src });
            }
            ServerMsg::Disconnect { code, message } => self.last_disconnect = Some((code, message)),
            ServerMsg::Shutdown { message } => {
                self.shutdown_notice = Some(message.clone());
                self.event(Event::ServerShutdown { message });
            }
            // Newer servers may send types this client does not know; they are ignored.
            ServerMsg::Unknown => {}
        }
    }

    /// A user command.
    pub fn handle_command(&mut self, now: Millis, cmd: Command) {
        let _ = now;
        if self.phase == Phase::Finished {
            return;
        }
        let joined = self.phase == Phase::Joined;
        let msg = match cmd {
            Command::SendChat { client_id, channel, text, reply_to, image } => {
                let mut p = PendingChat { client_id, channel, text, reply_to, image, sent: false };
                // Behind a backlog still being paced out, a new message waits its turn so that
                // messages keep their order.
                if joined && self.pending.iter().all(|p| p.sent) {
                    p.sent = true;
                    self.send(p.to_wire());
                }
                self.pending.push(p);
                return;
            }
            Command::VoiceJoin { channel } => {
                self.want_voice = Some(channel.clone());
                if joined {
                    self.send(ClientMsg::VoiceJoin { channel });
                }
                return;
            }
            Command::VoiceLeave => {
                self.want_voice = None;
                if joined && self.voice_now.is_some() {
                    self.send(ClientMsg::VoiceLeave {});
                }
                return;
            }
            Command::VoiceState { muted, deafened } => {
                self.want_muted = muted;
                self.want_deafened = deafened;
                if joined {
                    self.send(ClientMsg::VoiceState { muted, deafened });
                }
                return;
            }
            Command::Leave => {
                self.finish(CloseReason::Left { unsent: self.pending.iter().map(|p| p.client_id.clone()).collect() });
                return;
            }
            Command::EditChat { id, text } => ClientMsg::ChatEdit { id, text },
            Command::DeleteChat { id } => ClientMsg::ChatDelete { id },
            Command::React { id, emoji } => ClientMsg::ReactAdd { id, emoji },
            Command::Unreact { id, emoji } => ClientMsg::ReactRemove { id, emoji },
            Command::Typing { channel } => ClientMsg::Typing { channel },
            Command::LoadHistory { channel, before, limit } => ClientMsg::HistoryGet { channel, before, limit },
            Command::SetPresence { presence, status_text } => ClientMsg::SetPresence { presence, status_text },
            Command::Speaking { speaking } => ClientMsg::Speaking { speaking },
            Command::Camera { on } => ClientMsg::Camera { on },
            Command::CameraOpen { member } => ClientMsg::CameraOpen { member },
            Command::CameraClose { member } => ClientMsg::CameraClose { member },
            Command::CameraBoot { member } => ClientMsg::CameraBoot { member },
            Command::Block { member } => ClientMsg::Block { member },
            Command::Unblock { member } => ClientMsg::Unblock { member },
            Command::Signal { to, data, camera } => ClientMsg::Signal { to, data, camera },
            Command::RefreshIceServers => ClientMsg::IceServersGet {},
            Command::Raw(msg) => match msg {
                ClientMsg::Auth { .. } | ClientMsg::Ping { .. } | ClientMsg::Pong { .. } => {
                    self.event(Event::NotSent { what: msg.type_name() });
                    return;
                }
                // Routed through the core's own bookkeeping so that resends and rejoins
                // know about them.
                ClientMsg::ChatSend { channel, client_id, text, reply_to, image } => {
                    return self.handle_command(now, Command::SendChat { client_id, channel, text, reply_to, image });
                }
                ClientMsg::VoiceJoin { channel } => return self.handle_command(now, Command::VoiceJoin { channel }),
                ClientMsg::VoiceLeave {} => return self.handle_command(now, Command::VoiceLeave),
                ClientMsg::VoiceState { muted, deafened } => {
                    return self.handle_command(now, Command::VoiceState { muted, deafened });
                }
                other => other,
            },
        };
        if joined {
            self.send(msg);
        } else {
            self.event(Event::NotSent { what: msg.type_name() });
        }
    }

    /// Time passed; call at [`ClientCore::poll_timeout`] (calling earlier is harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.phase {
            Phase::Waiting(at) if now >= at => {
                self.phase = Phase::Connecting;
                self.event(Event::Connecting { attempt: self.attempt });
                self.out.push_back(Output::Connect);
            }
            Phase::Handshake | Phase::Authenticating | Phase::Joined => {
                let (interval, timeout) = self.heartbeat();
                let silent = now.saturating_sub(self.last_rx);
                if silent >= timeout {
                    // The server is gone without a close (a pulled cable, a frozen host).
                    self.out.push_back(Output::Close);
                    self.connection_lost(now, format!("no word from the server for {silent} ms"));
                    return;
                }
                if silent >= interval && !self.ping_sent {
                    self.ping_sent = true;
                    let nonce = self.next_nonce;
                    self.next_nonce += 1;
                    self.send(ClientMsg::Ping { nonce: Some(nonce) });
                }
            }
            _ => {}
        }
        let expired: Vec<_> = self.typing.iter().filter(|(_, at)| **at <= now).map(|(k, _)| k.clone()).collect();
        for (channel, member) in expired {
            self.typing.remove(&(channel.clone(), member));
            self.event(Event::TypingStopped { channel, member });
        }
        if let Some(at) = self.resend_at
            && now >= at
        {
            self.resend_at = None;
            if self.phase == Phase::Joined {
                self.flush_pending(now);
            }
        }
    }

    // ---- outputs -------------------------------------------------------------------

    /// The next thing for the shell to do. Drain until `None` after every `handle_*`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`ClientCore::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
        match self.phase {
            Phase::Waiting(at) => consider(at),
            Phase::Handshake | Phase::Authenticating | Phase::Joined => {
                let (interval, timeout) = self.heartbeat();
                consider(self.last_rx + if self.ping_sent { timeout } else { interval });
            }
            Phase::Connecting | Phase::Finished => {}
        }
        if let Some(at) = self.typing.values().min() {
            consider(*at);
        }
        if let Some(at) = self.resend_at {
            consider(at);
        }
        next
    }

    /// True once the core stopped for good; the shell may end.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    // ---- internals -----------------------------------------------------------------

    fn send(&mut self, msg: ClientMsg) {
        self.out.push_back(Output::Send(msg));
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn heartbeat(&self) -> (Millis, Millis) {
        match &self.limits {
            Some(l) => (l.ping_interval_ms, l.heartbeat_timeout_ms),
            None => (DEFAULT_PING_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS),
        }
    }

    fn is_mine(&self, m: &ChatMessage) -> bool {
        m.author.to_lowercase() == self.opts.name.to_lowercase()
    }

    fn finish(&mut self, reason: CloseReason) {
        if matches!(self.phase, Phase::Handshake | Phase::Authenticating | Phase::Joined | Phase::Connecting) {
            self.out.push_back(Output::Close);
        }
        self.phase = Phase::Finished;
        self.event(Event::Closed(reason));
    }

    /// The connection is gone: forget what was tied to it and retry, unless retrying cannot
    /// help.
    fn connection_lost(&mut self, now: Millis, reason: String) {
        self.forget_session();
        let fatal_code = match &self.last_disconnect {
            Some((code @ (ErrorCode::BadPassword | ErrorCode::Banned | ErrorCode::Kicked), _)) => Some(*code),
            _ => None,
        };
        if let Some(code) = fatal_code {
            self.phase = Phase::Finished;
            self.event(Event::Closed(CloseReason::Fatal { code: Some(code), message: reason }));
            return;
        }
        if !self.ever_joined && !self.opts.retry_first_connect {
            self.phase = Phase::Finished;
            self.event(Event::Closed(CloseReason::Fatal { code: None, message: reason }));
            return;
        }
        let delay = self.opts.backoff.delay(self.attempt, self.rng.next());
        self.attempt = self.attempt.saturating_add(1);
        self.phase = Phase::Waiting(now + delay);
        self.event(Event::Disconnected { reason, retry_in_ms: delay });
    }

    /// Forgets what was tied to the connection that ended: voice, members, typing.
    fn forget_session(&mut self) {
        if let Some(channel) = self.voice_now.take() {
            self.event(Event::VoiceLeft { channel });
        }
        self.me = None;
        self.members.clear();
        self.catchup.clear();
        self.resend_at = None;
        for ((channel, member), _) in std::mem::take(&mut self.typing) {
            self.event(Event::TypingStopped { channel, member });
        }
    }

    fn on_hello(
        &mut self,
        server: ServerInfo,
        rooms: Vec<RoomSummary>,
        password_required: bool,
        limits: Limits,
    ) {
        if self.phase != Phase::Handshake {
            return;
        }
        self.limits = Some(limits);
        let room = self.opts.room.clone().or_else(|| rooms.first().map(|r| r.name.clone()));
        self.event(Event::Connected { server, rooms, password_required });
        let Some(room) = room else {
            self.finish(CloseReason::Fatal { code: None, message: "the server offers no room".into() });
            return;
        };
        // Pin the room, so that a reconnect enters the same one even if the list changes.
        self.opts.room = Some(room.clone());
        self.phase = Phase::Authenticating;
        self.send(ClientMsg::Auth {
            protocol: PROTOCOL_VERSION,
            room,
            name: self.opts.name.clone(),
            password: self.opts.password.clone(),
            token: self.opts.token.clone(),
        });
    }

    fn on_welcome(
        &mut self,
        now: Millis,
        you: MemberId,
        room: RoomInfo,
        members: Vec<Member>,
        ice_servers: Vec<IceServer>,
    ) {
        if self.phase != Phase::Authenticating {
            return;
        }
        let rejoin = self.ever_joined;
        self.phase = Phase::Joined;
        self.ever_joined = true;
        self.attempt = 0;
        self.me = Some(you);
        self.members = members.iter().map(|m| (m.id, m.clone())).collect();
        self.voice_now = self.members.get(&you).and_then(|m| m.voice_channel.clone());
        self.ice_servers = ice_servers.clone();
        self.room = Some(room.clone());
        if rejoin {
            // The join-time pages that follow are merged into what we know; whatever arrived
            // while we were away is collected and shown in order once the gap is filled.
            for channel in room.channels.iter().filter(|c| c.kind == hearth_wire::ChannelKind::Text) {
                let known_max = self
                    .conversations
                    .get(&channel.id)
                    .and_then(|c| c.messages.keys().next_back().copied())
                    .unwrap_or(0);
                self.catchup.insert(channel.id.clone(), CatchUp { known_max, ..CatchUp::default() });
            }
        }
        self.event(Event::Joined { you, room, members, ice_servers, rejoin });
        if self.want_muted || self.want_deafened {
            self.send(ClientMsg::VoiceState { muted: self.want_muted, deafened: self.want_deafened });
        }
        if let Some(channel) = self.want_voice.clone() {
            self.voice_rejoining = rejoin;
            self.send(ClientMsg::VoiceJoin { channel });
        }
        for p in &mut self.pending {
            p.sent = false;
        }
        self.flush_pending(now);
    }

    /// Sends pending chat not yet sent on this connection, at most half a rate-limit burst
    /// at a time: a long backlog resent at once would be dropped by the rate limiter, resent,
    /// dropped again, and end in a disconnect for flooding.
    fn flush_pending(&mut self, now: Millis) {
        let (burst, per_sec) = self.limits.as_ref().map_or((40, 20), |l| (l.rate_burst, l.rate_per_sec));
        let budget = (burst / 2).max(1) as usize;
        let batch: Vec<ClientMsg> = self
            .pending
            .iter_mut()
            .filter(|p| !p.sent)
            .take(budget)
            .map(|p| {
                p.sent = true;
                p.to_wire()
            })
            .collect();
        for msg in batch {
            self.send(msg);
        }
        if self.pending.iter().any(|p| !p.sent) {
            // The time the bucket needs to refill what this batch took.
            self.resend_at = Some(now + budget as Millis * 1000 / Millis::from(per_sec.max(1)));
        }
    }

    fn on_member_updated(&mut self, member: Member) {
        let mine = Some(member.id) == self.me;
        self.members.insert(member.id, member.clone());
        self.event(Event::MemberUpdated(member.clone()));
        if mine && member.voice_channel != self.voice_now {
            if let Some(channel) = self.voice_now.take() {
                self.event(Event::VoiceLeft { channel });
            }
            if let Some(channel) = member.voice_channel {
                let rejoin = std::mem::take(&mut self.voice_rejoining);
                self.voice_now = Some(channel.clone());
                self.event(Event::VoiceJoined { channel, rejoin });
            }
        }
    }

    /// Removes the pending message `m` acknowledges, if any.
    fn ack(&mut self, m: &ChatMessage) {
        if !self.is_mine(m) {
            return;
        }
        if let Some(i) = self.pending.iter().position(|p| p.client_id == m.client_id) {
            let p = self.pending.remove(i);
            self.event(Event::SendAcked { client_id: p.client_id, id: m.id });
        }
    }

    fn on_chat(&mut self, message: ChatMessage) {
        self.ack(&message);
        if let Some(c) = self.catchup.get_mut(&message.channel) {
            c.buffer.insert(message.id, message);
            return;
        }
        self.show(message);
    }

    /// Shows `message` unless it is already shown; a changed copy is an update.
    fn show(&mut self, message: ChatMessage) {
        self.merge(message, true);
    }

    /// Records `m`. A changed copy of a known message is an update; an unknown one is a
    /// [`Event::Message`] when it is `news`, and silent history otherwise.
    fn merge(&mut self, m: ChatMessage, news: bool) {
        let conv = self.conversations.entry(m.channel.clone()).or_default();
        let event = match conv.messages.get(&m.id) {
            Some(known) if *known == m => return,
            Some(_) => Event::MessageUpdated(m.clone()),
            None if news => Event::Message(m.clone()),
            None => {
                conv.messages.insert(m.id, m);
                return;
            }
        };
        conv.messages.insert(m.id, m);
        self.event(event);
    }

    fn on_chat_updated(&mut self, message: ChatMessage) {
        if let Some(c) = self.catchup.get_mut(&message.channel)
            && let Some(slot) = c.buffer.get_mut(&message.id)
        {
            *slot = message;
            return;
        }
        self.conversations.entry(message.channel.clone()).or_default().messages.insert(message.id, message.clone());
        self.event(Event::MessageUpdated(message));
    }

    fn on_history(&mut self, channel: String, messages: Vec<ChatMessage>, has_more: bool) {
        for m in &messages {
            self.ack(m);
        }
        let oldest = messages.last().map(|m| m.id);
        if let Some(mut c) = self.catchup.remove(&channel) {
            for m in messages {
                let known = self.conversations.get(&channel).is_some_and(|conv| conv.messages.contains_key(&m.id));
                if m.id > c.known_max && !known {
                    c.buffer.insert(m.id, m);
                } else {
                    self.merge(m, false);
                }
            }
            c.pages += 1;
            if let Some(oldest) = oldest
                && has_more
                && oldest > c.known_max
                && c.pages <= MAX_CATCHUP_PAGES
            {
                let limit = self.limits.as_ref().map(|l| l.history_page_max);
                self.send(ClientMsg::HistoryGet { channel: channel.clone(), before: Some(oldest), limit });
                self.catchup.insert(channel, c);
                return;
            }
            for (_, m) in c.buffer {
                self.show(m);
            }
            return;
        }
        let mut fresh = Vec::new();
        for m in messages.into_iter().rev() {
            let conv = self.conversations.entry(channel.clone()).or_default();
            match conv.messages.get(&m.id) {
                None => {
                    conv.messages.insert(m.id, m.clone());
                    fresh.push(m);
                }
                Some(_) => self.merge(m, false),
            }
        }
        self.event(Event::History { channel, messages: fresh, has_more });
    }

    fn on_error(
        &mut self,
        now: Millis,
        code: ErrorCode,
        message: String,
        src: Option<String>,
        client_id: Option<String>,
    ) {
        if self.phase == Phase::Authenticating && src.as_deref() == Some("auth") {
            // After a drop the server may not have noticed our old connection yet, so our
            // own ghost holds the name until its heartbeat times out: worth retrying.
            if self.ever_joined && code == ErrorCode::NameTaken {
                self.out.push_back(Output::Close);
                self.connection_lost(now, format!("name still taken ({message})"));
            } else {
                self.finish(CloseReason::Fatal { code: Some(code), message });
            }
            return;
        }
        if let Some(cid) = client_id {
            self.pending.retain(|p| p.client_id != cid);
            self.event(Event::SendFailed { client_id: cid, code, message });
            return;
        }
        self.event(Event::ServerError { code, message, src });
    }
}

#[cfg(test)]
mod tests;
