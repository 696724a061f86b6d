//! The contract between the app and its web UI: every type the UI receives or sends.
//!
//! This is a serialization boundary of its own, separate from the wire protocol: the wire's
//! types (hearth-wire) are converted to these by hand in `convert.rs`, so the protocol can
//! change without the UI noticing and the other way round. Field names are snake_case, as on
//! the wire, and the TypeScript declarations in `ui/src/ipc/bindings.ts` are generated from
//! these types ([`typescript`]); a test fails when the committed file is stale.
//!
//! Ids and timestamps are `u64` in Rust and `number` in TypeScript. Member ids count up from
//! 1 and message ids and timestamps are milliseconds-scale, all far below 2^53, where a
//! JavaScript number stops being exact; each such field says so with
//! `#[specta(type = Number)]`.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

/// Assigned by the server to a member for the life of one connection.
pub type MemberId = u64;
/// Assigned by the server to a chat message; grows with time, so it orders history.
pub type MessageId = u64;

/// The server's name and software version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ServerInfo {
    /// Chosen by the host.
    pub name: String,
    /// Software version.
    pub version: String,
}

/// Text or voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Chat with history.
    Text,
    /// A call members join and leave.
    Voice,
}

/// A channel of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Channel {
    /// Stable id; never starts with `@`.
    pub id: String,
    /// Text or voice.
    pub kind: ChannelKind,
    /// Display name.
    pub name: String,
    /// Topic line; may be empty.
    pub topic: Option<String>,
}

/// The room we are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// Channels in display order.
    pub channels: Vec<Channel>,
    /// Whether newcomers are refused.
    pub locked: bool,
}

/// Online, away or busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Active.
    Online,
    /// Away from the keyboard.
    Away,
    /// Do not disturb.
    Busy,
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
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
    /// Disconnected by the server for abuse.
    Dropped,
}

/// A member of the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Member {
    /// The member's id.
    #[specta(type = Number)]
    pub id: MemberId,
    /// Display name, unique in the room.
    pub name: String,
    /// May moderate.
    pub operator: bool,
    /// Online, away or busy.
    pub presence: Presence,
    /// Free-text status; may be empty.
    pub status_text: Option<String>,
    /// The voice channel the member is in.
    pub voice_channel: Option<String>,
    /// Self-muted.
    pub muted: bool,
    /// Self-deafened.
    pub deafened: bool,
    /// Muted by an operator.
    pub server_muted: bool,
    /// Transmitting now.
    pub speaking: bool,
    /// Camera on (as far as we may know).
    pub camera: bool,
}

/// An image attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Image {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub mime: String,
    /// Standard base64 with padding.
    pub data: String,
}

/// One reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Reaction {
    /// The reaction, e.g. an emoji.
    pub emoji: String,
    /// Who reacted this way.
    pub names: Vec<String>,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ChatMessage {
    /// Server-assigned id.
    #[specta(type = Number)]
    pub id: MessageId,
    /// The author's client-chosen id.
    pub client_id: String,
    /// A text channel id, or `@` + the other party's name for a DM.
    pub channel: String,
    /// The author's name.
    pub author: String,
    /// The text; empty when deleted.
    pub text: String,
    /// The message replied to.
    #[specta(type = Option<Number>)]
    pub reply_to: Option<MessageId>,
    /// The attached image.
    pub image: Option<Image>,
    /// Stored at, milliseconds since the Unix epoch.
    #[specta(type = Number)]
    pub ts: u64,
    /// Last edited at, milliseconds since the Unix epoch.
    #[specta(type = Option<Number>)]
    pub edited_ts: Option<u64>,
    /// Deleted (keeps its place in history).
    pub deleted: bool,
    /// Reactions in the order first added.
    pub reactions: Vec<Reaction>,
}

/// The connection to a room server. Reconnecting is automatic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Not connected and not trying.
    Disconnected,
    /// The first attempt is under way.
    Connecting {
        /// What the user asked for.
        address: String,
    },
    /// In the room.
    Connected {
        /// What the user asked for.
        address: String,
        /// The room's name.
        room: String,
        /// Our name.
        name: String,
        /// The server.
        server: ServerInfo,
        /// The SHA-256 fingerprint (64 lower-case hex digits) of the certificate the server
        /// presented over `wss://`: the one the join link named, or the one trusted on first
        /// use. Reconnects accept only it. `None` over plain `ws://` to this computer.
        certificate: Option<String>,
    },
    /// The connection dropped; retrying.
    Reconnecting {
        /// What the user asked for.
        address: String,
        /// 1 for the first retry.
        attempt: u32,
        /// Milliseconds until the next try, from when this was sent.
        #[specta(type = Number)]
        retry_in_ms: u64,
        /// Why the connection dropped, in words.
        message: String,
    },
    /// Gave up (wrong password, banned, unreachable on the first try…).
    Failed {
        /// What the user asked for.
        address: String,
        /// A stable code (the protocol's error codes, or one of the app's).
        code: String,
        /// In words.
        message: String,
    },
}

