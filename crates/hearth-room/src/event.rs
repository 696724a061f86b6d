//! What the core tells connections, and the views those messages carry.

use crate::command::SignalPayload;
use crate::settings::{IceServerDef, RoomDef};
use crate::ConnId;

/// One message to one or more connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// First message of a connection.
    Hello {
        /// Server name.
        server_name: String,
        /// Server version.
        server_version: String,
        /// Rooms with member counts and lock state.
        rooms: Vec<RoomSummary>,
        /// Whether a password is needed.
        password_required: bool,
    },
    /// `auth` succeeded.
    Welcome {
        /// The member's own id.
        you: ConnId,
        /// The room.
        room: RoomView,
        /// All members, as the receiver may see them.
        members: Vec<MemberView>,
        /// ICE servers.
        ice_servers: Vec<IceServerDef>,
    },
    /// Heartbeat probe.
    Ping {
        /// Nonce to echo.
        nonce: u64,
    },
    /// Heartbeat answer.
    Pong {
        /// The probe's nonce.
        nonce: Option<u64>,
    },
    /// A member entered.
    MemberJoined(MemberView),
    /// A member changed.
    MemberUpdated(MemberView),
    /// A member left.
    MemberLeft {
        /// Who.
        id: ConnId,
        /// Why.
        reason: LeaveReason,
    },
    /// The room's lock state changed.
    RoomUpdated(RoomView),
    /// A new message (also the author's ack).
    Chat(MessageView),
    /// A message changed.
    ChatUpdated(MessageView),
    /// Someone is typing.
    Typing {
        /// Channel as the receiver names it.
        channel: String,
        /// Who.
        member: ConnId,
    },
    /// A page of history.
    History {
        /// The channel asked for.
        channel: String,
        /// Newest first.
        messages: Vec<MessageView>,
        /// Whether older ones exist.
        has_more: bool,
    },
    /// Voice activity changed.
    Speaking {
        /// Who.
        member: ConnId,
        /// Transmitting.
        speaking: bool,
    },
    /// To a broadcaster: a new watcher.
    CameraRing {
        /// The watcher.
        watcher: ConnId,
    },
    /// To a watcher: opening accepted.
    CameraOpened {
        /// The broadcaster.
        member: ConnId,
    },
    /// To a watcher: the stream ended.
    CameraClosed {
        /// The broadcaster.
        member: ConnId,
    },
    /// To a broadcaster: the current watchers.
    Watchers(Vec<ConnId>),
    /// Relayed signaling.
    Signal {
        /// Sender.
        from: ConnId,
        /// Payload.
        data: SignalPayload,
        /// The camera owner for a camera connection; `None` for voice.
        camera: Option<ConnId>,
    },
    /// ICE servers.
    IceServers(Vec<IceServerDef>),
    /// A refused or unreadable request.
    Error {
        /// Stable code.
        code: ErrorKind,
        /// Explanation.
        message: String,
        /// Type of the offending message.
        src: Option<String>,
        /// Client id of the offending chat message.
        client_id: Option<String>,
    },
    /// Too fast; the message was dropped.
    RateLimit {
        /// Wait this long.
        retry_after_ms: u64,
        /// The dropped message's type.
        src: Option<String>,
    },
    /// The connection is about to be closed.
    Disconnect {
        /// Why.
        code: ErrorKind,
        /// Explanation.
        message: String,
    },
    /// The server is stopping.
    Shutdown {
        /// Explanation.
        message: String,
    },
}

impl Event {
    /// An error event.
    pub fn error(code: ErrorKind, message: impl Into<String>, src: Option<&str>) -> Event {
        Event::Error { code, message: message.into(), src: src.map(str::to_owned), client_id: None }
    }
}

/// A room as listed in `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// Name.
    pub name: String,
    /// Members now.
    pub members: u32,
    /// Locked.
    pub locked: bool,
}

/// A room with its channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    /// The room's definition.
    pub def: RoomDef,
    /// Locked.
    pub locked: bool,
}

/// A member as one receiver may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Id.
    pub id: ConnId,
    /// Name.
    pub name: String,
    /// Operator.
    pub operator: bool,
    /// Presence.
    pub presence: Presence,
    /// Status text.
    pub status_text: String,
    /// Voice channel.
    pub voice_channel: Option<String>,
    /// Self-muted.
    pub muted: bool,
    /// Self-deafened.
    pub deafened: bool,
    /// Muted by an operator.
    pub server_muted: bool,
    /// Transmitting.
    pub speaking: bool,
    /// Camera on, as far as the receiver may know.
    pub camera: bool,
}

/// Online, away or busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presence {
    /// Active.
    #[default]
    Online,
    /// Away.
    Away,
    /// Do not disturb.
    Busy,
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// Closed the connection.
    Left,
    /// Heartbeat timeout.
    Timeout,
    /// Kicked.
    Kicked,
    /// Banned.
    Banned,
    /// Dropped for abuse.
    Dropped,
}

/// A message as one receiver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    /// Id.
    pub id: u64,
    /// Client id.
    pub client_id: String,
    /// Channel id, or `@other` for a direct message.
    pub channel: String,
    /// Author name.
    pub author: String,
    /// Text.
    pub text: String,
    /// Replied-to message.
    pub reply_to: Option<u64>,
    /// Image MIME type and bytes.
    pub image: Option<(String, Vec<u8>)>,
    /// Stored at.
    pub ts: u64,
    /// Edited at.
    pub edited_ts: Option<u64>,
    /// Deleted.
    pub deleted: bool,
    /// Reactions: emoji and the names who reacted.
    pub reactions: Vec<(String, Vec<String>)>,
}

/// Stable error codes; the shell maps them one to one onto the wire's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorKind {
    Malformed,
    UnknownType,
    Invalid,
    TooLarge,
    UnsupportedVersion,
    NotAuthenticated,
    AlreadyAuthenticated,
    BadPassword,
    Banned,
    RoomLocked,
    RoomNotFound,
    NameTaken,
    InvalidName,
    ServerFull,
    NotFound,
    Forbidden,
    NotInVoice,
    CameraOff,
    BadImage,
    Flood,
    Kicked,
    HeartbeatTimeout,
    Shutdown,
    Internal,
}
