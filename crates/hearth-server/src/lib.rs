//! Hearth's server: a tokio shell around the sans-IO room core.
//!
//! [`run`] serves one listener until its shutdown future completes. The desktop app embeds it
//! and the `hearth-server` binary wraps it with flags and a config file.
//!
//! # Tasks
//! - The *accept loop* (inside [`run`]) owns the listener and a `JoinSet` of connection tasks.
//! - The *room task* owns the [`hearth_room::RoomCore`] and with it all room state and the
//!   history store. It is the only task that mutates state.
//! - A few *writer shards* (one per runtime worker) own the write side of the sockets: they
//!   write what the room task sends straight to the sockets, and queue it for the connection
//!   task only when a socket does not take it at once (see `fanout.rs`).
//! - One *connection task* per socket decodes frames, forwards them to the room task, and
//!   writes what its shard queues for it. It holds no room state.
//!
//! Shutdown flows one way: the shutdown future stops the accept loop, which tells the room
//! task; the room task sends every client `shutdown` and a close frame through the shards,
//! which ends the connection tasks; `run` waits for them and the shards, and flushes history.
#![deny(missing_docs)]

pub mod config;
mod convert;
mod fanout;
mod http;
mod sqlite;
pub mod tls;
pub mod web;

pub use config::Config;
pub use sqlite::SqliteStore;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::task::Poll;

use fanout::{ConnSocket, ShardMsg, Shards};
use futures_util::{SinkExt, StreamExt};
use hearth_room::{ConnId, Millis, Output, RoomCore, Settings};
use hearth_wire as wire;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration cannot run.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The history database could not be opened or written.
    #[error("history storage: {0}")]
    Storage(String),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS identity could not be loaded or made.
    #[error("TLS identity: {0}")]
    Tls(#[from] tls::TlsError),
}

/// Caps the log level of the WebSocket library in a log filter. tungstenite logs whole frames
/// at trace level, and an `auth` frame carries the room password; every program that embeds
/// the server passes its filter through this, whatever level the user asked for.
pub fn without_frame_logging(filter: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    let cap = |d: &str| d.parse().expect("a constant, valid directive");
    filter.add_directive(cap("tungstenite=info")).add_directive(cap("tokio_tungstenite=info"))
}

/// Frames queued for one connection before it counts as too slow and is dropped. Bounded so
/// that a client that stops reading cannot make the server buffer without limit.
const OUTBOX: usize = 1024;
/// Inputs queued for the room task; senders wait when it is full, which slows down readers.
const INBOX: usize = 8192;
/// Messages written to one socket with one `writev` (by a shard or a connection task).
const WRITE_BATCH: usize = 32;
/// Pending TCP connections the kernel keeps while the accept loop catches up. The OS default
/// tokio uses (128) drops connection attempts when a whole LAN party reconnects at once.
const LISTEN_BACKLOG: u32 = 1024;
/// How long a new socket may take to send its HTTP request head and finish the handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// How long `run` waits for connections to close after the shutdown notice.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// Binds a listener for [`run`] with a backlog sized for many clients connecting at once.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // Lets a restarted server take its port back while old connections are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves WebSocket clients and `GET /health` on `listener` until `shutdown` completes, then
/// sends every client a `shutdown` notice, flushes history and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    config.validate()?;
    let store = SqliteStore::open(config.data_dir.as_deref()).map_err(|e| ServerError::Storage(e.0))?;
    let identity = match &config.identity {
        Some(identity) => identity.clone(),
        None => Arc::new(match &config.data_dir {
            Some(dir) => tls::Identity::load_or_create(dir, &tls_names())?,
            None => tls::Identity::ephemeral(&tls_names())?,
        }),
    };
    let tls = tokio_rustls::TlsAcceptor::from(identity.server_config()?);
    let settings = settings(&config);
    // One shard per worker thread, so that a broadcast's writes use every core.
    let (slow, slow_rx) = mpsc::unbounded_channel();
    let mut shard_tasks = JoinSet::new();
    let shards = Shards::start(tokio::runtime::Handle::current().metrics().num_workers(), &slow, &mut shard_tasks);
    drop(slow);
    let shared = Arc::new(Shared {
        allowed_origins: config.allowed_origins.clone(),
        ws_config: ws_config(config.limits.max_frame_bytes as usize),
        shards: shards.clone(),
        tls,
        fingerprint: identity.fingerprint(),
    });
    let clock = Clock::start();
    let (inbox, inbox_rx) = mpsc::channel(INBOX);
    let room = tokio::spawn(room_task(RoomCore::new(settings, store), inbox_rx, slow_rx, shards, clock));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, rooms = config.rooms.len(), fingerprint = %identity.fingerprint(), "hearth server listening");
    }

    let mut conns = JoinSet::new();
    let mut next_id: ConnId = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_id += 1;
                    conns.spawn(connection(stream, peer, next_id, inbox.clone(), shared.clone()));
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }

    tracing::info!("shutting down");
    let _ = inbox.send(Input::Shutdown).await;
    drop(inbox);
    let mut core = room.await.map_err(|e| ServerError::Storage(format!("room task failed: {e}")))?;
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
    // The shards end once nothing can send to them any more: the room task and every
    // connection task have ended, and `shared` goes here.
    drop(shared);
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while shard_tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        shard_tasks.abort_all();
    }
    core.store_mut().checkpoint().map_err(|e| ServerError::Storage(e.0))?;
    Ok(())
}

