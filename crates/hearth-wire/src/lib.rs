//! Hearth's wire protocol, version 1.
//!
//! Every WebSocket text frame carries one JSON object with a `type` tag. Messages are split by
//! direction: [`ClientMsg`] travels from a client to the server, [`ServerMsg`] from the server
//! to a client. `docs/protocol.md` is the prose specification of these types; the two must be
//! changed together.
//!
//! This crate is the only place that knows the JSON shape of the protocol. It does no IO and
//! knows nothing of sockets, rooms or time: the server and the client convert these types into
//! their own domain types by hand.
//!
//! Decoding never panics. Any byte string given to [`decode_client`] or [`decode_server`]
//! yields either a message or a [`DecodeError`] that names what was wrong, so that a server can
//! answer bad input with an `error` message and keep the connection.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks. Sent in `hello` and required in `auth`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A member's identifier, assigned by the server for the life of one connection.
///
/// Ids are never reused while a server runs, so a stale id can never address a newcomer.
/// Perfect negotiation uses their numeric order to pick the polite side.
pub type MemberId = u64;

/// A chat message's identifier, assigned by the server. Ids grow with time within a server's
/// data directory, so they also order history.
pub type MessageId = u64;

/// Messages a client sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Enter a room. The first message a client sends, after the server's `hello`.
    Auth {
        /// The protocol version the client speaks; must equal [`PROTOCOL_VERSION`].
        protocol: u32,
        /// Name of the room to enter, as listed in `hello`.
        room: String,
        /// Display name; unique within the room while connected.
        name: String,
        /// The room password, when `hello` said one is required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// An operator token. A matching token makes the member an operator and also
        /// stands in for the room password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Heartbeat probe; the server answers `pong` with the same nonce.
    Ping {
        /// Opaque value echoed back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    /// Answer to the server's `ping`.
    Pong {
        /// The nonce of the `ping` being answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    /// Set one's own presence and free-text status.
    SetPresence {
        /// Online, away or busy.
        presence: Presence,
        /// Free text such as "back in 5"; empty or absent clears it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_text: Option<String>,
    },
    /// Post a chat message to a text channel, or a direct message to `@name`.
    ChatSend {
        /// A text channel id, or `@name` for a direct message to that member.
        channel: String,
        /// Chosen by the client, unique per author; a resend with the same id is not
        /// stored twice, and the server answers with the original message.
        client_id: String,
        /// The message text; may be empty only when an image is attached.
        text: String,
        /// Id of the message this one replies to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
        /// A small inline image.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<Image>,
    },
    /// Replace the text of one's own message.
    ChatEdit {
        /// The message to edit.
        id: MessageId,
        /// The new text.
        text: String,
    },
    /// Delete a message: one's own, or any as an operator.
    ChatDelete {
        /// The message to delete.
        id: MessageId,
    },
    /// Add a reaction to a message.
    ReactAdd {
        /// The message reacted to.
        id: MessageId,
        /// The reaction, a short string such as an emoji.
        emoji: String,
    },
    /// Remove one's own reaction from a message.
    ReactRemove {
        /// The message reacted to.
        id: MessageId,
        /// The reaction to remove.
        emoji: String,
    },
    /// Say that one is typing in a channel. Clients repeat it every few seconds while typing.
    Typing {
        /// A text channel id or `@name`.
        channel: String,
    },
    /// Ask for a page of history, newest first, older than `before`.
    HistoryGet {
        /// A text channel id or `@name`.
        channel: String,
        /// Only messages with a smaller id; absent for the newest page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<MessageId>,
        /// Page size; capped by the server's `history_page_max`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Join a voice channel, leaving any other one.
    VoiceJoin {
        /// A voice channel id.
        channel: String,
    },
    /// Leave the current voice channel.
    VoiceLeave {},
    /// Set one's own mute and deafen state.
    VoiceState {
        /// The microphone is muted.
        muted: bool,
        /// Playback is off (deafen implies mute for others).
        deafened: bool,
    },
    /// Voice activity started or stopped.
    Speaking {
        /// True while the member is transmitting.
        speaking: bool,
    },
    /// Turn one's own camera on or off.
    Camera {
        /// True when the camera is broadcasting.
        on: bool,
    },
    /// Ask to watch another member's camera.
    CameraOpen {
        /// The broadcaster.
        member: MemberId,
    },
    /// Stop watching another member's camera.
    CameraClose {
        /// The broadcaster.
        member: MemberId,
    },
    /// Remove a watcher from one's own camera; they cannot reopen it until the camera is
    /// turned off and on again.
    CameraBoot {
        /// The watcher.
        member: MemberId,
    },
    /// Stop seeing a member's chat and hide one's own camera from them.
    Block {
        /// The member to block.
        member: MemberId,
    },
    /// Undo `block`.
    Unblock {
        /// The member to unblock.
        member: MemberId,
    },
    /// Relay WebRTC signaling to one member of the same room.
    Signal {
        /// The recipient.
        to: MemberId,
        /// The payload, relayed unchanged.
        data: SignalData,
        /// Absent for the voice connection; for a camera connection, the member whose camera
        /// it carries (the sender or the recipient).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        camera: Option<MemberId>,
    },
    /// Ask for the ICE server list again.
    IceServersGet {},
    /// Operator: disconnect a member.
    Kick {
        /// The member to kick.
        member: MemberId,
        /// Shown to the member and the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Operator: disconnect a member and refuse their name and address until unbanned.
    Ban {
        /// The member to ban.
        member: MemberId,
        /// Shown to the member and the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Operator: lift a ban by the banned name.
    Unban {
        /// The name that was banned.
        name: String,
    },
    /// Operator: lock or unlock the room to newcomers.
    Lock {
        /// True to refuse new members.
        locked: bool,
    },
    /// Operator: mute or unmute a member for everyone.
    ServerMute {
        /// The member.
        member: MemberId,
        /// True to mute.
        muted: bool,
    },
    /// Operator: make another member an operator.
    OpGrant {
        /// The member.
        member: MemberId,
    },
    /// Operator: take operator rights away from a member.
    OpRevoke {
        /// The member.
        member: MemberId,
    },
}

/// The `type` tag of every [`ClientMsg`] variant, in declaration order.
pub const CLIENT_MSG_TYPES: &[&str] = &[
    "auth",
    "ping",
    "pong",
    "set_presence",
    "chat_send",
    "chat_edit",
    "chat_delete",
    "react_add",
    "react_remove",
    "typing",
    "history_get",
    "voice_join",
    "voice_leave",
    "voice_state",
    "speaking",
    "camera",
    "camera_open",
    "camera_close",
    "camera_boot",
    "block",
    "unblock",
    "signal",
    "ice_servers_get",
    "kick",
    "ban",
    "unban",
    "lock",
    "server_mute",
    "op_grant",
    "op_revoke",
];

impl ClientMsg {
    /// The message's `type` tag, used to name the offending message in errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMsg::Auth { .. } => "auth",
            ClientMsg::Ping { .. } => "ping",
            ClientMsg::Pong { .. } => "pong",
            ClientMsg::SetPresence { .. } => "set_presence",
            ClientMsg::ChatSend { .. } => "chat_send",
            ClientMsg::ChatEdit { .. } => "chat_edit",
            ClientMsg::ChatDelete { .. } => "chat_delete",
            ClientMsg::ReactAdd { .. } => "react_add",
            ClientMsg::ReactRemove { .. } => "react_remove",
            ClientMsg::Typing { .. } => "typing",
            ClientMsg::HistoryGet { .. } => "history_get",
            ClientMsg::VoiceJoin { .. } => "voice_join",
            ClientMsg::VoiceLeave {} => "voice_leave",
            ClientMsg::VoiceState { .. } => "voice_state",
            ClientMsg::Speaking { .. } => "speaking",
            ClientMsg::Camera { .. } => "camera",
            ClientMsg::CameraOpen { .. } => "camera_open",
            ClientMsg::CameraClose { .. } => "camera_close",
            ClientMsg::CameraBoot { .. } => "camera_boot",
            ClientMsg::Block { .. } => "block",
            ClientMsg::Unblock { .. } => "unblock",
            ClientMsg::Signal { .. } => "signal",
            ClientMsg::IceServersGet {} => "ice_servers_get",
            ClientMsg::Kick { .. } => "kick",
            ClientMsg::Ban { .. } => "ban",
            ClientMsg::Unban { .. } => "unban",
            ClientMsg::Lock { .. } => "lock",
            ClientMsg::ServerMute { .. } => "server_mute",
            ClientMsg::OpGrant { .. } => "op_grant",
            ClientMsg::OpRevoke { .. } => "op_revoke",
        }
    }
}

/// The `type` tag of every [`ServerMsg`] variant except `Unknown`, in declaration order.
pub const SERVER_MSG_TYPES: &[&str] = &[
    "hello",
    "welcome",
    "ping",
    "pong",
    "member_joined",
    "member_updated",
    "member_left",
    "room_updated",
    "chat",
    "chat_updated",
    "typing",
    "history",
    "speaking",
    "camera_ring",
    "camera_opened",
    "camera_closed",
    "watchers",
    "signal",
    "ice_servers",
    "error",
    "rate_limit",
    "disconnect",
    "shutdown",
];

/// Messages the server sends to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The first message on every connection: who the server is and what it allows.
    Hello {
        /// The protocol version the server speaks.
        protocol: u32,
        /// Server name and software version.
        server: ServerInfo,
        /// The rooms one may enter.
        rooms: Vec<RoomSummary>,
        /// Whether `auth` needs a password (or an operator token).
        password_required: bool,
        /// Limits the server enforces.
        limits: Limits,
    },
    /// `auth` succeeded: the member is in the room.
    Welcome {
        /// The new member's own id.
        you: MemberId,
        /// The room and its channels.
        room: RoomInfo,
        /// Everyone in the room, the new member included.
        members: Vec<Member>,
        /// STUN and TURN servers for WebRTC.
        ice_servers: Vec<IceServer>,
    },
    /// Heartbeat probe; the client answers `pong` with the same nonce.
    Ping {
        /// Opaque value to echo back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    /// Answer to the client's `ping`.
    Pong {
        /// The nonce of the `ping` being answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    /// A member entered the room.
    MemberJoined {
        /// The newcomer.
        member: Member,
    },
    /// A member's presence, voice, camera or operator state changed.
    MemberUpdated {
        /// The member's full new state.
        member: Member,
    },
    /// A member left the room.
    MemberLeft {
        /// The member who left.
        id: MemberId,
        /// Why they left.
        reason: LeaveReason,
    },
    /// The room's lock state changed.
    RoomUpdated {
        /// The room's full new state.
        room: RoomInfo,
    },
    /// A new chat message. The author receives it too: that is the acknowledgement that it
    /// is stored.
    Chat {
        /// The message.
        message: ChatMessage,
    },
    /// A message was edited, deleted, or its reactions changed.
    ChatUpdated {
        /// The message's full new state.
        message: ChatMessage,
    },
    /// A member is typing.
    Typing {
        /// The channel (`@name` for a direct message to the receiver).
        channel: String,
        /// Who is typing.
        member: MemberId,
    },
    /// A page of history, newest first.
    History {
        /// The channel asked for.
        channel: String,
        /// The messages, newest first.
        messages: Vec<ChatMessage>,
        /// Whether older messages exist.
        has_more: bool,
    },
    /// A member started or stopped speaking.
    Speaking {
        /// The member.
        member: MemberId,
        /// True while transmitting.
        speaking: bool,
    },
    /// To a broadcaster: a member opened your camera; start sending them video.
    CameraRing {
        /// The new watcher.
        watcher: MemberId,
    },
    /// To a watcher: your `camera_open` was accepted; video will arrive.
    CameraOpened {
        /// The broadcaster.
        member: MemberId,
    },
    /// To a watcher: the camera you watched is no longer sent to you.
    CameraClosed {
        /// The broadcaster.
        member: MemberId,
    },
    /// To a broadcaster: who is watching your camera now.
    Watchers {
        /// The watchers' ids.
        watchers: Vec<MemberId>,
    },
    /// WebRTC signaling relayed from another member.
    Signal {
        /// The sender, stamped by the server.
        from: MemberId,
        /// The payload as the sender gave it.
        data: SignalData,
        /// Absent for the voice connection; for a camera connection, the member whose camera
        /// it carries (the sender or the recipient).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        camera: Option<MemberId>,
    },
    /// The ICE server list.
    IceServers {
        /// STUN and TURN servers.
        servers: Vec<IceServer>,
    },
    /// A request was refused or could not be read. The connection stays open.
    Error {
        /// Stable, program-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The `type` of the message that caused the error, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        src: Option<String>,
        /// The `client_id` of the chat message that caused the error, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// The client sends too fast; the message named by `src` was dropped.
    RateLimit {
        /// Milliseconds to wait before sending again.
        retry_after_ms: u64,
        /// The `type` of the dropped message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        src: Option<String>,
    },
    /// The server is about to close this connection, and says why.
    Disconnect {
        /// Why, as a stable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// The server is stopping.
    Shutdown {
        /// Human-readable explanation.
        message: String,
    },
    /// A message type this client version does not know, from a newer server.
    #[serde(other)]
    Unknown,
}

impl ServerMsg {
    /// The message's `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMsg::Hello { .. } => "hello",
            ServerMsg::Welcome { .. } => "welcome",
            ServerMsg::Ping { .. } => "ping",
            ServerMsg::Pong { .. } => "pong",
            ServerMsg::MemberJoined { .. } => "member_joined",
            ServerMsg::MemberUpdated { .. } => "member_updated",
            ServerMsg::MemberLeft { .. } => "member_left",
            ServerMsg::RoomUpdated { .. } => "room_updated",
            ServerMsg::Chat { .. } => "chat",
            ServerMsg::ChatUpdated { .. } => "chat_updated",
            ServerMsg::Typing { .. } => "typing",
            ServerMsg::History { .. } => "history",
            ServerMsg::Speaking { .. } => "speaking",
            ServerMsg::CameraRing { .. } => "camera_ring",
            ServerMsg::CameraOpened { .. } => "camera_opened",
            ServerMsg::CameraClosed { .. } => "camera_closed",
            ServerMsg::Watchers { .. } => "watchers",
            ServerMsg::Signal { .. } => "signal",
            ServerMsg::IceServers { .. } => "ice_servers",
            ServerMsg::Error { .. } => "error",
            ServerMsg::RateLimit { .. } => "rate_limit",
            ServerMsg::Disconnect { .. } => "disconnect",
            ServerMsg::Shutdown { .. } => "shutdown",
            ServerMsg::Unknown => "unknown",
        }
    }
}

/// The server's name and software version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Name chosen by the host.
    pub name: String,
    /// Software version, e.g. `0.1.0`.
    pub version: String,
}

/// A room as listed in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room's name, used in `auth`.
    pub name: String,
    /// How many members are in it.
    pub members: u32,
    /// Whether it refuses newcomers.
    pub locked: bool,
}

/// A room and its channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// Text and voice channels, in display order.
    pub channels: Vec<Channel>,
    /// Whether it refuses newcomers.
    pub locked: bool,
}

/// A text or voice channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Stable id used in messages.
    pub id: String,
    /// Text or voice.
    pub kind: ChannelKind,
    /// Display name.
    pub name: String,
    /// Topic line; may be empty.
    #[serde(default)]
    pub topic: String,
}

