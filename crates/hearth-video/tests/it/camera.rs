//! Cameras watched on demand, end to end: a real server, real clients, real WebRTC over
//! loopback, VP8 encoded and decoded, and the test pattern's frame numbers read back from the
//! decoded pixels.

use std::time::Duration;

use hearth_client::core::Event;
use hearth_video::{VideoConfig, VideoEvent};
use hearth_wire::ErrorCode;

use crate::support::*;

/// Frames per second a watcher must see at 640x480 over loopback.
const MIN_FPS: f64 = 25.0;
/// How soon a watcher who opens a running camera must have a picture: a new connection (ICE,
/// DTLS) and one forced keyframe. Typically 150–400 ms here; a loaded two-core CI machine has
/// taken 1.1 s. The test's camera sends no periodic keyframe for a minute, so a picture within
/// this bound can only come from the keyframe forced for the new watcher.
const LATE_WATCHER_LIMIT: Duration = Duration::from_secs(3);
/// How long a stopped stream is given to drain packets already on the wire.
const DRAIN: Duration = Duration::from_millis(300);
/// How long a stopped stream is then watched for stray frames.
const QUIET: Duration = Duration::from_millis(700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_gets_every_frame_in_order_a_bystander_gets_nothing_and_a_late_watcher_gets_a_picture_at_once()
 {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    // A periodic keyframe only once a minute (30 fps), so the late watcher's picture must
    // come from the one forced for him.
    let rare_keyframes = VideoConfig {
        keyframe_interval: 1800,
        ..video_config()
    };
    let alice = Member::join(&server, "alice", rare_keyframes).await;
    let mut bob = Member::join(&server, "bob", video_config()).await;
    let carol = Member::join(&server, "carol", video_config()).await;
    let mut dave = Member::join(&server, "dave", video_config()).await;

    alice.camera_on(VGA).await;
    bob.sees_camera_on(alice.id).await;
    dave.sees_camera_on(alice.id).await;
    let slot = bob.open(alice.id).await;
    bob.expect_video("camera opened", |e| {
        matches!(e, VideoEvent::Opened(m) if *m == alice.id).then_some(())
    })
    .await;
    first_frame(&slot).await;

    // Two seconds of watching, as a front end drawing at ~300 Hz would.
    let watched = watch_for(&slot, Duration::from_secs(2)).await;
    let numbers: Vec<u32> = watched.stamps.iter().map(|(_, s)| s.frame_number).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "frames out of order or repeated: {numbers:?}"
    );
    let (first, last) = (
        watched.stamps.first().unwrap(),
        watched.stamps.last().unwrap(),
    );
    let seconds = last.0.duration_since(first.0).as_secs_f64();
    let fps = f64::from(last.1.frame_number - first.1.frame_number) / seconds;
    let drawn = (numbers.len() - 1) as f64 / seconds;
    assert!(
        fps >= MIN_FPS,
        "frames advanced at {fps:.1} fps, want ≥ {MIN_FPS}"
    );
    assert!(
        drawn >= MIN_FPS,
        "only {drawn:.1} distinct frames per second reached the slot"
    );
    assert_eq!(
        watched.unreadable, 0,
        "decoded frames whose stamp could not be read"
    );
    let bob_stats = bob.stats().await;
    assert_eq!(
        bob_stats.watching[&alice.id].decode_errors, 0,
        "{bob_stats:?}"
    );

    // Carol never opened the camera: no connection, not one frame.
    let carol_stats = carol.stats().await;
    assert_eq!(
        carol_stats.frames_received_total, 0,
        "a bystander received video: {carol_stats:?}"
    );
    let alice_stats = alice.stats().await;
    assert_eq!(alice_stats.watchers, vec![bob.id], "{alice_stats:?}");

    // Dave opens the running camera: a keyframe is forced for him, so he sees a picture at
    // once rather than at the next periodic keyframe.
    let keyframes_before = alice.stats().await.keyframes_sent;
    let slot = dave.open(alice.id).await;
    let waited = first_frame(&slot).await;
    eprintln!("the late watcher's first picture came after {waited:?}");
    let keyframes_after = alice.stats().await.keyframes_sent;
    assert!(
        keyframes_after > keyframes_before,
        "no keyframe was sent for the late watcher ({keyframes_before} before, {keyframes_after} after)"
    );
    assert!(
        waited <= LATE_WATCHER_LIMIT,
        "the late watcher waited {waited:?} for a picture"
    );

    for member in [alice, bob, carol, dave] {
        member.leave().await;
    }
    server.stop().await;
}

/// Waits for the stream to `member` to stop, then checks that nothing more arrives.
async fn assert_stream_stopped(member: &Member, what: &str) {
    tokio::time::sleep(DRAIN).await;
    let before = member.stats().await.frames_received_total;
    tokio::time::sleep(QUIET).await;
    let after = member.stats().await.frames_received_total;
    assert_eq!(
        before,
        after,
        "{what}: {} frames arrived after the stream should have stopped",
        after - before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwatch_boot_and_camera_off_each_stop_the_stream() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice", video_config()).await;
    let mut bob = Member::join(&server, "bob", video_config()).await;
    let mut carol = Member::join(&server, "carol", video_config()).await;
    alice.camera_on(VGA).await;
    bob.sees_camera_on(alice.id).await;
    carol.sees_camera_on(alice.id).await;

    // Unwatch.
    let slot = bob.open(alice.id).await;
    first_frame(&slot).await;
    bob.video.close(alice.id).await.unwrap();
    assert_stream_stopped(&bob, "after bob closed the camera").await;
    until(&alice, "bob gone from the watchers", |s| {
        s.watchers.is_empty()
    })
    .await;

    // Boot: carol's stream stops, she sees the camera as off and cannot reopen it.
    let slot = carol.open(alice.id).await;
    first_frame(&slot).await;
    alice.video.boot(carol.id).await.unwrap();
    carol
        .expect_video("closed by the boot", |e| {
            matches!(e, VideoEvent::Closed(m) if *m == alice.id).then_some(())
        })
        .await;
    carol
        .expect("alice's camera shown as off", |e| match e {
            Event::MemberUpdated(m) if m.id == alice.id && !m.camera => Some(()),
            _ => None,
        })
        .await;
    assert_stream_stopped(&carol, "after alice booted carol").await;
    let _ = carol.open(alice.id).await;
    carol
        .expect("reopening refused", |e| match e {
            Event::ServerError {
                code: ErrorCode::CameraOff,
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    carol
        .expect_video("the refusal reported", |e| {
            matches!(e, VideoEvent::OpenRefused { member, .. } if *member == alice.id).then_some(())
        })
        .await;
    assert!(
        carol.stats().await.watching.is_empty(),
        "a refused camera is not listed as watched"
    );

    // Camera off: bob watches again, then alice turns the camera off.
    let slot = bob.open(alice.id).await;
    first_frame(&slot).await;
    alice.video.camera_off().await.unwrap();
    bob.expect_video("closed by camera off", |e| {
        matches!(e, VideoEvent::Closed(m) if *m == alice.id).then_some(())
    })
    .await;
    assert_stream_stopped(&bob, "after alice turned her camera off").await;
    let alice_stats = alice.stats().await;
    assert!(
        !alice_stats.camera_on && alice_stats.watchers.is_empty(),
        "{alice_stats:?}"
    );

    for member in [alice, bob, carol] {
        member.leave().await;
    }
    server.stop().await;
}
