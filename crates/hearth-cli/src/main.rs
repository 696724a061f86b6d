//! `hearth-cli`: a headless Hearth client for scripts, bots and tests.
//!
//! `hearth-cli join ws://host:port/room --name bot` enters a room through the shared client
//! core ([`hearth_client::Client`], with its reconnects), prints every event as one JSON
//! object per line on stdout, and sends each line read from stdin as a chat message. It
//! leaves cleanly on Ctrl-C, after `--duration` seconds, or (without `--duration`) once
//! stdin ends and everything sent was acknowledged.
//!
//! With `--voice CHANNEL` it also joins a voice channel through the shared voice session
//! ([`hearth_voice::VoiceSession`]): it sends a tone (`--tone`), a WAV file (`--play`) or
//! silence, and records what it hears to a WAV file (`--record`).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hearth_client::{Client, ClientOptions, CloseReason, Event};
use hearth_media::{FrameDuration, SAMPLE_RATE, Silence, Sine, WavSink, WavSource};
use hearth_voice::{AudioInput, AudioOutput, VoiceConfig, VoiceEvent, VoiceSession};
use hearth_wire::ChannelKind;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

/// How long to wait for acknowledgements after stdin ends, before leaving anyway.
const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(name = "hearth-cli", version, about = "A headless Hearth client: events out as JSON lines, chat in from stdin")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Join a room; print events as JSON lines; send stdin lines as chat messages.
    Join(JoinArgs),
}

#[derive(clap::Args)]
struct JoinArgs {
    /// Server address, `ws://host:port/room` or `wss://…`; the path names the room.
    url: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Room to enter (overrides the URL's path; default: the server's first room).
    #[arg(long)]
    room: Option<String>,
    /// Room password.
    #[arg(long, env = "HEARTH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Operator token.
    #[arg(long, env = "HEARTH_OPERATOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// For `wss://`: accept only the certificate with this SHA-256 fingerprint (the `#fp=`
    /// of the host's join link), as a room on a LAN has a self-signed one. Other computers
    /// reach a room over `wss://` only.
    #[arg(long)]
    fingerprint: Option<hearth_wire::Fingerprint>,
    /// Text channel for stdin lines (default: the room's first text channel; `@name` for a DM).
    #[arg(long)]
    channel: Option<String>,
    /// Leave after this many seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Join this voice channel. Without --tone or --play the bot sends silence.
    #[arg(long, value_name = "CHANNEL")]
    voice: Option<String>,
    /// Play this WAV file (any rate, mono or stereo) into the voice channel, then silence.
    #[arg(long, value_name = "FILE", requires = "voice", conflicts_with = "tone")]
    play: Option<std::path::PathBuf>,
    /// Send a sine tone of this frequency into the voice channel.
    #[arg(long, value_name = "HZ", requires = "voice")]
    tone: Option<f32>,
    /// Record what is heard in the voice channel to this WAV file (48 kHz mono float).
    #[arg(long, value_name = "FILE", requires = "voice")]
    record: Option<std::path::PathBuf>,
    /// Opus frame length in milliseconds for --voice: 10 (lower latency) or 20.
    #[arg(long, value_name = "MS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(10..=20))]
    frame_ms: u32,
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    // Logs go to stderr: stdout carries only JSON lines.
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Cmd::Join(args) => {
            let result = runtime.block_on(join(args));
            // The stdin reader is a blocking thread that may sit in read() forever; do not
            // wait for it on the way out.
            runtime.shutdown_background();
            result
        }
    }
}

/// The room named by the URL's path, if any (`ws://host:7777/lobby` → `lobby`).
fn room_from_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map(|(_, p)| p)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let room = path.trim_matches('/');
    (!room.is_empty()).then(|| room.to_owned())
}

