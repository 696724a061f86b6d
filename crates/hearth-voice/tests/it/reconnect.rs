//! The server restarts in the middle of a call: both members come back into the room and
//! the voice channel by themselves, audio flows again, and chat written while the server
//! was down arrives exactly once.

use std::time::Duration;

use hearth_client::core::Event;
use hearth_media::SAMPLE_RATE;
use hearth_media::analysis::tone_ratio;

use crate::support::{Member, TestServer, until};

/// Every event `m` has had so far (waiting `quiet` for stragglers).
async fn drain(m: &mut Member, quiet: Duration) -> Vec<Event> {
    while let Ok(Some(event)) = tokio::time::timeout(quiet, m.events.recv()).await {
        m.seen.push(event);
    }
    m.seen.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_survives_a_server_restart_and_chat_is_neither_lost_nor_doubled() {
    let _serial = crate::support::ONE_AT_A_TIME.lock().await;
    let dir = std::env::temp_dir().join(format!("hearth-voice-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = hearth_server::Config { data_dir: Some(dir.clone()), ..Default::default() };
    let server = TestServer::start_on("127.0.0.1:0".parse().unwrap(), config.clone()).await;
    let addr = server.addr;
    let mut alice = Member::join(&server, "alice", 440.0).await;
    let mut bob = Member::join(&server, "bob", 660.0).await;
    alice.voice_join().await;
    bob.voice_join().await;
    for m in [&alice, &bob] {
        until(m, "a peer and audio", |s| s.peers.len() == 1 && s.packets_received > 50).await;
    }
    alice.client.chat("general", "before the restart").await.unwrap();
    alice.expect("ack", |e| matches!(e, Event::SendAcked { .. }).then_some(())).await;

    server.stop().await;
    alice.expect("disconnected", |e| matches!(e, Event::Disconnected { .. }).then_some(())).await;
    // Written while there is no server: kept and sent after the reconnect.
    alice.client.chat("general", "while it was down 1").await.unwrap();
    alice.client.chat("general", "while it was down 2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = TestServer::start_on(addr, config).await;

    for m in [&mut alice, &mut bob] {
        m.expect("voice rejoined", |e| matches!(e, Event::VoiceJoined { rejoin: true, .. }).then_some(())).await;
    }
    let before = [alice.stats().await.packets_received, bob.stats().await.packets_received];
    for (m, had) in [(&alice, before[0]), (&bob, before[1])] {
        until(m, "audio after the restart", |s| s.peers.len() == 1 && s.packets_received > had + 50).await;
    }
    // Both hear each other again in one 400 ms window, within a few seconds (the new
    // connections' jitter buffers fill first; a loaded machine takes longer).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (a, b) = (alice.heard.last(400), bob.heard.last(400));
        let (bob_in_a, alice_in_b) = (tone_ratio(&a, SAMPLE_RATE, 660.0), tone_ratio(&b, SAMPLE_RATE, 440.0));
        if bob_in_a > 0.3 && alice_in_b > 0.3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "they do not hear each other again: bob's share for alice {bob_in_a}, alice's for bob {alice_in_b}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Bob saw each message once, live or as missed history after his reconnect.
    let seen = drain(&mut bob, Duration::from_millis(500)).await;
    for text in ["while it was down 1", "while it was down 2"] {
        let shown = seen.iter().filter(|e| matches!(e, Event::Message(m) if m.text == text)).count();
        assert_eq!(shown, 1, "bob is shown {text:?} exactly once");
    }
    let general = bob.client.snapshot().await.unwrap().conversations["general"].clone();
    let mut texts: Vec<&str> = general.messages.values().map(|m| m.text.as_str()).collect();
    texts.retain(|t| t.contains("restart") || t.contains("down"));
    assert_eq!(texts, ["before the restart", "while it was down 1", "while it was down 2"], "in order, once each");
    assert!(alice.client.snapshot().await.unwrap().pending.is_empty(), "nothing left unacknowledged");

    for m in [alice, bob] {
        m.leave().await;
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
