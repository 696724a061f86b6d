//! The server stops and restarts on the same port and data directory mid-conversation:
//! clients come back into the room and their voice channel with their mute state, and chat
//! sent while the server was down is delivered exactly once.

use std::time::Duration;

use hearth_client::{Command, Event};
use hearth_wire::ServerMsg;

use crate::support::{TestServer, WAIT, join};

fn config(dir: &std::path::Path) -> hearth_server::Config {
    hearth_server::Config { data_dir: Some(dir.to_owned()), ..hearth_server::Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_survive_a_server_restart_without_losing_or_repeating_chat() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let addr = server.addr;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    let mut carol = join(&server, "carol").await;

    alice.client.send(Command::VoiceState { muted: true, deafened: false }).await.unwrap();
    alice.client.send(Command::VoiceJoin { channel: "voice".into() }).await.unwrap();
    alice.expect("in voice", |e| matches!(e, Event::VoiceJoined { rejoin: false, .. }).then_some(())).await;
    alice.client.chat("general", "before").await.unwrap();
    bob.expect("before", |e| matches!(e, Event::Message(m) if m.text == "before").then_some(())).await;

    server.stop().await;
    for m in [&mut alice, &mut bob, &mut carol] {
        m.expect("disconnected", |e| matches!(e, Event::Disconnected { .. }).then_some(())).await;
    }
    // Said while the server is down: kept, and sent after the reconnect.
    alice.client.chat("general", "while down 1").await.unwrap();
    alice.client.chat("general", "while down 2").await.unwrap();
    bob.client.chat("general", "bob while down").await.unwrap();
    // More than a rate-limit burst (40): paced out after the reconnect, not flooded.
    const BULK: usize = 45;
    for i in 0..BULK {
        alice.client.chat("general", &format!("bulk {i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let server = TestServer::start_on(addr, config(dir.path())).await;
    for m in [&mut alice, &mut bob, &mut carol] {
        m.expect("rejoined", |e| matches!(e, Event::Joined { rejoin: true, .. }).then_some(())).await;
    }
    alice.expect("back in voice", |e| matches!(e, Event::VoiceJoined { channel, rejoin: true } if channel == "voice").then_some(())).await;
    for m in [&mut bob, &mut carol] {
        for text in ["while down 1", "while down 2"] {
            m.expect_message(text).await;
        }
    }
    for m in [&mut alice, &mut carol] {
        m.expect_message("bob while down").await;
    }
    for i in 0..BULK {
        bob.expect_message(&format!("bulk {i}")).await;
    }
    let bulk_order: Vec<String> = bob
        .seen
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.text.starts_with("bulk ") => Some(m.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(bulk_order, (0..BULK).map(|i| format!("bulk {i}")).collect::<Vec<_>>(), "in order, once each");
    assert!(!alice.seen.iter().any(|e| matches!(e, Event::RateLimited { .. })), "the backlog was paced");
    // Alice's own copy of her last message is its acknowledgement.
    alice.expect_message(&format!("bulk {}", BULK - 1)).await;
    let snap = alice.client.snapshot().await.unwrap();
    assert!(snap.pending.is_empty(), "every message acknowledged: {:?}", snap.pending);
    let me = snap.members.iter().find(|m| Some(m.id) == snap.me).unwrap();
    assert_eq!((me.voice_channel.as_deref(), me.muted), (Some("voice"), true), "voice and mute reapplied");

    // Live chat works after the restart, and a late look at everything shows no repeats.
    carol.client.chat("general", "after").await.unwrap();
    for m in [&mut alice, &mut bob, &mut carol] {
        m.expect_message("after").await;
        m.drain_for(Duration::from_millis(200)).await;
        for text in ["before", "while down 1", "while down 2", "bob while down", "after"] {
            assert_eq!(m.shown(text), 1, "{text:?} shown once");
        }
    }
    // The server's own history holds each message once, in order.
    let (mut dave, _) = hearth_client::Connection::join(&server.url, "lobby", "dave", None, None).await.unwrap();
    let history = dave.wait_for(WAIT, |e| match e {
        ServerMsg::History { messages, .. } => {
            Some(messages.iter().rev().map(|m| m.text.clone()).filter(|t| !t.starts_with("bulk ")).collect::<Vec<_>>())
        }
        _ => None,
    }).await.unwrap();
    // Resends from different clients may reach the new server in either order; each
    // client's own messages keep theirs.
    let mut sorted = history.clone();
    sorted.sort();
    assert_eq!(sorted, ["after", "before", "bob while down", "while down 1", "while down 2"], "each once: {history:?}");
    let pos = |t: &str| history.iter().position(|h| h == t).unwrap();
    assert!(pos("before") == 0 && pos("after") == 4 && pos("while down 1") < pos("while down 2"), "{history:?}");

    for m in [alice, bob, carol] {
        m.client.leave().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_comes_back_into_the_room_and_voice() {
    let server = TestServer::start(hearth_server::Config::default()).await;
    let relay = crate::support::Relay::start(server.addr).await;
    let client = hearth_client::Client::connect(&relay.url, crate::support::options("alice")).await.unwrap();
    let mut alice = crate::support::Member { client, seen: Vec::new(), id: 0 };
    alice.expect("joined", |e| matches!(e, Event::Joined { .. }).then_some(())).await;
    let mut bob = join(&server, "bob").await;
    alice.client.send(Command::VoiceJoin { channel: "voice".into() }).await.unwrap();
    alice.expect("in voice", |e| matches!(e, Event::VoiceJoined { rejoin: false, .. }).then_some(())).await;

    relay.cut();
    alice.expect("drop noticed", |e| matches!(e, Event::Disconnected { .. }).then_some(())).await;
    alice.client.chat("general", "written during the drop").await.unwrap();
    alice.expect("rejoined", |e| matches!(e, Event::Joined { rejoin: true, .. }).then_some(())).await;
    alice.expect("voice again", |e| matches!(e, Event::VoiceJoined { rejoin: true, .. }).then_some(())).await;
    bob.expect_message("written during the drop").await;
    bob.client.chat("general", "glad you're back").await.unwrap();
    alice.expect_message("glad you're back").await;
    alice.drain_for(Duration::from_millis(200)).await;
    bob.drain_for(Duration::from_millis(200)).await;
    assert_eq!((alice.shown("written during the drop"), bob.shown("written during the drop")), (1, 1));
    // Bob saw the old Alice leave and the new one arrive, and her voice channel again.
    assert!(bob.seen.iter().any(|e| matches!(e, Event::MemberLeft { name: Some(n), .. } if n == "alice")));
    let snap = bob.client.snapshot().await.unwrap();
    assert!(snap.members.iter().any(|m| m.name == "alice" && m.voice_channel.as_deref() == Some("voice")));

    alice.client.leave().await;
    bob.client.leave().await;
    server.stop().await;
}
