//! A three-person call: everyone hears the other two and not themselves, and mute, deafen,
//! per-user mute and leave each do what they say.

use std::time::Duration;

use hearth_client::core::Event;
use hearth_media::SAMPLE_RATE;
use hearth_media::analysis::{rms, tone_ratio};

use crate::support::{Member, TestServer, until};

/// Share of a window's energy that counts as "this tone is there": two equal tones give
/// about 0.5 each.
const PRESENT: f32 = 0.2;
/// Share that counts as "not there" (codec noise and leakage stay far below this).
const ABSENT: f32 = 0.02;

fn share(heard: &[f32], tone: f32) -> f32 {
    tone_ratio(heard, SAMPLE_RATE, tone)
}

/// Lets changes settle: capture, network, a jitter buffer of up to a few hundred ms.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(900)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_hear_each_other_and_controls_do_what_they_say() {
    let _serial = crate::support::ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice", 440.0).await;
    let mut bob = Member::join(&server, "bob", 660.0).await;
    let carol = Member::join(&server, "carol", 990.0).await;
    for m in [&alice, &bob, &carol] {
        m.voice_join().await;
    }
    for m in [&alice, &bob, &carol] {
        until(m, "two peers and audio", |s| s.peers.len() == 2 && s.packets_received > 100).await;
    }
    settle().await;

    // Everyone hears the other two tones, and not their own.
    for (me, others) in [(&alice, [&bob, &carol]), (&bob, [&alice, &carol]), (&carol, [&alice, &bob])] {
        let heard = me.heard.last(500);
        for other in others {
            let s = share(&heard, other.tone);
            assert!(s > PRESENT, "member {} should hear {} Hz: share {s}", me.id, other.tone);
        }
        let own = share(&heard, me.tone);
        assert!(own < ABSENT, "member {} should not hear itself: share {own}", me.id);
    }

    // Speaking events reach the others through the server.
    let alice_id = alice.id;
    bob.expect("alice speaking", |e| matches!(e, Event::Speaking { member, speaking: true } if *member == alice_id).then_some(()))
        .await;
    let carol_id = carol.id;
    alice.expect("carol speaking", |e| matches!(e, Event::Speaking { member, speaking: true } if *member == carol_id).then_some(()))
        .await;

    // Alice mutes: nobody hears her, the room is told, and she stops "speaking".
    alice.voice.set_muted(true).await.unwrap();
    bob.expect("alice muted", |e| matches!(e, Event::MemberUpdated(m) if m.id == alice_id && m.muted).then_some(())).await;
    settle().await;
    let members = bob.client.snapshot().await.unwrap().members;
    let alice_seen = members.iter().find(|m| m.id == alice_id).expect("alice in bob's member list");
    assert!(alice_seen.muted && !alice_seen.speaking, "bob sees alice muted and silent: {alice_seen:?}");
    let heard = bob.heard.last(400);
    assert!(share(&heard, alice.tone) < ABSENT, "muted alice is silent for bob: {}", share(&heard, alice.tone));
    assert!(share(&heard, carol.tone) > PRESENT, "bob still hears carol");
    alice.voice.set_muted(false).await.unwrap();

    // Bob deafens: he hears nothing, and nobody hears him.
    bob.voice.set_deafened(true).await.unwrap();
    settle().await;
    let bob_heard = bob.heard.last(400);
    assert!(rms(&bob_heard) < 1e-3, "deafened bob hears silence, rms {}", rms(&bob_heard));
    let carol_heard = carol.heard.last(400);
    assert!(share(&carol_heard, bob.tone) < ABSENT, "deafened bob is muted for carol");
    assert!(share(&carol_heard, alice.tone) > PRESENT, "alice is back after unmuting");
    bob.voice.set_deafened(false).await.unwrap();
    settle().await;
    assert!(share(&carol.heard.last(400), bob.tone) > PRESENT, "bob is back after undeafening");

    // Carol mutes alice for herself only.
    carol.voice.set_user_muted(alice_id, true).await.unwrap();
    settle().await;
    let carol_heard = carol.heard.last(400);
    assert!(share(&carol_heard, alice.tone) < ABSENT, "carol muted alice locally");
    assert!(share(&carol_heard, bob.tone) > PRESENT, "carol still hears bob");
    assert!(share(&bob.heard.last(400), alice.tone) > PRESENT, "bob still hears alice");

    // Carol leaves the voice channel: the others drop her and stop hearing her.
    carol.client.send(hearth_client::core::Command::VoiceLeave).await.unwrap();
    for m in [&alice, &bob] {
        until(m, "carol gone", |s| s.peers.len() == 1).await;
    }
    settle().await;
    for m in [&alice, &bob] {
        let heard = m.heard.last(400);
        assert!(share(&heard, carol.tone) < ABSENT, "member {} no longer hears carol", m.id);
    }
    assert!(share(&alice.heard.last(400), bob.tone) > PRESENT, "alice and bob still talk");

    for m in [alice, bob, carol] {
        m.leave().await;
    }
    server.stop().await;
}
