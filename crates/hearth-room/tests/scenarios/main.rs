//! Room-core scenarios written as data.
//!
//! Each `*.scn` file next to this one is a transcript: `>` lines are inputs, `<` lines are the
//! outputs the core must produce after the input above them, `@ N` sets the clock to N ms,
//! `!` lines adjust settings before the first input, and `#` lines are comments. The runner
//! replays the inputs and compares the whole transcript. With `UPDATE_SCENARIOS=1` it
//! rewrites the files instead, for review in the diff.

use std::fmt::Write as _;
use std::path::Path;

use hearth_room::event::RoomSummary;
use hearth_room::{
    Command, Event, ImageUpload, MemberView, MemoryStore, MessageView, Millis, Output, Presence,
    RoomCore, Settings, SignalPayload,
};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenario dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    let (mut passed, mut failed) = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("read scenario");
        let actual = run(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if actual == text {
            passed += 1;
            println!("scenario {name} ... ok");
        } else if update {
            std::fs::write(path, &actual).expect("write scenario");
            passed += 1;
            println!("scenario {name} ... updated");
        } else {
            failed += 1;
            println!("scenario {name} ... FAILED");
            print_diff(&text, &actual);
        }
    }
    println!("\n{passed} passed, {failed} failed");
    assert!(!files.is_empty(), "no scenarios found");
    if failed > 0 {
        std::process::exit(1);
    }
}

fn print_diff(expected: &str, actual: &str) {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i).copied(), a.get(i).copied());
        if x != y {
            println!("  first difference at line {}:", i + 1);
            println!("  - expected: {}", x.unwrap_or("<end>"));
            println!("  + actual:   {}", y.unwrap_or("<end>"));
            return;
        }
    }
}

fn run(text: &str) -> Result<String, String> {
    let mut settings = Settings::default();
    let mut core: Option<RoomCore<MemoryStore>> = None;
    let mut now = Millis(0);
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line}", n + 1);
        if line.starts_with('<') {
            continue; // Expected output: regenerated below.
        }
        out.push_str(line);
        out.push('\n');
        if let Some(rest) = line.strip_prefix("! ") {
            if core.is_some() {
                return Err(err("settings must come before inputs"));
            }
            apply_setting(&mut settings, rest).map_err(|e| err(&e))?;
        } else if let Some(rest) = line.strip_prefix("@ ") {
            now = Millis(rest.trim().parse().map_err(|_| err("bad time"))?);
        } else if let Some(rest) = line.strip_prefix("> ") {
            let core = core.get_or_insert_with(|| RoomCore::new(settings.clone(), MemoryStore::default()));
            apply_input(core, now, rest).map_err(|e| err(&e))?;
            while let Some(o) = core.poll_output() {
                writeln!(out, "< {}", render_output(&o)).unwrap();
            }
        } else if !(line.is_empty() || line.starts_with('#')) {
            return Err(err("unknown line"));
        }
    }
    Ok(out)
}

fn apply_setting(s: &mut Settings, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> Result<u64, String> {
        words.get(i).and_then(|w| w.parse().ok()).ok_or_else(|| "expected a number".to_string())
    };
    match words.first().copied() {
        Some("password") => s.password = words.get(1).map(|w| w.to_string()),
        Some("token") => s.operator_tokens.push(words.get(1).ok_or("token needs a value")?.to_string()),
        Some("rate") => {
            s.rate_per_sec = num(1)? as u32;
            s.rate_burst = num(2)? as u32;
            s.flood_strikes = num(3)? as u32;
        }
        Some("max_connections") => s.max_connections = num(1)? as u32,
        Some("heartbeat") => {
            s.heartbeat_timeout_ms = num(1)?;
            s.ping_interval_ms = num(2)?;
        }
        Some("max_image_bytes") => s.max_image_bytes = num(1)? as u32,
        Some("max_text_chars") => s.max_text_chars = num(1)? as u32,
        Some("history_on_join") => s.history_on_join = num(1)? as u32,
        Some("history_page_max") => s.history_page_max = num(1)? as u32,
        _ => return Err("unknown setting".into()),
    }
    Ok(())
}

