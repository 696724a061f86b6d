//! Video through a lossy path: every camera datagram crosses a loopback relay that drops 5 %
//! of them, and the watcher still gets a moving picture that recovers after each loss.

use std::sync::Arc;
use std::time::Duration;

use hearth_peer::relay::{Impairment, UdpRelay};
use hearth_video::VideoConfig;
use hearth_voice::SignalRewriter;

use crate::support::*;

const LOSS: Impairment = Impairment {
    loss: 0.05,
    delay: Duration::from_millis(2),
    jitter: Duration::ZERO,
    seed: 11,
};

/// Frames per second the watcher must still see through the loss: NACK retransmission and
/// keyframe requests keep most frames, but some are dropped until a keyframe arrives.
const MIN_FPS: f64 = 15.0;
/// The longest the picture may freeze: a lost keyframe request is repeated, and the
/// sender's answer is one keyframe, so a freeze beyond this means recovery failed.
const MAX_FREEZE: Duration = Duration::from_millis(1000);

fn through(relay: &Arc<UdpRelay>) -> VideoConfig {
    let relay = Arc::clone(relay);
    let rewriter = SignalRewriter::new(move |signal| {
        let relay = Arc::clone(&relay);
        async move { relay.rewrite_signal(signal.clone()).await.unwrap_or(signal) }
    });
    VideoConfig {
        outgoing_signal: Some(rewriter),
        ..video_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_still_gives_a_picture_that_recovers() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let relay = Arc::new(UdpRelay::start(LOSS));
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice", through(&relay)).await;
    let mut bob = Member::join(&server, "bob", through(&relay)).await;
    alice.camera_on(VGA).await;
    bob.sees_camera_on(alice.id).await;
    let slot = bob.open(alice.id).await;
    first_frame(&slot).await;

    let watched = watch_for(&slot, Duration::from_secs(4)).await;
    let relay_stats = relay.stats().await;
    let stats = bob.stats().await;
    let numbers: Vec<u32> = watched.stamps.iter().map(|(_, s)| s.frame_number).collect();
    let freeze = watched
        .stamps
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .unwrap_or_default();
    let seconds = watched
        .stamps
        .last()
        .unwrap()
        .0
        .duration_since(watched.stamps[0].0)
        .as_secs_f64();
    let drawn = (numbers.len() - 1) as f64 / seconds;
    eprintln!(
        "relay {relay_stats:?}; bob {stats:?}; {drawn:.1} fps drawn, longest freeze {freeze:?}"
    );

    assert!(
        relay_stats.dropped > 0,
        "the relay dropped nothing: did video bypass it? {relay_stats:?}"
    );
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "frames out of order: {numbers:?}"
    );
    assert_eq!(watched.unreadable, 0, "a damaged picture was shown");
    assert!(
        drawn >= MIN_FPS,
        "{drawn:.1} fps through 5 % loss, want ≥ {MIN_FPS}"
    );
    assert!(freeze <= MAX_FREEZE, "the picture froze for {freeze:?}");

    alice.leave().await;
    bob.leave().await;
    server.stop().await;
}