/// Connection-independent settings every connection task reads.
struct Shared {
    allowed_origins: Vec<String>,
    ws_config: WebSocketConfig,
    shards: Shards,
    /// Terminates HTTPS and WSS on the same port (see [`connection`]).
    tls: tokio_rustls::TlsAcceptor,
    /// The certificate's, for the page to show.
    fingerprint: hearth_wire::Fingerprint,
}

/// The names a new certificate lists. Browsers are asked to accept it by hand anyway (no
/// authority vouches for a LAN address), and native clients pin its fingerprint rather
/// than check names, so these are for the certificate viewer's benefit.
fn tls_names() -> Vec<String> {
    vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()]
}

/// tungstenite's defaults allocate 128 KiB buffers per socket and accept 64 MiB messages;
/// a chat server with thousands of mostly idle members wants small buffers and tight caps.
/// The read buffer is small because tungstenite zero-fills it before every read attempt and
/// keeps it for the connection's life; client messages are small, and the rare large one
/// (an image) simply takes more reads. Text messages are not written through tungstenite at
/// all (see [`write_texts`]); it writes only close frames and its automatic pongs.
fn ws_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

fn settings(c: &Config) -> Settings {
    use hearth_room::{ChannelDef, ChannelKind, IceServerDef, RoomDef};
    let l = &c.limits;
    Settings {
        server_name: c.server_name.clone(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        rooms: c
            .rooms
            .iter()
            .map(|r| RoomDef {
                name: r.name.clone(),
                channels: r
                    .channels
                    .iter()
                    .map(|ch| ChannelDef {
                        id: ch.id.clone(),
                        kind: match ch.kind {
                            config::ChannelKindConfig::Text => ChannelKind::Text,
                            config::ChannelKindConfig::Voice => ChannelKind::Voice,
                        },
                        name: if ch.name.is_empty() { ch.id.clone() } else { ch.name.clone() },
                        topic: ch.topic.clone(),
                    })
                    .collect(),
            })
            .collect(),
        password: c.password.as_ref().map(|s| s.0.clone()),
        operator_tokens: c.operator_tokens.iter().map(|s| s.0.clone()).collect(),
        ice_servers: c
            .ice_servers
            .iter()
            .map(|s| IceServerDef {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.as_ref().map(|c| c.0.clone()),
            })
            .collect(),
        max_frame_bytes: l.max_frame_bytes,
        max_text_chars: l.max_text_chars,
        max_name_chars: l.max_name_chars,
        max_image_bytes: l.max_image_bytes,
        rate_per_sec: l.rate_per_sec,
        rate_burst: l.rate_burst,
        flood_strikes: l.flood_strikes,
        max_connections: l.max_connections,
        heartbeat_timeout_ms: l.heartbeat_timeout_ms,
        ping_interval_ms: l.ping_interval_ms,
        history_page_max: l.history_page_max,
        history_on_join: l.history_on_join,
    }
}

/// The shell's clock: monotonic, anchored to the Unix epoch at start, so the core can use one
/// value for timers and for message timestamps.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    epoch_ms: u64,
}