fn apply_input(core: &mut RoomCore<MemoryStore>, now: Millis, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.first().copied() {
        Some("tick") => {
            core.handle_timeout(now);
            return Ok(());
        }
        Some("shutdown") => {
            core.handle_shutdown(now);
            return Ok(());
        }
        _ => {}
    }
    let conn: u64 = words.first().and_then(|w| w.parse().ok()).ok_or("expected a connection id")?;
    let verb = *words.get(1).ok_or("expected a verb")?;
    let arg = |i: usize| -> Result<&str, String> {
        words.get(i + 2).copied().ok_or_else(|| format!("{verb} needs argument {}", i + 1))
    };
    let id = |i: usize| -> Result<u64, String> { arg(i)?.parse().map_err(|_| "expected a number".to_string()) };
    let flag = |i: usize| -> Result<bool, String> { Ok(matches!(arg(i)?, "true" | "on")) };
    // The text after the first `skip` argument words.
    let rest = |skip: usize| -> String { words.iter().skip(skip + 2).copied().collect::<Vec<_>>().join(" ") };
    let opt = |key: &str| -> Option<String> {
        words.iter().find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')).map(str::to_owned))
    };
    let cmd = match verb {
        "connect" => {
            let addr = arg(0)?.parse().map_err(|_| "bad address")?;
            core.handle_connect(now, conn, addr);
            return Ok(());
        }
        "disconnect" => {
            core.handle_disconnect(now, conn);
            return Ok(());
        }
        "oversize" => {
            core.handle_oversize(now, conn);
            return Ok(());
        }
        "invalid" => {
            let code = hearth_room::ErrorKind::Malformed;
            core.handle_invalid(now, conn, code, rest(0), None, None);
            return Ok(());
        }
        "auth" => Command::Auth {
            protocol: opt("protocol").map_or(Ok(1), |p| p.parse().map_err(|_| "bad protocol"))?,
            room: arg(0)?.into(),
            name: arg(1)?.replace('_', " "),
            password: opt("password"),
            token: opt("token"),
        },
        "ping" => Command::Ping { nonce: arg(0).ok().and_then(|n| n.parse().ok()) },
        "pong" => Command::Pong,
        "presence" => Command::SetPresence {
            presence: match arg(0)? {
                "online" => Presence::Online,
                "away" => Presence::Away,
                "busy" => Presence::Busy,
                _ => return Err("presence is online, away or busy".into()),
            },
            status_text: Some(rest(1)).filter(|s| !s.is_empty()),
        },
        "say" => Command::ChatSend {
            channel: arg(0)?.into(),
            client_id: arg(1)?.into(),
            text: rest(2),
            reply_to: None,
            image: None,
        },
        "reply" => Command::ChatSend {
            channel: arg(0)?.into(),
            client_id: arg(1)?.into(),
            reply_to: Some(id(2)?),
            text: rest(3),
            image: None,
        },
        "image" => Command::ChatSend {
            channel: arg(0)?.into(),
            client_id: arg(1)?.into(),
            text: String::new(),
            reply_to: None,
            image: Some(ImageUpload { mime: arg(2)?.into(), bytes: hex(arg(3)?)? }),
        },
        "edit" => Command::ChatEdit { id: id(0)?, text: rest(1) },
        "delete" => Command::ChatDelete { id: id(0)? },
        "react" => Command::React { id: id(0)?, emoji: arg(1)?.into(), add: true },
        "unreact" => Command::React { id: id(0)?, emoji: arg(1)?.into(), add: false },
        "typing" => Command::Typing { channel: arg(0)?.into() },
        "history" => Command::HistoryGet {
            channel: arg(0)?.into(),
            before: opt("before").and_then(|v| v.parse().ok()),
            limit: opt("limit").and_then(|v| v.parse().ok()),
        },
        "voice-join" => Command::VoiceJoin { channel: arg(0)?.into() },
        "voice-leave" => Command::VoiceLeave,
        "voice-state" => Command::VoiceState { muted: flag(0)?, deafened: flag(1)? },
        "speaking" => Command::Speaking { speaking: flag(0)? },
        "camera" => Command::Camera { on: flag(0)? },
        "open" => Command::CameraOpen { member: id(0)? },
        "close" => Command::CameraClose { member: id(0)? },
        "boot" => Command::CameraBoot { member: id(0)? },
        "block" => Command::Block { member: id(0)?, blocked: true },
        "unblock" => Command::Block { member: id(0)?, blocked: false },
        "signal" => Command::Signal {
            to: id(0)?,
            data: match arg(1)? {
                "offer" => SignalPayload::Offer { sdp: rest(2) },
                "answer" => SignalPayload::Answer { sdp: rest(2) },
                "candidate" => SignalPayload::Candidate { candidate: rest(2), sdp_mid: Some("0".into()), sdp_mline_index: Some(0) },
                "bye" => SignalPayload::Bye,
                "big-offer" => SignalPayload::Offer { sdp: "v".repeat(id(2)? as usize) },
                _ => return Err("signal kind is offer, answer, candidate or bye".into()),
            },
            camera: None,
        },
        // `camera-signal <to> <owner> <sdp>`: an offer on the camera connection of `owner`.
        "camera-signal" => Command::Signal {
            to: id(0)?,
            data: SignalPayload::Offer { sdp: rest(2) },
            camera: Some(id(1)?),
        },
        "ice" => Command::IceServersGet,
        "kick" => Command::Kick { member: id(0)?, reason: Some(rest(1)).filter(|s| !s.is_empty()) },
        "ban" => Command::Ban { member: id(0)?, reason: Some(rest(1)).filter(|s| !s.is_empty()) },
        "unban" => Command::Unban { name: arg(0)?.into() },
        "lock" => Command::Lock { locked: flag(0)? },
        "server-mute" => Command::ServerMute { member: id(0)?, muted: flag(1)? },
        "op" => Command::SetOperator { member: id(0)?, operator: true },
        "deop" => Command::SetOperator { member: id(0)?, operator: false },
        _ => return Err(format!("unknown verb {verb}")),
    };
    core.handle_command(now, conn, cmd);
    Ok(())
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err("hex needs an even length".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| "bad hex".to_string()))
        .collect()
}