/// What a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Chat messages with history.
    Text,
    /// A voice call that members join and leave.
    Voice,
}

/// A member's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Active.
    #[default]
    Online,
    /// Away from the keyboard.
    Away,
    /// Do not disturb.
    Busy,
}

/// Everything others see about a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's id.
    pub id: MemberId,
    /// Display name, unique within the room.
    pub name: String,
    /// Whether the member may moderate.
    pub operator: bool,
    /// Online, away or busy.
    pub presence: Presence,
    /// Free-text status; may be empty.
    #[serde(default)]
    pub status_text: String,
    /// The voice channel the member is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_channel: Option<String>,
    /// Self-muted.
    pub muted: bool,
    /// Self-deafened.
    pub deafened: bool,
    /// Muted by an operator.
    pub server_muted: bool,
    /// Transmitting right now.
    pub speaking: bool,
    /// Camera broadcasting (as far as the receiver is allowed to know).
    pub camera: bool,
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// Closed the connection.
    Left,
    /// Stopped answering heartbeats.
    Timeout,
    /// Kicked by an operator.
    Kicked,
    /// Banned by an operator.
    Banned,
    /// Disconnected for abuse (flooding, oversized frames).
    Dropped,
}

/// A stored chat message as delivered to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Server-assigned id.
    pub id: MessageId,
    /// The author's client-chosen id.
    pub client_id: String,
    /// The text channel id, or `@name` of the other party of a direct message.
    pub channel: String,
    /// The author's name.
    pub author: String,
    /// The text; empty when deleted.
    pub text: String,
    /// The message replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// The attached image; absent when deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// When the server stored it, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// When it was last edited, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ts: Option<u64>,
    /// Whether it was deleted; a deleted message keeps its place in history.
    #[serde(default)]
    pub deleted: bool,
    /// Reactions, in the order they were first added.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