impl Clock {
    fn start() -> Clock {
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Clock { start: Instant::now(), epoch_ms }
    }

    fn now(&self) -> Millis {
        Millis(self.epoch_ms + self.start.elapsed().as_millis() as u64)
    }

    fn instant(&self, at: Millis) -> tokio::time::Instant {
        let offset = at.0.saturating_sub(self.epoch_ms);
        tokio::time::Instant::from_std(self.start + Duration::from_millis(offset))
    }
}

/// What connection tasks tell the room task.
enum Input {
    Connect { id: ConnId, peer: SocketAddr, socket: Arc<TcpStream>, outbox: mpsc::Sender<Outbound> },
    Command { id: ConnId, cmd: hearth_room::Command },
    Invalid {
        id: ConnId,
        code: hearth_room::ErrorKind,
        message: String,
        src: Option<String>,
        client_id: Option<String>,
    },
    Oversize { id: ConnId },
    Disconnect { id: ConnId },
    Health { reply: oneshot::Sender<(usize, usize)> },
    Shutdown,
}

/// What a shard queues for a connection. Every one of them gives the connection task the
/// right to write its socket (see `fanout.rs`).
enum Outbound {
    /// A text message, of whose frame the shard has already written `sent` bytes.
    Text { text: Utf8Bytes, sent: usize },
    /// Write what tungstenite holds (a pong), then give the right back.
    Handover,
    Close { code: u16, reason: String },
}

