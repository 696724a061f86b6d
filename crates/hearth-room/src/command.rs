//! What a connection asks the core to do.
//!
//! The shell builds a [`Command`] from each decoded wire message. Shape is already checked
//! (fields present, right types); meaning (lengths, permissions, existence) is the core's job.

use crate::ConnId;
use crate::event::Presence;

/// One request from a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Enter a room.
    Auth {
        /// Protocol version the client speaks.
        protocol: u32,
        /// Room name.
        room: String,
        /// Display name.
        name: String,
        /// Room password.
        password: Option<String>,
        /// Operator token.
        token: Option<String>,
    },
    /// Heartbeat probe.
    Ping {
        /// Echoed nonce.
        nonce: Option<u64>,
    },
    /// Heartbeat answer.
    Pong,
    /// Presence and status text.
    SetPresence {
        /// Online, away or busy.
        presence: Presence,
        /// Status text; `None` clears it.
        status_text: Option<String>,
    },
    /// Post a message.
    ChatSend {
        /// Channel id or `@name`.
        channel: String,
        /// Client-chosen id for dedup.
        client_id: String,
        /// Text.
        text: String,
        /// Replied-to message.
        reply_to: Option<u64>,
        /// Attached image.
        image: Option<ImageUpload>,
    },
    /// Edit one's own message.
    ChatEdit {
        /// Message id.
        id: u64,
        /// New text.
        text: String,
    },
    /// Delete a message.
    ChatDelete {
        /// Message id.
        id: u64,
    },
    /// Add or remove a reaction.
    React {
        /// Message id.
        id: u64,
        /// The reaction.
        emoji: String,
        /// True to add, false to remove.
        add: bool,
    },
    /// Typing indicator.
    Typing {
        /// Channel id or `@name`.
        channel: String,
    },
    /// A page of history.
    HistoryGet {
        /// Channel id or `@name`.
        channel: String,
        /// Exclusive upper bound on ids.
        before: Option<u64>,
        /// Page size.
        limit: Option<u32>,
    },
    /// Join a voice channel.
    VoiceJoin {
        /// Voice channel id.
        channel: String,
    },
    /// Leave the voice channel.
    VoiceLeave,
    /// Self mute and deafen.
    VoiceState {
        /// Muted.
        muted: bool,
        /// Deafened.
        deafened: bool,
    },
    /// Voice activity.
    Speaking {
        /// Transmitting.
        speaking: bool,
    },
    /// Own camera on or off.
    Camera {
        /// On.
        on: bool,
    },
    /// Watch a camera.
    CameraOpen {
        /// Broadcaster.
        member: ConnId,
    },
    /// Stop watching a camera.
    CameraClose {
        /// Broadcaster.
        member: ConnId,
    },
    /// Remove a watcher.
    CameraBoot {
        /// Watcher.
        member: ConnId,
    },
    /// Block or unblock a member for oneself.
    Block {
        /// The member.
        member: ConnId,
        /// True to block, false to unblock.
        blocked: bool,
    },
    /// Relay signaling.
    Signal {
        /// Recipient.
        to: ConnId,
        /// Payload.
        data: SignalPayload,
        /// The camera owner for a camera connection; `None` for voice.
        camera: Option<ConnId>,
    },
    /// ICE server list.
    IceServersGet,
    /// Operator: kick.
    Kick {
        /// Target.
        member: ConnId,
        /// Reason.
        reason: Option<String>,
    },
    /// Operator: ban.
    Ban {
        /// Target.
        member: ConnId,
        /// Reason.
        reason: Option<String>,
    },
    /// Operator: unban a name.
    Unban {
        /// The banned name.
        name: String,
    },
    /// Operator: lock the room.
    Lock {
        /// Locked.
        locked: bool,
    },
    /// Operator: mute for everyone.
    ServerMute {
        /// Target.
        member: ConnId,
        /// Muted.
        muted: bool,
    },
    /// Operator: grant or revoke operator rights.
    SetOperator {
        /// Target.
        member: ConnId,
        /// True to grant.
        operator: bool,
    },
}

impl Command {
    /// The wire `type` of the message this command came from, for error reports.
    pub fn src(&self) -> &'static str {
        match self {
            Command::Auth { .. } => "auth",
            Command::Ping { .. } => "ping",
            Command::Pong => "pong",
            Command::SetPresence { .. } => "set_presence",
            Command::ChatSend { .. } => "chat_send",
            Command::ChatEdit { .. } => "chat_edit",
            Command::ChatDelete { .. } => "chat_delete",
            Command::React { add: true, .. } => "react_add",
            Command::React { add: false, .. } => "react_remove",
            Command::Typing { .. } => "typing",
            Command::HistoryGet { .. } => "history_get",
            Command::VoiceJoin { .. } => "voice_join",
            Command::VoiceLeave => "voice_leave",
            Command::VoiceState { .. } => "voice_state",
            Command::Speaking { .. } => "speaking",
            Command::Camera { .. } => "camera",
            Command::CameraOpen { .. } => "camera_open",
            Command::CameraClose { .. } => "camera_close",
            Command::CameraBoot { .. } => "camera_boot",
            Command::Block { blocked: true, .. } => "block",
            Command::Block { blocked: false, .. } => "unblock",
            Command::Signal { .. } => "signal",
            Command::IceServersGet => "ice_servers_get",
            Command::Kick { .. } => "kick",
            Command::Ban { .. } => "ban",
            Command::Unban { .. } => "unban",
            Command::Lock { .. } => "lock",
            Command::ServerMute { .. } => "server_mute",
            Command::SetOperator { operator: true, .. } => "op_grant",
            Command::SetOperator { operator: false, .. } => "op_revoke",
        }
    }
}

/// An image as uploaded, already decoded from base64 by the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    /// Declared MIME type.
    pub mime: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A WebRTC signaling payload. The core checks sizes and relays it unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalPayload {
    /// SDP offer.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// SDP answer.
    Answer {
        /// The SDP.
        sdp: String,
    },
    /// ICE candidate.
    Candidate {
        /// Candidate line.
        candidate: String,
        /// Media stream id.
        sdp_mid: Option<String>,
        /// M-line index.
        sdp_mline_index: Option<u16>,
    },
    /// Peer connection closed.
    Bye,
}
