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

/// How long a change (mute, deafen, leave) may take to be heard: capture, network and a
/// jitter buffer of up to a few hundred ms, on a loaded two-core machine.
const HEARD_WITHIN: Duration = Duration::from_secs(5);

/// Waits until one 400 ms window of what `me` heard passes `check`, which names what is wrong
/// otherwise. Presences and absences are checked on the same window, so a moment when the
/// whole sound path stalls (silence everywhere) cannot pass for "this one is muted".
async fn heard_within(me: &Member, what: &str, check: impl Fn(&[f32]) -> Result<(), String>) {
    let deadline = tokio::time::Instant::now() + HEARD_WITHIN;
    loop {
        let failure = match check(&me.heard.last(400)) {
            Ok(()) => return,
            Err(failure) => failure,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "member {}: {what}: {failure}",
            me.id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `tone` holds at least [`PRESENT`] of the window's energy.
fn present(heard: &[f32], who: &str, tone: f32) -> Result<(), String> {
    let s = share(heard, tone);
    if s > PRESENT {
        Ok(())
    } else {
        Err(format!("{who} ({tone} Hz) should be heard: share {s}"))
    }
}

/// `tone` holds at most [`ABSENT`] of the window's energy.
fn absent(heard: &[f32], who: &str, tone: f32) -> Result<(), String> {
    let s = share(heard, tone);
    if s < ABSENT {
        Ok(())
    } else {
        Err(format!("{who} ({tone} Hz) should be silent: share {s}"))
    }
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
        until(m, "two peers and audio", |s| {
            s.peers.len() == 2 && s.packets_received > 100
        })
        .await;
    }

    // Everyone hears the other two tones, and not their own.
    for (me, others) in [
        (&alice, [&bob, &carol]),
        (&bob, [&alice, &carol]),
        (&carol, [&alice, &bob]),
    ] {
        heard_within(me, "hears the other two", |heard| {
            for other in others {
                present(heard, &format!("member {}", other.id), other.tone)?;
            }
            absent(heard, "its own voice", me.tone)
        })
        .await;
    }
    let (a, b, c) = (alice.tone, bob.tone, carol.tone);

    // Speaking events reach the others through the server.
    let alice_id = alice.id;
    bob.expect("alice speaking", |e| {
        matches!(e, Event::Speaking { member, speaking: true } if *member == alice_id).then_some(())
    })
    .await;
    let carol_id = carol.id;
    alice
        .expect("carol speaking", |e| {
            matches!(e, Event::Speaking { member, speaking: true } if *member == carol_id)
                .then_some(())
        })
        .await;

    // Alice mutes: nobody hears her, the room is told, and she stops "speaking".
    alice.voice.set_muted(true).await.unwrap();
    bob.expect("alice muted", |e| {
        matches!(e, Event::MemberUpdated(m) if m.id == alice_id && m.muted).then_some(())
    })
    .await;
    heard_within(&bob, "alice muted", |heard| {
        absent(heard, "muted alice", a)?;
        present(heard, "carol", c)
    })
    .await;
    let members = bob.client.snapshot().await.unwrap().members;
    let alice_seen = members
        .iter()
        .find(|m| m.id == alice_id)
        .expect("alice in bob's member list");
    assert!(
        alice_seen.muted && !alice_seen.speaking,
        "bob sees alice muted and silent: {alice_seen:?}"
    );
    alice.voice.set_muted(false).await.unwrap();

    // Bob deafens: he hears nothing, and nobody hears him.
    bob.voice.set_deafened(true).await.unwrap();
    heard_within(&bob, "deafened", |heard| {
        let level = rms(heard);
        if level < 1e-3 {
            Ok(())
        } else {
            Err(format!("deafened bob hears rms {level}"))
        }
    })
    .await;
    heard_within(&carol, "bob deafened, alice unmuted", |heard| {
        absent(heard, "deafened bob", b)?;
        present(heard, "alice after unmuting", a)
    })
    .await;
    bob.voice.set_deafened(false).await.unwrap();
    heard_within(&carol, "bob undeafened", |heard| {
        present(heard, "bob after undeafening", b)
    })
    .await;

    // Carol mutes alice for herself only.
    carol.voice.set_user_muted(alice_id, true).await.unwrap();
    heard_within(&carol, "alice muted locally", |heard| {
        absent(heard, "alice, muted by carol", a)?;
        present(heard, "bob", b)
    })
    .await;
    heard_within(&bob, "carol's local mute is hers alone", |heard| {
        present(heard, "alice", a)
    })
    .await;

    // Carol leaves the voice channel: the others drop her and stop hearing her.
    carol
        .client
        .send(hearth_client::core::Command::VoiceLeave)
        .await
        .unwrap();
    for m in [&alice, &bob] {
        until(m, "carol gone", |s| s.peers.len() == 1).await;
    }
    heard_within(&alice, "carol left", |heard| {
        absent(heard, "carol after leaving", c)?;
        present(heard, "bob", b)
    })
    .await;
    heard_within(&bob, "carol left", |heard| {
        absent(heard, "carol after leaving", c)?;
        present(heard, "alice", a)
    })
    .await;

    for m in [alice, bob, carol] {
        m.leave().await;
    }
    server.stop().await;
}
