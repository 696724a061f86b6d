//! The wire's types (hearth-wire, via hearth-client) and the rooms found on the LAN
//! (hearth-discovery) turned into the UI's (ipc), by hand, so that either side can change
//! without the other noticing.

use hearth_wire as wire;

use crate::ipc;

pub(crate) fn member(m: wire::Member) -> ipc::Member {
    ipc::Member {
        id: m.id,
        name: m.name,
        operator: m.operator,
        presence: presence(m.presence),
        status_text: Some(m.status_text).filter(|s| !s.is_empty()),
        voice_channel: m.voice_channel,
        muted: m.muted,
        deafened: m.deafened,
        server_muted: m.server_muted,
        speaking: m.speaking,
        camera: m.camera,
    }
}

pub(crate) fn presence(p: wire::Presence) -> ipc::Presence {
    match p {
        wire::Presence::Online => ipc::Presence::Online,
        wire::Presence::Away => ipc::Presence::Away,
        wire::Presence::Busy => ipc::Presence::Busy,
    }
}

pub(crate) fn presence_to_wire(p: ipc::Presence) -> wire::Presence {
    match p {
        ipc::Presence::Online => wire::Presence::Online,
        ipc::Presence::Away => wire::Presence::Away,
        ipc::Presence::Busy => wire::Presence::Busy,
    }
}

pub(crate) fn leave_reason(r: wire::LeaveReason) -> ipc::LeaveReason {
    match r {
        wire::LeaveReason::Left => ipc::LeaveReason::Left,
        wire::LeaveReason::Timeout => ipc::LeaveReason::Timeout,
        wire::LeaveReason::Kicked => ipc::LeaveReason::Kicked,
        wire::LeaveReason::Banned => ipc::LeaveReason::Banned,
        wire::LeaveReason::Dropped => ipc::LeaveReason::Dropped,
    }
}

pub(crate) fn room(r: wire::RoomInfo) -> ipc::RoomInfo {
    ipc::RoomInfo {
        name: r.name,
        channels: r.channels.into_iter().map(channel).collect(),
        locked: r.locked,
    }
}

fn channel(c: wire::Channel) -> ipc::Channel {
    ipc::Channel {
        id: c.id,
        kind: match c.kind {
            wire::ChannelKind::Text => ipc::ChannelKind::Text,
            wire::ChannelKind::Voice => ipc::ChannelKind::Voice,
        },
        name: c.name,
        topic: Some(c.topic).filter(|t| !t.is_empty()),
    }
}

pub(crate) fn message(m: wire::ChatMessage) -> ipc::ChatMessage {
    ipc::ChatMessage {
        id: m.id,
        client_id: m.client_id,
        channel: m.channel,
        author: m.author,
        text: m.text,
        reply_to: m.reply_to,
        image: m.image.map(|i| ipc::Image {
            mime: i.mime,
            data: i.data,
        }),
        ts: m.ts,
        edited_ts: m.edited_ts,
        deleted: m.deleted,
        reactions: m
            .reactions
            .into_iter()
            .map(|r| ipc::Reaction {
                emoji: r.emoji,
                names: r.names,
            })
            .collect(),
    }
}

pub(crate) fn image_to_wire(i: ipc::Image) -> wire::Image {
    wire::Image {
        mime: i.mime,
        data: i.data,
    }
}

pub(crate) fn server(s: wire::ServerInfo) -> ipc::ServerInfo {
    ipc::ServerInfo {
        name: s.name,
        version: s.version,
    }
}

/// A room found on the LAN; `own` when it is the one this app hosts.
pub(crate) fn lan_room(room: &hearth_discovery::LanRoom, own: bool) -> ipc::LanRoom {
    ipc::LanRoom {
        name: room.ad.name.clone(),
        room: room.ad.room.clone(),
        address: room.address.to_string(),
        port: room.port,
        member_count: room.ad.members,
        needs_password: room.ad.needs_password,
        fingerprint: room.ad.fingerprint.map(|fp| hearth_wire::Fingerprint(fp).hex()),
        own,
    }
}