/// One reaction on a message and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The reaction, e.g. an emoji.
    pub emoji: String,
    /// Names of the members who reacted this way.
    pub names: Vec<String>,
}

/// An inline image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub mime: String,
    /// The image bytes, standard base64 with padding.
    pub data: String,
}

/// A WebRTC signaling payload, relayed between two members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalData {
    /// An SDP offer.
    Offer {
        /// The session description.
        sdp: String,
    },
    /// An SDP answer.
    Answer {
        /// The session description.
        sdp: String,
    },
    /// A trickled ICE candidate.
    Candidate {
        /// The candidate line; empty signals the end of candidates.
        candidate: String,
        /// The media stream id it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// The m-line index it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// The sender closed its peer connection with the receiver.
    Bye {},
}

/// A STUN or TURN server, in the shape of WebRTC's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Limits the server enforces, announced in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest WebSocket frame accepted; larger closes the connection.
    pub max_frame_bytes: u32,
    /// Longest chat text, in characters.
    pub max_text_chars: u32,
    /// Longest member name, in characters.
    pub max_name_chars: u32,
    /// Largest image, in decoded bytes.
    pub max_image_bytes: u32,
    /// Sustained messages per second allowed per connection.
    pub rate_per_sec: u32,
    /// Burst of messages allowed above the sustained rate.
    pub rate_burst: u32,
    /// Silence after which the server drops a connection, in milliseconds.
    pub heartbeat_timeout_ms: u64,
    /// How often the server pings an idle connection, in milliseconds.
    pub ping_interval_ms: u64,
    /// Most messages returned by one `history_get`.
    pub history_page_max: u32,
}

