//! Server configuration: what a host chooses, from flags, a TOML file, or the desktop app.

use std::path::PathBuf;

use serde::Deserialize;

/// Everything a server needs to know before it starts.
///
/// `Config::default()` is a working single-room server with no password, which is what the
/// desktop app's host toggle starts from.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Shown to clients in `hello`.
    pub server_name: String,
    /// The rooms, each with its channels. Must not be empty.
    pub rooms: Vec<RoomConfig>,
    /// Room password for everyone; `None` lets anyone in.
    pub password: Option<Secret>,
    /// Tokens that make their holder an operator (and stand in for the password).
    pub operator_tokens: Vec<Secret>,
    /// STUN/TURN servers handed to clients. Empty is right for a LAN.
    pub ice_servers: Vec<IceServerConfig>,
    /// Where `history.sqlite3` lives. `None` keeps history in memory only.
    pub data_dir: Option<PathBuf>,
    /// Extra `Origin` values allowed to open a WebSocket, besides no Origin (native
    /// clients), the app's own origins and the server's own host.
    pub allowed_origins: Vec<String>,
    /// Size, rate and time limits.
    pub limits: LimitsConfig,
    /// The TLS identity for HTTPS and WSS on the same port. `None` loads (or makes) the one
    /// kept in `data_dir`, or makes a passing one when there is no data directory. The
    /// desktop app passes the one whose fingerprint its join links carry.
    #[serde(skip)]
    pub identity: Option<std::sync::Arc<crate::tls::Identity>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_name: "Hearth".into(),
            rooms: vec![RoomConfig::default()],
            password: None,
            operator_tokens: Vec::new(),
            ice_servers: Vec::new(),
            data_dir: None,
            allowed_origins: Vec::new(),
            limits: LimitsConfig::default(),
            identity: None,
        }
    }
}

/// A secret string (password or token) that never shows up in logs or `Debug` output.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// One room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// The room's name, used by clients in `auth` and in join links.
    pub name: String,
    /// Its channels, in display order.
    #[serde(default = "default_channels")]
    pub channels: Vec<ChannelConfig>,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { name: "lobby".into(), channels: default_channels() }
    }
}

fn default_channels() -> Vec<ChannelConfig> {
    vec![
        ChannelConfig {
            id: "general".into(),
            kind: ChannelKindConfig::Text,
            name: "general".into(),
            topic: String::new(),
        },
        ChannelConfig {
            id: "voice".into(),
            kind: ChannelKindConfig::Voice,
            name: "Voice".into(),
            topic: String::new(),
        },
    ]
}

/// One channel of a room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Stable id used on the wire.
    pub id: String,
    /// Text or voice.
    pub kind: ChannelKindConfig,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: String,
    /// Topic line.
    #[serde(default)]
    pub topic: String,
}

/// Text or voice, as written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKindConfig {
    /// A text channel.
    Text,
    /// A voice channel.
    Voice,
}

/// A STUN or TURN server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServerConfig {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default)]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default)]
    pub credential: Option<Secret>,
}

/// Size, rate and time limits. Every one is announced to clients in `hello`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest WebSocket frame; a larger one closes the connection.
    pub max_frame_bytes: u32,
    /// Longest chat text, in characters.
    pub max_text_chars: u32,
    /// Longest member name, in characters.
    pub max_name_chars: u32,
    /// Largest image, in decoded bytes.
    pub max_image_bytes: u32,
    /// Sustained messages per second per connection.
    pub rate_per_sec: u32,
    /// Burst above the sustained rate.
    pub rate_burst: u32,
    /// Rate-limit warnings after which a still-flooding client is disconnected.
    pub flood_strikes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Silence after which a connection is dropped, in milliseconds.
    pub heartbeat_timeout_ms: u64,
    /// How often an idle connection is pinged, in milliseconds.
    pub ping_interval_ms: u64,
    /// Most messages in one history page.
    pub history_page_max: u32,
    /// Messages sent to a member on joining, per text channel.
    pub history_on_join: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            // Big enough for a base64 image of max_image_bytes plus the JSON around it.
            max_frame_bytes: 512 * 1024,
            max_text_chars: 4000,
            max_name_chars: 32,
            max_image_bytes: 256 * 1024,
            rate_per_sec: 20,
            rate_burst: 40,
            flood_strikes: 5,
            max_connections: 10_000,
            heartbeat_timeout_ms: 30_000,
            ping_interval_ms: 10_000,
            history_page_max: 100,
            history_on_join: 50,
        }
    }
}

/// A configuration that cannot run, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be parsed.
    #[error("config file: {0}")]
    Toml(#[from] toml::de::Error),
    /// The configuration is inconsistent.
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Parses a TOML configuration; unset fields keep their defaults.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types cannot: non-empty rooms, unique ids, sane limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.rooms.is_empty() {
            return bad("at least one room is needed".into());
        }
        let mut names = std::collections::HashSet::new();
        for room in &self.rooms {
            if room.name.is_empty() || room.name.len() > 64 {
                return bad(format!("room name `{}` must be 1 to 64 bytes", room.name));
            }
            if !names.insert(room.name.as_str()) {
                return bad(format!("room `{}` is listed twice", room.name));
            }
            let mut ids = std::collections::HashSet::new();
            for ch in &room.channels {
                let ok = !ch.id.is_empty()
                    && ch.id.len() <= 64
                    && !ch.id.starts_with('@')
                    && ch.id.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
                if !ok {
                    return bad(format!(
                        "channel id `{}` in room `{}`: use 1 to 64 letters, digits, `-`, `_` or `.`",
                        ch.id, room.name
                    ));
                }
                if !ids.insert(ch.id.as_str()) {
                    return bad(format!("channel `{}` is listed twice in room `{}`", ch.id, room.name));
                }
            }
        }
        let l = &self.limits;
        if l.max_frame_bytes < 1024 {
            return bad("limits.max_frame_bytes must be at least 1024".into());
        }
        if l.rate_per_sec == 0 || l.rate_burst == 0 {
            return bad("limits.rate_per_sec and limits.rate_burst must be positive".into());
        }
        if l.ping_interval_ms == 0 || l.ping_interval_ms >= l.heartbeat_timeout_ms {
            return bad("limits.ping_interval_ms must be positive and below heartbeat_timeout_ms".into());
        }
        if l.max_name_chars == 0 || l.history_page_max == 0 || l.max_connections == 0 {
            return bad("limits.max_name_chars, history_page_max and max_connections must be positive".into());
        }
        Ok(())
    }
}
