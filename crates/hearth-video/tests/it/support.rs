//! A server, and members that each run a client and a camera session, with helpers to read
//! the test pattern's frame numbers back from the frames a member decodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_client::core::Event;
use hearth_client::{Client, ClientOptions};
use hearth_media::video::{FrameSlot, I420Frame, Stamp, TestPattern, VideoFormat, read_stamp};
use hearth_peer::PeerConfig;
use hearth_video::{VideoConfig, VideoEvent, VideoHandle, VideoSession, VideoStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Each test streams 640x480 at 30 fps and asserts the frame rate; on a 2-core machine two
/// such tests at once would measure each other. Every test holds this for its whole run.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(15);

/// The camera format of every test: the 640x480 at 30 fps.
pub const VGA: VideoFormat = VideoFormat {
    width: 640,
    height: 480,
    fps: 30,
};

pub struct TestServer {
    /// Where members reach it: loopback and its port.
    pub addr: std::net::SocketAddr,
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), hearth_server::ServerError>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A server listening on `addr`; members reach it over loopback.
    pub async fn start_on(addr: std::net::SocketAddr) -> TestServer {
        let listener = hearth_server::bind(addr).expect("bind");
        let port = listener.local_addr().unwrap().port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hearth_server::run(
            listener,
            hearth_server::Config::default(),
            async {
                let _ = stopped.await;
            },
        ));
        TestServer {
            addr,
            url: format!("ws://{addr}/lobby"),
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

pub fn video_config() -> VideoConfig {
    VideoConfig {
        peer: PeerConfig::loopback(),
        ..VideoConfig::default()
    }
}

/// One person in the room.
pub struct Member {
    pub id: u64,
    pub video: VideoHandle,
    /// Every client event, as the front end saw it.
    pub events: mpsc::UnboundedReceiver<Event>,
    /// What the camera session reported.
    pub video_events: mpsc::UnboundedReceiver<VideoEvent>,
    pump: JoinHandle<()>,
    session: JoinHandle<()>,
}

impl Member {
    pub async fn join(server: &TestServer, name: &str, config: VideoConfig) -> Member {
        let options = ClientOptions::new(Some("lobby".into()), name);
        let mut client = Client::connect(&server.url, options)
            .await
            .unwrap_or_else(|e| panic!("{name} connects: {e}"));
        let session = VideoSession::spawn(client.handle(), config);
        let video = session.handle.clone();
        let (tx, mut events) = mpsc::unbounded_channel();
        // The front end's loop: every client event goes to the camera session and the test.
        let pump_video = video.clone();
        let pump = tokio::spawn(async move {
            while let Some(event) = client.next_event().await {
                let _ = pump_video.client_event(&event).await;
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let id = tokio::time::timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Some(Event::Joined { you, .. }) => return you,
                    Some(_) => continue,
                    None => panic!("{name}'s client closed before joining"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name} joins in time"));
        Member {
            id,
            video,
            events,
            video_events: session.events,
            pump,
            session: session.task,
        }
    }

    pub async fn stats(&self) -> VideoStats {
        self.video.stats().await.expect("the camera session runs")
    }

    /// Turns the camera on with a moving test pattern that stamps each frame's number and
    /// capture time into its pixels.
    pub async fn camera_on(&self, format: VideoFormat) {
        self.video
            .camera_on(Box::new(
                TestPattern::new(format).expect("a test pattern of this size"),
            ))
            .await
            .unwrap();
    }

    /// Opens `member`'s camera into a fresh slot and returns it.
    pub async fn open(&self, member: u64) -> Arc<FrameSlot<I420Frame>> {
        let slot = Arc::new(FrameSlot::new());
        self.video.open(member, slot.clone()).await.unwrap();
        slot
    }

    /// Waits until the room tells us `owner`'s camera is on (opening it earlier is refused).
    pub async fn sees_camera_on(&mut self, owner: u64) {
        self.expect("the camera shown as on", |e| match e {
            Event::MemberUpdated(m) if m.id == owner && m.camera => Some(()),
            _ => None,
        })
        .await;
    }

    /// Waits for a camera-session event that `pick` accepts.
    pub async fn expect_video<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&VideoEvent) -> Option<T>,
    ) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.video_events.recv().await {
                    Some(event) => {
                        if let Some(found) = pick(&event) {
                            return found;
                        }
                    }
                    None => panic!("the camera session ended while waiting for {what}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits for a client event that `pick` accepts.
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Some(event) => {
                        if let Some(found) = pick(&event) {
                            return found;
                        }
                    }
                    None => panic!("the client ended while waiting for {what}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    pub async fn leave(self) {
        let _ = self.video.shutdown().await;
        let _ = tokio::time::timeout(WAIT, self.session).await;
        self.pump.abort();
    }
}

/// The stamps of the frames a slot received during `window`, read as a front end would: it
/// takes the newest frame every few milliseconds. Unreadable frames are counted.
pub struct Watched {
    pub stamps: Vec<(Instant, Stamp)>,
    pub unreadable: usize,
}

impl Watched {
    /// The frames shown were in capture order, none repeated, and every one readable (no
    /// damaged picture reached the screen).
    pub fn assert_in_order_and_whole(&self) {
        let numbers: Vec<u32> = self.stamps.iter().map(|(_, s)| s.frame_number).collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "frames out of order: {numbers:?}"
        );
        assert_eq!(self.unreadable, 0, "a damaged picture was shown");
    }
}

pub async fn watch_for(slot: &FrameSlot<I420Frame>, window: Duration) -> Watched {
    let end = Instant::now() + window;
    let mut out = Watched {
        stamps: Vec::new(),
        unreadable: 0,
    };
    while Instant::now() < end {
        if let Some(frame) = slot.take() {
            match read_stamp(&frame) {
                Some(stamp) => out.stamps.push((Instant::now(), stamp)),
                None => out.unreadable += 1,
            }
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    out
}

/// Waits until `slot` has a frame, and returns how long that took.
pub async fn first_frame(slot: &FrameSlot<I420Frame>) -> Duration {
    let start = Instant::now();
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(frame) = slot.take()
                && read_stamp(&frame).is_some()
            {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("a first frame arrives")
}

/// Polls `member`'s stats until `done` holds.
pub async fn until(
    member: &Member,
    what: &str,
    mut done: impl FnMut(&VideoStats) -> bool,
) -> VideoStats {
    tokio::time::timeout(WAIT, async {
        loop {
            let stats = member.stats().await;
            if done(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