/// Stable error codes, shared by `error` and `disconnect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a JSON object with a string `type`, or not UTF-8 text.
    Malformed,
    /// The `type` is not one this server knows.
    UnknownType,
    /// A field is missing, of the wrong type, or out of range.
    Invalid,
    /// A field or the whole frame is larger than allowed.
    TooLarge,
    /// The client's protocol version is not supported.
    UnsupportedVersion,
    /// The message needs `auth` first.
    NotAuthenticated,
    /// `auth` was sent twice.
    AlreadyAuthenticated,
    /// The room password or token is wrong.
    BadPassword,
    /// The name or address is banned from the room.
    Banned,
    /// The room refuses newcomers.
    RoomLocked,
    /// No room by that name.
    RoomNotFound,
    /// Someone in the room already has that name.
    NameTaken,
    /// The name is empty, too long, or uses characters outside the allowed set.
    InvalidName,
    /// The server has no room for another connection.
    ServerFull,
    /// The channel, message or member named does not exist.
    NotFound,
    /// The member may not do this (not an operator, not the author, muted, or acting
    /// against the host).
    Forbidden,
    /// The action needs the member to be in a voice channel.
    NotInVoice,
    /// The camera asked for is off.
    CameraOff,
    /// The attached image is not a valid PNG, JPEG, GIF or WebP.
    BadImage,
    /// The client kept sending after `rate_limit` warnings.
    Flood,
    /// The member was kicked.
    Kicked,
    /// The client stopped answering heartbeats.
    HeartbeatTimeout,
    /// The server is shutting down.
    Shutdown,
    /// The server failed; the request may be retried.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::AlreadyAuthenticated => "already_authenticated",
            ErrorCode::BadPassword => "bad_password",
            ErrorCode::Banned => "banned",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotInVoice => "not_in_voice",
            ErrorCode::CameraOff => "camera_off",
            ErrorCode::BadImage => "bad_image",
            ErrorCode::Flood => "flood",
            ErrorCode::Kicked => "kicked",
            ErrorCode::HeartbeatTimeout => "heartbeat_timeout",
            ErrorCode::Shutdown => "shutdown",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Why a frame could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a JSON object with a string `type` field.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A well-formed message of a type this side does not know.
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    /// A known type whose fields are missing or wrong.
    #[error("invalid `{ty}` message: {detail}")]
    Invalid {
        /// The message's `type`.
        ty: String,
        /// What serde said was wrong.
        detail: String,
    },
}

