//! `hearth-server`: a Hearth room server without the desktop app, for a machine on the LAN
//! or on the internet.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use hearth_server::config::{ChannelConfig, ChannelKindConfig, Config, IceServerConfig, RoomConfig, Secret};

/// Hearth's room server: text and voice channels, presence, chat history and WebRTC
/// signaling for a small group. Settings come from an optional TOML file (see
/// docs/protocol.md and README.md); flags override it.
#[derive(Parser, Debug)]
#[command(name = "hearth-server", version, about)]
struct Args {
    /// Address and port to listen on (use 127.0.0.1 to stay local).
    #[arg(long, default_value = "0.0.0.0:7777", env = "HEARTH_BIND")]
    bind: SocketAddr,

    /// TOML configuration file; flags given here override its values.
    #[arg(long, short = 'c', env = "HEARTH_CONFIG")]
    config: Option<PathBuf>,

    /// Server name shown to clients.
    #[arg(long)]
    name: Option<String>,

    /// A room to serve (repeat for several). Replaces the config file's rooms.
    #[arg(long = "room", value_name = "NAME")]
    rooms: Vec<String>,

    /// A channel of every room given with --room, as `text:ID` or `voice:ID` (repeat; in
    /// order). Without it, rooms get `text:general` and `voice:voice`.
    #[arg(long = "channel", value_name = "KIND:ID", requires = "rooms")]
    channels: Vec<String>,

    /// Room password required to join. Prefer the environment variable, which does not
    /// show up in the process list.
    #[arg(long, env = "HEARTH_PASSWORD", hide_env_values = true)]
    password: Option<String>,

    /// A token that makes whoever presents it an operator (repeat for several).
    #[arg(long = "operator-token", env = "HEARTH_OPERATOR_TOKEN", hide_env_values = true)]
    operator_tokens: Vec<String>,

    /// A STUN or TURN URL handed to clients (repeat); put TURN credentials in the config file.
    #[arg(long = "ice-server", value_name = "URL")]
    ice_servers: Vec<String>,

    /// Directory for history.sqlite3. Without it, history lives in memory only.
    #[arg(long, env = "HEARTH_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// An extra browser Origin allowed to connect, e.g. https://chat.example (repeat).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,

    /// Largest WebSocket frame in bytes; bigger frames close the connection.
    #[arg(long)]
    max_frame_bytes: Option<u32>,

    /// Most simultaneous connections.
    #[arg(long)]
    max_connections: Option<u32>,

    /// Longest chat message in characters.
    #[arg(long)]
    max_text_chars: Option<u32>,

    /// Largest inline image in bytes.
    #[arg(long)]
    max_image_bytes: Option<u32>,

    /// Sustained messages per second per connection.
    #[arg(long)]
    rate_per_sec: Option<u32>,

    /// Burst allowance above the sustained rate.
    #[arg(long)]
    rate_burst: Option<u32>,

    /// Seconds of silence after which a client is dropped.
    #[arg(long)]
    heartbeat_timeout_secs: Option<u64>,

    /// Log filter, e.g. `info` or `hearth_server=debug`.
    #[arg(long, default_value = "info", env = "RUST_LOG")]
    log: String,
}

/// A server's memory churns in bursts (everyone joining at once, each `welcome` listing
/// everyone); glibc keeps what such a burst freed as fragmented resident memory, jemalloc
/// returns it.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = hearth_server::without_frame_logging(
        tracing_subscriber::EnvFilter::try_new(&args.log).context("--log filter")?,
    );
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let config = build_config(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = hearth_server::bind(args.bind)
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        hearth_server::run(listener, config, shutdown_signal()).await.context("server stopped")
    })
}

fn build_config(args: &Args) -> Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(name) = &args.name {
        config.server_name = name.clone();
    }
    if !args.rooms.is_empty() {
        let channels = args.channels.iter().map(|c| parse_channel(c)).collect::<Result<Vec<_>>>()?;
        config.rooms = args
            .rooms
            .iter()
            .map(|name| {
                let mut room = RoomConfig { name: name.clone(), ..RoomConfig::default() };
                if !channels.is_empty() {
                    room.channels = channels.clone();
                }
                room
            })
            .collect();
    }
    if let Some(p) = &args.password {
        config.password = Some(Secret(p.clone()));
    }
    config.operator_tokens.extend(args.operator_tokens.iter().map(|t| Secret(t.clone())));
    config.ice_servers.extend(args.ice_servers.iter().map(|url| IceServerConfig {
        urls: vec![url.clone()],
        username: None,
        credential: None,
    }));
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
    }
    config.allowed_origins.extend(args.allowed_origins.iter().cloned());
    let l = &mut config.limits;
    let overrides = [
        (&mut l.max_frame_bytes, args.max_frame_bytes),
        (&mut l.max_connections, args.max_connections),
        (&mut l.max_text_chars, args.max_text_chars),
        (&mut l.max_image_bytes, args.max_image_bytes),
        (&mut l.rate_per_sec, args.rate_per_sec),
        (&mut l.rate_burst, args.rate_burst),
    ];
    for (slot, value) in overrides {
        if let Some(v) = value {
            *slot = v;
        }
    }
    if let Some(secs) = args.heartbeat_timeout_secs {
        l.heartbeat_timeout_ms = secs * 1000;
        l.ping_interval_ms = l.ping_interval_ms.min(l.heartbeat_timeout_ms / 3).max(1);
    }
    config.validate()?;
    Ok(config)
}

fn parse_channel(spec: &str) -> Result<ChannelConfig> {
    let (kind, id) = spec
        .split_once(':')
        .with_context(|| format!("--channel {spec:?}: write text:ID or voice:ID"))?;
    let kind = match kind {
        "text" => ChannelKindConfig::Text,
        "voice" => ChannelKindConfig::Voice,
        other => anyhow::bail!("--channel {spec:?}: kind {other:?} is neither text nor voice"),
    };
    Ok(ChannelConfig { id: id.into(), kind, name: id.into(), topic: String::new() })
}

/// Completes on Ctrl-C or SIGTERM, so that service managers stop the server gracefully.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
