//! Starting (and restarting) servers, and clients that remember every event they saw.

use std::net::SocketAddr;
use std::time::Duration;

use hearth_client::{Backoff, Client, ClientOptions, Event};
use hearth_server::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), hearth_server::ServerError>>,
}

impl TestServer {
    /// Starts a server on an ephemeral port.
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), config).await
    }

    /// Starts a server on `addr`, e.g. the port of a server that just stopped.
    pub async fn start_on(addr: SocketAddr, config: Config) -> TestServer {
        let listener = hearth_server::bind(addr).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hearth_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { addr, url: format!("ws://{addr}/lobby"), stop, task }
    }

    /// Stops the server gracefully (clients get `shutdown`) and waits until it is gone.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .expect("server task did not panic")
            .expect("server stopped cleanly");
    }
}

/// Client options with reconnect delays short enough for tests.
pub fn options(name: &str) -> ClientOptions {
    let mut o = ClientOptions::new(Some("lobby".into()), name);
    o.core.backoff = Backoff { initial_ms: 50, max_ms: 400 };
    o
}

/// A connected client and every event it has produced so far.
pub struct Member {
    pub client: Client,
    pub seen: Vec<Event>,
    pub id: u64,
}

pub async fn join(server: &TestServer, name: &str) -> Member {
    let client = Client::connect(&server.url, options(name)).await.unwrap_or_else(|e| panic!("{name} joins: {e}"));
    let mut m = Member { client, seen: Vec::new(), id: 0 };
    m.id = m.expect("joined", |e| match e {
        Event::Joined { you, .. } => Some(*you),
        _ => None,
    })
    .await;
    m
}

impl Member {
    /// Reads events (remembering them) until `pick` accepts one.
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let seen = &mut self.seen;
        let client = &mut self.client;
        tokio::time::timeout(WAIT, async {
            loop {
                let e = client.next_event().await.unwrap_or_else(|| panic!("client stopped while waiting for {what}"));
                let found = pick(&e);
                seen.push(e);
                if let Some(found) = found {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Reads whatever events arrive within `d`.
    pub async fn drain_for(&mut self, d: Duration) {
        let _ = tokio::time::timeout(d, async {
            while let Some(e) = self.client.next_event().await {
                self.seen.push(e);
            }
        })
        .await;
    }

    /// Waits until a `Message` with this text has been shown, now or earlier.
    pub async fn expect_message(&mut self, text: &str) {
        if self.shown(text) == 0 {
            self.expect(text, |e| matches!(e, Event::Message(m) if m.text == text).then_some(())).await;
        }
    }

    /// How many times a `Message` with this text was shown.
    pub fn shown(&self, text: &str) -> usize {
        self.seen.iter().filter(|e| matches!(e, Event::Message(m) if m.text == text)).count()
    }
}

/// A TCP relay in front of a server whose live connections a test can cut, as a network
/// drop would, while the server itself keeps running.
pub struct Relay {
    pub url: String,
    cut: tokio::sync::watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/lobby", listener.local_addr().unwrap());
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                links.spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    // Either side closing, or a cut, ends the link; dropping both sockets
                    // without a close frame is what a pulled cable looks like to each end.
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Relay { url, cut, task }
    }

    /// Drops every connection open now; later ones pass again.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
