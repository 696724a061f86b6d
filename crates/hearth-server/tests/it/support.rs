//! Starting servers and joining them with real clients.

use std::path::PathBuf;
use std::time::Duration;

use hearth_client::Connection;
use hearth_server::Config;
use hearth_wire::{MemberId, ServerMsg};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for any one message.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server running on an ephemeral loopback port.
pub struct TestServer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), hearth_server::ServerError>>>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), config).await
    }

    /// Starts a server listening on `addr` (e.g. every interface); `url` and `addr` name its
    /// loopback address.
    pub async fn start_on(addr: std::net::SocketAddr, config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], listener.local_addr().unwrap().port()));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hearth_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { url: format!("ws://{addr}/"), addr, stop: Some(stop), task: Some(task) }
    }

    /// Stops the server gracefully and waits until `run` returned.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let result = tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap())
            .await
            .expect("server stops within 10 s")
            .expect("server task did not panic");
        result.expect("server stopped without error");
    }
}

/// A config with history in `dir`, if given.
pub fn config(dir: Option<PathBuf>) -> Config {
    Config { data_dir: dir, ..Config::default() }
}

/// A joined member, with everything up to and including the join-time history consumed.
pub struct Member {
    pub conn: Connection,
    pub id: MemberId,
}

pub async fn join(server: &TestServer, name: &str) -> Member {
    join_with(server, name, None, None).await
}

pub async fn join_with(server: &TestServer, name: &str, password: Option<&str>, token: Option<&str>) -> Member {
    let (mut conn, welcome) = Connection::join(&server.url, "lobby", name, password, token)
        .await
        .unwrap_or_else(|e| panic!("{name} could not join: {e}"));
    let ServerMsg::Welcome { you, .. } = welcome else { unreachable!() };
    // The default room has one text channel, so one history page follows the welcome.
    conn.wait_for(WAIT, |m| matches!(m, ServerMsg::History { .. }).then_some(()))
        .await
        .expect("join-time history");
    Member { conn, id: you }
}

impl Member {
    pub async fn send(&mut self, msg: hearth_wire::ClientMsg) {
        self.conn.send(&msg).await.expect("send");
    }

    /// The next message, which must arrive within [`WAIT`].
    pub async fn next(&mut self) -> ServerMsg {
        self.conn.recv_timeout(WAIT).await.expect("a message from the server")
    }

    /// Skips messages until `pick` accepts one.
    pub async fn expect<T>(&mut self, what: &str, pick: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        self.conn.wait_for(WAIT, pick).await.unwrap_or_else(|e| panic!("waiting for {what}: {e}"))
    }

    /// Sends a ping and waits for its pong, proving the connection is alive and that every
    /// message the server sent before it has been read.
    pub async fn sync(&mut self) -> Vec<ServerMsg> {
        let nonce = rand_nonce();
        self.send(hearth_wire::ClientMsg::Ping { nonce: Some(nonce) }).await;
        let mut before = Vec::new();
        loop {
            match self.next().await {
                ServerMsg::Pong { nonce: Some(n) } if n == nonce => return before,
                other => before.push(other),
            }
        }
    }
}

fn rand_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The `code` of an `error` message.
pub fn error_code(m: &ServerMsg) -> Option<hearth_wire::ErrorCode> {
    match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// Alice, Bob and Carol in the default room, each having read everything sent so far
/// (Carol joins last, so the others' `member_joined` notices are consumed by the syncs).
pub async fn trio(server: &TestServer) -> (Member, Member, Member) {
    let mut alice = join(server, "alice").await;
    let mut bob = join(server, "bob").await;
    let carol = join(server, "carol").await;
    alice.sync().await;
    bob.sync().await;
    (alice, bob, carol)
}

/// A plain `chat_send` of `text` to `channel`.
pub fn chat(channel: &str, client_id: &str, text: &str) -> hearth_wire::ClientMsg {
    hearth_wire::ClientMsg::ChatSend {
        channel: channel.into(),
        client_id: client_id.into(),
        text: text.into(),
        reply_to: None,
        image: None,
    }
}
