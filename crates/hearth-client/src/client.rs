//! The tokio shell around [`ClientCore`].
//!
//! One task owns the WebSocket and the core. [`Client`] (and any [`ClientHandle`] cloned from
//! it) sends it commands through a bounded channel; events come back through an unbounded
//! one, because the task must never stop reading the socket while the application is busy
//! (the server drops members that fall 1024 frames behind). The task ends when the core
//! stops: after [`Client::leave`], when every handle is dropped, when the `shutdown` future
//! given to [`Client::connect_until`] completes, or on a fatal error.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hearth_wire::{Fingerprint, Image, Member, MemberId, MessageId, RoomInfo, decode_server, encode_client};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::connection::ClientError;
use crate::pin::{CertificateMismatch, SeenCertificate, checked_config};
use crate::core::{ClientCore, CloseReason, Command, Conversation, CoreOptions, Event, Millis, Output, PendingChat, Phase};

/// Commands queued for the client task before senders wait.
const COMMAND_QUEUE: usize = 256;
/// How long a polite close may take before the socket is simply dropped.
const CLOSE_DEADLINE: Duration = Duration::from_secs(1);
/// How long opening a connection (TCP, TLS, WebSocket upgrade) may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How to join.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Room, name, password, token and backoff. `core.seed` is replaced by a fresh random
    /// seed for every client.
    pub core: CoreOptions,
    /// An `Origin` header to send, as a browser would; native clients send none.
    pub origin: Option<String>,
    /// Which certificates a `wss://` connection accepts (ignored for `ws://`).
    pub trust: Trust,
}

/// Which server certificates a `wss://` connection accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// Those the web's certificate authorities vouch for (Mozilla's roots, compiled in): a
    /// server with a public name.
    #[default]
    Authorities,
    /// Exactly the certificate with this SHA-256 fingerprint, from the join link: a hosted
    /// room's self-signed certificate.
    Pinned(Fingerprint),
    /// Whichever certificate the first connection meets, then only that one on
    /// reconnections ([`Client::certificate`] tells which it was): an address typed by hand.
    FirstUse,
}

impl ClientOptions {
    /// Options for `name`, in `room` (or the server's first room).
    pub fn new(room: Option<String>, name: impl Into<String>) -> Self {
        ClientOptions { core: CoreOptions::new(room, name), origin: None, trust: Trust::Authorities }
    }
}

/// A copy of the core's state at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where the connection is.
    pub phase: Phase,
    /// Our member id, while in the room.
    pub me: Option<MemberId>,
    /// The room.
    pub room: Option<RoomInfo>,
    /// Everyone in the room.
    pub members: Vec<Member>,
    /// The voice channel the server says we are in.
    pub voice_channel: Option<String>,
    /// The voice channel we want to be in.
    pub wanted_voice_channel: Option<String>,
    /// Unacknowledged chat.
    pub pending: Vec<PendingChat>,
    /// Every conversation seen.
    pub conversations: BTreeMap<String, Conversation>,
}

enum Request {
    Command(Command),
    Snapshot(oneshot::Sender<Snapshot>),
}

/// A cheap, clonable way to send commands to a running client (e.g. from a voice session).
#[derive(Clone)]
pub struct ClientHandle {
    requests: mpsc::Sender<Request>,
    ids: Arc<IdSource>,
}

/// Fresh `client_id`s shared by every handle of one client.
struct IdSource {
    prefix: String,
    next: AtomicU64,
}

impl ClientHandle {
    /// Sends a command to the client task.
    pub async fn send(&self, cmd: Command) -> Result<(), ClientError> {
        self.requests.send(Request::Command(cmd)).await.map_err(|_| ClientError::Stopped)
    }

    /// A `client_id` no other message of this client, or of an earlier run, uses.
    pub fn new_client_id(&self) -> String {
        format!("{}-{}", self.ids.prefix, self.ids.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Posts `text` to `channel` (`@name` for a DM); returns its `client_id`.
    pub async fn chat(&self, channel: &str, text: &str) -> Result<String, ClientError> {
        self.chat_with(channel, text, None, None).await
    }

    /// Posts a message with an optional reply target and image; returns its `client_id`.
    pub async fn chat_with(
        &self,
        channel: &str,
        text: &str,
        reply_to: Option<MessageId>,
        image: Option<Image>,
    ) -> Result<String, ClientError> {
        let client_id = self.new_client_id();
        self.send(Command::SendChat {
            client_id: client_id.clone(),
            channel: channel.into(),
            text: text.into(),
            reply_to,
            image,
        })
        .await?;
        Ok(client_id)
    }

    /// A copy of the current state.
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(Request::Snapshot(tx)).await.map_err(|_| ClientError::Stopped)?;
        rx.await.map_err(|_| ClientError::Stopped)
    }
}

/// A running client: the handle, the event stream and the task.
pub struct Client {
    handle: ClientHandle,
    events: mpsc::UnboundedReceiver<Event>,
    /// Events read while waiting for the first join, handed out first.
    early: VecDeque<Event>,
    task: Option<JoinHandle<()>>,
    seen: SeenCertificate,
}

impl Client {
    /// The fingerprint of the certificate the server presented, over `wss://` with a pin or
    /// trust on first use; `None` otherwise.
    pub fn certificate(&self) -> Option<Fingerprint> {
        *self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connects to `url` (`ws://` or `wss://`), enters the room and returns once joined. The
    /// events up to and including [`Event::Joined`] are still delivered by
    /// [`Client::next_event`]. A refused join or a failed first connection is
    /// [`ClientError::Fatal`]; with `retry_first_connect` set, this waits until a server
    /// answers.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        Client::connect_until(url, options, std::future::pending()).await
    }

