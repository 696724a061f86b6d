//! What the core enforces: rooms, channels, secrets and limits.

/// The core's configuration, built by the shell from the server's config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Shown in `hello`.
    pub server_name: String,
    /// Software version shown in `hello`.
    pub server_version: String,
    /// Rooms and their channels.
    pub rooms: Vec<RoomDef>,
    /// The room password, if any.
    pub password: Option<String>,
    /// Operator tokens.
    pub operator_tokens: Vec<String>,
    /// STUN/TURN servers handed out in `welcome` and `ice_servers`.
    pub ice_servers: Vec<IceServerDef>,
    /// Largest frame; enforced by the shell, announced by the core.
    pub max_frame_bytes: u32,
    /// Longest chat text in characters.
    pub max_text_chars: u32,
    /// Longest name in characters.
    pub max_name_chars: u32,
    /// Largest image in bytes.
    pub max_image_bytes: u32,
    /// Sustained messages per second per connection.
    pub rate_per_sec: u32,
    /// Bucket capacity.
    pub rate_burst: u32,
    /// Consecutive dropped messages before a flooding client is disconnected.
    pub flood_strikes: u32,
    /// Most connections at once.
    pub max_connections: u32,
    /// Silence before a connection is dropped, in milliseconds.
    pub heartbeat_timeout_ms: u64,
    /// Silence before the server pings, in milliseconds.
    pub ping_interval_ms: u64,
    /// Largest history page.
    pub history_page_max: u32,
    /// History sent per text channel on joining.
    pub history_on_join: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_name: "Hearth".into(),
            server_version: "0.0.0".into(),
            rooms: vec![RoomDef {
                name: "lobby".into(),
                channels: vec![
                    ChannelDef::new("general", ChannelKind::Text),
                    ChannelDef::new("voice", ChannelKind::Voice),
                ],
            }],
            password: None,
            operator_tokens: Vec::new(),
            ice_servers: Vec::new(),
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

/// One room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDef {
    /// Its name.
    pub name: String,
    /// Its channels in display order.
    pub channels: Vec<ChannelDef>,
}

/// One channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDef {
    /// Stable id.
    pub id: String,
    /// Text or voice.
    pub kind: ChannelKind,
    /// Display name.
    pub name: String,
    /// Topic line.
    pub topic: String,
}

impl ChannelDef {
    /// A channel whose name is its id and which has no topic.
    pub fn new(id: &str, kind: ChannelKind) -> ChannelDef {
        ChannelDef { id: id.into(), kind, name: id.into(), topic: String::new() }
    }
}

/// What a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// Chat.
    Text,
    /// A voice call.
    Voice,
}

/// A STUN or TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServerDef {
    /// URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}
