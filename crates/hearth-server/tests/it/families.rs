//! Every message family of protocol v1, through a real server and three or more real clients.

use base64::Engine as _;
use hearth_client::Connection;
use hearth_server::config::{IceServerConfig, Secret};
use hearth_wire::{ChannelKind, ClientMsg, ErrorCode, LeaveReason, Presence, ServerMsg, SignalData};

use crate::support::{TestServer, chat, config, error_code, join, join_with, trio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_auth_welcome_rooms_channels_and_presence() {
    let mut cfg = config(None);
    cfg.server_name = "LAN party".into();
    cfg.password = Some(Secret("hunter2".into()));
    cfg.ice_servers = vec![IceServerConfig { urls: vec!["stun:127.0.0.1:3478".into()], username: None, credential: None }];
    let server = TestServer::start(cfg).await;

    let (_probe, hello) = Connection::connect(&server.url, None).await.unwrap();
    let ServerMsg::Hello { protocol, server: info, rooms, password_required, limits } = hello else { panic!() };
    assert_eq!(protocol, 1);
    assert_eq!(info.name, "LAN party");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].name, "lobby");
    assert!(password_required);
    assert_eq!(limits.heartbeat_timeout_ms, 30_000);

    let mut alice = join_with(&server, "alice", Some("hunter2"), None).await;
    let (mut bob_conn, welcome) = Connection::join(&server.url, "lobby", "bob", Some("hunter2"), None).await.unwrap();
    let ServerMsg::Welcome { you, room, members, ice_servers } = welcome else { panic!() };
    assert_eq!(room.name, "lobby");
    let kinds: Vec<_> = room.channels.iter().map(|c| (c.id.as_str(), c.kind)).collect();
    assert_eq!(kinds, vec![("general", ChannelKind::Text), ("voice", ChannelKind::Voice)]);
    let names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["alice", "bob"]);
    assert_eq!(ice_servers[0].urls, vec!["stun:127.0.0.1:3478".to_string()]);
    bob_conn.wait_for(crate::support::WAIT, |m| matches!(m, ServerMsg::History { .. }).then_some(())).await.unwrap();

    let joined = alice.expect("member_joined", |m| match m {
        ServerMsg::MemberJoined { member } => Some(member.clone()),
        _ => None,
    }).await;
    assert_eq!((joined.id, joined.name.as_str()), (you, "bob"));

    let mut carol = join_with(&server, "carol", Some("hunter2"), None).await;
    carol.send(ClientMsg::SetPresence { presence: Presence::Away, status_text: Some("brb".into()) }).await;
    for conn in [&mut alice.conn, &mut bob_conn] {
        let m = conn.wait_for(crate::support::WAIT, |m| match m {
            ServerMsg::MemberUpdated { member } => Some(member.clone()),
            _ => None,
        }).await.unwrap();
        assert_eq!((m.name.as_str(), m.presence, m.status_text.as_str()), ("carol", Presence::Away, "brb"));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_edit_delete_react_reply_typing_history_and_dedup() {
    let server = TestServer::start(config(None)).await;
    let (mut alice, mut bob, mut carol) = trio(&server).await;

    let send = |cid: &str, text: &str, reply_to| ClientMsg::ChatSend {
        channel: "general".into(),
        client_id: cid.into(),
        text: text.into(),
        reply_to,
        image: None,
    };
    alice.send(send("a-1", "<b>hello</b> everyone", None)).await;
    let mut first_id = 0;
    for m in [&mut alice, &mut bob, &mut carol] {
        let msg = m.expect("chat", |e| match e {
            ServerMsg::Chat { message } => Some(message.clone()),
            _ => None,
        }).await;
        // Text is carried verbatim; rendering as text is the client's job.
        assert_eq!((msg.author.as_str(), msg.text.as_str(), msg.client_id.as_str()), ("alice", "<b>hello</b> everyone", "a-1"));
        first_id = msg.id;
    }

    bob.send(send("b-1", "hi", Some(first_id))).await;
    let reply = carol.expect("reply", |e| match e {
        ServerMsg::Chat { message } => Some(message.clone()),
        _ => None,
    }).await;
    assert_eq!(reply.reply_to, Some(first_id));

    // A resend of the same client id is acknowledged to the author only, with the original.
    alice.send(send("a-1", "<b>hello</b> everyone", None)).await;
    let again = alice.expect("re-ack", |e| match e {
        ServerMsg::Chat { message } if message.client_id == "a-1" => Some(message.clone()),
        _ => None,
    }).await;
    assert_eq!(again.id, first_id);
    let seen_by_bob = bob.sync().await;
    assert!(seen_by_bob.iter().all(|m| !matches!(m, ServerMsg::Chat { message } if message.client_id == "a-1")), "{seen_by_bob:?}");

    alice.send(ClientMsg::ChatEdit { id: first_id, text: "hello, all".into() }).await;
    let edited = carol.expect("edit", |e| match e {
        ServerMsg::ChatUpdated { message } => Some(message.clone()),
        _ => None,
    }).await;
    assert_eq!(edited.text, "hello, all");
    assert!(edited.edited_ts.is_some());

    bob.send(ClientMsg::ReactAdd { id: first_id, emoji: "🔥".into() }).await;
    carol.send(ClientMsg::ReactAdd { id: first_id, emoji: "🔥".into() }).await;
    let reacted = alice.expect("two reactions", |e| match e {
        ServerMsg::ChatUpdated { message } if message.reactions.first().is_some_and(|r| r.names.len() == 2) => Some(message.clone()),
        _ => None,
    }).await;
    // Bob and Carol react from separate connections, so either may arrive first.
    let mut names = reacted.reactions[0].names.clone();
    names.sort();
    assert_eq!(names, vec!["bob".to_string(), "carol".to_string()]);
    carol.send(ClientMsg::ReactRemove { id: first_id, emoji: "🔥".into() }).await;
    alice.expect("reaction removed", |e| match e {
        ServerMsg::ChatUpdated { message } if message.reactions.first().is_some_and(|r| r.names == ["bob"]) => Some(()),
        _ => None,
    }).await;

    bob.send(ClientMsg::Typing { channel: "general".into() }).await;
    let typing = alice.expect("typing", |e| match e {
        ServerMsg::Typing { channel, member } => Some((channel.clone(), *member)),
        _ => None,
    }).await;
    assert_eq!(typing, ("general".to_string(), bob.id));

    bob.send(ClientMsg::ChatDelete { id: first_id }).await;
    assert_eq!(bob.expect("forbidden", error_code).await, ErrorCode::Forbidden);
    alice.send(ClientMsg::ChatDelete { id: first_id }).await;
    let deleted = carol.expect("delete", |e| match e {
        ServerMsg::ChatUpdated { message } if message.deleted => Some(message.clone()),
        _ => None,
    }).await;
    assert!(deleted.text.is_empty() && deleted.reactions.is_empty());

    // Paging back through 30 more messages, 10 at a time.
    for i in 0..30 {
        alice.send(send(&format!("p-{i}"), &format!("message {i}"), None)).await;
    }
    alice.expect("last of 30", |e| match e {
        ServerMsg::Chat { message } if message.client_id == "p-29" => Some(()),
        _ => None,
    }).await;
    let mut before = None;
    let mut seen = Vec::new();
    loop {
        carol.send(ClientMsg::HistoryGet { channel: "general".into(), before, limit: Some(10) }).await;
        let (messages, has_more) = carol.expect("history", |e| match e {
            ServerMsg::History { messages, has_more, .. } => Some((messages.clone(), *has_more)),
            _ => None,
        }).await;
        assert!(messages.len() <= 10);
        seen.extend(messages.iter().map(|m| m.id));
        before = messages.last().map(|m| m.id);
        if !has_more {
            break;
        }
    }
    assert_eq!(seen.len(), 32, "30 messages plus the first two");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first without repeats");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_and_images() {
    let server = TestServer::start(config(None)).await;
    let (mut alice, mut bob, mut carol) = trio(&server).await;

    alice.send(chat("@bob", "dm-1", "secret")).await;
    let to_bob = bob.expect("dm", |e| match e {
        ServerMsg::Chat { message } => Some(message.clone()),
        _ => None,
    }).await;
    assert_eq!((to_bob.channel.as_str(), to_bob.text.as_str()), ("@alice", "secret"));
    let ack = alice.expect("dm ack", |e| match e {
        ServerMsg::Chat { message } => Some(message.clone()),
        _ => None,
    }).await;
    assert_eq!(ack.channel, "@bob");
    let carol_saw = carol.sync().await;
    assert!(carol_saw.iter().all(|m| !matches!(m, ServerMsg::Chat { .. })), "carol saw a DM: {carol_saw:?}");

    // A small PNG goes through; bytes that are not what they claim do not.
    // 200 KiB: a frame far larger than a socket's read chunk.
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![7u8; 200 * 1024]].concat();
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    let image = hearth_wire::Image { mime: "image/png".into(), data };
    carol.send(ClientMsg::ChatSend { channel: "general".into(), client_id: "img-1".into(), text: String::new(), reply_to: None, image: Some(image) }).await;
    let got = alice.expect("image", |e| match e {
        ServerMsg::Chat { message } => message.image.clone(),
        _ => None,
    }).await;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(got.data).unwrap(), png);
    // Long multi-byte text arrives whole and unchanged.
    let long: String = "é€😀".repeat(600);
    carol.send(chat("general", "long-1", &long)).await;
    let got = alice.expect("long text", |e| match e {
        ServerMsg::Chat { message } if message.client_id == "long-1" => Some(message.text.clone()),
        _ => None,
    }).await;
    assert_eq!(got, long);
    let fake = hearth_wire::Image { mime: "image/png".into(), data: base64::engine::general_purpose::STANDARD.encode(b"<svg onload=alert(1)>") };
    carol.send(ClientMsg::ChatSend { channel: "general".into(), client_id: "img-2".into(), text: String::new(), reply_to: None, image: Some(fake) }).await;
    assert_eq!(carol.expect("bad image", error_code).await, ErrorCode::BadImage);
    let big = hearth_wire::Image { mime: "image/png".into(), data: base64::engine::general_purpose::STANDARD.encode(vec![0x89u8; 300 * 1024]) };
    carol.send(ClientMsg::ChatSend { channel: "general".into(), client_id: "img-3".into(), text: String::new(), reply_to: None, image: Some(big) }).await;
    assert_eq!(carol.expect("image too large", error_code).await, ErrorCode::TooLarge);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_speaking_mute_deafen_and_signaling_relay() {
    let server = TestServer::start(config(None)).await;
    let (mut alice, mut bob, mut carol) = trio(&server).await;

    alice.send(ClientMsg::VoiceJoin { channel: "voice".into() }).await;
    let m = carol.expect("voice join", |e| match e {
        ServerMsg::MemberUpdated { member } => Some(member.clone()),
        _ => None,
    }).await;
    assert_eq!(m.voice_channel.as_deref(), Some("voice"));
    alice.send(ClientMsg::Speaking { speaking: true }).await;
    assert_eq!(carol.expect("speaking", |e| match e {
        ServerMsg::Speaking { member, speaking } => Some((*member, *speaking)),
        _ => None,
    }).await, (alice.id, true));
    alice.send(ClientMsg::VoiceState { muted: false, deafened: true }).await;
    let m = bob.expect("deafen", |e| match e {
        ServerMsg::MemberUpdated { member } if member.deafened => Some(member.clone()),
        _ => None,
    }).await;
    assert!(m.muted && !m.speaking, "deafen implies mute and stops speaking");
    alice.send(ClientMsg::Speaking { speaking: true }).await;
    assert_eq!(alice.expect("muted speaking", error_code).await, ErrorCode::Forbidden);
    alice.send(ClientMsg::VoiceLeave {}).await;
    carol.expect("voice leave", |e| match e {
        ServerMsg::MemberUpdated { member } if member.voice_channel.is_none() && member.id == alice.id => Some(()),
        _ => None,
    }).await;

    // Signaling goes to the addressee only, stamped with the sender.
    alice.send(ClientMsg::Signal { to: bob.id, data: SignalData::Offer { sdp: "v=0 offer".into() }, camera: None }).await;
    assert_eq!(bob.expect("offer", |e| match e {
        ServerMsg::Signal { from, data, camera: None } => Some((*from, data.clone())),
        _ => None,
    }).await, (alice.id, SignalData::Offer { sdp: "v=0 offer".into() }));
    bob.send(ClientMsg::Signal { to: alice.id, data: SignalData::Answer { sdp: "v=0 answer".into() }, camera: None }).await;
    let cand = SignalData::Candidate { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(), sdp_mid: Some("0".into()), sdp_mline_index: Some(0) };
    bob.send(ClientMsg::Signal { to: alice.id, data: cand.clone(), camera: None }).await;
    assert!(matches!(alice.expect("answer", |e| match e { ServerMsg::Signal { data, .. } => Some(data.clone()), _ => None }).await, SignalData::Answer { .. }));
    assert_eq!(alice.expect("candidate", |e| match e { ServerMsg::Signal { data, .. } => Some(data.clone()), _ => None }).await, cand);
    let carol_saw = carol.sync().await;
    assert!(carol_saw.iter().all(|m| !matches!(m, ServerMsg::Signal { .. })));
    alice.send(ClientMsg::Signal { to: 9999, data: SignalData::Bye {}, camera: None }).await;
    assert_eq!(alice.expect("unknown peer", error_code).await, ErrorCode::NotFound);
    alice.send(ClientMsg::IceServersGet {}).await;
    assert!(matches!(alice.next().await, ServerMsg::IceServers { .. }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cameras_watched_on_demand_boot_and_block() {
    let server = TestServer::start(config(None)).await;
    let (mut alice, mut bob, mut carol) = trio(&server).await;

    alice.send(ClientMsg::Camera { on: true }).await;
    bob.expect("camera on", |e| match e {
        ServerMsg::MemberUpdated { member } if member.camera => Some(()),
        _ => None,
    }).await;
    bob.send(ClientMsg::CameraOpen { member: alice.id }).await;
    assert_eq!(bob.expect("opened", |e| match e { ServerMsg::CameraOpened { member } => Some(*member), _ => None }).await, alice.id);
    assert_eq!(alice.expect("ring", |e| match e { ServerMsg::CameraRing { watcher } => Some(*watcher), _ => None }).await, bob.id);
    assert_eq!(alice.expect("watchers", |e| match e { ServerMsg::Watchers { watchers } => Some(watchers.clone()), _ => None }).await, vec![bob.id]);

    alice.send(ClientMsg::CameraBoot { member: bob.id }).await;
    assert_eq!(bob.expect("closed", |e| match e { ServerMsg::CameraClosed { member } => Some(*member), _ => None }).await, alice.id);
    let seen = bob.expect("camera looks off", |e| match e { ServerMsg::MemberUpdated { member } => Some(member.camera), _ => None }).await;
    assert!(!seen, "a booted watcher sees the camera as off");
    bob.send(ClientMsg::CameraOpen { member: alice.id }).await;
    assert_eq!(bob.expect("cannot reopen", error_code).await, ErrorCode::CameraOff);

    // The blocker (carol) stops receiving the blocked member's (bob's) chat.
    carol.send(ClientMsg::Block { member: bob.id }).await;
    // `block` has no reply; a ping round trip proves the server applied it.
    carol.sync().await;
    bob.send(chat("general", "b", "hey")).await;
    alice.expect("bob's chat", |e| matches!(e, ServerMsg::Chat { .. }).then_some(())).await;
    let carol_saw = carol.sync().await;
    assert!(carol_saw.iter().all(|m| !matches!(m, ServerMsg::Chat { .. })), "{carol_saw:?}");
    carol.send(ClientMsg::Unblock { member: bob.id }).await;

    carol.send(ClientMsg::CameraOpen { member: alice.id }).await;
    carol.expect("opened", |e| matches!(e, ServerMsg::CameraOpened { .. }).then_some(())).await;
    alice.send(ClientMsg::Camera { on: false }).await;
    assert_eq!(carol.expect("closed on camera off", |e| match e { ServerMsg::CameraClosed { member } => Some(*member), _ => None }).await, alice.id);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_kick_ban_lock_mute_and_operator_grant() {
    let mut cfg = config(None);
    cfg.operator_tokens = vec![Secret("host-token".into())];
    let server = TestServer::start(cfg).await;
    let mut host = join_with(&server, "host", None, Some("host-token")).await;
    let mut bob = join(&server, "bob").await;
    let mut carol = join(&server, "carol").await;
    host.sync().await;
    bob.sync().await;

    bob.send(ClientMsg::Kick { member: carol.id, reason: None }).await;
    assert_eq!(bob.expect("not an operator", error_code).await, ErrorCode::Forbidden);

    host.send(ClientMsg::ServerMute { member: bob.id, muted: true }).await;
    carol.expect("server mute", |e| match e {
        ServerMsg::MemberUpdated { member } if member.server_muted => Some(()),
        _ => None,
    }).await;
    host.send(ClientMsg::OpGrant { member: carol.id }).await;
    carol.expect("op grant", |e| match e {
        ServerMsg::MemberUpdated { member } if member.operator && member.name == "carol" => Some(()),
        _ => None,
    }).await;

    carol.send(ClientMsg::Kick { member: bob.id, reason: Some("calm down".into()) }).await;
    let msg = bob.expect("disconnect", |e| match e {
        ServerMsg::Disconnect { code, message } => Some((*code, message.clone())),
        _ => None,
    }).await;
    assert_eq!(msg, (ErrorCode::Kicked, "carol kicked you: calm down".to_string()));
    match bob.conn.recv_timeout(crate::support::WAIT).await {
        Err(hearth_client::ClientError::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(host.expect("member_left", |e| match e {
        ServerMsg::MemberLeft { id, reason } => Some((*id, *reason)),
        _ => None,
    }).await, (bob.id, LeaveReason::Kicked));

    // A ban keeps the name out (the address too, but every test client is 127.0.0.1).
    let mut dave = join(&server, "dave").await;
    host.send(ClientMsg::Ban { member: dave.id, reason: None }).await;
    dave.expect("banned", |e| match e { ServerMsg::Disconnect { code, .. } => Some(*code), _ => None }).await;
    let (mut again, _) = Connection::connect(&server.url, None).await.unwrap();
    again.send(&ClientMsg::Auth { protocol: 1, room: "lobby".into(), name: "Dave".into(), password: None, token: None }).await.unwrap();
    assert_eq!(error_code(&again.recv_timeout(crate::support::WAIT).await.unwrap()), Some(ErrorCode::Banned));
    host.send(ClientMsg::Unban { name: "dave".into() }).await;

    host.send(ClientMsg::Lock { locked: true }).await;
    carol.expect("locked", |e| match e { ServerMsg::RoomUpdated { room } if room.locked => Some(()), _ => None }).await;
    let (mut late, _) = Connection::connect(&server.url, None).await.unwrap();
    late.send(&ClientMsg::Auth { protocol: 1, room: "lobby".into(), name: "erin".into(), password: None, token: None }).await.unwrap();
    assert_eq!(error_code(&late.recv_timeout(crate::support::WAIT).await.unwrap()), Some(ErrorCode::RoomLocked));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_ping_pong_and_shutdown_notice() {
    let server = TestServer::start(config(None)).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    let mut carol = join(&server, "carol").await;
    alice.send(ClientMsg::Ping { nonce: Some(42) }).await;
    assert_eq!(alice.expect("pong", |e| match e { ServerMsg::Pong { nonce } => Some(*nonce), _ => None }).await, Some(42));

    let addr = server.addr;
    server.stop().await;
    for m in [&mut alice, &mut bob, &mut carol] {
        m.expect("shutdown", |e| matches!(e, ServerMsg::Shutdown { .. }).then_some(())).await;
        match m.conn.recv_timeout(crate::support::WAIT).await {
            Err(hearth_client::ClientError::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected close 1001, got {other:?}"),
        }
    }
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the port is closed after shutdown");
}
