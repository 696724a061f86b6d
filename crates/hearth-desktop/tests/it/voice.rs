//! Voice through the app core: two members join a voice channel (a synthetic tone in, no
//! speaker), the room shows each in the channel and speaking, the microphone level reaches the
//! UI, mute is seen by the other, and leaving takes the member out. Real server, real WebRTC
//! over loopback, real Opus.

use hearth_desktop::ipc::AppEvent;
use hearth_desktop::{AudioKind, DesktopConfig};
use hearth_peer::PeerConfig;

use crate::support::{ONE_AT_A_TIME, expect, host_and_guest};

fn config() -> DesktopConfig {
    DesktopConfig {
        peer: PeerConfig::loopback(),
        audio: AudioKind::Synthetic,
        ..DesktopConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_talk_in_a_voice_channel_and_see_each_other_speak_and_mute() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut host, mut guest, guest_id) = host_and_guest(config()).await;

    // Outside voice, voice commands that need a call say so.
    let err = host
        .handle
        .set_member_volume(guest_id, 1.5)
        .await
        .unwrap_err();
    assert_eq!(err.code, "not_in_voice");
    let err = host
        .handle
        .set_member_volume(guest_id, 7.0)
        .await
        .unwrap_err();
    assert_eq!(err.code, "invalid");

    host.handle.voice_join("voice".into()).await.unwrap();
    guest.handle.voice_join("voice".into()).await.unwrap();
    expect(&mut host, "the guest in the voice channel", |e| match e {
        AppEvent::MemberUpdated { member }
            if member.id == guest_id && member.voice_channel.as_deref() == Some("voice") =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    expect(&mut host, "the guest speaking (their tone)", |e| match e {
        AppEvent::Speaking { member, speaking } if *member == guest_id && *speaking => Some(()),
        _ => None,
    })
    .await;
    let level = expect(&mut guest, "a microphone level", |e| match e {
        AppEvent::InputLevel { level } if *level > 0.0 => Some(*level),
        _ => None,
    })
    .await;
    assert!(
        level > 0.3,
        "a -10 dBFS tone reads as a high level: {level}"
    );
    host.handle.set_member_volume(guest_id, 0.5).await.unwrap();
    host.handle
        .set_member_local_mute(guest_id, true)
        .await
        .unwrap();

    guest.handle.set_muted(true).await.unwrap();
    let channel = expect(&mut guest, "our voice status muted", |e| match e {
        AppEvent::VoiceStatus { status } if status.muted => Some(status.channel.clone()),
        _ => None,
    })
    .await;
    assert_eq!(channel.as_deref(), Some("voice"));
    expect(&mut host, "the guest shown muted", |e| match e {
        AppEvent::MemberUpdated { member } if member.id == guest_id && member.muted => Some(()),
        _ => None,
    })
    .await;

    guest.handle.voice_leave().await.unwrap();
    expect(&mut host, "the guest out of the channel", |e| match e {
        AppEvent::MemberUpdated { member }
            if member.id == guest_id && member.voice_channel.is_none() =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    guest.handle.shutdown().await.unwrap();
    host.handle.shutdown().await.unwrap();
}

/// Waits until `desktop` is told that `member` started (or stopped) speaking.
async fn speaking(desktop: &mut hearth_desktop::Desktop, member: u64, wanted: bool, what: &str) {
    expect(desktop, what, |e| match e {
        AppEvent::Speaking {
            member: m,
            speaking,
        } if *m == member && *speaking == wanted => Some(()),
        _ => None,
    })
    .await;
}

/// Packets `desktop`'s call received during `window`.
async fn received_in(desktop: &hearth_desktop::Desktop, window: std::time::Duration) -> u64 {
    let before = desktop.handle.voice_stats().await.unwrap().packets_received;
    tokio::time::sleep(window).await;
    desktop.handle.voice_stats().await.unwrap().packets_received - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_during_a_call_apply_without_leaving_it() {
    use std::time::Duration;

    use hearth_desktop::ipc::Settings;

    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut host, guest, guest_id) = host_and_guest(config()).await;
    host.handle.voice_join("voice".into()).await.unwrap();
    guest.handle.voice_join("voice".into()).await.unwrap();
    speaking(&mut host, guest_id, true, "the guest speaking (their tone)").await;
    // 20 ms frames: 50 packets in 2 s.
    let heard = received_in(&host, Duration::from_secs(2)).await;
    assert!(heard >= 30, "the guest is heard: {heard} packets in 2 s");

    // Push-to-talk on: with the key up the guest falls silent, still in the channel.
    let ptt = Settings {
        push_to_talk: true,
        push_to_talk_key: Some("Space".into()),
        ..Settings::default()
    };
    guest.handle.set_settings(ptt.clone()).await.unwrap();
    speaking(&mut host, guest_id, false, "the guest no longer speaking").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let heard = received_in(&host, Duration::from_secs(1)).await;
    assert!(heard <= 2, "key up, yet {heard} packets arrived in 1 s");

    // The key down: heard again, over the same call.
    guest.handle.push_to_talk(true).await.unwrap();
    speaking(&mut host, guest_id, true, "the guest speaking on the key").await;
    let heard = received_in(&host, Duration::from_secs(2)).await;
    assert!(heard >= 30, "key down: {heard} packets in 2 s");

    // 10 ms frames and no noise suppression, key still down: twice the packets, at once.
    guest
        .handle
        .set_settings(Settings {
            frame_ms: 10,
            noise_suppression: false,
            ..ptt
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let heard = received_in(&host, Duration::from_secs(2)).await;
    assert!(
        heard >= 65,
        "10 ms frames make 100 packets in 2 s (20 ms frames at most 50): {heard}"
    );

    // Neither side ever left: the call's peers are the same two members.
    assert_eq!(
        host.handle.voice_stats().await.unwrap().peers,
        [guest_id],
        "the host still calls the guest"
    );
    let guest_stats = guest.handle.voice_stats().await.unwrap();
    assert_eq!(guest_stats.channel.as_deref(), Some("voice"));
    assert_eq!(guest_stats.peers.len(), 1);
    while let Ok(event) = host.events.try_recv() {
        if let AppEvent::MemberUpdated { member } = &event {
            assert!(
                member.id != guest_id || member.voice_channel.is_some(),
                "the guest left the channel: {event:?}"
            );
        }
    }

    guest.handle.shutdown().await.unwrap();
    host.handle.shutdown().await.unwrap();
}
