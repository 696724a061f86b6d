//! The embedded server, hosted by this app.
//!
//! One task, [`Host::run`], owns everything about the hosted server: the server's task, the
//! sender that asks it to shut down, and the operator token it was started with. Everyone
//! else talks to it through a [`HostHandle`], which sends a command and waits for the reply,
//! so start and stop can never race each other and no lock is needed.
//!
//! With LAN discovery on ([`Host::with_lan`]), a running server is also advertised by mDNS,
//! with its live member count, until it stops.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use hearth_discovery::{Advertiser, Interfaces, RoomAd};
use hearth_server::config::Secret;
use hearth_server::{Config, ServerError};
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinError, JoinHandle};

/// How long a stop waits for the server to tell its clients goodbye and flush history before
/// the task is cut off. Long enough for a slow disk, short enough that quitting never hangs.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Commands are rare and each waits for its reply, so a short queue is plenty.
const QUEUE: usize = 8;

/// How often the advertised member count is brought up to date. The server tells its count
/// only on `GET /health`; one loopback request a second is cheap, keeps the server crate
/// unaware of mDNS, and a list on the Start screen may lag a second.
const MEMBER_POLL: Duration = Duration::from_secs(1);

/// How long withdrawing the advertisement may hold up a stop.
const WITHDRAW_GRACE: Duration = Duration::from_secs(3);

/// What the UI shows about the hosted server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum HostStatus {
    /// Not hosting.
    Stopped {
        /// Why the last server stopped, if it stopped with an error.
        last_error: Option<String>,
    },
    /// Hosting.
    Running {
        /// The address the listener is bound to (all interfaces, so it shows `0.0.0.0`).
        address: String,
        /// The port actually bound, which differs from the request when that was 0.
        port: u16,
        /// Where others on the network can most likely reach this machine, when known.
        lan_address: Option<String>,
        /// Whether joining needs the password.
        password_protected: bool,
        /// The mDNS service name the room is advertised under, when it is.
        #[serde(skip)]
        advertised: Option<String>,
        /// The SHA-256 fingerprint of the server's TLS certificate, which join links carry.
        #[serde(skip)]
        fingerprint: hearth_wire::Fingerprint,
    },
}

/// Why a host command failed. The messages are shown to the user as they are.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Start was asked while a server is already running.
    #[error("The server is already running on port {0}. Stop it before starting it again.")]
    AlreadyRunning(u16),
    /// Stop was asked while no server is running.
    #[error("The server is not running.")]
    NotRunning,
    /// The port number cannot be a TCP port.
    #[error("{0} is not a port number. Use a number from 1 to 65535.")]
    InvalidPort(u32),
    /// Another program already listens on the port.
    #[error(
        "Port {0} is already in use by another program. Pick another port, or close that program."
    )]
    PortInUse(u16),
    /// The OS does not let this user listen on the port.
    #[error(
        "This computer does not allow Hearth to use port {0}. Ports below 1024 usually need \
         administrator rights; pick one from 1024 to 65535."
    )]
    PortDenied(u16),
    /// Binding failed for another reason.
    #[error("Could not open port {port}: {source}.")]
    Bind {
        /// The port asked for.
        port: u16,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The chat history folder could not be created.
    #[error("Could not create the folder for chat history ({path}): {source}.")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The server configuration was rejected before starting.
    #[error("The server settings are not valid: {0}.")]
    Config(String),
    /// The server's certificate (for browser guests and pinned links) could not be loaded
    /// or made.
    #[error("The server's certificate: {0}.")]
    Certificate(String),
    /// The OS random generator failed, so no operator token could be made.
    #[error("Could not generate a secure random token: {0}.")]
    Random(String),
    /// The host task is gone, which only happens while the app shuts down.
    #[error("Hearth is shutting down.")]
    Gone,
}

impl HostError {
    /// A stable, machine-readable name for the UI to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::AlreadyRunning(_) => "already_running",
            HostError::NotRunning => "not_running",
            HostError::InvalidPort(_) => "invalid_port",
            HostError::PortInUse(_) => "port_in_use",
            HostError::PortDenied(_) => "port_denied",
            HostError::Bind { .. } => "bind_failed",
            HostError::DataDir { .. } => "data_dir",
            HostError::Config(_) => "invalid_config",
            HostError::Certificate(_) => "certificate",
            HostError::Random(_) => "random_failed",
            HostError::Gone => "shutting_down",
        }
    }
}

/// What to host: the port, the password and the room.
#[derive(Debug, Clone, Default)]
pub struct HostSpec {
    /// 0 lets the OS pick.
    pub port: u32,
    /// `None` or empty: no password.
    pub password: Option<String>,
    /// The room's name; `None` keeps the server's default room (`lobby`).
    pub room_name: Option<String>,
    /// The room's channels; empty keeps the server's defaults.
    pub channels: Vec<hearth_server::config::ChannelConfig>,
}

