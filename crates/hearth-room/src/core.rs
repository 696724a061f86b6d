//! [`RoomCore`]: the state machine that owns every connection and room.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use subtle::ConstantTimeEq;

use crate::bucket::TokenBucket;
use crate::command::{Command, ImageUpload, SignalPayload};
use crate::event::{
    ErrorKind, Event, LeaveReason, MemberView, MessageView, Presence, RoomSummary, RoomView,
};
use crate::settings::{ChannelKind, RoomDef, Settings};
use crate::store::{Store, StoredMessage};
use crate::validate::{self, Refusal};
use crate::{ConnId, Millis};

/// The protocol version the core implements.
pub const PROTOCOL: u32 = 1;

/// WebSocket close codes the core asks for.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_TRY_LATER: u16 = 1013;

/// How often connections are checked for heartbeats. Heartbeat deadlines are seconds long,
/// so a one-second sweep is precise enough and keeps the timer cheap with thousands of members.
const SWEEP_MS: u64 = 1000;

const MAX_CLIENT_ID_CHARS: usize = 64;
const MAX_STATUS_CHARS: u32 = 128;
const MAX_REASON_CHARS: u32 = 256;
const MAX_EMOJI_BYTES: usize = 32;
const MAX_REACTIONS: usize = 20;
const MAX_SDP_BYTES: usize = 64 * 1024;
const MAX_CANDIDATE_BYTES: usize = 2048;
const DEFAULT_PAGE: u32 = 50;

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send an event to one connection.
    Send {
        /// The connection.
        to: ConnId,
        /// The event.
        event: Event,
    },
    /// Send the same event to many connections; encode it once.
    Broadcast {
        /// The connections.
        to: Vec<ConnId>,
        /// The event.
        event: Event,
    },
    /// Close a connection after sending what was queued for it. The core has already
    /// forgotten it; further input for it is ignored.
    Close {
        /// The connection.
        conn: ConnId,
        /// WebSocket close code.
        code: u16,
        /// Close reason, human-readable.
        reason: String,
    },
}

struct Conn {
    addr: IpAddr,
    /// When the socket opened; a connection must authenticate within the heartbeat timeout
    /// of this, pings or not.
    opened: Millis,
    last_seen: Millis,
    pinged: bool,
    bucket: TokenBucket,
    strikes: u32,
    member: Option<Member>,
}

struct Member {
    room: usize,
    name: String,
    key: String,
    operator: bool,
    /// Entered with an operator token: the host. Other operators cannot act against them.
    owner: bool,
    presence: Presence,
    status_text: String,
    voice: Option<String>,
    muted: bool,
    deafened: bool,
    server_muted: bool,
    speaking: bool,
    camera: bool,
    /// Who watches this member's camera.
    watchers: BTreeSet<ConnId>,
    /// Watchers removed with `camera_boot`, until the camera goes off.
    booted: HashSet<ConnId>,
    /// Members this member blocked.
    blocked: HashSet<ConnId>,
    /// Members who blocked this member: the reverse of `blocked`, so that a broadcast of
    /// this member's message costs nothing per listener when nobody blocked them.
    blocked_by: HashSet<ConnId>,
    /// Cameras this member watches.
    watching: BTreeSet<ConnId>,
}

impl Member {
    /// Whether `viewer` may know that this member's camera is on.
    fn camera_visible_to(&self, viewer: ConnId) -> bool {
        self.camera && !self.blocked.contains(&viewer) && !self.booted.contains(&viewer)
    }

    fn view_for(&self, id: ConnId, viewer: ConnId) -> MemberView {
        MemberView {
            id,
            name: self.name.clone(),
            operator: self.operator,
            presence: self.presence,
            status_text: self.status_text.clone(),
            voice_channel: self.voice.clone(),
            muted: self.muted,
            deafened: self.deafened,
            server_muted: self.server_muted,
            speaking: self.speaking,
            camera: self.camera_visible_to(viewer),
        }
    }
}

struct Room {
    def: RoomDef,
    locked: bool,
    /// Members in joining order.
    members: Vec<ConnId>,
    /// Lower-cased name to member.
    by_name: HashMap<String, ConnId>,
}

impl Room {
    fn view(&self) -> RoomView {
        RoomView { def: self.def.clone(), locked: self.locked }
    }

    fn channel_kind(&self, id: &str) -> Option<ChannelKind> {
        self.def.channels.iter().find(|c| c.id == id).map(|c| c.kind)
    }
}

struct Ban {
    key: String,
    addr: IpAddr,
}

/// A conversation named by a client: a text channel or a direct message.
struct Conv {
    /// The store's conversation key.
    key: String,
    /// For a direct message, the other party's name as the requester typed it.
    dm_with: Option<String>,
}

type Handled = Result<(), Refusal>;

/// The room core. See the crate docs for the drain rule.
pub struct RoomCore<S> {
    settings: Settings,
    store: S,
    conns: HashMap<ConnId, Conn>,
    rooms: Vec<Room>,
    bans: Vec<Ban>,
    out: VecDeque<Output>,
    next_nonce: u64,
    next_sweep: Millis,
}