impl DecodeError {
    /// The stable code to answer this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Malformed(_) => ErrorCode::Malformed,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::Invalid { .. } => ErrorCode::Invalid,
        }
    }

    /// The offending message's `type`, when it could be read.
    pub fn src(&self) -> Option<&str> {
        match self {
            DecodeError::Malformed(_) => None,
            DecodeError::UnknownType(ty) | DecodeError::Invalid { ty, .. } => Some(ty),
        }
    }
}

/// Just the tag, read only after a full decode failed, to say what was wrong.
#[derive(Deserialize)]
struct TagOnly {
    #[serde(rename = "type")]
    ty: Option<serde_json::Value>,
}

/// Longest explanation kept from serde's error text: it may quote the offending input, which
/// a hostile client controls and the server sends back.
const MAX_DETAIL_CHARS: usize = 200;

fn truncated(text: String) -> String {
    if text.chars().count() <= MAX_DETAIL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_DETAIL_CHARS).collect();
    cut.push('…');
    cut
}

/// serde's internally tagged enums also accept a JSON array whose first element is the tag;
/// the protocol says every frame is an object, so anything else is refused up front.
fn require_object(text: &str) -> Result<(), DecodeError> {
    if text.trim_start().starts_with('{') {
        Ok(())
    } else {
        Err(DecodeError::Malformed("a message must be a JSON object".into()))
    }
}