async fn join(args: JoinArgs) -> anyhow::Result<()> {
    let mut options = ClientOptions::new(args.room.clone().or_else(|| room_from_url(&args.url)), args.name.clone());
    options.core.password = args.password.clone();
    options.core.token = args.token.clone();
    if let Some(pin) = args.fingerprint {
        options.trust = hearth_client::Trust::Pinned(pin);
    }
    let duration = args.duration.map(Duration::from_secs_f64);
    let deadline = async move {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let stop = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = deadline => {}
        }
    };
    let mut client = Client::connect_until(&args.url, options, stop)
        .await
        .with_context(|| format!("joining {} as {}", args.url, args.name))?;
    let handle = client.handle();
    let snapshot = handle.snapshot().await.context("reading the room")?;
    let channel = match args.channel.clone() {
        Some(c) => c,
        None => snapshot
            .room
            .as_ref()
            .and_then(|r| r.channels.iter().find(|c| c.kind == ChannelKind::Text))
            .map(|c| c.id.clone())
            .context("the room has no text channel; name one with --channel")?,
    };

    let mut voice = match &args.voice {
        Some(voice_channel) => {
            let session = start_voice(&args, &handle)?;
            handle
                .send(hearth_client::Command::VoiceJoin { channel: voice_channel.clone() })
                .await
                .context("joining the voice channel")?;
            Some(session)
        }
        None => None,
    };

    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut flush_until: Option<tokio::time::Instant> = None;
    let mut fatal = None;
    loop {
        tokio::select! {
            line = stdin.next_line(), if stdin_open => match line.context("reading stdin")? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => { handle.chat(&channel, &line).await.context("sending chat")?; }
                None => {
                    stdin_open = false;
                    // Without a duration, the end of input is the end of the session, once
                    // what was said is stored.
                    if duration.is_none() {
                        if handle.snapshot().await.map(|s| s.pending.is_empty()).unwrap_or(true) {
                            break;
                        }
                        flush_until = Some(tokio::time::Instant::now() + FLUSH_DEADLINE);
                    }
                }
            },
            event = client.next_event() => match event {
                Some(event) => {
                    print_line(&event_json(&event))?;
                    if let Some(v) = &voice {
                        let _ = v.handle.client_event(&event).await;
                    }
                    match &event {
                        Event::Closed(CloseReason::Fatal { message, .. }) => fatal = Some(message.clone()),
                        Event::Closed(CloseReason::CertificateMismatch(mismatch)) => fatal = Some(mismatch.to_string()),
                        _ => {}
                    }
                    if matches!(event, Event::SendAcked { .. }) && flush_until.is_some()
                        && handle.snapshot().await.map(|s| s.pending.is_empty()).unwrap_or(true)
                    {
                        break;
                    }
                }
                None => break,
            },
            () = sleep_until(flush_until) => break,
            Some(event) = next_voice_event(&mut voice) => print_line(&voice_json(&event))?,
        }
    }
    // Stop the voice session first: it closes the peer connections and, by dropping its
    // sink, finishes the --record file.
    if let Some(v) = voice.take() {
        let _ = v.handle.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), v.task).await;
    }
    // Leave, and still print what comes until the end (at least the `closed` event).
    let _ = handle.send(hearth_client::Command::Leave).await;
    drop(handle);
    while let Some(event) = client.next_event().await {
        print_line(&event_json(&event))?;
        if let Event::Closed(CloseReason::Left { unsent }) = &event
            && !unsent.is_empty()
        {
            eprintln!("hearth-cli: {} message(s) were never acknowledged", unsent.len());
        }
    }
    client.leave().await;
    if let Some(message) = fatal {
        bail!("disconnected: {message}");
    }
    Ok(())
}

