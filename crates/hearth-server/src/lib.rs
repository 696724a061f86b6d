//! Hearth's server: a tokio shell around the sans-IO room core.
//!
//! [`run`] serves one listener until its shutdown future completes. The desktop app embeds it
//! and the `hearth-server` binary wraps it with flags and a config file.
//!
//! # Tasks
//! - The *accept loop* (inside [`run`]) owns the listener and a `JoinSet` of connection tasks.
//! - The *room task* owns the [`hearth_room::RoomCore`] and with it all room state and the
//!   history store. It is the only task that mutates state.
//! - One *connection task* per socket decodes frames, forwards them to the room task, and
//!   writes what the room task queues for it. It holds no room state.
//!
//! Shutdown flows one way: the shutdown future stops the accept loop, which tells the room
//! task; the room task sends every client `shutdown` and a close frame, then drops their
//! queues, which ends the connection tasks; `run` waits for them and flushes history.
#![deny(missing_docs)]

pub mod config;
mod convert;
mod http;
mod sqlite;

pub use config::Config;
pub use sqlite::SqliteStore;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::task::Poll;

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
/// Queued messages a connection task writes with one `writev`.
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
    let settings = settings(&config);
    let shared = Arc::new(Shared {
        allowed_origins: config.allowed_origins.clone(),
        ws_config: ws_config(config.limits.max_frame_bytes as usize),
    });
    let clock = Clock::start();
    let (inbox, inbox_rx) = mpsc::channel(INBOX);
    let room = tokio::spawn(room_task(RoomCore::new(settings, store), inbox_rx, clock));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, rooms = config.rooms.len(), "hearth server listening");
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
    core.store_mut().checkpoint().map_err(|e| ServerError::Storage(e.0))?;
    Ok(())
}