/// The room task: owns the core, feeds it inputs and the clock, and routes its outputs.
async fn room_task(
    mut core: RoomCore<SqliteStore>,
    mut inbox: mpsc::Receiver<Input>,
    mut slow: mpsc::UnboundedReceiver<ConnId>,
    shards: Shards,
    clock: Clock,
) -> RoomCore<SqliteStore> {
    let limits = convert::limits_out(core.settings());
    let mut router = Router { conns: HashSet::new(), shards, limits };
    loop {
        let wake = core.poll_timeout().map(|at| clock.instant(at));
        let input = tokio::select! {
            input = inbox.recv() => input,
            Some(id) = slow.recv() => {
                // The shard has already dropped the connection's queue.
                if router.conns.remove(&id) {
                    tracing::info!(conn = id, "dropping a connection that stopped reading");
                    core.handle_disconnect(clock.now(), id);
                    router.drain(&mut core).await;
                }
                continue;
            }
            () = sleep_until(wake) => {
                core.handle_timeout(clock.now());
                router.drain(&mut core).await;
                continue;
            }
        };
        let now = clock.now();
        match input {
            Some(Input::Connect { id, peer, socket, outbox }) => {
                router.conns.insert(id);
                router.shards.send(id, ShardMsg::Add { id, socket, outbox }).await;
                core.handle_connect(now, id, peer.ip());
            }
            Some(Input::Command { id, cmd }) => core.handle_command(now, id, cmd),
            Some(Input::Invalid { id, code, message, src, client_id }) => {
                core.handle_invalid(now, id, code, message, src, client_id);
            }
            Some(Input::Oversize { id }) => core.handle_oversize(now, id),
            Some(Input::Disconnect { id }) => {
                if router.conns.remove(&id) {
                    router.shards.send(id, ShardMsg::Remove { id }).await;
                }
                core.handle_disconnect(now, id);
            }
            Some(Input::Health { reply }) => {
                let _ = reply.send((core.room_count(), core.member_count()));
            }
            Some(Input::Shutdown) | None => {
                core.handle_shutdown(now);
                router.drain(&mut core).await;
                return core;
            }
        }
        router.drain(&mut core).await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Hands the core's outputs to the writer shards.
struct Router {
    /// Connections the room knows and has not closed.
    conns: HashSet<ConnId>,
    shards: Shards,
    limits: wire::Limits,
}

impl Router {
    /// Delivers every output, in order (the core's drain rule).
    async fn drain<S: hearth_room::Store>(&mut self, core: &mut RoomCore<S>) {
        while let Some(out) = core.poll_output() {
            self.deliver(out).await;
        }
    }

    async fn deliver(&mut self, out: Output) {
        match out {
            Output::Send { to, event } => {
                let text = wire::encode_server(&convert::event(event, &self.limits));
                self.shards.send(to, ShardMsg::Text { to: vec![to], text: text.into() }).await;
            }
            Output::Broadcast { to, event } => {
                // Encode once; every member gets a cheap reference-counted copy. Each shard
                // gets the members it writes for.
                let text: Utf8Bytes = wire::encode_server(&convert::event(event, &self.limits)).into();
                let count = self.shards.count();
                if count == 1 {
                    self.shards.send_to_shard(0, ShardMsg::Text { to, text }).await;
                    return;
                }
                let mut parts: Vec<Vec<ConnId>> =
                    (0..count).map(|_| Vec::with_capacity(to.len() / count + 1)).collect();
                for id in to {
                    parts[self.shards.index(id)].push(id);
                }
                for (shard, to) in parts.into_iter().enumerate() {
                    if !to.is_empty() {
                        self.shards.send_to_shard(shard, ShardMsg::Text { to, text: text.clone() }).await;
                    }
                }
            }
            Output::Close { conn, code, reason } => {
                if self.conns.remove(&conn) {
                    self.shards.send(conn, ShardMsg::Close { id: conn, code, reason }).await;
                }
            }
        }
    }
}

/// Whether `ip` is this computer, IPv4-mapped IPv6 addresses included.
fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

#[cfg(test)]
#[test]
fn only_this_computer_is_loopback() {
    for (ip, expected) in [("127.0.0.1", true), ("127.8.9.1", true), ("::1", true), ("::ffff:127.0.0.1", true)]
        .into_iter()
        .chain([("192.168.1.20", false), ("::ffff:10.0.0.5", false), ("fe80::1", false)])
    {
        assert_eq!(is_loopback(ip.parse().unwrap()), expected, "{ip}");
    }
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// How long the plaintext side of a TLS connection may stay open after the server is done
/// with it, for the client to read the rest and say goodbye.
const TLS_LINGER: Duration = Duration::from_secs(5);

/// Whether a connection arrived over TLS (HTTPS, WSS) or in plaintext.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Plain,
    Tls,
}

/// One socket from accept to close: TLS or plaintext, told apart by the first byte.
async fn connection(stream: TcpStream, peer: SocketAddr, id: ConnId, inbox: mpsc::Sender<Input>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_DEADLINE, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => {}
        Ok(Ok(1)) => return serve(stream, peer, Transport::Plain, id, inbox, shared).await,
        _ => return,
    }
    let mut secure = match tokio::time::timeout(HANDSHAKE_DEADLINE, shared.tls.accept(stream)).await {
        Ok(Ok(secure)) => secure,
        Ok(Err(e)) => {
            // Usually a browser that has not accepted the certificate yet: it hangs up.
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    // The fan-out shards write raw TCP sockets with writev (see `fanout.rs`), so a TLS
    // connection is served as a plaintext one over an in-process loopback pair, with this
    // task encrypting between the two. Every member on another computer pays for the extra
    // hop (a copy and a loopback write per message): about twice the server CPU per
    // delivery and 25 KiB more per connection (docs/benchmarks.md, "Members on other
    // computers pay for TLS").
    let (outer, inner) = match loopback_pair().await {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "no loopback pair for a TLS connection");
            return;
        }
    };
    let (done, finished) = oneshot::channel::<()>();
    let served = async move {
        serve(inner, peer, Transport::Tls, id, inbox, shared).await;
        let _ = done.send(());
    };
    let piped = async move {
        let mut outer = outer;
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut secure, &mut outer) => {}
            // A client that keeps its side open after the server closed its own must not
            // keep the task alive.
            () = async {
                let _ = finished.await;
                tokio::time::sleep(TLS_LINGER).await;
            } => {}
        }
    };
    tokio::join!(served, piped);
}