fn classify(text: &str, err: serde_json::Error, known: &[&str]) -> DecodeError {
    let tag = match serde_json::from_str::<TagOnly>(text) {
        Ok(tag) => tag,
        // Not even an object: report the parser's own words.
        Err(_) => return DecodeError::Malformed(truncated(err.to_string())),
    };
    match tag.ty {
        Some(serde_json::Value::String(ty)) if known.contains(&ty.as_str()) => {
            DecodeError::Invalid { ty, detail: truncated(err.to_string()) }
        }
        Some(serde_json::Value::String(ty)) => {
            // Keep a hostile tag from bloating the error we send back.
            let ty: String = ty.chars().take(64).collect();
            DecodeError::UnknownType(ty)
        }
        Some(_) => DecodeError::Malformed("`type` must be a string".into()),
        None => DecodeError::Malformed("missing `type` field".into()),
    }
}

/// Decodes one client frame.
pub fn decode_client(text: &str) -> Result<ClientMsg, DecodeError> {
    require_object(text)?;
    serde_json::from_str(text).map_err(|e| classify(text, e, CLIENT_MSG_TYPES))
}

/// Decodes one server frame. Unknown types decode to [`ServerMsg::Unknown`] so that old clients
/// keep working against newer servers.
pub fn decode_server(text: &str) -> Result<ServerMsg, DecodeError> {
    require_object(text)?;
    serde_json::from_str(text).map_err(|e| classify(text, e, SERVER_MSG_TYPES))
}

/// Encodes a client message as one JSON text frame.
pub fn encode_client(msg: &ClientMsg) -> String {
    // These types hold only strings, numbers, booleans and lists, which serde_json always
    // serializes; the fallback exists so that no input can make encoding panic.
    serde_json::to_string(msg).unwrap_or_else(|_| String::from(r#"{"type":"ping"}"#))
}

/// Encodes a server message as one JSON text frame.
pub fn encode_server(msg: &ServerMsg) -> String {
    serde_json::to_string(msg).unwrap_or_else(|_| {
        String::from(r#"{"type":"error","code":"internal","message":"encoding failed"}"#)
    })
}

mod fingerprint;
pub use fingerprint::{Fingerprint, FingerprintError};

#[cfg(test)]
mod tests;
