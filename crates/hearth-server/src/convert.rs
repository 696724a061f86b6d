//! Hand-written conversions between the wire types and the room core's domain types.
//!
//! This is the only module that knows both `hearth_wire` and `hearth_room`. Keeping the
//! mapping explicit means a change to either side shows up here as a compile error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hearth_room as room;
use hearth_wire as wire;

/// A wire message that parsed but cannot become a command.
pub(crate) type Rejected = (room::ErrorKind, String);

/// Turns a decoded client message into a core command.
pub(crate) fn command(msg: wire::ClientMsg) -> Result<room::Command, Rejected> {
    use room::Command as C;
    use wire::ClientMsg as M;
    Ok(match msg {
        M::Auth { protocol, room, name, password, token } => {
            C::Auth { protocol, room, name, password, token }
        }
        M::Ping { nonce } => C::Ping { nonce },
        M::Pong { .. } => C::Pong,
        M::SetPresence { presence, status_text } => {
            C::SetPresence { presence: presence_in(presence), status_text }
        }
        M::ChatSend { channel, client_id, text, reply_to, image } => C::ChatSend {
            channel,
            client_id,
            text,
            reply_to,
            image: image.map(image_in).transpose()?,
        },
        M::ChatEdit { id, text } => C::ChatEdit { id, text },
        M::ChatDelete { id } => C::ChatDelete { id },
        M::ReactAdd { id, emoji } => C::React { id, emoji, add: true },
        M::ReactRemove { id, emoji } => C::React { id, emoji, add: false },
        M::Typing { channel } => C::Typing { channel },
        M::HistoryGet { channel, before, limit } => C::HistoryGet { channel, before, limit },
        M::VoiceJoin { channel } => C::VoiceJoin { channel },
        M::VoiceLeave {} => C::VoiceLeave,
        M::VoiceState { muted, deafened } => C::VoiceState { muted, deafened },
        M::Speaking { speaking } => C::Speaking { speaking },
        M::Camera { on } => C::Camera { on },
        M::CameraOpen { member } => C::CameraOpen { member },
        M::CameraClose { member } => C::CameraClose { member },
        M::CameraBoot { member } => C::CameraBoot { member },
        M::Block { member } => C::Block { member, blocked: true },
        M::Unblock { member } => C::Block { member, blocked: false },
        M::Signal { to, data, camera } => C::Signal { to, data: signal_in(data), camera },
        M::IceServersGet {} => C::IceServersGet,
        M::Kick { member, reason } => C::Kick { member, reason },
        M::Ban { member, reason } => C::Ban { member, reason },
        M::Unban { name } => C::Unban { name },
        M::Lock { locked } => C::Lock { locked },
        M::ServerMute { member, muted } => C::ServerMute { member, muted },
        M::OpGrant { member } => C::SetOperator { member, operator: true },
        M::OpRevoke { member } => C::SetOperator { member, operator: false },
    })
}

fn image_in(image: wire::Image) -> Result<room::ImageUpload, Rejected> {
    let bytes = BASE64.decode(image.data.as_bytes()).map_err(|e| {
        (room::ErrorKind::BadImage, format!("image data is not valid base64: {e}"))
    })?;
    Ok(room::ImageUpload { mime: image.mime, bytes })
}

fn presence_in(p: wire::Presence) -> room::Presence {
    match p {
        wire::Presence::Online => room::Presence::Online,
        wire::Presence::Away => room::Presence::Away,
        wire::Presence::Busy => room::Presence::Busy,
    }
}

fn presence_out(p: room::Presence) -> wire::Presence {
    match p {
        room::Presence::Online => wire::Presence::Online,
        room::Presence::Away => wire::Presence::Away,
        room::Presence::Busy => wire::Presence::Busy,
    }
}

