//! Capture-to-decoded latency: an in-process server, two members with camera sessions over
//! WebRTC on loopback; the broadcaster's test pattern stamps each frame with the time it was
//! rendered ("captured"), and the watcher reads the stamp from each decoded frame the moment
//! its slot receives it. Both ends share one clock (`epoch`), so the difference is the
//! latency: capture thread, VP8 encode, packetizing, SRTP/UDP, reassembly, decode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_client::core::Event;
use hearth_client::{Client, ClientOptions};
use hearth_media::video::{
    FrameSlot, I420Frame, TestPattern, VideoError, VideoFormat, VideoSource, read_stamp,
};
use hearth_peer::PeerConfig;
use hearth_video::{VideoConfig, VideoSession};

/// The test pattern, stamped with time since `epoch` when each frame is rendered.
struct ClockedPattern {
    pattern: TestPattern,
    epoch: Instant,
    next: u32,
}

impl VideoSource for ClockedPattern {
    fn format(&self) -> VideoFormat {
        self.pattern.format()
    }

    fn next_frame(&mut self, _now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        self.next += 1;
        Ok(Some(self.pattern.render(
            self.next,
            self.epoch.elapsed().as_micros() as u64,
        )))
    }
}

/// What one latency run measured.
pub struct Latency {
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    pub unreadable: usize,
    pub fps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

async fn member(url: &str, name: &str) -> (VideoSession, u64) {
    let mut client = Client::connect(url, ClientOptions::new(Some("lobby".into()), name))
        .await
        .expect("connect");
    let session = VideoSession::spawn(
        client.handle(),
        VideoConfig {
            peer: PeerConfig::loopback(),
            ..VideoConfig::default()
        },
    );
    let handle = session.handle.clone();
    let (id_tx, id_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut id_tx = Some(id_tx);
        while let Some(event) = client.next_event().await {
            if let Event::Joined { you, .. } = &event
                && let Some(tx) = id_tx.take()
            {
                let _ = tx.send(*you);
            }
            let _ = handle.client_event(&event).await;
        }
    });
    let id = id_rx.await.expect("joined");
    (session, id)
}

pub async fn run(format: VideoFormat, seconds: u64) -> Latency {
    let listener = hearth_server::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let url = format!("ws://{}/lobby", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hearth_server::run(
        listener,
        hearth_server::Config::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let (alice, alice_id) = member(&url, "alice").await;
    let (bob, _) = member(&url, "bob").await;
    let epoch = Instant::now();
    let pattern = TestPattern::new(format).expect("pattern");
    alice
        .handle
        .camera_on(Box::new(ClockedPattern {
            pattern,
            epoch,
            next: 0,
        }))
        .await
        .unwrap();
    // The room must know the camera is on before it can be opened.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let slot: Arc<FrameSlot<I420Frame>> = Arc::new(FrameSlot::new());
    bob.handle.open(alice_id, slot.clone()).await.unwrap();

    // A plain thread waits on the slot, so each frame is read the moment it is put.
    let measured = tokio::task::spawn_blocking(move || {
        let warm_up = Instant::now() + Duration::from_secs(1);
        let end = warm_up + Duration::from_secs(seconds);
        let (mut latencies, mut unreadable, mut first_last) = (Vec::new(), 0, None::<(u32, u32)>);
        while Instant::now() < end {
            let Some(frame) = slot.take_timeout(Duration::from_millis(200)) else {
                continue;
            };
            let now_us = epoch.elapsed().as_micros() as u64;
            if Instant::now() < warm_up {
                continue;
            }
            match read_stamp(&frame) {
                Some(stamp) => {
                    latencies.push(now_us.saturating_sub(stamp.timestamp_us) as f64 / 1000.0);
                    first_last = Some(
                        first_last.map_or((stamp.frame_number, stamp.frame_number), |(f, _)| {
                            (f, stamp.frame_number)
                        }),
                    );
                }
                None => unreadable += 1,
            }
        }
        (latencies, unreadable, first_last)
    })
    .await
    .expect("measuring thread");
    let (mut latencies, unreadable, first_last) = measured;
    latencies.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let fps = first_last.map_or(0.0, |(f, l)| f64::from(l - f) / seconds as f64);
    let result = Latency {
        width: format.width,
        height: format.height,
        frames: latencies.len(),
        unreadable,
        fps,
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
    };
    let _ = alice.handle.shutdown().await;
    let _ = bob.handle.shutdown().await;
    let _ = stop.send(());
    let _ = server.await;
    result
}
