//! A server, and members that each run a client, a voice session with a tone source, and a
//! recorder of what they hear.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_client::core::{Command, Event};
use hearth_client::{Client, ClientHandle, ClientOptions};
use hearth_media::{AudioSink, CaptureConfig, MediaError, SAMPLE_RATE, Sine};
use hearth_peer::PeerConfig;
use hearth_voice::{AudioInput, AudioOutput, VoiceConfig, VoiceHandle, VoiceSession, VoiceStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(15);

/// Every test here runs calls and several measure timing (onset, gaps); on a 2-core machine
/// two at once measure each other, so each test holds this for its whole run.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct TestServer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), hearth_server::ServerError>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), hearth_server::Config::default()).await
    }

    /// Starts a server on `addr`, e.g. the port of one that just stopped.
    pub async fn start_on(addr: std::net::SocketAddr, config: hearth_server::Config) -> TestServer {
        let listener = hearth_server::bind(addr).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hearth_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { url: format!("ws://{addr}/lobby"), addr, stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

/// Everything a member heard, 48 kHz mono. The lock is held only by the session's own
/// task and by the test between steps, never on an audio callback.
#[derive(Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<f32>>>);

impl Recording {
    /// Samples heard so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Everything heard from sample `from` on.
    pub fn since(&self, from: usize) -> Vec<f32> {
        let all = self.0.lock().unwrap();
        all[from.min(all.len())..].to_vec()
    }

    /// The last `ms` milliseconds heard.
    pub fn last(&self, ms: u32) -> Vec<f32> {
        let all = self.0.lock().unwrap();
        let n = (SAMPLE_RATE / 1000 * ms) as usize;
        all[all.len().saturating_sub(n)..].to_vec()
    }
}

struct Recorder(Recording);

impl AudioSink for Recorder {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        self.0.0.lock().unwrap().extend_from_slice(samples);
        Ok(())
    }
}

/// One person in the call.
pub struct Member {
    pub id: u64,
    pub tone: f32,
    pub client: ClientHandle,
    pub voice: VoiceHandle,
    pub heard: Recording,
    /// Every client event, as the front end saw it.
    pub events: mpsc::UnboundedReceiver<Event>,
    /// Every event [`Member::expect`] has read, matching or not.
    pub seen: Vec<Event>,
    pump: JoinHandle<()>,
    session: JoinHandle<()>,
}

pub fn voice_config() -> VoiceConfig {
    // A pure tone is not speech: RNNoise would (rightly) call it noise. The level gate
    // decides voice activity instead.
    let capture = CaptureConfig { noise_suppression: false, ..CaptureConfig::default() };
    VoiceConfig { capture, peer: PeerConfig::loopback(), ..VoiceConfig::default() }
}

impl Member {
    /// Joins the room as `name`, with a session that sends a `tone` Hz sine.
    pub async fn join(server: &TestServer, name: &str, tone: f32) -> Member {
        Member::join_with(server, name, tone, voice_config(), None).await
    }

    /// Like [`Member::join`], with the session's settings, and its output instead of the
    /// recorder in [`Member::heard`] when `output` is given.
    pub async fn join_with(
        server: &TestServer,
        name: &str,
        tone: f32,
        config: VoiceConfig,
        output: Option<AudioOutput>,
    ) -> Member {
        let mut options = ClientOptions::new(Some("lobby".into()), name);
        // Reconnect quickly, so a server restart costs a test well under a second.
        options.core.backoff = hearth_client::Backoff { initial_ms: 50, max_ms: 400 };
        let mut client = Client::connect(&server.url, options)
            .await
            .unwrap_or_else(|e| panic!("{name} connects: {e}"));
        let heard = Recording::default();
        let session = VoiceSession::spawn(
            client.handle(),
            config,
            AudioInput::Source(Box::new(Sine::new(SAMPLE_RATE, tone, 0.3))),
            output.unwrap_or_else(|| AudioOutput::Sink(Box::new(Recorder(heard.clone())))),
        )
        .expect("voice session starts");
        let (voice, handle) = (session.handle.clone(), client.handle());
        let (tx, mut events) = mpsc::unbounded_channel();
        // The front end's loop: every client event goes to the voice session and to the test.
        let pump_voice = voice.clone();
        let pump = tokio::spawn(async move {
            while let Some(event) = client.next_event().await {
                let _ = pump_voice.client_event(&event).await;
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let id = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(Event::Joined { you, .. }) = events.recv().await {
                    return you;
                }
            }
        })
        .await
        .expect("joined");
        Member { id, tone, client: handle, voice, heard, events, seen: Vec::new(), pump, session: session.task }
    }

    pub async fn voice_join(&self) {
        self.client.send(Command::VoiceJoin { channel: "voice".into() }).await.unwrap();
    }

    pub async fn stats(&self) -> VoiceStats {
        self.voice.stats().await.unwrap()
    }

    /// Reads events until `pick` accepts one.
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let (events, seen) = (&mut self.events, &mut self.seen);
        tokio::time::timeout(WAIT, async {
            loop {
                let event = events.recv().await.expect("client still running");
                let found = pick(&event);
                seen.push(event);
                if let Some(found) = found {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    pub async fn leave(self) {
        let _ = self.voice.shutdown().await;
        let _ = tokio::time::timeout(WAIT, self.session).await;
        let _ = self.client.send(Command::Leave).await;
        let _ = tokio::time::timeout(WAIT, self.pump).await;
    }
}

/// Waits until `done` holds for the session's stats.
pub async fn until(m: &Member, what: &str, mut done: impl FnMut(&VoiceStats) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = m.stats().await;
        if done(&stats) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