enum Command {
    Start {
        spec: HostSpec,
        reply: oneshot::Sender<Result<HostStatus, HostError>>,
    },
    Stop {
        reply: oneshot::Sender<Result<HostStatus, HostError>>,
    },
    OperatorToken {
        reply: oneshot::Sender<Option<Secret>>,
    },
}

/// A cheap, cloneable way to drive the host task.
#[derive(Clone)]
pub struct HostHandle {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<HostStatus>,
}

impl HostHandle {
    /// Starts the server as `spec` says (port 0 lets the OS pick; an empty password means
    /// none).
    pub async fn start(&self, spec: HostSpec) -> Result<HostStatus, HostError> {
        self.ask(|reply| Command::Start { spec, reply }).await?
    }

    /// Stops the server, giving it ten seconds to say goodbye. On success the port is
    /// closed by the time this returns.
    pub async fn stop(&self) -> Result<HostStatus, HostError> {
        self.ask(|reply| Command::Stop { reply }).await?
    }

    /// The current status, without a round trip to the task.
    pub fn status(&self) -> HostStatus {
        self.status.borrow().clone()
    }

    /// Changes of status, including the server stopping on its own with an error.
    pub fn subscribe(&self) -> watch::Receiver<HostStatus> {
        self.status.clone()
    }

    /// The token that makes its holder an operator of the running server. The app's own
    /// client joins with it; it is never shown, logged or sent anywhere else.
    pub async fn operator_token(&self) -> Option<Secret> {
        self.ask(|reply| Command::OperatorToken { reply })
            .await
            .ok()
            .flatten()
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HostError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| HostError::Gone)?;
        answer.await.map_err(|_| HostError::Gone)
    }
}

/// The task that owns the hosted server. Create it with [`Host::new`] and spawn
/// [`Host::run`] on the app's runtime.
pub struct Host {
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<HostStatus>,
    data_dir: Option<PathBuf>,
    /// Where to advertise a running server; `None`: nowhere.
    lan: Option<Interfaces>,
    running: Option<Running>,
}