impl<S: Store> RoomCore<S> {
    /// A core with no connections, serving the rooms in `settings`, with history in `store`.
    pub fn new(settings: Settings, store: S) -> RoomCore<S> {
        let rooms = settings
            .rooms
            .iter()
            .map(|def| Room {
                def: def.clone(),
                locked: false,
                members: Vec::new(),
                by_name: HashMap::new(),
            })
            .collect();
        RoomCore {
            settings,
            store,
            conns: HashMap::new(),
            rooms,
            bans: Vec::new(),
            out: VecDeque::new(),
            next_nonce: 1,
            next_sweep: Millis(0),
        }
    }

    /// The next output to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`RoomCore::handle_timeout`] next has work to do.
    pub fn poll_timeout(&self) -> Option<Millis> {
        (!self.conns.is_empty()).then_some(self.next_sweep)
    }

    /// The settings the core enforces.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of members in all rooms.
    pub fn member_count(&self) -> usize {
        self.rooms.iter().map(|r| r.members.len()).sum()
    }

    /// Number of rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The store, for the shell to flush on shutdown.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// A new connection from `addr`. Sends `hello`, or refuses it when the server is full.
    pub fn handle_connect(&mut self, now: Millis, conn: ConnId, addr: IpAddr) {
        if self.conns.len() >= self.settings.max_connections as usize {
            let message = format!("the server is full ({} connections)", self.settings.max_connections);
            self.send(conn, Event::Disconnect { code: ErrorKind::ServerFull, message: message.clone() });
            self.out.push_back(Output::Close { conn, code: CLOSE_TRY_LATER, reason: message });
            return;
        }
        let s = &self.settings;
        let bucket = TokenBucket::new(now, s.rate_per_sec, s.rate_burst);
        self.conns.insert(
            conn,
            Conn { addr, opened: now, last_seen: now, pinged: false, bucket, strikes: 0, member: None },
        );
        if self.conns.len() == 1 {
            self.next_sweep = now.plus(SWEEP_MS);
        }
        let hello = Event::Hello {
            server_name: s.server_name.clone(),
            server_version: s.server_version.clone(),
            rooms: self
                .rooms
                .iter()
                .map(|r| RoomSummary {
                    name: r.def.name.clone(),
                    members: r.members.len() as u32,
                    locked: r.locked,
                })
                .collect(),
            password_required: s.password.is_some(),
        };
        self.send(conn, hello);
    }

    /// The connection closed on its own.
    pub fn handle_disconnect(&mut self, _now: Millis, conn: ConnId) {
        self.remove(conn, LeaveReason::Left);
    }