/// Opens the audio the flags ask for and starts the voice session.
fn start_voice(args: &JoinArgs, client: &hearth_client::ClientHandle) -> anyhow::Result<VoiceSession> {
    let input = match (&args.play, args.tone) {
        (Some(path), _) => AudioInput::Source(Box::new(
            WavSource::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        (None, Some(hz)) => AudioInput::Source(Box::new(Sine::new(SAMPLE_RATE, hz, 0.3))),
        (None, None) => AudioInput::Source(Box::new(Silence::new(SAMPLE_RATE))),
    };
    let output = match &args.record {
        Some(path) => AudioOutput::Sink(Box::new(
            WavSink::create(path, SAMPLE_RATE).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => AudioOutput::Discard,
    };
    let mut config = VoiceConfig::default();
    config.capture.frame = match args.frame_ms {
        10 => FrameDuration::Ms10,
        20 => FrameDuration::Ms20,
        other => bail!("--frame-ms must be 10 or 20, not {other}"),
    };
    // Tones and files are not speech; RNNoise would treat a tone as noise to remove.
    config.capture.noise_suppression = false;
    VoiceSession::spawn(client.clone(), config, input, output).context("starting voice")
}

async fn next_voice_event(voice: &mut Option<VoiceSession>) -> Option<VoiceEvent> {
    match voice {
        Some(v) => v.events.recv().await,
        None => std::future::pending().await,
    }
}

fn voice_json(e: &VoiceEvent) -> Value {
    match e {
        VoiceEvent::Speaking(speaking) => json!({"event": "voice_speaking", "speaking": speaking}),
        VoiceEvent::PeerState { member, state } => {
            json!({"event": "voice_peer", "member": member, "state": format!("{state:?}").to_lowercase()})
        }
        VoiceEvent::Device(what) => json!({"event": "voice_device", "message": what}),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn print_line(value: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").and_then(|()| out.flush()).context("writing to stdout")
}

/// One event as a JSON object with an `event` field naming it; wire data keeps its wire
/// shape, so scripts can reuse protocol.md.
fn event_json(e: &Event) -> Value {
    match e {
        Event::Connecting { attempt } => json!({"event": "connecting", "attempt": attempt}),
        Event::Connected { server, rooms, password_required } => {
            json!({"event": "connected", "server": server, "rooms": rooms, "password_required": password_required})
        }
        Event::Joined { you, room, members, ice_servers, rejoin } => {
            json!({"event": "joined", "you": you, "room": room, "members": members, "ice_servers": ice_servers, "rejoin": rejoin})
        }
        Event::History { channel, messages, has_more } => {
            json!({"event": "history", "channel": channel, "messages": messages, "has_more": has_more})
        }
        Event::Message(m) => json!({"event": "message", "message": m}),
        Event::MessageUpdated(m) => json!({"event": "message_updated", "message": m}),
        Event::SendAcked { client_id, id } => json!({"event": "send_acked", "client_id": client_id, "id": id}),
        Event::SendFailed { client_id, code, message } => {
            json!({"event": "send_failed", "client_id": client_id, "code": code, "message": message})
        }
        Event::Typing { channel, member } => json!({"event": "typing", "channel": channel, "member": member}),
        Event::TypingStopped { channel, member } => json!({"event": "typing_stopped", "channel": channel, "member": member}),
        Event::MemberJoined(m) => json!({"event": "member_joined", "member": m}),
        Event::MemberUpdated(m) => json!({"event": "member_updated", "member": m}),
        Event::MemberLeft { id, name, reason } => json!({"event": "member_left", "id": id, "name": name, "reason": reason}),
        Event::Speaking { member, speaking } => json!({"event": "speaking", "member": member, "speaking": speaking}),
        Event::RoomUpdated(room) => json!({"event": "room_updated", "room": room}),
        Event::VoiceJoined { channel, rejoin } => json!({"event": "voice_joined", "channel": channel, "rejoin": rejoin}),
        Event::VoiceLeft { channel } => json!({"event": "voice_left", "channel": channel}),
        Event::Signal { from, data, camera } => {
            json!({"event": "signal", "from": from, "data": data, "camera": camera})
        }
        Event::CameraRing { watcher } => json!({"event": "camera_ring", "watcher": watcher}),
        Event::CameraOpened { member } => json!({"event": "camera_opened", "member": member}),
        Event::CameraClosed { member } => json!({"event": "camera_closed", "member": member}),
        Event::Watchers(w) => json!({"event": "watchers", "watchers": w}),
        Event::IceServers(s) => json!({"event": "ice_servers", "servers": s}),
        Event::ServerError { code, message, src } => json!({"event": "error", "code": code, "message": message, "src": src}),
        Event::RateLimited { retry_after_ms, src } => json!({"event": "rate_limited", "retry_after_ms": retry_after_ms, "src": src}),
        Event::NotSent { what } => json!({"event": "not_sent", "what": what}),
        Event::ServerShutdown { message } => json!({"event": "server_shutdown", "message": message}),
        Event::Disconnected { reason, retry_in_ms } => json!({"event": "disconnected", "reason": reason, "retry_in_ms": retry_in_ms}),
        Event::Closed(CloseReason::Left { unsent }) => json!({"event": "closed", "reason": "left", "unsent": unsent}),
        Event::Closed(CloseReason::Fatal { code, message }) => {
            json!({"event": "closed", "reason": "fatal", "code": code, "message": message})
        }
        Event::Closed(CloseReason::CertificateMismatch(mismatch)) => json!({
            "event": "closed", "reason": "fatal", "code": "certificate_mismatch", "message": mismatch.to_string(),
            "presented": mismatch.presented.hex(), "expected": mismatch.expected.hex(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::room_from_url;

    #[test]
    fn the_room_comes_from_the_url_path() {
        assert_eq!(room_from_url("ws://h:7777/lobby").as_deref(), Some("lobby"));
        assert_eq!(room_from_url("wss://h/games/?x=1").as_deref(), Some("games"));
        assert_eq!(room_from_url("ws://h:7777/"), None);
        assert_eq!(room_from_url("ws://h:7777"), None);
    }
}