/// Two connected TCP sockets on 127.0.0.1.
async fn loopback_pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (outer, inner) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (outer, inner) = (outer?, inner?.0);
    outer.set_nodelay(true)?;
    inner.set_nodelay(true)?;
    Ok((outer, inner))
}

/// Serves one plaintext stream: `transport` says how it reached us, `peer` who sent it.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    id: ConnId,
    inbox: mpsc::Sender<Input>,
    shared: Arc<Shared>,
) {
    // Plaintext is readable by the whole LAN: only this computer gets the web client and
    // WebSockets that way (docs/protocol.md, "Transport").
    let private = transport == Transport::Tls || is_loopback(peer.ip());
    match http::classify(&stream, HANDSHAKE_DEADLINE).await {
        http::Request::Upgrade => {}
        http::Request::Plain { path, host } => {
            if path == "/health" {
                let (reply, answer) = oneshot::channel();
                let _ = inbox.send(Input::Health { reply }).await;
                let (rooms, members) = answer.await.unwrap_or((0, 0));
                let body = format!(
                    r#"{{"status":"ok","version":"{}","rooms":{rooms},"members":{members}}}"#,
                    env!("CARGO_PKG_VERSION")
                );
                http::respond(&mut stream, "200 OK", "application/json", &body).await;
            } else if !private {
                // Browsers give a page the microphone only in a secure context: send the
                // guest to the same address over HTTPS.
                match host.filter(|h| http::is_host(h)) {
                    Some(host) => {
                        let location = format!("https://{host}{path}");
                        let headers = [("Location", location.as_str()), ("Content-Type", "text/plain; charset=utf-8")];
                        http::respond_with(&mut stream, "308 Permanent Redirect", &headers, b"Use HTTPS.\n").await;
                    }
                    None => {
                        let body = "Open this room over https:// from other computers.\n";
                        http::respond(&mut stream, "400 Bad Request", "text/plain; charset=utf-8", body).await;
                    }
                }
            } else if let Some(page) = web::page(&path, shared.fingerprint) {
                let mut headers = vec![("Content-Type", page.content_type), ("Cache-Control", page.cache_control)];
                if page.is_document {
                    headers.push(("Content-Security-Policy", web::CONTENT_SECURITY_POLICY));
                }
                http::respond_with(&mut stream, "200 OK", &headers, &page.body).await;
            } else {
                let body = if web::has_client() {
                    "Not found.\n"
                } else {
                    "This is a Hearth server. This build has no web client; join it from the Hearth app.\n"
                };
                http::respond(&mut stream, "404 Not Found", "text/plain; charset=utf-8", body).await;
            }
            return;
        }
        http::Request::Bad => {
            http::respond(&mut stream, "400 Bad Request", "text/plain; charset=utf-8", "bad request\n").await;
            return;
        }
    }

    let origins = &shared.allowed_origins;
    // The signature is tungstenite's handshake callback; its error type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let check_origin = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let origin = header("origin");
        // A plain WebSocket carries the password and chat in clear across the LAN: other
        // computers, browsers or not, must use wss:// (the app does, with the link's
        // fingerprint or trusting the first certificate it meets).
        let forbidden = |body: String| {
            let mut refused = ErrorResponse::new(Some(body));
            *refused.status_mut() = ::http::StatusCode::FORBIDDEN;
            refused
        };
        if !private {
            return Err(forbidden("other computers must connect over wss://\n".to_owned()));
        }
        if http::origin_allowed(origin, header("host"), origins) {
            return Ok(resp);
        }
        Err(forbidden(format!("origin {} may not open a WebSocket to this server\n", origin.unwrap_or(""))))
    };
    // The shard writes this socket too (see `fanout.rs`); until the handshake is done, the
    // connection task holds the write right.
    let tcp = Arc::new(stream);
    let socket = ConnSocket { tcp: tcp.clone(), may_write: true, wants_write: false };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(socket, check_origin, Some(shared.ws_config));
    let mut ws = match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "handshake refused");
            return;
        }
        Err(_) => return,
    };

    let (outbox, mut queue) = mpsc::channel(OUTBOX);
    // The handshake response is written and tungstenite holds nothing: the shard starts
    // with the write right.
    ws.get_mut().may_write = false;
    if inbox.send(Input::Connect { id, peer, socket: tcp.clone(), outbox }).await.is_err() {
        return;
    }
    tracing::debug!(conn = id, %peer, "connected");
    let shards = &shared.shards;
    // Queue messages received, each of which granted the write right; reported back in
    // `Idle` so the shard knows whether more are on their way.
    let mut taken: u64 = 0;
    // Whether a `Want` is outstanding.
    let mut asked = false;
    // Whether the WebSocket may have a frame for us. Waking this task for every queued
    // message must not also run tungstenite's read path (which zero-fills its buffer), so the
    // socket is read only while it may yield something: after a frame was read (tungstenite
    // may hold more), and when the socket is readable. Once a read came back pending,
    // tungstenite has registered this task's waker for the socket.
    let mut read_wanted = true;
    let mut batch: Vec<(Utf8Bytes, usize)> = Vec::with_capacity(WRITE_BATCH);
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = queue.poll_recv(cx) {
                return Poll::Ready(Event::Out(out));
            }
            if !read_wanted && ws.get_ref().tcp.poll_read_ready(cx).is_ready() {
                read_wanted = true;
            }
            if read_wanted {
                match ws.poll_next_unpin(cx) {
                    Poll::Ready(frame) => return Poll::Ready(Event::In(frame)),
                    Poll::Pending => read_wanted = false,
                }
            }
            // tungstenite wanted to write (a pong) while the shard holds the write right.
            let sock = ws.get_ref();
            if sock.wants_write && !sock.may_write && !asked {
                return Poll::Ready(Event::Want);
            }
            Poll::Pending
        })
        .await;
        if let Event::Out(out) = &event {
            // Anything from the queue, and its end, gives this task the write right.
            taken += u64::from(out.is_some());
            let sock = ws.get_mut();
            sock.may_write = true;
            sock.wants_write = false;
            asked = false;
        }
        match event {
            Event::Want => {
                shards.send(id, ShardMsg::Want { id }).await;
                asked = true;
            }
            Event::In(frame) => {
                let input = match frame {
                    Some(Ok(Message::Text(text))) => decode(id, &text),
                    Some(Ok(Message::Binary(_))) => Input::Invalid {
                        id,
                        code: hearth_room::ErrorKind::Malformed,
                        message: "binary frames are not supported; send JSON text frames".into(),
                        src: None,
                        client_id: None,
                    },
                    Some(Ok(Message::Close(_))) | None => break,
                    // tungstenite answers pings itself.
                    Some(Ok(_)) => continue,
                    Some(Err(tungstenite::Error::Capacity(_))) => {
                        let _ = inbox.send(Input::Oversize { id }).await;
                        // The frame cannot be read on: wait only for the core's close (1009),
                        // writing what comes before it (the shard may have started a frame).
                        while let Some(out) = queue.recv().await {
                            ws.get_mut().may_write = true;
                            match out {
                                Outbound::Text { text, sent } => {
                                    batch.push((text, sent));
                                    let written = write_queued(&mut ws, &mut batch).await;
                                    batch.clear();
                                    if written.is_err() {
                                        break;
                                    }
                                }
                                Outbound::Handover => {}
                                Outbound::Close { code, reason } => {
                                    close(&mut ws, code, reason).await;
                                    break;
                                }
                            }
                        }
                        discard_input(&tcp).await;
                        break;
                    }
                    Some(Err(_)) => break,
                };
                if inbox.send(input).await.is_err() {
                    break;
                }
            }
            Event::Out(Some(Outbound::Close { code, reason })) => {
                close(&mut ws, code, reason).await;
                break;
            }
            Event::Out(Some(first)) => {
                // Take what else is already queued, to write it all with one system call.
                if let Outbound::Text { text, sent } = first {
                    batch.push((text, sent));
                }
                let mut closing = None;
                while batch.len() < WRITE_BATCH {
                    match queue.try_recv() {
                        Ok(Outbound::Text { text, sent }) => batch.push((text, sent)),
                        Ok(Outbound::Handover) => {}
                        Ok(Outbound::Close { code, reason }) => {
                            closing = Some((code, reason));
                            break;
                        }
                        Err(_) => break,
                    }
                    taken += 1;
                }
                let written = write_queued(&mut ws, &mut batch).await;
                batch.clear();
                if written.is_err() {
                    break;
                }
                if let Some((code, reason)) = closing {
                    close(&mut ws, code, reason).await;
                    break;
                }
                if queue.is_empty() {
                    // Everything taken is written: give the write right back. If the shard
                    // queued more meanwhile, it keeps it with us and we report again.
                    ws.get_mut().may_write = false;
                    shards.send(id, ShardMsg::Idle { id, taken }).await;
                }
            }
            Event::Out(None) => {
                // The shard dropped our queue: we were too slow, or the server stopped.
                close(&mut ws, 1008, "too slow to keep up with the room".into()).await;
                break;
            }
        }
    }
    let _ = inbox.send(Input::Disconnect { id }).await;
    tracing::debug!(conn = id, "disconnected");
}