/// Connection-independent settings every connection task reads.
struct Shared {
    allowed_origins: Vec<String>,
    ws_config: WebSocketConfig,
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
    Connect { id: ConnId, peer: SocketAddr, outbox: mpsc::Sender<Outbound> },
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

/// What the room task queues for a connection.
enum Outbound {
    Text(Utf8Bytes),
    Close { code: u16, reason: String },
}

/// The room task: owns the core, feeds it inputs and the clock, and routes its outputs.
async fn room_task(
    mut core: RoomCore<SqliteStore>,
    mut inbox: mpsc::Receiver<Input>,
    clock: Clock,
) -> RoomCore<SqliteStore> {
    let limits = convert::limits_out(core.settings());
    let mut router = Router { outboxes: HashMap::new(), slow: Vec::new(), limits };
    loop {
        let wake = core.poll_timeout().map(|at| clock.instant(at));
        let input = tokio::select! {
            input = inbox.recv() => input,
            () = sleep_until(wake) => {
                core.handle_timeout(clock.now());
                router.drain(&mut core, clock);
                continue;
            }
        };
        let now = clock.now();
        match input {
            Some(Input::Connect { id, peer, outbox }) => {
                router.outboxes.insert(id, outbox);
                core.handle_connect(now, id, peer.ip());
            }
            Some(Input::Command { id, cmd }) => core.handle_command(now, id, cmd),
            Some(Input::Invalid { id, code, message, src, client_id }) => {
                core.handle_invalid(now, id, code, message, src, client_id);
            }
            Some(Input::Oversize { id }) => core.handle_oversize(now, id),
            Some(Input::Disconnect { id }) => {
                router.outboxes.remove(&id);
                core.handle_disconnect(now, id);
            }
            Some(Input::Health { reply }) => {
                let _ = reply.send((core.room_count(), core.member_count()));
            }
            Some(Input::Shutdown) | None => {
                core.handle_shutdown(now);
                router.drain(&mut core, clock);
                return core;
            }
        }
        router.drain(&mut core, clock);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Delivers the core's outputs to connection queues.
struct Router {
    outboxes: HashMap<ConnId, mpsc::Sender<Outbound>>,
    slow: Vec<ConnId>,
    limits: wire::Limits,
}

impl Router {
    /// Drains every output (the core's drain rule), then drops connections whose queue was
    /// full and drains again for the departures that causes.
    fn drain<S: hearth_room::Store>(&mut self, core: &mut RoomCore<S>, clock: Clock) {
        loop {
            while let Some(out) = core.poll_output() {
                self.deliver(out);
            }
            if self.slow.is_empty() {
                return;
            }
            for id in std::mem::take(&mut self.slow) {
                // Dropping the queue's sender ends the connection task, which closes the socket.
                if self.outboxes.remove(&id).is_some() {
                    tracing::info!(conn = id, "dropping a connection that stopped reading");
                    core.handle_disconnect(clock.now(), id);
                }
            }
        }
    }

    fn deliver(&mut self, out: Output) {
        match out {
            Output::Send { to, event } => {
                let text = wire::encode_server(&convert::event(event, &self.limits));
                self.push(to, Outbound::Text(text.into()));
            }
            Output::Broadcast { to, event } => {
                // Encode once; every queue gets a cheap reference-counted copy.
                let text: Utf8Bytes = wire::encode_server(&convert::event(event, &self.limits)).into();
                for id in to {
                    self.push(id, Outbound::Text(text.clone()));
                }
            }
            Output::Close { conn, code, reason } => {
                if let Some(outbox) = self.outboxes.remove(&conn) {
                    let _ = outbox.try_send(Outbound::Close { code, reason });
                }
            }
        }
    }

    fn push(&mut self, id: ConnId, msg: Outbound) {
        if let Some(outbox) = self.outboxes.get(&id)
            && let Err(mpsc::error::TrySendError::Full(_)) = outbox.try_send(msg)
        {
            self.slow.push(id);
        }
    }
}

/// One socket from accept to close.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    inbox: mpsc::Sender<Input>,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    match http::classify(&stream, HANDSHAKE_DEADLINE).await {
        http::Request::Upgrade => {}
        http::Request::Plain { path } => {
            if path == "/health" {
                let (reply, answer) = oneshot::channel();
                let _ = inbox.send(Input::Health { reply }).await;
                let (rooms, members) = answer.await.unwrap_or((0, 0));
                let body = format!(
                    r#"{{"status":"ok","version":"{}","rooms":{rooms},"members":{members}}}"#,
                    env!("CARGO_PKG_VERSION")
                );
                http::respond(&mut stream, "200 OK", "application/json", &body).await;
            } else {
                let body = "This is a Hearth server. Join it from the Hearth app.\n";
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
    let check_origin = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let origin = header("origin");
        if http::origin_allowed(origin, header("host"), origins) {
            return Ok(resp);
        }
        let body = format!("origin {} may not open a WebSocket to this server\n", origin.unwrap_or(""));
        let mut refused = ErrorResponse::new(Some(body));
        *refused.status_mut() = ::http::StatusCode::FORBIDDEN;
        Err(refused)
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, check_origin, Some(shared.ws_config));
    let mut ws = match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "handshake refused");
            return;
        }
        Err(_) => return,
    };