    /// Like [`Client::connect`]; the client leaves by itself when `shutdown` completes.
    pub async fn connect_until(
        url: &str,
        options: ClientOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Client, ClientError> {
        // Refuse a bad address now rather than retrying it forever.
        url.into_client_request()?;
        let seed = seed();
        let core = ClientCore::new(CoreOptions { seed, ..options.core });
        let (requests, requests_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let seen = SeenCertificate::default();
        let tls = Tls { trust: options.trust, seen: seen.clone() };
        let task = tokio::spawn(run(url.to_owned(), options.origin, tls, core, requests_rx, events_tx, shutdown));
        let ids = Arc::new(IdSource { prefix: format!("{:016x}", seed ^ 0x5bd1_e995), next: AtomicU64::new(1) });
        let mut early = VecDeque::new();
        loop {
            match events.recv().await {
                Some(e @ Event::Joined { .. }) => {
                    early.push_back(e);
                    break;
                }
                Some(Event::Closed(CloseReason::Fatal { code, message })) => {
                    let _ = task.await;
                    return Err(ClientError::Fatal { code, message });
                }
                Some(Event::Closed(CloseReason::CertificateMismatch(mismatch))) => {
                    let _ = task.await;
                    return Err(ClientError::CertificateMismatch(mismatch));
                }
                Some(e) => early.push_back(e),
                None => {
                    let _ = task.await;
                    return Err(ClientError::Stopped);
                }
            }
        }
        Ok(Client { handle: ClientHandle { requests, ids }, events, early, task: Some(task), seen })
    }

    /// A handle for sending commands from elsewhere.
    pub fn handle(&self) -> ClientHandle {
        self.handle.clone()
    }

    /// Sends a command.
    pub async fn send(&self, cmd: Command) -> Result<(), ClientError> {
        self.handle.send(cmd).await
    }

    /// Posts `text` to `channel`; returns its `client_id`.
    pub async fn chat(&self, channel: &str, text: &str) -> Result<String, ClientError> {
        self.handle.chat(channel, text).await
    }

    /// A copy of the current state.
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.handle.snapshot().await
    }

    /// The next event; `None` once the client stopped and every event was read.
    pub async fn next_event(&mut self) -> Option<Event> {
        if let Some(e) = self.early.pop_front() {
            return Some(e);
        }
        self.events.recv().await
    }

    /// Skips events until `pick` accepts one, failing after `limit` or when the client stops.
    pub async fn wait_for<T>(&mut self, limit: Duration, mut pick: impl FnMut(&Event) -> Option<T>) -> Result<T, ClientError> {
        tokio::time::timeout(limit, async {
            loop {
                let e = self.next_event().await.ok_or(ClientError::Stopped)?;
                if let Some(found) = pick(&e) {
                    return Ok(found);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Leaves the room, closes the connection and waits for the task to end. Returns the
    /// `client_id`s of chat messages never acknowledged.
    pub async fn leave(mut self) -> Vec<String> {
        let _ = self.handle.send(Command::Leave).await;
        let mut unsent = Vec::new();
        while let Some(e) = self.next_event().await {
            if let Event::Closed(CloseReason::Left { unsent: u }) = e {
                unsent = u;
            }
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        unsent
    }
}

/// A seed for jitter and client ids, different for every client: the wall clock, the
/// process id and std's per-process random hash keys.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}

/// How a `wss://` connection checks the server's certificate.
#[derive(Debug, Clone)]
struct Tls {
    /// Becomes [`Trust::Pinned`] after the first connection trusted on first use.
    trust: Trust,
    /// The certificate the last handshake met.
    seen: SeenCertificate,
}

async fn open(url: String, origin: Option<String>, tls: Tls) -> Result<Ws, ClientError> {
    let mut request = url.as_str().into_client_request()?;
    if let Some(origin) = origin {
        let value = origin.parse().map_err(|_| ClientError::Unexpected(format!("bad origin {origin:?}")))?;
        request.headers_mut().insert("origin", value);
    }
    let config = WebSocketConfig::default();
    // `None` picks rustls with the webpki roots for wss:// and plain TCP for ws://; a pin
    // replaces the roots with the one certificate the join link names.
    let checked = match tls.trust {
        Trust::Authorities => None,
        Trust::Pinned(pin) => Some(checked_config(Some(pin), tls.seen)),
        Trust::FirstUse => Some(checked_config(None, tls.seen)),
    };
    let connector = checked
        .transpose()
        .map_err(|e| ClientError::Unexpected(format!("TLS setup: {e}")))?
        .map(Connector::Rustls);
    let connect = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    let (ws, _) = tokio::time::timeout(CONNECT_DEADLINE, connect).await.map_err(|_| ClientError::Timeout)??;
    Ok(ws)
}

type Opening = Pin<Box<dyn Future<Output = Result<Ws, ClientError>> + Send>>;

/// The client task: the only owner of the core and the socket.
async fn run(
    url: String,
    origin: Option<String>,
    mut tls: Tls,
    mut core: ClientCore,
    mut requests: mpsc::Receiver<Request>,
    events: mpsc::UnboundedSender<Event>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as Millis;
    let mut ws: Option<Ws> = None;
    let mut opening: Option<Opening> = None;
    let mut requests_open = true;
    tokio::pin!(shutdown);
    loop {
        while let Some(out) = core.poll_output() {
            match out {
                Output::Connect => opening = Some(Box::pin(open(url.clone(), origin.clone(), tls.clone()))),
                Output::Send(msg) => {
                    let Some(socket) = ws.as_mut() else { continue };
                    if let Err(e) = socket.send(Message::Text(encode_client(&msg).into())).await {
                        tracing::debug!(error = %e, "send failed; the connection is gone");
                        ws = None;
                        core.handle_closed(now(), None);
                    }
                }
                Output::Event(e) => {
                    // The application may have stopped listening; the core still runs until
                    // told to leave.
                    let _ = events.send(e);
                }
                Output::Close => {
                    opening = None;
                    if let Some(mut socket) = ws.take() {
                        let _ = tokio::time::timeout(CLOSE_DEADLINE, socket.close(None)).await;
                    }
                }
            }
        }
        if core.is_finished() {
            break;
        }
        let deadline = core.poll_timeout().map(|t| tokio::time::Instant::from_std(start + Duration::from_millis(t)));
        tokio::select! {
            req = requests.recv(), if requests_open => match req {
                Some(Request::Command(cmd)) => core.handle_command(now(), cmd),
                Some(Request::Snapshot(reply)) => {
                    let _ = reply.send(snapshot(&core));
                }
                None => {
                    // Every handle is gone: nobody can ever send or leave, so leave now.
                    requests_open = false;
                    core.handle_command(now(), Command::Leave);
                }
            },
            opened = async { opening.as_mut().expect("guarded").await }, if opening.is_some() => {
                opening = None;
                match opened {
                    Ok(socket) => {
                        // Trusted on first use: from now on only this certificate will do.
                        if tls.trust == Trust::FirstUse
                            && let Some(seen) = *tls.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
                        {
                            tls.trust = Trust::Pinned(seen);
                        }
                        ws = Some(socket);
                        core.handle_connected(now());
                    }
                    Err(e) => match CertificateMismatch::find(&e) {
                        Some(mismatch) => core.handle_certificate_mismatch(now(), mismatch),
                        None => core.handle_connect_failed(now(), &e.to_string()),
                    },
                }
            }
            frame = async { ws.as_mut().expect("guarded").next().await }, if ws.is_some() => match frame {
                Some(Ok(Message::Text(text))) => match decode_server(&text) {
                    Ok(msg) => core.handle_message(now(), msg),
                    // protocol.md: log and skip what cannot be decoded.
                    Err(e) => tracing::debug!(error = %e, "skipping an undecodable server message"),
                },
                Some(Ok(Message::Close(frame))) => {
                    ws = None;
                    core.handle_closed(now(), frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "connection failed");
                    ws = None;
                    core.handle_closed(now(), None);
                }
                None => {
                    ws = None;
                    core.handle_closed(now(), None);
                }
            },
            () = sleep_until(deadline) => core.handle_timeout(now()),
            () = &mut shutdown => core.handle_command(now(), Command::Leave),
        }
    }
    if let Some(mut socket) = ws.take() {
        let _ = tokio::time::timeout(CLOSE_DEADLINE, socket.close(None)).await;
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn snapshot(core: &ClientCore) -> Snapshot {
    Snapshot {
        phase: core.phase(),
        me: core.me(),
        room: core.room().cloned(),
        members: core.members().values().cloned().collect(),
        voice_channel: core.voice_channel().map(str::to_owned),
        wanted_voice_channel: core.wanted_voice_channel().map(str::to_owned),
        pending: core.pending().to_vec(),
        conversations: core.conversations().clone(),
    }
}