/// The embedded server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostStatus {
    /// Not hosting.
    Off {
        /// Why the last server stopped, if it failed.
        last_error: Option<String>,
    },
    /// Hosting.
    On {
        /// The port bound.
        port: u16,
        /// The room's name.
        room_name: String,
        /// Joining needs the password.
        password_protected: bool,
        /// `ip:port` for each LAN interface, best first.
        lan_addresses: Vec<String>,
        /// `hearth://host:port/room` for the best LAN address.
        join_link: String,
    },
}

/// What the host toggle starts the embedded server with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HostConfig {
    /// 0 lets the system pick.
    pub port: u16,
    /// The room's name.
    pub room_name: String,
    /// `None` or empty: no password.
    pub password: Option<String>,
    /// The room's channels; empty gives the server's defaults.
    pub channels: Vec<Channel>,
}

/// A server joined before, most recent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RecentServer {
    /// As the user typed it.
    pub address: String,
    /// The name used there.
    pub name: String,
    /// The room.
    pub room: String,
    /// Milliseconds since the Unix epoch.
    #[specta(type = Number)]
    pub last_joined: u64,
}

/// A room hosted on the LAN, found by mDNS (`docs/protocol.md`, "LAN discovery").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct LanRoom {
    /// The room's name.
    pub name: String,
    /// The room to ask for when joining (`address:port/room`); `None` is the server's
    /// default room. A room hosted by Hearth has its name here.
    pub room: Option<String>,
    /// The host's IPv4 address (IPv6 only when it was seen on no IPv4 address).
    pub address: String,
    /// The server's port.
    pub port: u16,
    /// Members in the room, as last announced.
    pub member_count: u32,
    /// Joining needs the password.
    pub needs_password: bool,
    /// The SHA-256 fingerprint (64 hex digits) of the server's certificate, when the room
    /// advertises it: joining then goes over TLS and accepts only that certificate.
    pub fingerprint: Option<String>,
    /// The room this app hosts.
    pub own: bool,
}

/// Light, dark, or as the system says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// Follow the system.
    System,
}

/// A camera mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CameraResolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

/// The user's settings, kept in the OS config directory. Every field is always present;
/// a settings file from an older version is completed with the defaults when it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Settings {
    /// Microphone; `None` is the system default.
    pub input_device: Option<String>,
    /// Speaker; `None` is the system default.
    pub output_device: Option<String>,
    /// Camera; `None` is the first one.
    pub camera_device: Option<String>,
    /// Transmit only while the push-to-talk key is held.
    pub push_to_talk: bool,
    /// A `KeyboardEvent.code`, e.g. `Space`.
    pub push_to_talk_key: Option<String>,
    /// Input level 0..1 above which voice activation transmits.
    pub voice_activation_threshold: f32,
    /// RNNoise on the microphone.
    pub noise_suppression: bool,
    /// Opus frame length, 10 or 20 ms.
    pub frame_ms: u8,
    /// The camera mode asked for.
    pub camera_resolution: CameraResolution,
    /// Colour theme.
    pub theme: Theme,
    /// The name last used, to prefill the join form.
    pub display_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            input_device: None,
            output_device: None,
            camera_device: None,
            push_to_talk: false,
            push_to_talk_key: None,
            voice_activation_threshold: 0.1,
            noise_suppression: true,
            frame_ms: 20,
            camera_resolution: CameraResolution {
                width: 640,
                height: 480,
                fps: 30,
            },
            theme: Theme::System,
            display_name: String::new(),
        }
    }
}

/// A microphone, speaker or camera the settings can choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Device {
    /// What the settings store (`input_device`, `output_device`, `camera_device`).
    pub id: String,
    /// The name to show.
    pub label: String,
    /// The one used when the settings say `None`.
    pub is_default: bool,
}

/// The devices present, for the settings screen; a kind with none is an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct DeviceList {
    /// Microphones (and monitors of outputs).
    pub inputs: Vec<Device>,
    /// Speakers.
    pub outputs: Vec<Device>,
    /// Cameras.
    pub cameras: Vec<Device>,
}

/// Our own voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct VoiceStatus {
    /// The voice channel joined.
    pub channel: Option<String>,
    /// Muted.
    pub muted: bool,
    /// Deafened.
    pub deafened: bool,
    /// Microphone level 0..1.
    pub input_level: f32,
    /// Members speaking now.
    #[specta(type = Vec<Number>)]
    pub speaking: Vec<MemberId>,
}

/// Our own camera, and the cameras we watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CameraStatus {
    /// Our camera is on.
    pub on: bool,
    /// The cameras we opened.
    #[specta(type = Vec<Number>)]
    pub opened: Vec<MemberId>,
    /// Who watches ours.
    #[specta(type = Vec<Number>)]
    pub watchers: Vec<MemberId>,
}