    /// The connection sent a frame over the size cap; it is closed.
    pub fn handle_oversize(&mut self, _now: Millis, conn: ConnId) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let reason = format!("frame larger than {} bytes", self.settings.max_frame_bytes);
        self.out.push_back(Output::Close { conn, code: CLOSE_TOO_BIG, reason });
        self.remove(conn, LeaveReason::Dropped);
    }

    /// The shell could not turn a frame into a [`Command`]; answer with an error. Counts as
    /// a message for rate limiting and heartbeats.
    pub fn handle_invalid(
        &mut self,
        now: Millis,
        conn: ConnId,
        code: ErrorKind,
        message: String,
        src: Option<String>,
        client_id: Option<String>,
    ) {
        if !self.admit(now, conn, src.as_deref(), true) {
            return;
        }
        self.send(conn, Event::Error { code, message, src, client_id });
    }

    /// A request from a connection.
    pub fn handle_command(&mut self, now: Millis, conn: ConnId, cmd: Command) {
        let costs = !matches!(cmd, Command::Pong);
        if !self.admit(now, conn, Some(cmd.src()), costs) {
            return;
        }
        let src = cmd.src();
        let client_id = match &cmd {
            Command::ChatSend { client_id, .. } => Some(client_id.clone()),
            _ => None,
        };
        let authed = self.conns.get(&conn).is_some_and(|c| c.member.is_some());
        let result = if authed {
            self.dispatch(now, conn, cmd)
        } else {
            match cmd {
                Command::Auth { protocol, room, name, password, token } => {
                    self.auth(conn, protocol, &room, &name, password, token)
                }
                Command::Ping { nonce } => {
                    self.send(conn, Event::Pong { nonce });
                    Ok(())
                }
                Command::Pong => Ok(()),
                _ => Err((ErrorKind::NotAuthenticated, "send auth first".into())),
            }
        };
        if let Err((code, message)) = result {
            self.send(
                conn,
                Event::Error { code, message: message.clone(), src: Some(src.into()), client_id },
            );
            if matches!(code, ErrorKind::BadPassword | ErrorKind::Banned) {
                self.close_for(conn, code, message, LeaveReason::Dropped);
            }
        }
    }

    /// Time passed: pings silent connections and drops dead ones.
    pub fn handle_timeout(&mut self, now: Millis) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.plus(SWEEP_MS);
        let timeout = self.settings.heartbeat_timeout_ms;
        let interval = self.settings.ping_interval_ms;
        let mut dead = Vec::new();
        let mut unauthenticated = Vec::new();
        let mut ping = Vec::new();
        for (&id, c) in &mut self.conns {
            let silent = now.since(c.last_seen);
            if silent >= timeout {
                dead.push(id);
            } else if c.member.is_none() && now.since(c.opened) >= timeout {
                unauthenticated.push(id);
            } else if silent >= interval && !c.pinged {
                c.pinged = true;
                ping.push(id);
            }
        }
        // Sorted so that outputs do not depend on hash order: tests compare transcripts.
        ping.sort_unstable();
        dead.sort_unstable();
        unauthenticated.sort_unstable();
        for id in ping {
            let nonce = self.next_nonce;
            self.next_nonce += 1;
            self.send(id, Event::Ping { nonce });
        }
        for id in dead {
            let message = format!("no message received for {} seconds", timeout / 1000);
            self.close_for(id, ErrorKind::HeartbeatTimeout, message, LeaveReason::Timeout);
        }
        for id in unauthenticated {
            let message = format!("no auth within {} seconds", timeout / 1000);
            self.close_for(id, ErrorKind::NotAuthenticated, message, LeaveReason::Timeout);
        }
    }

    /// The server is stopping: tell everyone and close every connection.
    pub fn handle_shutdown(&mut self, _now: Millis) {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        let message = "the server is shutting down".to_string();
        self.broadcast(ids.clone(), Event::Shutdown { message: message.clone() });
        for conn in ids {
            self.out.push_back(Output::Close { conn, code: CLOSE_GOING_AWAY, reason: message.clone() });
        }
        self.conns.clear();
        for room in &mut self.rooms {
            room.members.clear();
            room.by_name.clear();
        }
    }

    // ----- plumbing -----

    fn send(&mut self, to: ConnId, event: Event) {
        self.out.push_back(Output::Send { to, event });
    }

    fn broadcast(&mut self, to: Vec<ConnId>, event: Event) {
        if !to.is_empty() {
            self.out.push_back(Output::Broadcast { to, event });
        }
    }

    /// Liveness and rate limiting for one incoming message. Returns false when the message
    /// must be dropped.
    fn admit(&mut self, now: Millis, conn: ConnId, src: Option<&str>, costs: bool) -> bool {
        let strikes_allowed = self.settings.flood_strikes;
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        c.last_seen = now;
        c.pinged = false;
        if !costs {
            return true;
        }
        match c.bucket.take(now) {
            Ok(()) => {
                c.strikes = 0;
                true
            }
            Err(wait) => {
                c.strikes += 1;
                if c.strikes >= strikes_allowed {
                    let message = "kept sending after rate-limit warnings".to_string();
                    self.close_for(conn, ErrorKind::Flood, message, LeaveReason::Dropped);
                } else {
                    let src = src.map(str::to_owned);
                    self.send(conn, Event::RateLimit { retry_after_ms: wait, src });
                }
                false
            }
        }
    }

    /// Sends `disconnect`, closes with a policy code, and removes the connection.
    fn close_for(&mut self, conn: ConnId, code: ErrorKind, message: String, reason: LeaveReason) {
        self.send(conn, Event::Disconnect { code, message: message.clone() });
        let close_reason = format!("{}: {message}", code_name(code));
        self.out.push_back(Output::Close { conn, code: CLOSE_POLICY, reason: close_reason });
        self.remove(conn, reason);
    }

    /// Forgets a connection and cleans up everything that pointed at it.
    fn remove(&mut self, conn: ConnId, reason: LeaveReason) {
        let Some(c) = self.conns.remove(&conn) else { return };
        let Some(m) = c.member else { return };
        let room = &mut self.rooms[m.room];
        room.members.retain(|&id| id != conn);
        room.by_name.remove(&m.key);
        let others = room.members.clone();
        for &w in &m.watchers {
            if let Some(wm) = self.member_mut(w) {
                wm.watching.remove(&conn);
            }
            self.send(w, Event::CameraClosed { member: conn });
        }
        for &b in &m.watching {
            if let Some(bm) = self.member_mut(b) {
                bm.watchers.remove(&conn);
            }
            self.send_watchers(b);
        }
        for &o in &others {
            if let Some(om) = self.member_mut(o) {
                om.blocked.remove(&conn);
                om.blocked_by.remove(&conn);
                om.booted.remove(&conn);
            }
        }
        self.broadcast(others, Event::MemberLeft { id: conn, reason });
    }

    fn member(&self, id: ConnId) -> Option<&Member> {
        self.conns.get(&id).and_then(|c| c.member.as_ref())
    }

    fn member_mut(&mut self, id: ConnId) -> Option<&mut Member> {
        self.conns.get_mut(&id).and_then(|c| c.member.as_mut())
    }

    /// The caller's member state; only called after authentication.
    fn me(&self, id: ConnId) -> &Member {
        self.member(id).expect("dispatch runs for members only")
    }

    fn me_mut(&mut self, id: ConnId) -> &mut Member {
        self.member_mut(id).expect("dispatch runs for members only")
    }

    /// Another member of the caller's room.
    fn peer(&self, me: ConnId, other: ConnId) -> Result<&Member, Refusal> {
        let room = self.me(me).room;
        self.member(other)
            .filter(|m| m.room == room)
            .ok_or_else(|| (ErrorKind::NotFound, format!("no member {other} in this room")))
    }

    fn not_self(me: ConnId, other: ConnId, what: &str) -> Handled {
        if me == other {
            return Err((ErrorKind::Invalid, format!("you cannot {what} yourself")));
        }
        Ok(())
    }

    fn require_operator(&self, me: ConnId) -> Handled {
        if !self.me(me).operator {
            return Err((ErrorKind::Forbidden, "only operators may do this".into()));
        }
        Ok(())
    }

    /// Operator actions against another member, which must not be an owner.
    fn moderate(&self, me: ConnId, target: ConnId) -> Result<&Member, Refusal> {
        self.require_operator(me)?;
        let t = self.peer(me, target)?;
        if t.owner {
            return Err((ErrorKind::Forbidden, format!("{} is the host and cannot be moderated", t.name)));
        }
        Ok(t)
    }

    /// Sends every room member the member's new state, hiding the camera from those who
    /// may not see it.
    fn publish_member(&mut self, id: ConnId) {
        let Some(m) = self.member(id) else { return };
        let audience = self.rooms[m.room].members.clone();
        let (hidden, shown): (Vec<ConnId>, Vec<ConnId>) =
            audience.into_iter().partition(|&v| m.camera && !m.camera_visible_to(v));
        let open = m.view_for(id, id);
        let closed = MemberView { camera: false, ..open.clone() };
        self.broadcast(shown, Event::MemberUpdated(open));
        self.broadcast(hidden, Event::MemberUpdated(closed));
    }

    fn send_watchers(&mut self, broadcaster: ConnId) {
        if let Some(m) = self.member(broadcaster) {
            let list = m.watchers.iter().copied().collect();
            self.send(broadcaster, Event::Watchers(list));
        }
    }

    // ----- auth -----

    #[allow(clippy::too_many_arguments)]
    fn auth(
        &mut self,
        conn: ConnId,
        protocol: u32,
        room_name: &str,
        name: &str,
        password: Option<String>,
        token: Option<String>,
    ) -> Handled {
        let s = &self.settings;
        if protocol != PROTOCOL {
            return Err((
                ErrorKind::UnsupportedVersion,
                format!("this server speaks protocol {PROTOCOL}, not {protocol}"),
            ));
        }
        let room_idx = self
            .rooms
            .iter()
            .position(|r| r.def.name == room_name)
            .ok_or_else(|| (ErrorKind::RoomNotFound, "no room by that name".to_string()))?;
        validate::name(name, s.max_name_chars)?;
        let operator = match &token {
            Some(t) => {
                let ok = s.operator_tokens.iter().any(|o| bool::from(o.as_bytes().ct_eq(t.as_bytes())));
                if !ok {
                    return Err((ErrorKind::BadPassword, "the operator token is not valid".into()));
                }
                true
            }
            None => false,
        };
        if let Some(expected) = &s.password {
            let given = password.as_deref().unwrap_or("");
            if !operator && !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                let why = if password.is_none() { "this room needs a password" } else { "wrong password" };
                return Err((ErrorKind::BadPassword, why.into()));
            }
        }
        let key = name.to_lowercase();
        let addr = self.conns[&conn].addr;
        if self.bans.iter().any(|b| b.key == key || b.addr == addr) {
            return Err((ErrorKind::Banned, "you are banned from this server".into()));
        }
        let room = &self.rooms[room_idx];
        if room.locked && !operator {
            return Err((ErrorKind::RoomLocked, "the room is locked".into()));
        }
        if room.by_name.contains_key(&key) {
            return Err((ErrorKind::NameTaken, format!("someone here is already called {name}")));
        }

        let member = Member {
            room: room_idx,
            name: name.to_owned(),
            key: key.clone(),
            operator,
            owner: operator,
            presence: Presence::Online,
            status_text: String::new(),
            voice: None,
            muted: false,
            deafened: false,
            server_muted: false,
            speaking: false,
            camera: false,
            watchers: BTreeSet::new(),
            booted: HashSet::new(),
            blocked: HashSet::new(),
            blocked_by: HashSet::new(),
            watching: BTreeSet::new(),
        };
        let joined = member.view_for(conn, conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.member = Some(member);
        }
        let room = &mut self.rooms[room_idx];
        let others = room.members.clone();
        room.members.push(conn);
        room.by_name.insert(key, conn);
        let room = &self.rooms[room_idx];

        let members = room
            .members
            .iter()
            .filter_map(|&id| self.conns.get(&id)?.member.as_ref().map(|m| m.view_for(id, conn)))
            .collect();
        let welcome = Event::Welcome {
            you: conn,
            room: room.view(),
            members,
            ice_servers: self.settings.ice_servers.clone(),
        };
        let text_channels: Vec<String> = room
            .def
            .channels
            .iter()
            .filter(|c| c.kind == ChannelKind::Text)
            .map(|c| c.id.clone())
            .collect();
        self.send(conn, welcome);
        let per_channel = self.settings.history_on_join;
        for channel in text_channels {
            if let Err(e) = self.history(conn, &channel, None, Some(per_channel)) {
                self.send(conn, Event::error(e.0, e.1, Some("auth")));
            }
        }
        self.broadcast(others, Event::MemberJoined(joined));
        Ok(())
    }

    // ----- everything after auth -----

    fn dispatch(&mut self, now: Millis, me: ConnId, cmd: Command) -> Handled {
        match cmd {
            Command::Auth { .. } => {
                Err((ErrorKind::AlreadyAuthenticated, "you are already in a room".into()))
            }
            Command::Ping { nonce } => {
                self.send(me, Event::Pong { nonce });
                Ok(())
            }
            Command::Pong => Ok(()),
            Command::SetPresence { presence, status_text } => {
                let status_text = status_text.unwrap_or_default();
                validate::text("status text", &status_text, MAX_STATUS_CHARS)?;
                let m = self.me_mut(me);
                m.presence = presence;
                m.status_text = status_text;
                self.publish_member(me);
                Ok(())
            }
            Command::ChatSend { channel, client_id, text, reply_to, image } => {
                self.chat_send(now, me, &channel, client_id, text, reply_to, image)
            }
            Command::ChatEdit { id, text } => self.chat_edit(now, me, id, text),
            Command::ChatDelete { id } => self.chat_delete(me, id),
            Command::React { id, emoji, add } => self.react(me, id, emoji, add),
            Command::Typing { channel } => self.typing(me, &channel),
            Command::HistoryGet { channel, before, limit } => self.history(me, &channel, before, limit),
            Command::VoiceJoin { channel } => {
                let room = &self.rooms[self.me(me).room];
                if room.channel_kind(&channel) != Some(ChannelKind::Voice) {
                    return Err((ErrorKind::NotFound, format!("no voice channel {channel:?}")));
                }
                let m = self.me_mut(me);
                m.voice = Some(channel);
                m.speaking = false;
                self.publish_member(me);
                Ok(())
            }
            Command::VoiceLeave => {
                let m = self.me_mut(me);
                if m.voice.take().is_none() {
                    return Err((ErrorKind::NotInVoice, "you are not in a voice channel".into()));
                }
                m.speaking = false;
                self.publish_member(me);
                Ok(())
            }
            Command::VoiceState { muted, deafened } => {
                let m = self.me_mut(me);
                m.deafened = deafened;
                // Someone who cannot hear must not be heard either.
                m.muted = muted || deafened;
                if m.muted {
                    m.speaking = false;
                }
                self.publish_member(me);
                Ok(())
            }
            Command::Speaking { speaking } => {
                let m = self.me_mut(me);
                if m.voice.is_none() {
                    return Err((ErrorKind::NotInVoice, "you are not in a voice channel".into()));
                }
                if speaking && (m.muted || m.server_muted) {
                    return Err((ErrorKind::Forbidden, "you are muted".into()));
                }
                if m.speaking != speaking {
                    m.speaking = speaking;
                    let audience = self.rooms[self.me(me).room].members.clone();
                    self.broadcast(audience, Event::Speaking { member: me, speaking });
                }
                Ok(())
            }
            Command::Camera { on } => {
                self.camera(me, on);
                Ok(())
            }
            Command::CameraOpen { member } => self.camera_open(me, member),
            Command::CameraClose { member } => {
                self.peer(me, member)?;
                let b = self.member_mut(member).expect("peer checked");
                if !b.watchers.remove(&me) {
                    return Err((ErrorKind::NotFound, "you are not watching that camera".into()));
                }
                self.me_mut(me).watching.remove(&member);
                self.send(me, Event::CameraClosed { member });
                self.send_watchers(member);
                Ok(())
            }
            Command::CameraBoot { member } => {
                let m = self.me_mut(me);
                if !m.watchers.remove(&member) {
                    return Err((ErrorKind::NotFound, "that member is not watching your camera".into()));
                }
                m.booted.insert(member);
                if let Some(w) = self.member_mut(member) {
                    w.watching.remove(&me);
                }
                self.send(member, Event::CameraClosed { member: me });
                let view = self.me(me).view_for(me, member);
                self.send(member, Event::MemberUpdated(view));
                self.send_watchers(me);
                Ok(())
            }
            Command::Block { member, blocked } => self.block(me, member, blocked),
            Command::Signal { to, data, camera } => {
                Self::not_self(me, to, "signal")?;
                self.peer(me, to)?;
                // A camera connection always carries the camera of one of its two ends.
                if camera.is_some_and(|owner| owner != me && owner != to) {
                    return Err((
                        ErrorKind::Invalid,
                        "camera must be the sender or the recipient of the signal".to_string(),
                    ));
                }
                let (field, len, max) = match &data {
                    SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } => {
                        ("sdp", sdp.len(), MAX_SDP_BYTES)
                    }
                    SignalPayload::Candidate { candidate, .. } => {
                        ("candidate", candidate.len(), MAX_CANDIDATE_BYTES)
                    }
                    SignalPayload::Bye => ("", 0, 1),
                };
                if len > max {
                    return Err((ErrorKind::TooLarge, format!("{field} is longer than {max} bytes")));
                }
                self.send(to, Event::Signal { from: me, data, camera });
                Ok(())
            }
            Command::IceServersGet => {
                self.send(me, Event::IceServers(self.settings.ice_servers.clone()));
                Ok(())
            }
            Command::Kick { member, reason } => {
                self.eject(me, member, reason, ErrorKind::Kicked, LeaveReason::Kicked)
            }
            Command::Ban { member, reason } => {
                self.eject(me, member, reason, ErrorKind::Banned, LeaveReason::Banned)
            }
            Command::Unban { name } => {
                self.require_operator(me)?;
                let key = name.to_lowercase();
                let before = self.bans.len();
                self.bans.retain(|b| b.key != key);
                if self.bans.len() == before {
                    return Err((ErrorKind::NotFound, format!("{name} is not banned")));
                }
                Ok(())
            }
            Command::Lock { locked } => {
                self.require_operator(me)?;
                let idx = self.me(me).room;
                let room = &mut self.rooms[idx];
                room.locked = locked;
                let (audience, view) = (room.members.clone(), room.view());
                self.broadcast(audience, Event::RoomUpdated(view));
                Ok(())
            }
            Command::ServerMute { member, muted } => {
                self.moderate(me, member)?;
                let m = self.member_mut(member).expect("peer checked");
                m.server_muted = muted;
                if muted {
                    m.speaking = false;
                }
                self.publish_member(member);
                Ok(())
            }
            Command::SetOperator { member, operator } => {
                if operator {
                    self.require_operator(me)?;
                    self.peer(me, member)?;
                } else {
                    Self::not_self(me, member, "demote")?;
                    self.moderate(me, member)?;
                }
                self.member_mut(member).expect("peer checked").operator = operator;
                self.publish_member(member);
                Ok(())
            }
        }
    }

    fn eject(
        &mut self,
        me: ConnId,
        member: ConnId,
        reason: Option<String>,
        code: ErrorKind,
        leave: LeaveReason,
    ) -> Handled {
        Self::not_self(me, member, "remove")?;
        let target = self.moderate(me, member)?;
        let reason = reason.unwrap_or_default();
        validate::text("reason", &reason, MAX_REASON_CHARS)?;
        let verb = if code == ErrorKind::Banned { "banned" } else { "kicked" };
        let by = &self.me(me).name;
        let message = if reason.is_empty() {
            format!("{by} {verb} you")
        } else {
            format!("{by} {verb} you: {reason}")
        };
        if code == ErrorKind::Banned {
            let ban = Ban { key: target.key.clone(), addr: self.conns[&member].addr };
            self.bans.push(ban);
        }
        self.close_for(member, code, message, leave);
        Ok(())
    }

    // ----- camera and blocking -----

    fn camera(&mut self, me: ConnId, on: bool) {
        let m = self.me_mut(me);
        m.camera = on;
        if !on {
            let watchers = std::mem::take(&mut m.watchers);
            m.booted.clear();
            for w in watchers {
                if let Some(wm) = self.member_mut(w) {
                    wm.watching.remove(&me);
                }
                self.send(w, Event::CameraClosed { member: me });
            }
            self.send_watchers(me);
        }
        self.publish_member(me);
    }

    fn camera_open(&mut self, me: ConnId, member: ConnId) -> Handled {
        Self::not_self(me, member, "watch")?;
        let b = self.peer(me, member)?;
        if !b.camera_visible_to(me) {
            return Err((ErrorKind::CameraOff, "that camera is off".into()));
        }
        self.member_mut(member).expect("peer checked").watchers.insert(me);
        self.me_mut(me).watching.insert(member);
        self.send(me, Event::CameraOpened { member });
        self.send(member, Event::CameraRing { watcher: me });
        self.send_watchers(member);
        Ok(())
    }

    fn block(&mut self, me: ConnId, member: ConnId, blocked: bool) -> Handled {
        Self::not_self(me, member, "block")?;
        self.peer(me, member)?;
        if let Some(target) = self.member_mut(member) {
            if blocked {
                target.blocked_by.insert(me);
            } else {
                target.blocked_by.remove(&me);
            }
        }
        let m = self.me_mut(me);
        if blocked {
            m.blocked.insert(member);
            if m.watchers.remove(&member) {
                if let Some(w) = self.member_mut(member) {
                    w.watching.remove(&me);
                }
                self.send(member, Event::CameraClosed { member: me });
                self.send_watchers(me);
            }
        } else {
            m.blocked.remove(&member);
        }
        if self.me(me).camera {
            let view = self.me(me).view_for(me, member);
            self.send(member, Event::MemberUpdated(view));
        }
        Ok(())
    }

    // ----- chat -----

    /// Resolves a channel name as the caller wrote it. `dm_needs_peer` requires the other
    /// party of a direct message to be in the room now.
    fn conv(&self, me: ConnId, channel: &str, dm_needs_peer: bool) -> Result<Conv, Refusal> {
        let m = self.me(me);
        let room = &self.rooms[m.room];
        if let Some(other) = channel.strip_prefix('@') {
            let other_key = other.to_lowercase();
            if other_key == m.key {
                return Err((ErrorKind::Invalid, "you cannot message yourself".into()));
            }
            if other.is_empty() || (dm_needs_peer && !room.by_name.contains_key(&other_key)) {
                return Err((ErrorKind::NotFound, format!("no member called {other} in this room")));
            }
            let (a, b) = if m.key < other_key { (&m.key, &other_key) } else { (&other_key, &m.key) };
            // Prefer the name as its owner spells it over the caller's spelling.
            let present = room.by_name.get(&other_key).and_then(|&id| self.member(id));
            let dm_with = present.map_or_else(|| other.to_owned(), |p| p.name.clone());
            return Ok(Conv { key: format!("@{a}\n{b}"), dm_with: Some(dm_with) });
        }
        match room.channel_kind(channel) {
            Some(ChannelKind::Text) => Ok(Conv { key: format!("#{channel}"), dm_with: None }),
            _ => Err((ErrorKind::NotFound, format!("no text channel {channel:?}"))),
        }
    }

    /// Who receives changes to a message: the room, or both parties of a direct message,
    /// minus those who blocked the author.
    fn audience(&self, room_idx: usize, msg: &StoredMessage) -> Vec<ConnId> {
        let room = &self.rooms[room_idx];
        let author = room.by_name.get(&msg.author.to_lowercase()).copied();
        let blockers = author.and_then(|a| self.member(a)).map(|m| &m.blocked_by).filter(|b| !b.is_empty());
        let blocks_author = |id: &ConnId| blockers.is_some_and(|b| b.contains(id));
        if let Some(pair) = msg.conv.strip_prefix('@') {
            pair.split('\n')
                .filter_map(|key| room.by_name.get(key).copied())
                .filter(|id| !blocks_author(id))
                .collect()
        } else if blockers.is_none() {
            room.members.clone()
        } else {
            room.members.iter().copied().filter(|id| !blocks_author(id)).collect()
        }
    }

    /// Whether a member is a party to a message's conversation.
    fn can_see(&self, me: ConnId, msg: &StoredMessage) -> bool {
        match msg.conv.strip_prefix('@') {
            Some(pair) => pair.split('\n').any(|k| k == self.me(me).key),
            None => true,
        }
    }

    fn load(&self, me: ConnId, id: u64) -> Result<StoredMessage, Refusal> {
        let room = &self.rooms[self.me(me).room].def.name;
        let msg = self.store.get(room, id).map_err(internal)?;
        msg.filter(|m| self.can_see(me, m) && !m.deleted)
            .ok_or_else(|| (ErrorKind::NotFound, format!("no message {id}")))
    }

    /// Sends a changed or new message to its audience, each side of a direct message seeing
    /// the other party's name as the channel.
    fn fan_out(&mut self, msg: &StoredMessage, make: fn(MessageView) -> Event) {
        let room_idx = self.me_room_of_name(&msg.room);
        let audience = self.audience(room_idx, msg);
        if msg.dm_to.is_some() {
            for id in audience {
                let key = self.member(id).map(|m| m.key.clone()).unwrap_or_default();
                self.send(id, make(view_for(msg, &key)));
            }
        } else {
            self.broadcast(audience, make(view_for(msg, "")));
        }
    }

    fn me_room_of_name(&self, name: &str) -> usize {
        self.rooms.iter().position(|r| r.def.name == name).unwrap_or(0)
    }

    #[allow(clippy::too_many_arguments)]
    fn chat_send(
        &mut self,
        now: Millis,
        me: ConnId,
        channel: &str,
        client_id: String,
        text: String,
        reply_to: Option<u64>,
        image: Option<ImageUpload>,
    ) -> Handled {
        let count = client_id.chars().count();
        if count == 0 || count > MAX_CLIENT_ID_CHARS {
            return Err((ErrorKind::Invalid, format!("client_id must be 1 to {MAX_CLIENT_ID_CHARS} characters")));
        }
        validate::text("message text", &text, self.settings.max_text_chars)?;
        if let Some(img) = &image {
            validate::image(&img.mime, &img.bytes, self.settings.max_image_bytes)?;
        } else if text.trim().is_empty() {
            return Err((ErrorKind::Invalid, "message text is empty".into()));
        }
        let conv = self.conv(me, channel, true)?;
        let m = self.me(me);
        let room = self.rooms[m.room].def.name.clone();
        let author = m.name.clone();
        if let Some(original) = self.store.by_client_id(&room, &author, &client_id).map_err(internal)? {
            // A resend after a reconnect: acknowledge the stored copy, store nothing.
            let view = view_for(&original, &self.me(me).key);
            self.send(me, Event::Chat(view));
            return Ok(());
        }
        if let Some(parent) = reply_to {
            let found = self.store.get(&room, parent).map_err(internal)?;
            if found.is_none_or(|p| p.conv != conv.key) {
                return Err((ErrorKind::NotFound, format!("no message {parent} to reply to here")));
            }
        }
        let mut msg = StoredMessage {
            id: 0,
            room,
            conv: conv.key,
            dm_to: conv.dm_with,
            client_id,
            author,
            text,
            reply_to,
            image: image.map(|i| (i.mime, i.bytes)),
            ts: now.0,
            edited_ts: None,
            deleted: false,
            reactions: Vec::new(),
        };
        msg.id = self.store.insert(&msg).map_err(internal)?;
        self.fan_out(&msg, Event::Chat);
        Ok(())
    }

    fn chat_edit(&mut self, now: Millis, me: ConnId, id: u64, text: String) -> Handled {
        let mut msg = self.load(me, id)?;
        if msg.author.to_lowercase() != self.me(me).key {
            return Err((ErrorKind::Forbidden, "only the author can edit a message".into()));
        }
        validate::text("message text", &text, self.settings.max_text_chars)?;
        if text.trim().is_empty() && msg.image.is_none() {
            return Err((ErrorKind::Invalid, "message text is empty".into()));
        }
        msg.text = text;
        msg.edited_ts = Some(now.0);
        self.store.update(&msg).map_err(internal)?;
        self.fan_out(&msg, Event::ChatUpdated);
        Ok(())
    }

    fn chat_delete(&mut self, me: ConnId, id: u64) -> Handled {
        let mut msg = self.load(me, id)?;
        let m = self.me(me);
        if msg.author.to_lowercase() != m.key && !m.operator {
            return Err((ErrorKind::Forbidden, "only the author or an operator can delete a message".into()));
        }
        msg.deleted = true;
        msg.text.clear();
        msg.image = None;
        msg.reactions.clear();
        self.store.update(&msg).map_err(internal)?;
        self.fan_out(&msg, Event::ChatUpdated);
        Ok(())
    }

    fn react(&mut self, me: ConnId, id: u64, emoji: String, add: bool) -> Handled {
        if emoji.is_empty() || emoji.len() > MAX_EMOJI_BYTES {
            return Err((ErrorKind::Invalid, format!("a reaction must be 1 to {MAX_EMOJI_BYTES} bytes")));
        }
        let mut msg = self.load(me, id)?;
        let name = self.me(me).name.clone();
        let slot = msg.reactions.iter().position(|(e, _)| *e == emoji);
        match (add, slot) {
            (true, Some(i)) => {
                let names = &mut msg.reactions[i].1;
                if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                    names.push(name);
                }
            }
            (true, None) => {
                if msg.reactions.len() >= MAX_REACTIONS {
                    return Err((ErrorKind::TooLarge, format!("a message can have at most {MAX_REACTIONS} different reactions")));
                }
                msg.reactions.push((emoji, vec![name]));
            }
            (false, Some(i)) => {
                msg.reactions[i].1.retain(|n| !n.eq_ignore_ascii_case(&name));
                if msg.reactions[i].1.is_empty() {
                    msg.reactions.remove(i);
                }
            }
            (false, None) => {}
        }
        self.store.update(&msg).map_err(internal)?;
        self.fan_out(&msg, Event::ChatUpdated);
        Ok(())
    }

    fn typing(&mut self, me: ConnId, channel: &str) -> Handled {
        let conv = self.conv(me, channel, true)?;
        let m = self.me(me);
        let room = &self.rooms[m.room];
        let not_blocking = |id: &ConnId| *id != me && !m.blocked_by.contains(id);
        match conv.dm_with {
            Some(other) => {
                let target = room.by_name[&other.to_lowercase()];
                if not_blocking(&target) {
                    let channel = format!("@{}", m.name);
                    self.send(target, Event::Typing { channel, member: me });
                }
            }
            None => {
                let audience: Vec<ConnId> = room.members.iter().copied().filter(not_blocking).collect();
                self.broadcast(audience, Event::Typing { channel: channel.to_owned(), member: me });
            }
        }
        Ok(())
    }

    fn history(&mut self, me: ConnId, channel: &str, before: Option<u64>, limit: Option<u32>) -> Handled {
        let conv = self.conv(me, channel, false)?;
        let m = self.me(me);
        let room = self.rooms[m.room].def.name.clone();
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, self.settings.history_page_max);
        let (page, has_more) = self.store.page(&room, &conv.key, before, limit).map_err(internal)?;
        let blocked: HashSet<String> =
            m.blocked.iter().filter_map(|&id| self.member(id).map(|b| b.key.clone())).collect();
        let messages = page
            .iter()
            .filter(|msg| !blocked.contains(&msg.author.to_lowercase()))
            .map(|msg| view_for(msg, &m.key))
            .collect();
        self.send(me, Event::History { channel: channel.to_owned(), messages, has_more });
        Ok(())
    }
}

