//! Cameras through the app core: a member turns on a (test pattern) camera, the host opens
//! it and gets frames in the webview's binary layout, numbered in order; closing it stops
//! them. Real server, real WebRTC over loopback, real VP8.

use std::time::{Duration, Instant};

use hearth_desktop::frame::HEADER_BYTES;
use hearth_desktop::ipc::AppEvent;
use hearth_desktop::{CameraKind, Desktop, DesktopConfig};
use hearth_media::video::{I420Frame, read_stamp};
use hearth_peer::PeerConfig;

use crate::support::{ONE_AT_A_TIME, expect, host_and_guest};

fn config() -> DesktopConfig {
    DesktopConfig {
        peer: PeerConfig::loopback(),
        camera: CameraKind::TestPattern,
        ..DesktopConfig::default()
    }
}

/// A frame as the webview gets it, read back: (member id, width, height, frame number).
fn read(bytes: &[u8]) -> (String, u32, u32, Option<u32>) {
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0x4846_5631, "magic");
    let (width, height) = (u32_at(4), u32_at(8));
    let timestamp = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let id_len = usize::from(u16::from_le_bytes([bytes[20], bytes[21]]));
    let member = String::from_utf8(bytes[HEADER_BYTES..HEADER_BYTES + id_len].to_vec()).unwrap();
    let planes = bytes[HEADER_BYTES + id_len..].to_vec();
    let frame = I420Frame::from_data(width, height, planes, timestamp).expect("whole planes");
    (
        member,
        width,
        height,
        read_stamp(&frame).map(|s| s.frame_number),
    )
}

/// Frames stop: after what was already on its way (300 ms), none for 700 ms.
async fn assert_no_more_frames(desktop: &mut Desktop, failure: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    while desktop.frames.try_recv().is_ok() {}
    let late = tokio::time::timeout(Duration::from_millis(700), desktop.frames.recv()).await;
    assert!(late.is_err(), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_camera_reaches_the_webview_in_order_and_closing_stops_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut host, mut guest, guest_id) = host_and_guest(config()).await;

    guest.handle.camera_on().await.unwrap();
    expect(&mut host, "the guest's camera shown as on", |e| match e {
        AppEvent::MemberUpdated { member } if member.id == guest_id && member.camera => Some(()),
        _ => None,
    })
    .await;
    host.handle.camera_open(guest_id).await.unwrap();

    // Two seconds of frames after the first, as the webview would get them.
    let mut numbers = Vec::new();
    let first = tokio::time::timeout(Duration::from_secs(10), host.frames.recv())
        .await
        .expect("a first frame in time")
        .expect("frames flow");
    let (member, width, height, _) = read(&first);
    assert_eq!(member, guest_id.to_string());
    assert_eq!(
        (width, height),
        (640, 480),
        "the settings' default resolution"
    );
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        if let Ok(Some(bytes)) =
            tokio::time::timeout(Duration::from_millis(200), host.frames.recv()).await
        {
            numbers.push(read(&bytes).3.expect("a readable picture"));
        }
    }
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "frames out of order: {numbers:?}"
    );
    // A moving picture; the frame rate itself is hearth-video's to assert (≥ 25 fps there).
    assert!(
        numbers.len() >= 20,
        "only {} frames in 2 s: {numbers:?}",
        numbers.len()
    );
    let watchers = expect(&mut guest, "the host as watcher", |e| match e {
        AppEvent::CameraStatus { status } if !status.watchers.is_empty() => {
            Some(status.watchers.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(watchers.len(), 1);

    // Closing the camera stops the frames (after what was already on its way).
    host.handle.camera_close(guest_id).await.unwrap();
    assert_no_more_frames(&mut host, "a frame arrived after the camera was closed").await;

    guest.handle.shutdown().await.unwrap();
    host.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_camera_is_previewed_with_an_empty_member_id_until_it_is_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (host, mut guest, _) = host_and_guest(config()).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), guest.frames.recv())
            .await
            .is_err(),
        "no frame before the camera is on"
    );

    guest.handle.camera_on().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), guest.frames.recv())
        .await
        .expect("a first preview frame in time")
        .expect("frames flow");
    let (member, width, height, number) = read(&first);
    assert_eq!(member, "", "our own preview has no member id");
    assert_eq!((width, height), (640, 480));
    let mut numbers = vec![number.expect("the test pattern's stamp")];
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        if let Ok(Some(bytes)) =
            tokio::time::timeout(Duration::from_millis(200), guest.frames.recv()).await
        {
            let (member, _, _, number) = read(&bytes);
            assert_eq!(member, "");
            numbers.push(number.expect("a readable picture"));
        }
    }
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "preview frames out of order: {numbers:?}"
    );
    // A live preview at 15 fps: well above a slideshow, well below the camera's 30 fps.
    assert!(
        (12..=40).contains(&(numbers.len() - 1)),
        "{} preview frames in 2 s: {numbers:?}",
        numbers.len() - 1
    );

    guest.handle.camera_off().await.unwrap();
    assert_no_more_frames(&mut guest, "a preview frame after the camera was off").await;

    guest.handle.shutdown().await.unwrap();
    host.handle.shutdown().await.unwrap();
}
