//! Cameras between a browser guest and a native member: real Chromium (fake camera) loads
//! the served page over HTTPS; it opens the native test pattern and shows its frames, and
//! the native member opens Chromium's fake camera and decodes its frames.

use std::time::{Duration, Instant};

use hearth_client::core::Event;
use hearth_peer::PeerConfig;
use hearth_testkit::{BrowserGuest, repo_root};
use hearth_video::{VideoConfig, VideoEvent};

use crate::support::*;

const STEP: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_guest_and_a_native_member_watch_each_others_cameras() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let shots = repo_root().join("test-output/video");
    std::fs::create_dir_all(&shots).expect("test-output/video");
    let script = repo_root().join("crates/hearth-video/tests/browser/video.mjs");
    let args = [format!("https://{}/lobby", server.addr), shots.display().to_string()];
    let Some(mut browser) = BrowserGuest::start(&script, &args, hearth_server::web::has_client()) else { return };

    // The native member gathers on every interface as the app does, and on loopback too,
    // so the test also runs on a machine whose only interface is loopback.
    let config = VideoConfig {
        peer: PeerConfig { include_loopback: true, ice_check_interval: Duration::from_millis(20), ..PeerConfig::default() },
        ..VideoConfig::default()
    };
    let mut native = Member::join(&server, "native", config).await;
    native.camera_on(VGA).await;
    assert_eq!(browser.next_line(STEP).await, "joined");
    assert_eq!(browser.next_line(STEP).await, "camera on");

    // The page shows the native test pattern, frame after frame, at its size.
    let seen = browser.expect_line("frames", STEP).await;
    let (frames, size) = seen.split_once(' ').expect("frames and size");
    let frames: u32 = frames.parse().expect("a count");
    assert_eq!(size, "640x480", "the tile shows the camera at its size");
    assert!(frames >= 20, "the page painted {frames} frames of the native camera in 2 s");
    assert_eq!(browser.next_line(STEP).await, "shot");

    // The native member opens the guest's fake camera and decodes its frames.
    let guest = native
        .expect("the guest's camera shown as on", |e| match e {
            Event::MemberUpdated(m) if m.name == "guest" && m.camera => Some(m.id),
            _ => None,
        })
        .await;
    let slot = native.open(guest).await;
    native.expect_video("the guest's camera opened", |e| matches!(e, VideoEvent::Opened(m) if *m == guest).then_some(())).await;
    let (mut decoded, mut size, mut varied) = (0, (0, 0), false);
    let end = Instant::now() + Duration::from_secs(3);
    let deadline = Instant::now() + WAIT;
    while (decoded < 20 || Instant::now() < end) && Instant::now() < deadline {
        if let Some(frame) = slot.take() {
            decoded += 1;
            size = (frame.width, frame.height);
            // A picture, not a flat field: Chromium's fake camera draws a moving pattern.
            let luma = &frame.data[..(frame.width * frame.height) as usize];
            let (lo, hi) = luma.iter().fold((255u8, 0u8), |(lo, hi), &y| (lo.min(y), hi.max(y)));
            varied |= hi - lo > 64;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(decoded >= 20, "the native member decoded {decoded} frames of the guest's camera");
    assert!(size.0 >= 320 && size.1 >= 240, "decoded at {size:?}");
    assert!(varied, "the decoded frames show a picture");

    browser.send_line("done").await;
    browser.finish(STEP).await;
    native.leave().await;
    server.stop().await;
}
