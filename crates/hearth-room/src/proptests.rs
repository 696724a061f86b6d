//! Property tests: arbitrary sequences of inputs never panic the core, and its outputs only
//! ever address connections that exist.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use crate::command::{Command, ImageUpload, SignalPayload};
use crate::event::{Event, Presence};
use crate::settings::Settings;
use crate::store::MemoryStore;
use crate::{Millis, Output, RoomCore};

#[derive(Debug, Clone)]
enum Step {
    Connect(u64),
    Disconnect(u64),
    Oversize(u64),
    Tick(u64),
    Cmd(u64, Command),
}

fn small_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("general".to_string()),
        Just("general".to_string()),
        Just("general".to_string()),
        Just("voice".to_string()),
        Just("@m1".to_string()),
        Just("@M2".to_string()),
        "[a-z@ ]{0,6}",
        ".{0,40}",
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let member = 0u64..6;
    let id = 0u64..8;
    prop_oneof![
        (prop_oneof![Just("lobby".to_string()), small_text()], prop_oneof![Just("m1".to_string()), Just("m2".to_string()), Just("m3".to_string()), small_text()], any::<bool>(), 0u32..3)
            .prop_map(|(room, name, pw, protocol)| Command::Auth { protocol, room, name, password: pw.then(|| "pw".into()), token: (!pw).then(|| "tok".into()) }),
        Just(Command::Ping { nonce: Some(1) }),
        Just(Command::Pong),
        (small_text()).prop_map(|s| Command::SetPresence { presence: Presence::Busy, status_text: Some(s) }),
        (small_text(), "[a-c]{1,2}", small_text(), proptest::option::of(id.clone()), any::<bool>()).prop_map(|(channel, client_id, text, reply_to, img)| Command::ChatSend {
            channel,
            client_id,
            text,
            reply_to,
            image: img.then(|| ImageUpload { mime: "image/png".into(), bytes: b"\x89PNG\r\n\x1a\n".to_vec() }),
        }),
        (id.clone(), small_text()).prop_map(|(id, text)| Command::ChatEdit { id, text }),
        id.clone().prop_map(|id| Command::ChatDelete { id }),
        (id.clone(), small_text(), any::<bool>()).prop_map(|(id, emoji, add)| Command::React { id, emoji, add }),
        small_text().prop_map(|channel| Command::Typing { channel }),
        (small_text(), proptest::option::of(id), proptest::option::of(0u32..200)).prop_map(|(channel, before, limit)| Command::HistoryGet { channel, before, limit }),
        small_text().prop_map(|channel| Command::VoiceJoin { channel }),
        Just(Command::VoiceLeave),
        (any::<bool>(), any::<bool>()).prop_map(|(muted, deafened)| Command::VoiceState { muted, deafened }),
        any::<bool>().prop_map(|speaking| Command::Speaking { speaking }),
        any::<bool>().prop_map(|on| Command::Camera { on }),
        member.clone().prop_map(|member| Command::CameraOpen { member }),
        member.clone().prop_map(|member| Command::CameraClose { member }),
        member.clone().prop_map(|member| Command::CameraBoot { member }),
        (member.clone(), any::<bool>()).prop_map(|(member, blocked)| Command::Block { member, blocked }),
        (member.clone(), small_text()).prop_map(|(to, sdp)| Command::Signal { to, data: SignalPayload::Offer { sdp }, camera: None }),
        Just(Command::IceServersGet),
        member.clone().prop_map(|member| Command::Kick { member, reason: None }),
        member.clone().prop_map(|member| Command::Ban { member, reason: Some("x".into()) }),
        small_text().prop_map(|name| Command::Unban { name }),
        any::<bool>().prop_map(|locked| Command::Lock { locked }),
        (member.clone(), any::<bool>()).prop_map(|(member, muted)| Command::ServerMute { member, muted }),
        (member, any::<bool>()).prop_map(|(member, operator)| Command::SetOperator { member, operator }),
    ]
}

/// An `auth` that usually succeeds, so that sequences get past the handshake.
fn good_auth() -> impl Strategy<Value = Command> {
    (0u64..4, any::<bool>()).prop_map(|(n, op)| Command::Auth {
        protocol: 1,
        room: "lobby".into(),
        name: format!("m{n}"),
        password: (!op).then(|| "pw".into()),
        token: op.then(|| "tok".into()),
    })
}

fn step() -> impl Strategy<Value = Step> {
    let conn = 0u64..6;
    prop_oneof![
        4 => (conn.clone(), good_auth()).prop_map(|(c, cmd)| Step::Cmd(c, cmd)),
        2 => conn.clone().prop_map(Step::Connect),
        1 => conn.clone().prop_map(Step::Disconnect),
        1 => conn.clone().prop_map(Step::Oversize),
        1 => (0u64..20_000).prop_map(Step::Tick),
        12 => (conn, command()).prop_map(|(c, cmd)| Step::Cmd(c, cmd)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_is_survived_and_only_open_connections_are_addressed(steps in proptest::collection::vec(step(), 1..80)) {
        let settings = Settings {
            password: Some("pw".into()),
            operator_tokens: vec!["tok".into()],
            max_connections: 5,
            rate_burst: 30,
            ..Settings::default()
        };
        let mut core = RoomCore::new(settings, MemoryStore::default());
        let mut now = Millis(0);
        let mut open: HashSet<u64> = HashSet::new();
        let addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for step in steps {
            now = now.plus(7);
            match step {
                Step::Connect(c) if !open.contains(&c) => {
                    open.insert(c);
                    core.handle_connect(now, c, addr);
                }
                Step::Connect(_) => continue,
                Step::Disconnect(c) => {
                    open.remove(&c);
                    core.handle_disconnect(now, c);
                }
                Step::Oversize(c) => core.handle_oversize(now, c),
                Step::Tick(ms) => {
                    now = now.plus(ms);
                    core.handle_timeout(now);
                }
                Step::Cmd(c, cmd) => core.handle_command(now, c, cmd),
            }
            while let Some(out) = core.poll_output() {
                match out {
                    Output::Send { to, event } => {
                        prop_assert!(open.contains(&to), "sent {event:?} to closed {to}");
                    }
                    Output::Broadcast { to, event } => {
                        prop_assert!(!to.is_empty());
                        for id in &to {
                            prop_assert!(open.contains(id), "broadcast {event:?} to closed {id}");
                        }
                        let unique: HashSet<_> = to.iter().collect();
                        prop_assert_eq!(unique.len(), to.len(), "duplicate recipients");
                        if let Event::MemberLeft { id, .. } = event {
                            prop_assert!(!to.contains(&id));
                        }
                    }
                    Output::Close { conn, .. } => {
                        prop_assert!(open.remove(&conn), "closed {} twice or never opened", conn);
                    }
                }
            }
            prop_assert!(core.connection_count() <= open.len());
            prop_assert!(core.member_count() <= core.connection_count());
        }
    }
}