    let (outbox, mut queue) = mpsc::channel(OUTBOX);
    if inbox.send(Input::Connect { id, peer, outbox }).await.is_err() {
        return;
    }
    tracing::debug!(conn = id, %peer, "connected");
    // Whether the WebSocket may have a frame for us. Waking this task for every queued
    // message must not also run tungstenite's read path (which zero-fills its buffer), so the
    // socket is read only while it may yield something: after a frame was read (tungstenite
    // may hold more), and when the socket is readable. Once a read came back pending,
    // tungstenite has registered this task's waker for the socket.
    let mut read_wanted = true;
    let mut batch: Vec<Utf8Bytes> = Vec::with_capacity(WRITE_BATCH);
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = queue.poll_recv(cx) {
                return Poll::Ready(Event::Out(out));
            }
            if !read_wanted && ws.get_ref().poll_read_ready(cx).is_ready() {
                read_wanted = true;
            }
            if read_wanted {
                match ws.poll_next_unpin(cx) {
                    Poll::Ready(frame) => return Poll::Ready(Event::In(frame)),
                    Poll::Pending => read_wanted = false,
                }
            }
            Poll::Pending
        })
        .await;
        match event {
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
                        // The frame cannot be read on: wait only for the core's close (1009).
                        while let Some(out) = queue.recv().await {
                            if let Outbound::Close { code, reason } = out {
                                close(&mut ws, code, reason).await;
                                break;
                            }
                        }
                        discard_input(ws.get_mut()).await;
                        break;
                    }
                    Some(Err(_)) => break,
                };
                if inbox.send(input).await.is_err() {
                    break;
                }
            }
            Event::Out(Some(Outbound::Text(text))) => {
                // Take what else is already queued, to write it all with one system call.
                batch.push(text);
                let mut closing = None;
                while batch.len() < WRITE_BATCH {
                    match queue.try_recv() {
                        Ok(Outbound::Text(text)) => batch.push(text),
                        Ok(Outbound::Close { code, reason }) => {
                            closing = Some((code, reason));
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // tungstenite may still hold the rest of a pong it could not write at once;
                // it must go out before our frames, or they would land inside it.
                if ws.flush().await.is_err() {
                    break;
                }
                let written = write_texts(ws.get_mut(), &batch).await;
                batch.clear();
                if written.is_err() {
                    break;
                }
                if let Some((code, reason)) = closing {
                    close(&mut ws, code, reason).await;
                    break;
                }
            }
            Event::Out(Some(Outbound::Close { code, reason })) => {
                close(&mut ws, code, reason).await;
                break;
            }
            Event::Out(None) => {
                // The room task dropped our queue: we were too slow, or it stopped.
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
    In(Option<Result<Message, tungstenite::Error>>),
    Out(Option<Outbound>),
}

/// Writes text messages as unfragmented WebSocket frames straight to the socket, with one
/// `writev` when the socket takes it all (the usual case).
///
/// tungstenite would copy every frame into a write buffer that keeps its largest capacity for
/// the connection's life (one big `welcome` or history page would pin its size for good) and
/// adds per-message overhead that a room of thousands pays on every broadcast. Writing here
/// is safe alongside tungstenite because tungstenite buffers nothing between our calls: it
/// writes only its automatic pongs and close frames, the caller flushes it before each call,
/// and control frames may come between messages anyway (RFC 6455 §5.4).
async fn write_texts(stream: &mut TcpStream, texts: &[Utf8Bytes]) -> std::io::Result<()> {
    use std::io::IoSlice;
    use tokio::io::AsyncWriteExt;
    // On the stack: a broadcast to thousands runs this once per member.
    let texts = &texts[..texts.len().min(WRITE_BATCH)];
    let mut headers = [([0u8; 10], 0usize); WRITE_BATCH];
    for (slot, text) in headers.iter_mut().zip(texts) {
        *slot = frame_header(text.len());
    }
    let mut slices = [IoSlice::new(&[]); 2 * WRITE_BATCH];
    for (i, (text, (header, len))) in texts.iter().zip(&headers).enumerate() {
        slices[2 * i] = IoSlice::new(&header[..*len]);
        slices[2 * i + 1] = IoSlice::new(text.as_bytes());
    }
    let slices = &slices[..2 * texts.len()];
    let total: usize = slices.iter().map(|s| s.len()).sum();
    let mut written = match stream.try_write_vectored(slices) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    if written == total {
        return Ok(());
    }
    // The socket's send buffer is full: write the rest as it drains.
    for slice in slices {
        if written >= slice.len() {
            written -= slice.len();
            continue;
        }
        stream.write_all(&slice[written..]).await?;
        written = 0;
    }
    Ok(())
}

/// The header of an unmasked, final text frame with a payload of `len` bytes (RFC 6455
/// §5.2), and how many of the ten bytes it uses.
fn frame_header(len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x81;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

async fn close(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>, code: u16, reason: String) {
    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}

/// Reads and discards what the peer still sends, briefly. Closing a socket with unread
/// bytes makes the kernel send a reset, which would destroy the close frame just sent
/// before the peer reads it.
async fn discard_input(stream: &mut TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
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