fn render_output(o: &Output) -> String {
    match o {
        Output::Send { to, event } => format!("{to}: {}", render(event)),
        Output::Broadcast { to, event } => {
            let ids: Vec<String> = to.iter().map(u64::to_string).collect();
            format!("{}: {}", ids.join(","), render(event))
        }
        Output::Close { conn, code, reason } => format!("close {conn} {code} {reason:?}"),
    }
}

fn member(m: &MemberView) -> String {
    let mut s = format!("{}={}", m.id, m.name);
    let flags = [
        (m.operator, "op".to_string()),
        (m.presence != Presence::Online, format!("{:?}", m.presence).to_lowercase()),
        (!m.status_text.is_empty(), format!("status={:?}", m.status_text)),
        (m.voice_channel.is_some(), format!("voice={}", m.voice_channel.as_deref().unwrap_or(""))),
        (m.muted, "muted".into()),
        (m.deafened, "deaf".into()),
        (m.server_muted, "server-muted".into()),
        (m.speaking, "speaking".into()),
        (m.camera, "cam".into()),
    ];
    for (on, f) in flags {
        if on {
            s.push(' ');
            s.push_str(&f);
        }
    }
    format!("[{s}]")
}

fn message(m: &MessageView) -> String {
    let mut s = format!("#{} {} {} {} {:?}", m.id, m.channel, m.author, m.client_id, m.text);
    if let Some(r) = m.reply_to {
        write!(s, " reply={r}").unwrap();
    }
    if let Some((mime, bytes)) = &m.image {
        write!(s, " image={mime}:{}B", bytes.len()).unwrap();
    }
    if let Some(e) = m.edited_ts {
        write!(s, " edited@{e}").unwrap();
    }
    if m.deleted {
        s.push_str(" deleted");
    }
    for (emoji, names) in &m.reactions {
        write!(s, " {emoji}:{}", names.join("+")).unwrap();
    }
    write!(s, " @{}", m.ts).unwrap();
    s
}

fn render(e: &Event) -> String {
    match e {
        Event::Hello { rooms, password_required, .. } => {
            let rooms: Vec<String> = rooms
                .iter()
                .map(|RoomSummary { name, members, locked }| {
                    format!("{name}:{members}{}", if *locked { ":locked" } else { "" })
                })
                .collect();
            format!("hello rooms={} password={password_required}", rooms.join(","))
        }
        Event::Welcome { you, room, members, .. } => {
            let ms: Vec<String> = members.iter().map(member).collect();
            format!("welcome you={you} room={}{} {}", room.def.name, if room.locked { " locked" } else { "" }, ms.join(" "))
        }
        Event::Ping { nonce } => format!("ping {nonce}"),
        Event::Pong { nonce } => format!("pong {nonce:?}"),
        Event::MemberJoined(m) => format!("joined {}", member(m)),
        Event::MemberUpdated(m) => format!("updated {}", member(m)),
        Event::MemberLeft { id, reason } => format!("left {id} {reason:?}"),
        Event::RoomUpdated(r) => format!("room {} locked={}", r.def.name, r.locked),
        Event::Chat(m) => format!("chat {}", message(m)),
        Event::ChatUpdated(m) => format!("chat-updated {}", message(m)),
        Event::Typing { channel, member } => format!("typing {channel} {member}"),
        Event::History { channel, messages, has_more } => {
            let ids: Vec<String> = messages.iter().map(|m| format!("{}:{}:{:?}", m.id, m.author, m.text)).collect();
            format!("history {channel} [{}] more={has_more}", ids.join(" "))
        }
        Event::Speaking { member, speaking } => format!("speaking {member} {speaking}"),
        Event::CameraRing { watcher } => format!("camera-ring watcher={watcher}"),
        Event::CameraOpened { member } => format!("camera-opened {member}"),
        Event::CameraClosed { member } => format!("camera-closed {member}"),
        Event::Watchers(w) => format!("watchers {w:?}"),
        Event::Signal { from, data, camera: None } => format!("signal from={from} {data:?}"),
        Event::Signal { from, data, camera: Some(owner) } => {
            format!("signal from={from} camera={owner} {data:?}")
        }
        Event::IceServers(s) => format!("ice-servers {}", s.len()),
        Event::Error { code, message, src, client_id } => {
            let mut s = format!("error {code:?} {message:?}");
            if let Some(src) = src {
                write!(s, " src={src}").unwrap();
            }
            if let Some(c) = client_id {
                write!(s, " client_id={c}").unwrap();
            }
            s
        }
        Event::RateLimit { retry_after_ms, src } => format!("rate-limit {retry_after_ms}ms src={}", src.as_deref().unwrap_or("-")),
        Event::Disconnect { code, message } => format!("disconnect {code:?} {message:?}"),
        Event::Shutdown { message } => format!("shutdown {message:?}"),
    }
}
