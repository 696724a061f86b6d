//! Three clients chat: messages, acks, edits, reactions, replies, typing, DMs, voice state
//! and signaling all arrive as typed events.

use hearth_client::{ClientError, ClientOptions, CloseReason, Command, Event};
use hearth_wire::{ErrorCode, SignalData};

use crate::support::{TestServer, join, options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_chat_edit_react_type_dm_and_signal() {
    let server = TestServer::start(hearth_server::Config::default()).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    let mut carol = join(&server, "carol").await;
    let (bob_id, carol_id) = (bob.id, carol.id);
    alice.expect("carol arrives", |e| matches!(e, Event::MemberJoined(m) if m.id == carol_id).then_some(())).await;

    // A message: the author gets the ack and the message; the others get the message.
    let cid = alice.client.chat("general", "hello all").await.unwrap();
    let id = alice.expect("ack", |e| match e {
        Event::SendAcked { client_id, id } if *client_id == cid => Some(*id),
        _ => None,
    }).await;
    for m in [&mut bob, &mut carol] {
        let got = m.expect("hello", |e| match e {
            Event::Message(msg) if msg.text == "hello all" => Some(msg.clone()),
            _ => None,
        }).await;
        assert_eq!((got.id, got.author.as_str(), got.channel.as_str()), (id, "alice", "general"));
    }

    // Edit, reaction, reply.
    alice.client.send(Command::EditChat { id, text: "hello everyone".into() }).await.unwrap();
    carol.client.send(Command::React { id, emoji: "👋".into() }).await.unwrap();
    let updated = bob.expect("edit and reaction", |e| match e {
        Event::MessageUpdated(m) if m.id == id && m.edited_ts.is_some() && !m.reactions.is_empty() => Some(m.clone()),
        _ => None,
    }).await;
    assert_eq!(updated.text, "hello everyone");
    assert!(updated.edited_ts.is_some());
    assert_eq!(updated.reactions[0].names, vec!["carol".to_string()]);
    bob.client.handle().chat_with("general", "hi alice", Some(id), None).await.unwrap();
    let reply = alice.expect("reply", |e| match e {
        Event::Message(m) if m.author == "bob" => Some(m.clone()),
        _ => None,
    }).await;
    assert_eq!(reply.reply_to, Some(id));

    // Typing reaches the others, not the typist.
    bob.client.send(Command::Typing { channel: "general".into() }).await.unwrap();
    for m in [&mut alice, &mut carol] {
        m.expect("typing", |e| matches!(e, Event::Typing { channel, member } if channel == "general" && *member == bob_id).then_some(())).await;
    }

    // A DM reaches its two parties only.
    alice.client.chat("@carol", "psst").await.unwrap();
    let dm = carol.expect("dm", |e| match e {
        Event::Message(m) if m.text == "psst" => Some(m.clone()),
        _ => None,
    }).await;
    assert_eq!(dm.channel, "@alice");
    alice.expect("dm ack", |e| matches!(e, Event::SendAcked { .. }).then_some(())).await;

    // Deletion.
    alice.client.send(Command::DeleteChat { id }).await.unwrap();
    carol.expect("deleted", |e| matches!(e, Event::MessageUpdated(m) if m.id == id && m.deleted).then_some(())).await;

    // Voice state and signaling: what a voice session builds on.
    bob.client.send(Command::VoiceJoin { channel: "voice".into() }).await.unwrap();
    bob.expect("bob in voice", |e| matches!(e, Event::VoiceJoined { channel, rejoin: false } if channel == "voice").then_some(())).await;
    alice.expect("bob's voice state", |e| matches!(e, Event::MemberUpdated(m) if m.id == bob_id && m.voice_channel.as_deref() == Some("voice")).then_some(())).await;
    let snap = alice.client.snapshot().await.unwrap();
    assert!(snap.members.iter().any(|m| m.id == bob_id && m.voice_channel.as_deref() == Some("voice")));
    assert!(!bob.client.snapshot().await.unwrap().conversations.contains_key("@alice"), "bob never saw the DM");
    alice.client.send(Command::Signal { to: bob_id, data: SignalData::Offer { sdp: "v=0".into() }, camera: None }).await.unwrap();
    let from = bob.expect("signal", |e| match e {
        Event::Signal { from, data: SignalData::Offer { sdp }, camera: None } if sdp == "v=0" => Some(*from),
        _ => None,
    }).await;
    assert_eq!(from, alice.id);

    // Nothing was shown twice.
    for m in [&alice, &bob, &carol] {
        assert_eq!(m.shown("hello all"), 1);
    }
    assert!(alice.client.leave().await.is_empty(), "every message acknowledged");
    bob.expect("alice left", |e| matches!(e, Event::MemberLeft { name: Some(n), .. } if n == "alice").then_some(())).await;
    drop((bob, carol));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_fails_connect_and_a_kick_is_not_retried() {
    let config = hearth_server::Config {
        password: Some("sesame".into()),
        operator_tokens: vec!["op-token".into()],
        ..hearth_server::Config::default()
    };
    let server = TestServer::start(config).await;

    let mut wrong = options("mallory");
    wrong.core.password = Some("guess".into());
    match hearth_client::Client::connect(&server.url, wrong).await {
        Err(ClientError::Fatal { code: Some(ErrorCode::BadPassword), .. }) => {}
        Err(other) => panic!("expected bad_password, got {other}"),
        Ok(_) => panic!("a wrong password got in"),
    }

    let mut op = ClientOptions::new(None, "host");
    op.core.token = Some("op-token".into());
    let op = hearth_client::Client::connect(&server.url, op).await.unwrap();
    let mut bob_opts = options("bob");
    bob_opts.core.password = Some("sesame".into());
    let mut bob = crate::support::Member { client: hearth_client::Client::connect(&server.url, bob_opts).await.unwrap(), seen: Vec::new(), id: 0 };
    let bob_id = bob.expect("joined", |e| match e { Event::Joined { you, .. } => Some(*you), _ => None }).await;
    op.send(Command::Raw(hearth_wire::ClientMsg::Kick { member: bob_id, reason: Some("test".into()) })).await.unwrap();
    let reason = bob.expect("kicked", |e| match e {
        Event::Closed(r) => Some(r.clone()),
        Event::Connecting { attempt } if *attempt > 0 => panic!("a kicked client reconnected"),
        _ => None,
    }).await;
    assert!(matches!(reason, CloseReason::Fatal { code: Some(ErrorCode::Kicked), .. }), "{reason:?}");
    assert!(bob.client.next_event().await.is_none(), "the client stopped after the kick");
    op.leave().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_urls_speak_tls() {
    // A peer that answers in plain text cannot finish a TLS handshake, so the error must come
    // from TLS itself: proof that wss:// is built in rather than refused as a scheme.
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    });
    match hearth_client::Client::connect(&format!("wss://{addr}/lobby"), options("alice")).await {
        Err(ClientError::Fatal { code: None, message }) => {
            assert!(!message.contains("not compiled"), "{message}");
            assert!(message.to_lowercase().contains("tls") || message.contains("corrupt"), "{message}");
        }
        Err(other) => panic!("expected a TLS failure, got {other}"),
        Ok(_) => panic!("a plain-text peer passed for TLS"),
    }
    peer.await.unwrap();
}