struct Running {
    port: u16,
    operator_token: Secret,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
    /// The task that advertises the room, and what ends it (dropping it does too).
    advertising: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Host {
    /// A host that keeps chat history in `data_dir`, or in memory only when it is `None`.
    pub fn new(data_dir: Option<PathBuf>) -> (HostHandle, Host) {
        let (commands_tx, commands) = mpsc::channel(QUEUE);
        let (status, status_rx) = watch::channel(HostStatus::Stopped { last_error: None });
        let handle = HostHandle {
            commands: commands_tx,
            status: status_rx,
        };
        (
            handle,
            Host {
                commands,
                status,
                data_dir,
                lan: None,
                running: None,
            },
        )
    }

    /// Advertises each server this host runs by mDNS on `lan` (`None`: not at all).
    pub fn with_lan(mut self, lan: Option<Interfaces>) -> Host {
        self.lan = lan;
        self
    }

    /// Serves commands until every handle is dropped, then stops the server if it runs.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                outcome = server_exit(&mut self.running) => {
                    // The server stopped without being asked: remember why so the UI can say.
                    self.running = None;
                    let last_error = Some(describe_exit(outcome).unwrap_or_else(|| {
                        "The server stopped unexpectedly.".to_owned()
                    }));
                    tracing::warn!(error = last_error.as_deref(), "hosted server stopped on its own");
                    self.status.send_replace(HostStatus::Stopped { last_error });
                }
            }
        }
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Start { spec, reply } => {
                let result = self.start(spec).await;
                let _ = reply.send(result);
            }
            Command::Stop { reply } => {
                let result = match self.running.take() {
                    None => Err(HostError::NotRunning),
                    Some(running) => {
                        let last_error = running.stop().await;
                        let status = HostStatus::Stopped { last_error };
                        self.status.send_replace(status.clone());
                        Ok(status)
                    }
                };
                let _ = reply.send(result);
            }
            Command::OperatorToken { reply } => {
                let _ = reply.send(self.running.as_ref().map(|r| r.operator_token.clone()));
            }
        }
    }

    async fn start(&mut self, spec: HostSpec) -> Result<HostStatus, HostError> {
        let HostSpec {
            port,
            password,
            room_name,
            channels,
        } = spec;
        if let Some(running) = &self.running {
            return Err(HostError::AlreadyRunning(running.port));
        }
        let port = u16::try_from(port).map_err(|_| HostError::InvalidPort(port))?;

        if let Some(dir) = &self.data_dir {
            std::fs::create_dir_all(dir).map_err(|source| HostError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let operator_token = new_operator_token()?;
        // Kept in the data directory, so join links (which carry its fingerprint) stay valid
        // across restarts of the host.
        let identity = match &self.data_dir {
            Some(dir) => hearth_server::tls::Identity::load_or_create(dir, &[]),
            None => hearth_server::tls::Identity::ephemeral(&[]),
        }
        .map_err(|e| HostError::Certificate(e.to_string()))?;
        let fingerprint = identity.fingerprint();
        let mut config = Config {
            identity: Some(std::sync::Arc::new(identity)),
            password: password.filter(|p| !p.is_empty()).map(Secret),
            operator_tokens: vec![operator_token.clone()],
            data_dir: self.data_dir.clone(),
            ..Config::default()
        };
        if let Some(room) = config.rooms.first_mut() {
            if let Some(name) = room_name.filter(|n| !n.trim().is_empty()) {
                room.name = name.trim().to_string();
            }
            if !channels.is_empty() {
                room.channels = channels;
            }
        }
        // Checked here as well as in the server so a bad setting is an answer to Start rather
        // than a server that dies a moment later.
        config
            .validate()
            .map_err(|e| HostError::Config(e.to_string()))?;
        let password_protected = config.password.is_some();
        let room = config.rooms.first().map(|r| r.name.clone());

        // All IPv4 interfaces, because the point of hosting is that others on the LAN can join.
        let listener = hearth_server::bind((Ipv4Addr::UNSPECIFIED, port).into())
            .map_err(|e| bind_error(port, e))?;
        let address = listener.local_addr().map_err(|e| bind_error(port, e))?;

        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        // A dropped sender also ends the server, so losing the Running value never leaks it.
        let task = tokio::spawn(hearth_server::run(listener, config, async move {
            let _ = shutdown_rx.await;
        }));
        tracing::info!(%address, password_protected, "hosting started");

        let advertiser = match (&self.lan, room) {
            (Some(interfaces), Some(room)) => {
                let ad = RoomAd {
                    name: room.clone(),
                    room: Some(room),
                    members: 0,
                    needs_password: password_protected,
                    fingerprint: Some(fingerprint.0),
                };
                // Hosting works without being listed, so a failure here is only logged.
                Advertiser::start(interfaces, ad, address.port())
                    .inspect_err(|e| tracing::warn!(error = %e, "the room is not advertised"))
                    .ok()
            }
            _ => None,
        };
        let advertised = advertiser.as_ref().map(|a| a.service().to_string());
        let advertising = advertiser.map(|advertiser| {
            let (stop, stopped) = oneshot::channel();
            let task = tokio::spawn(advertise(advertiser, address.port(), stopped));
            (stop, task)
        });

        self.running = Some(Running {
            port: address.port(),
            operator_token,
            shutdown,
            task,
            advertising,
        });
        let status = HostStatus::Running {
            address: address.to_string(),
            port: address.port(),
            lan_address: lan_ip().map(|ip| SocketAddr::new(ip, address.port()).to_string()),
            password_protected,
            advertised,
            fingerprint,
        };
        self.status.send_replace(status.clone());
        Ok(status)
    }
}

impl Running {
    /// Asks the server to stop and waits until its task has ended, so the listener is closed.
    /// Returns why it stopped badly, if it did.
    async fn stop(mut self) -> Option<String> {
        // Withdrawn first, so nobody is sent to a server that is saying goodbye.
        if let Some((stop, mut task)) = self.advertising.take() {
            let _ = stop.send(());
            if tokio::time::timeout(WITHDRAW_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let _ = self.shutdown.send(());
        let outcome = match tokio::time::timeout(STOP_GRACE, &mut self.task).await {
            Ok(outcome) => describe_exit(outcome),
            Err(_) => {
                self.task.abort();
                let _ = (&mut self.task).await;
                Some(format!(
                    "The server did not stop within {} seconds and was stopped forcibly.",
                    STOP_GRACE.as_secs()
                ))
            }
        };
        tracing::info!(
            port = self.port,
            clean = outcome.is_none(),
            "hosting stopped"
        );
        outcome
    }
}

/// Advertises the room until `stop` fires or is dropped, keeping its member count up to
/// date, then withdraws it.
async fn advertise(mut advertiser: Advertiser, port: u16, mut stop: oneshot::Receiver<()>) {
    let mut poll = tokio::time::interval(MEMBER_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = poll.tick() => {
                if let Some(members) = member_count(port).await
                    && let Err(e) = advertiser.set_members(members)
                {
                    tracing::warn!(error = %e, "could not announce the member count");
                }
            }
        }
    }
    advertiser.stop().await;
}

/// The hosted server's member count, from its `GET /health` on loopback.
async fn member_count(port: u16) -> Option<u32> {
    let ask = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut response = Vec::new();
        // The answer is a few dozen bytes; the cap only guards against a surprise.
        stream.take(4096).read_to_end(&mut response).await.ok()?;
        let text = String::from_utf8(response).ok()?;
        let (_, body) = text.split_once("\r\n\r\n")?;
        let health: serde_json::Value = serde_json::from_str(body).ok()?;
        u32::try_from(health.get("members")?.as_u64()?).ok()
    };
    tokio::time::timeout(MEMBER_POLL, ask).await.ok().flatten()
}

/// Resolves when the running server's task ends; never, when nothing runs.
async fn server_exit(running: &mut Option<Running>) -> Result<Result<(), ServerError>, JoinError> {
    match running {
        Some(running) => (&mut running.task).await,
        None => std::future::pending().await,
    }
}

/// `None` for a clean exit, otherwise a sentence for the user.
fn describe_exit(outcome: Result<Result<(), ServerError>, JoinError>) -> Option<String> {
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("The server stopped with an error: {e}.")),
        Err(e) if e.is_panic() => {
            Some("The server crashed. Please report this as a bug.".to_owned())
        }
        Err(_) => Some("The server was cancelled.".to_owned()),
    }
}