/// What a system notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Our name in a message.
    Mention,
    /// A direct message.
    Dm,
    /// We were kicked.
    Kicked,
    /// We were banned.
    Banned,
    /// The server we host stopped on its own.
    HostStopped,
}

/// Everything the app tells the UI, in order, on one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// Entered a room: replaces all room state.
    Welcome {
        /// Our id.
        #[specta(type = Number)]
        you: MemberId,
        /// The room.
        room: RoomInfo,
        /// Everyone in it, us included.
        members: Vec<Member>,
    },
    /// The room's channels, name or lock changed.
    RoomUpdated {
        /// The room.
        room: RoomInfo,
    },
    /// Someone came in.
    MemberJoined {
        /// Who.
        member: Member,
    },
    /// A member's record changed; replace it whole.
    MemberUpdated {
        /// The new record.
        member: Member,
    },
    /// Someone left.
    MemberLeft {
        /// Who.
        #[specta(type = Number)]
        id: MemberId,
        /// Why.
        reason: LeaveReason,
    },
    /// A new message.
    Chat {
        /// The message.
        message: ChatMessage,
    },
    /// A message was edited, deleted or reacted to; replace it whole.
    ChatUpdated {
        /// The message.
        message: ChatMessage,
    },
    /// A page of history, newest first.
    History {
        /// The channel or `@name`.
        channel: String,
        /// The messages.
        messages: Vec<ChatMessage>,
        /// Older messages exist.
        has_more: bool,
    },
    /// Someone is typing.
    Typing {
        /// Where.
        channel: String,
        /// Who.
        #[specta(type = Number)]
        member: MemberId,
    },
    /// Someone started or stopped speaking.
    Speaking {
        /// Who.
        #[specta(type = Number)]
        member: MemberId,
        /// Now speaking.
        speaking: bool,
    },
    /// Our voice state.
    VoiceStatus {
        /// The state.
        status: VoiceStatus,
    },
    /// The microphone level, about 20 times a second while it is open (in a voice channel,
    /// or during `mic_test` outside one).
    InputLevel {
        /// 0..1.
        level: f32,
    },
    /// Our camera and the cameras we watch.
    CameraStatus {
        /// The state.
        status: CameraStatus,
    },
    /// A camera we asked to watch was accepted; frames follow.
    CameraOpened {
        /// Its owner.
        #[specta(type = Number)]
        member: MemberId,
    },
    /// We no longer receive this camera.
    CameraClosed {
        /// Its owner.
        #[specta(type = Number)]
        member: MemberId,
    },
    /// Who watches our camera.
    Watchers {
        /// The watchers.
        #[specta(type = Vec<Number>)]
        watchers: Vec<MemberId>,
    },
    /// The connection changed.
    Connection {
        /// Its state.
        status: ConnectionStatus,
    },
    /// The embedded server changed.
    HostStatus {
        /// Its state.
        status: HostStatus,
    },
    /// The rooms on the LAN changed; replaces the whole list.
    LanRooms {
        /// Every room found, by name.
        rooms: Vec<LanRoom>,
    },
    /// A request failed. `code` is stable; `message` is in words.
    Error {
        /// The protocol's error code, or one of the app's.
        code: String,
        /// In words.
        message: String,
        /// The request's type, when known.
        src: Option<String>,
        /// The chat message it concerns, when it is one.
        client_id: Option<String>,
    },
    /// Worth a system notification.
    Notification {
        /// What about.
        kind: NotificationKind,
        /// Short title.
        title: String,
        /// Body text.
        body: String,
        /// The channel it happened in.
        channel: Option<String>,
    },
    /// The app was asked to open a `hearth://` link (started with one, or a second start
    /// handed it over); the UI fills the join form with it. Raised by the shell, not the core.
    DeepLink {
        /// The link as given.
        url: String,
    },
}

/// What every command fails with: a stable code to branch on and words to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// Stable code.
    pub code: String,
    /// In words.
    pub message: String,
}

impl CommandError {
    /// An error with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// The TypeScript declarations of every type above, as committed in `ui/src/ipc/bindings.ts`.
pub fn typescript() -> Result<String, specta_typescript::Error> {
    let types = specta::Types::default()
        .register::<AppEvent>()
        .register::<CommandError>()
        .register::<DeviceList>()
        .register::<HostConfig>()
        .register::<LanRoom>()
        .register::<RecentServer>()
        .register::<Settings>();
    specta_typescript::Typescript::default()
        .header(
            "// Generated from crates/hearth-desktop/src/ipc.rs by \
             `cargo test -p hearth-desktop` with HEARTH_BLESS=1. Do not edit.\n",
        )
        .export(&types, specta_serde::Format)
}