fn signal_in(s: wire::SignalData) -> room::SignalPayload {
    match s {
        wire::SignalData::Offer { sdp } => room::SignalPayload::Offer { sdp },
        wire::SignalData::Answer { sdp } => room::SignalPayload::Answer { sdp },
        wire::SignalData::Candidate { candidate, sdp_mid, sdp_mline_index } => {
            room::SignalPayload::Candidate { candidate, sdp_mid, sdp_mline_index }
        }
        wire::SignalData::Bye {} => room::SignalPayload::Bye,
    }
}

fn signal_out(s: room::SignalPayload) -> wire::SignalData {
    match s {
        room::SignalPayload::Offer { sdp } => wire::SignalData::Offer { sdp },
        room::SignalPayload::Answer { sdp } => wire::SignalData::Answer { sdp },
        room::SignalPayload::Candidate { candidate, sdp_mid, sdp_mline_index } => {
            wire::SignalData::Candidate { candidate, sdp_mid, sdp_mline_index }
        }
        room::SignalPayload::Bye => wire::SignalData::Bye {},
    }
}

/// Maps a domain error kind onto the wire's stable code.
pub(crate) fn code_out(k: room::ErrorKind) -> wire::ErrorCode {
    use room::ErrorKind as K;
    use wire::ErrorCode as W;
    match k {
        K::Malformed => W::Malformed,
        K::UnknownType => W::UnknownType,
        K::Invalid => W::Invalid,
        K::TooLarge => W::TooLarge,
        K::UnsupportedVersion => W::UnsupportedVersion,
        K::NotAuthenticated => W::NotAuthenticated,
        K::AlreadyAuthenticated => W::AlreadyAuthenticated,
        K::BadPassword => W::BadPassword,
        K::Banned => W::Banned,
        K::RoomLocked => W::RoomLocked,
        K::RoomNotFound => W::RoomNotFound,
        K::NameTaken => W::NameTaken,
        K::InvalidName => W::InvalidName,
        K::ServerFull => W::ServerFull,
        K::NotFound => W::NotFound,
        K::Forbidden => W::Forbidden,
        K::NotInVoice => W::NotInVoice,
        K::CameraOff => W::CameraOff,
        K::BadImage => W::BadImage,
        K::Flood => W::Flood,
        K::Kicked => W::Kicked,
        K::HeartbeatTimeout => W::HeartbeatTimeout,
        K::Shutdown => W::Shutdown,
        K::Internal => W::Internal,
    }
}

/// Maps a wire decode failure onto the domain's error kind.
pub(crate) fn code_in(c: wire::ErrorCode) -> room::ErrorKind {
    match c {
        wire::ErrorCode::UnknownType => room::ErrorKind::UnknownType,
        wire::ErrorCode::Invalid => room::ErrorKind::Invalid,
        _ => room::ErrorKind::Malformed,
    }
}

fn member_out(m: room::MemberView) -> wire::Member {
    wire::Member {
        id: m.id,
        name: m.name,
        operator: m.operator,
        presence: presence_out(m.presence),
        status_text: m.status_text,
        voice_channel: m.voice_channel,
        muted: m.muted,
        deafened: m.deafened,
        server_muted: m.server_muted,
        speaking: m.speaking,
        camera: m.camera,
    }
}

fn message_out(m: room::MessageView) -> wire::ChatMessage {
    wire::ChatMessage {
        id: m.id,
        client_id: m.client_id,
        channel: m.channel,
        author: m.author,
        text: m.text,
        reply_to: m.reply_to,
        image: m.image.map(|(mime, bytes)| wire::Image { mime, data: BASE64.encode(bytes) }),
        ts: m.ts,
        edited_ts: m.edited_ts,
        deleted: m.deleted,
        reactions: m
            .reactions
            .into_iter()
            .map(|(emoji, names)| wire::Reaction { emoji, names })
            .collect(),
    }
}

fn room_out(r: room::event::RoomView) -> wire::RoomInfo {
    wire::RoomInfo {
        name: r.def.name,
        channels: r
            .def
            .channels
            .into_iter()
            .map(|c| wire::Channel {
                id: c.id,
                kind: match c.kind {
                    room::ChannelKind::Text => wire::ChannelKind::Text,
                    room::ChannelKind::Voice => wire::ChannelKind::Voice,
                },
                name: c.name,
                topic: c.topic,
            })
            .collect(),
        locked: r.locked,
    }
}