/// What woke a connection task.
enum Event {
    Want,
    In(Option<Result<Message, tungstenite::Error>>),
    Out(Option<Outbound>),
}

/// Writes what the connection task was queued, and what tungstenite holds, in the one order
/// that keeps frames whole: first the rest of a frame the shard started (only the first
/// message can be one), then tungstenite's pending frames (a pong it could not write
/// before), then the other messages.
async fn write_queued(
    ws: &mut tokio_tungstenite::WebSocketStream<ConnSocket>,
    batch: &mut [(Utf8Bytes, usize)],
) -> Result<(), ()> {
    let started = usize::from(batch.first().is_some_and(|(_, sent)| *sent > 0));
    let (started, fresh) = batch.split_at_mut(started);
    let tcp = ws.get_ref().tcp.clone();
    fanout::write_texts(&tcp, started).await.map_err(drop)?;
    ws.flush().await.map_err(drop)?;
    fanout::write_texts(&tcp, fresh).await.map_err(drop)
}

async fn close(ws: &mut tokio_tungstenite::WebSocketStream<ConnSocket>, code: u16, reason: String) {
    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}

/// Reads and discards what the peer still sends, briefly. Closing a socket with unread
/// bytes makes the kernel send a reset, which would destroy the close frame just sent
/// before the peer reads it.
async fn discard_input(stream: &TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

fn decode(id: ConnId, text: &str) -> Input {
    match wire::decode_client(text) {
        Ok(msg) => {
            let src = msg.type_name();
            // Errors about a chat message carry its client id so the sender can mark it failed.
            let client_id = match &msg {
                wire::ClientMsg::ChatSend { client_id, .. } => Some(client_id.clone()),
                _ => None,
            };
            match convert::command(msg) {
                Ok(cmd) => Input::Command { id, cmd },
                Err((code, message)) => {
                    Input::Invalid { id, code, message, src: Some(src.into()), client_id }
                }
            }
        }
        Err(e) => Input::Invalid {
            id,
            code: convert::code_in(e.code()),
            message: e.to_string(),
            src: e.src().map(str::to_owned),
            client_id: None,
        },
    }
}
