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