/// A stored message as the member with lower-cased name `receiver` sees it.
fn view_for(msg: &StoredMessage, receiver: &str) -> MessageView {
    let channel = match (&msg.dm_to, msg.conv.strip_prefix('#')) {
        (_, Some(id)) => id.to_owned(),
        (Some(to), None) if msg.author.to_lowercase() == receiver => format!("@{to}"),
        _ => format!("@{}", msg.author),
    };
    MessageView {
        id: msg.id,
        client_id: msg.client_id.clone(),
        channel,
        author: msg.author.clone(),
        text: msg.text.clone(),
        reply_to: msg.reply_to,
        image: msg.image.clone(),
        ts: msg.ts,
        edited_ts: msg.edited_ts,
        deleted: msg.deleted,
        reactions: msg.reactions.clone(),
    }
}

fn internal(e: crate::store::StoreError) -> Refusal {
    (ErrorKind::Internal, format!("history storage failed ({}); try again", e.0))
}

/// The wire name of a code, for close-frame reasons.
pub fn code_name(code: ErrorKind) -> &'static str {
    match code {
        ErrorKind::Malformed => "malformed",
        ErrorKind::UnknownType => "unknown_type",
        ErrorKind::Invalid => "invalid",
        ErrorKind::TooLarge => "too_large",
        ErrorKind::UnsupportedVersion => "unsupported_version",
        ErrorKind::NotAuthenticated => "not_authenticated",
        ErrorKind::AlreadyAuthenticated => "already_authenticated",
        ErrorKind::BadPassword => "bad_password",
        ErrorKind::Banned => "banned",
        ErrorKind::RoomLocked => "room_locked",
        ErrorKind::RoomNotFound => "room_not_found",
        ErrorKind::NameTaken => "name_taken",
        ErrorKind::InvalidName => "invalid_name",
        ErrorKind::ServerFull => "server_full",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotInVoice => "not_in_voice",
        ErrorKind::CameraOff => "camera_off",
        ErrorKind::BadImage => "bad_image",
        ErrorKind::Flood => "flood",
        ErrorKind::Kicked => "kicked",
        ErrorKind::HeartbeatTimeout => "heartbeat_timeout",
        ErrorKind::Shutdown => "shutdown",
        ErrorKind::Internal => "internal",
    }
}