fn ice_out(servers: Vec<room::IceServerDef>) -> Vec<wire::IceServer> {
    servers
        .into_iter()
        .map(|s| wire::IceServer { urls: s.urls, username: s.username, credential: s.credential })
        .collect()
}

fn leave_out(r: room::LeaveReason) -> wire::LeaveReason {
    match r {
        room::LeaveReason::Left => wire::LeaveReason::Left,
        room::LeaveReason::Timeout => wire::LeaveReason::Timeout,
        room::LeaveReason::Kicked => wire::LeaveReason::Kicked,
        room::LeaveReason::Banned => wire::LeaveReason::Banned,
        room::LeaveReason::Dropped => wire::LeaveReason::Dropped,
    }
}

/// The limits announced in `hello`.
pub(crate) fn limits_out(s: &room::Settings) -> wire::Limits {
    wire::Limits {
        max_frame_bytes: s.max_frame_bytes,
        max_text_chars: s.max_text_chars,
        max_name_chars: s.max_name_chars,
        max_image_bytes: s.max_image_bytes,
        rate_per_sec: s.rate_per_sec,
        rate_burst: s.rate_burst,
        heartbeat_timeout_ms: s.heartbeat_timeout_ms,
        ping_interval_ms: s.ping_interval_ms,
        history_page_max: s.history_page_max,
    }
}

/// Turns a core event into the wire message that carries it.
pub(crate) fn event(e: room::Event, limits: &wire::Limits) -> wire::ServerMsg {
    use room::Event as E;
    use wire::ServerMsg as S;
    match e {
        E::Hello { server_name, server_version, rooms, password_required } => S::Hello {
            protocol: wire::PROTOCOL_VERSION,
            server: wire::ServerInfo { name: server_name, version: server_version },
            rooms: rooms
                .into_iter()
                .map(|r| wire::RoomSummary { name: r.name, members: r.members, locked: r.locked })
                .collect(),
            password_required,
            limits: limits.clone(),
        },
        E::Welcome { you, room, members, ice_servers } => S::Welcome {
            you,
            room: room_out(room),
            members: members.into_iter().map(member_out).collect(),
            ice_servers: ice_out(ice_servers),
        },
        E::Ping { nonce } => S::Ping { nonce: Some(nonce) },
        E::Pong { nonce } => S::Pong { nonce },
        E::MemberJoined(m) => S::MemberJoined { member: member_out(m) },
        E::MemberUpdated(m) => S::MemberUpdated { member: member_out(m) },
        E::MemberLeft { id, reason } => S::MemberLeft { id, reason: leave_out(reason) },
        E::RoomUpdated(r) => S::RoomUpdated { room: room_out(r) },
        E::Chat(m) => S::Chat { message: message_out(m) },
        E::ChatUpdated(m) => S::ChatUpdated { message: message_out(m) },
        E::Typing { channel, member } => S::Typing { channel, member },
        E::History { channel, messages, has_more } => S::History {
            channel,
            messages: messages.into_iter().map(message_out).collect(),
            has_more,
        },
        E::Speaking { member, speaking } => S::Speaking { member, speaking },
        E::CameraRing { watcher } => S::CameraRing { watcher },
        E::CameraOpened { member } => S::CameraOpened { member },
        E::CameraClosed { member } => S::CameraClosed { member },
        E::Watchers(watchers) => S::Watchers { watchers },
        E::Signal { from, data, camera } => S::Signal { from, data: signal_out(data), camera },
        E::IceServers(servers) => S::IceServers { servers: ice_out(servers) },
        E::Error { code, message, src, client_id } => {
            S::Error { code: code_out(code), message, src, client_id }
        }
        E::RateLimit { retry_after_ms, src } => S::RateLimit { retry_after_ms, src },
        E::Disconnect { code, message } => S::Disconnect { code: code_out(code), message },
        E::Shutdown { message } => S::Shutdown { message },
    }
}