fn bind_error(port: u16, e: std::io::Error) -> HostError {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => HostError::PortInUse(port),
        std::io::ErrorKind::PermissionDenied => HostError::PortDenied(port),
        _ => HostError::Bind { port, source: e },
    }
}

/// 32 bytes from the OS generator, URL-safe so it can travel in a join link later.
fn new_operator_token() -> Result<Secret, HostError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| HostError::Random(e.to_string()))?;
    Ok(Secret(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// The address of the interface that carries the default route, which is the one LAN peers
/// most likely reach. Connecting a UDP socket only picks a route; nothing is sent.
fn lan_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // 192.0.2.1 is TEST-NET-1: routable in form, never a real peer.
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(port: u32, password: Option<String>) -> HostSpec {
        HostSpec {
            port,
            password,
            ..HostSpec::default()
        }
    }

    fn spawn_host() -> HostHandle {
        let (handle, host) = Host::new(None);
        tokio::spawn(host.run());
        handle
    }

    #[tokio::test]
    async fn token_exists_only_while_running_and_is_fresh_each_time() {
        let host = spawn_host();
        assert!(host.operator_token().await.is_none());

        host.start(spec(0, None)).await.expect("start");
        let first = host.operator_token().await.expect("token while running");
        assert!(first.0.len() >= 43, "32 random bytes in base64");
        host.stop().await.expect("stop");
        assert!(host.operator_token().await.is_none());

        host.start(spec(0, None)).await.expect("restart");
        let second = host.operator_token().await.expect("token while running");
        assert_ne!(first, second);
        host.stop().await.expect("stop");
    }

    #[tokio::test]
    async fn status_never_carries_the_token_or_password() {
        let host = spawn_host();
        let status = host
            .start(spec(0, Some("hunter2".into())))
            .await
            .expect("start");
        let token = host.operator_token().await.expect("token");
        let json = serde_json::to_string(&status).expect("serialize");
        assert!(
            !json.contains("hunter2") && !json.contains(&token.0),
            "{json}"
        );
        assert!(matches!(
            status,
            HostStatus::Running {
                password_protected: true,
                ..
            }
        ));
        assert_eq!(host.status(), status);
        host.stop().await.expect("stop");
    }

    #[tokio::test]
    async fn double_start_and_idle_stop_are_refused_in_words() {
        let host = spawn_host();
        assert_eq!(host.stop().await.unwrap_err().code(), "not_running");
        let HostStatus::Running { port, .. } = host.start(spec(0, None)).await.expect("start")
        else {
            panic!("not running after start");
        };
        let err = host.start(spec(0, None)).await.unwrap_err();
        assert_eq!(err.code(), "already_running");
        assert!(err.to_string().contains(&port.to_string()));
        host.stop().await.expect("stop");
    }

    #[tokio::test]
    async fn busy_and_impossible_ports_are_explained() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let host = spawn_host();
        let err = host.start(spec(u32::from(port), None)).await.unwrap_err();
        assert_eq!(err.code(), "port_in_use", "{err}");
        assert_eq!(
            host.start(spec(70_000, None)).await.unwrap_err().code(),
            "invalid_port"
        );
        assert_eq!(host.status(), HostStatus::Stopped { last_error: None });
    }

    #[tokio::test]
    async fn a_missing_data_dir_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("nested").join("server");
        let (host, actor) = Host::new(Some(data.clone()));
        tokio::spawn(actor.run());
        host.start(spec(0, None)).await.expect("start");
        assert!(data.is_dir());
        host.stop().await.expect("stop");
    }
}
