//! One test per class of bad input: each gets an error naming the problem, and the
//! connection and stored history survive, except the abuse cases that close with a reason.

use std::time::Duration;

use hearth_client::{ClientError, Connection};
use hearth_server::config::Secret;
use hearth_wire::{ClientMsg, ErrorCode, LeaveReason, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Member, TestServer, WAIT, chat, config, error_code, join, join_with};

async fn error_of(m: &mut Member) -> (ErrorCode, String, Option<String>) {
    m.expect("error", |e| match e {
        ServerMsg::Error { code, message, src, .. } => Some((*code, message.clone(), src.clone())),
        _ => None,
    })
    .await
}

async fn close_code(conn: &mut Connection) -> u16 {
    loop {
        match conn.recv_timeout(WAIT).await {
            Ok(_) => continue,
            Err(ClientError::Closed(Some(frame))) => return u16::from(frame.code),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_invalid_and_binary_frames_get_errors_and_keep_the_connection() {
    let server = TestServer::start(config(None)).await;
    let mut alice = join(&server, "alice").await;
    alice.send(chat("general", "keep", "keep me")).await;
    alice.expect("ack", |e| matches!(e, ServerMsg::Chat { .. }).then_some(())).await;

    alice.conn.send_text("{not json".into()).await.unwrap();
    let (code, message, _) = error_of(&mut alice).await;
    assert_eq!(code, ErrorCode::Malformed);
    assert!(message.contains("malformed"), "{message}");

    alice.conn.send_text(r#"{"type":"teleport","to":"mars"}"#.into()).await.unwrap();
    let (code, message, src) = error_of(&mut alice).await;
    assert_eq!((code, src.as_deref()), (ErrorCode::UnknownType, Some("teleport")));
    assert!(message.contains("teleport"));

    alice.conn.send_text(r#"{"type":"chat_send","channel":"general"}"#.into()).await.unwrap();
    let (code, message, src) = error_of(&mut alice).await;
    assert_eq!((code, src.as_deref()), (ErrorCode::Invalid, Some("chat_send")));
    assert!(message.contains("client_id") || message.contains("missing"), "{message}");

    alice.conn.send_text(r#"{"type":"voice_state","muted":"yes","deafened":false}"#.into()).await.unwrap();
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::Invalid);

    alice.conn.send_text(r#"{"type":42}"#.into()).await.unwrap();
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::Malformed);

    alice.conn.send_raw(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    let (code, message, _) = error_of(&mut alice).await;
    assert_eq!(code, ErrorCode::Malformed);
    assert!(message.contains("binary"));

    // Still connected, and the stored message is still there.
    alice.send(ClientMsg::HistoryGet { channel: "general".into(), before: None, limit: None }).await;
    let texts = alice.expect("history", |e| match e {
        ServerMsg::History { messages, .. } => Some(messages.iter().map(|m| m.text.clone()).collect::<Vec<_>>()),
        _ => None,
    }).await;
    assert_eq!(texts, vec!["keep me".to_string()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_and_unauthorized_messages_are_refused() {
    let server = TestServer::start(config(None)).await;
    let (mut early, _) = Connection::connect(&server.url, None).await.unwrap();
    early.send(&ClientMsg::Typing { channel: "general".into() }).await.unwrap();
    let reply = early.recv_timeout(WAIT).await.unwrap();
    assert!(matches!(reply, ServerMsg::Error { code: ErrorCode::NotAuthenticated, ref src, .. } if src.as_deref() == Some("typing")), "{reply:?}");

    let mut alice = join(&server, "alice").await;
    alice.send(ClientMsg::Auth { protocol: 1, room: "lobby".into(), name: "alice2".into(), password: None, token: None }).await;
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::AlreadyAuthenticated);
    alice.send(ClientMsg::Lock { locked: true }).await;
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::Forbidden);
    alice.send(ClientMsg::CameraClose { member: 12345 }).await;
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::NotFound);
    alice.send(ClientMsg::VoiceLeave {}).await;
    assert_eq!(error_of(&mut alice).await.0, ErrorCode::NotInVoice);
    alice.sync().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_versions_and_rooms_are_refused_but_may_retry() {
    let server = TestServer::start(config(None)).await;
    let (mut c, _) = Connection::connect(&server.url, None).await.unwrap();
    let auth = |protocol, room: &str, name: &str| ClientMsg::Auth { protocol, room: room.into(), name: name.into(), password: None, token: None };
    for (msg, expected) in [
        (auth(2, "lobby", "zed"), ErrorCode::UnsupportedVersion),
        (auth(1, "attic", "zed"), ErrorCode::RoomNotFound),
        (auth(1, "lobby", "<img src=x>"), ErrorCode::InvalidName),
        (auth(1, "lobby", &"z".repeat(33)), ErrorCode::InvalidName),
        (auth(1, "lobby", ""), ErrorCode::InvalidName),
    ] {
        c.send(&msg).await.unwrap();
        assert_eq!(error_code(&c.recv_timeout(WAIT).await.unwrap()), Some(expected));
    }
    c.send(&auth(1, "lobby", "zed")).await.unwrap();
    assert!(matches!(c.recv_timeout(WAIT).await.unwrap(), ServerMsg::Welcome { .. }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_fields_get_errors_and_oversized_frames_close() {
    let mut cfg = config(None);
    cfg.limits.max_frame_bytes = 16 * 1024;
    cfg.limits.max_text_chars = 100;
    let server = TestServer::start(cfg).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    alice.sync().await;

    bob.send(chat("general", "long", &"x".repeat(101))).await;
    let (code, message, _) = error_of(&mut bob).await;
    assert_eq!(code, ErrorCode::TooLarge);
    assert!(message.contains("100"), "{message}");
    bob.sync().await;

    bob.conn.send_text(format!(r#"{{"type":"typing","channel":"{}"}}"#, "y".repeat(20 * 1024))).await.unwrap();
    assert_eq!(close_code(&mut bob.conn).await, 1009);
    assert_eq!(alice.expect("left", |e| match e {
        ServerMsg::MemberLeft { id, reason } => Some((*id, *reason)),
        _ => None,
    }).await, (bob.id, LeaveReason::Dropped));
    alice.sync().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_closes_with_the_reason() {
    let mut cfg = config(None);
    cfg.password = Some(Secret("open sesame".into()));
    let server = TestServer::start(cfg).await;
    let (mut c, _) = Connection::connect(&server.url, None).await.unwrap();
    c.send(&ClientMsg::Auth { protocol: 1, room: "lobby".into(), name: "mallory".into(), password: Some("open sesame!".into()), token: None }).await.unwrap();
    assert_eq!(error_code(&c.recv_timeout(WAIT).await.unwrap()), Some(ErrorCode::BadPassword));
    assert!(matches!(c.recv_timeout(WAIT).await.unwrap(), ServerMsg::Disconnect { code: ErrorCode::BadPassword, .. }));
    assert_eq!(close_code(&mut c).await, 1008);
    // The right password still works.
    join_with(&server, "alice", Some("open sesame"), None).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_gets_rate_limited_then_disconnected() {
    let mut cfg = config(None);
    cfg.limits.rate_per_sec = 5;
    cfg.limits.rate_burst = 5;
    cfg.limits.flood_strikes = 10;
    let server = TestServer::start(cfg).await;
    let mut alice = join(&server, "alice").await;
    let mut spammer = join(&server, "spammer").await;
    alice.sync().await;
    for _ in 0..40 {
        // The server may close the socket before all 40 are written; that is the point.
        if spammer.conn.send(&ClientMsg::Typing { channel: "general".into() }).await.is_err() {
            break;
        }
    }
    let retry = spammer.expect("rate_limit", |e| match e {
        ServerMsg::RateLimit { retry_after_ms, src } => Some((*retry_after_ms, src.clone())),
        _ => None,
    }).await;
    assert!(retry.0 > 0 && retry.0 <= 200, "{retry:?}");
    assert_eq!(retry.1.as_deref(), Some("typing"));
    let code = spammer.expect("disconnect", |e| match e { ServerMsg::Disconnect { code, .. } => Some(*code), _ => None }).await;
    assert_eq!(code, ErrorCode::Flood);
    assert_eq!(close_code(&mut spammer.conn).await, 1008);
    assert_eq!(alice.expect("left", |e| match e { ServerMsg::MemberLeft { reason, .. } => Some(*reason), _ => None }).await, LeaveReason::Dropped);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_paced_client_is_never_limited() {
    let mut cfg = config(None);
    cfg.limits.rate_per_sec = 20;
    cfg.limits.rate_burst = 5;
    let server = TestServer::start(cfg).await;
    let mut alice = join(&server, "alice").await;
    for _ in 0..15 {
        alice.send(ClientMsg::Typing { channel: "general".into() }).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let seen = alice.sync().await;
    assert!(seen.iter().all(|m| !matches!(m, ServerMsg::RateLimit { .. } | ServerMsg::Error { .. })), "{seen:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_clients_are_dropped_and_peers_told() {
    let mut cfg = config(None);
    cfg.limits.heartbeat_timeout_ms = 1500;
    cfg.limits.ping_interval_ms = 500;
    let server = TestServer::start(cfg).await;
    let mut alive = join(&server, "alive").await;
    let mut silent = join(&server, "silent").await;
    alive.sync().await;
    // `alive` answers every ping; `silent` reads but never sends anything.
    let started = std::time::Instant::now();
    let left = loop {
        match alive.next().await {
            ServerMsg::Ping { nonce } => alive.send(ClientMsg::Pong { nonce }).await,
            ServerMsg::MemberLeft { id, reason } => break (id, reason),
            _ => {}
        }
    };
    assert_eq!(left, (silent.id, LeaveReason::Timeout));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1000) && waited < Duration::from_secs(5), "{waited:?}");
    let code = silent.expect("disconnect", |e| match e { ServerMsg::Disconnect { code, .. } => Some(*code), _ => None }).await;
    assert_eq!(code, ErrorCode::HeartbeatTimeout);
    // The one that answered pings is still in.
    alive.send(ClientMsg::Ping { nonce: Some(1) }).await;
    alive.expect("pong", |e| matches!(e, ServerMsg::Pong { .. }).then_some(())).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_told_the_server_is_full() {
    let mut cfg = config(None);
    cfg.limits.max_connections = 2;
    let server = TestServer::start(cfg).await;
    let _a = join(&server, "a").await;
    let _b = join(&server, "b").await;
    let refused = Connection::connect(&server.url, None).await;
    // The third connection is upgraded, told why, and closed.
    match refused {
        Err(hearth_client::ClientError::Unexpected(text)) => assert!(text.contains("ServerFull"), "{text}"),
        Ok(_) => panic!("third connection was accepted"),
        Err(e) => panic!("unexpected error: {e}"),
    }
    server.stop().await;
}

/// The server writes messages straight to the socket while tungstenite answers WebSocket
/// pings on the same socket. A client that pings while it is not reading makes pongs and
/// large messages compete for a full socket buffer; every frame must still arrive whole and
/// in order, and the connection must stay usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_between_large_messages_keep_the_stream_intact() {
    use base64::Engine;
    let mut cfg = config(None);
    cfg.limits.rate_per_sec = 1000;
    cfg.limits.rate_burst = 1000;
    let server = TestServer::start(cfg).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    alice.sync().await;
    // 32 × 270 KiB of base64 is more than loopback's socket buffers hold.
    let images: Vec<Vec<u8>> =
        (0..32u8).map(|i| [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![i; 200 * 1024]].concat()).collect();
    for (i, png) in images.iter().enumerate() {
        let data = base64::engine::general_purpose::STANDARD.encode(png);
        let image = hearth_wire::Image { mime: "image/png".into(), data };
        bob.send(ClientMsg::ChatSend {
            channel: "general".into(),
            client_id: format!("big-{i}"),
            text: String::new(),
            reply_to: None,
            image: Some(image),
        })
        .await;
        // Bob reads his own copy, so that only Alice falls behind.
        let ack = format!("big-{i}");
        bob.expect("own image", |e| match e {
            ServerMsg::Chat { message } if message.client_id == ack => Some(()),
            _ => None,
        })
        .await;
        // Alice is not reading: her socket buffers fill up while she keeps pinging.
        alice.conn.send_raw(Message::Ping(vec![i as u8; 8].into())).await.unwrap();
    }
    for (i, png) in images.iter().enumerate() {
        let got = alice
            .expect("a large image", |e| match e {
                ServerMsg::Chat { message } if message.client_id.starts_with("big-") => {
                    Some((message.client_id.clone(), message.image.clone()))
                }
                _ => None,
            })
            .await;
        assert_eq!(got.0, format!("big-{i}"), "messages arrive in order");
        let data = got.1.expect("the image is attached").data;
        assert_eq!(&base64::engine::general_purpose::STANDARD.decode(data).unwrap(), png);
    }
    // The connection is still healthy afterwards.
    alice.send(chat("general", "after", "still here")).await;
    alice
        .expect("own chat", |e| match e {
            ServerMsg::Chat { message } if message.client_id == "after" => Some(()),
            _ => None,
        })
        .await;
    server.stop().await;
}
