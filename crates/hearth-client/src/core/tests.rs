//! The core tested as data: each file in `transcripts/` is a script of inputs and the exact
//! outputs they must produce, replayed by [`replay`].
//!
//! Lines starting with one of these are inputs:
//! - `<- JSON` a server message (with the shorthands of [`expand`]);
//! - `cmd …` a user command (see [`command`]);
//! - `connected`, `failed`, `lost [CODE]`: what happened to the connection (`lost` is a
//!   close by the server, with the close code if there was one);
//! - `at MS`: time passes to MS and the core's timer runs; `timeout`: time jumps to
//!   `poll_timeout()` and the timer runs.
//!
//! Every other non-blank, non-`#` line is an expected output, in order: `-> JSON` a sent
//! message, `connect!` and `close!` the socket actions, and anything else an event as
//! [`describe`] renders it. After an input, every output must be expected, and nothing more.

use super::*;
use hearth_wire::{Fingerprint, decode_server, encode_client};

const HELLO: &str = r#"{"type":"hello","protocol":1,"server":{"name":"Hearth","version":"0.1.0"},"rooms":[{"name":"lobby","members":0,"locked":false}],"password_required":false,"limits":{"max_frame_bytes":524288,"max_text_chars":4000,"max_name_chars":32,"max_image_bytes":262144,"rate_per_sec":20,"rate_burst":40,"heartbeat_timeout_ms":30000,"ping_interval_ms":10000,"history_page_max":100}}"#;
const ROOM: &str = r#"{"name":"lobby","channels":[{"id":"general","kind":"text","name":"general","topic":""},{"id":"voice","kind":"voice","name":"Voice","topic":""}],"locked":false}"#;

/// Expands the shorthands `HELLO`, `ROOM`, `M(id,name[,voice[,muted]])` (a member) and
/// `C(id,client_id,channel,author,text)` (a chat message).
fn expand(line: &str) -> String {
    let mut s = line.replace("HELLO", HELLO).replace("ROOM", ROOM);
    for (tag, f) in [("M(", member as fn(&[&str]) -> String), ("C(", chat as fn(&[&str]) -> String)] {
        while let Some(start) = s.find(tag) {
            let end = start + s[start..].find(')').expect("closing parenthesis");
            let args: Vec<&str> = s[start + 2..end].split(',').map(str::trim).collect();
            s = format!("{}{}{}", &s[..start], f(&args), &s[end + 1..]);
        }
    }
    s
}

fn member(a: &[&str]) -> String {
    let voice = match a.get(2) {
        Some(v) if !v.is_empty() => format!(r#","voice_channel":"{v}""#),
        _ => String::new(),
    };
    let muted = a.get(3).copied().unwrap_or("false");
    format!(
        r#"{{"id":{},"name":"{}","operator":false,"presence":"online","status_text":"","muted":{muted},"deafened":false,"server_muted":false,"speaking":false,"camera":false{voice}}}"#,
        a[0], a[1]
    )
}

fn chat(a: &[&str]) -> String {
    format!(
        r#"{{"id":{},"client_id":"{}","channel":"{}","author":"{}","text":"{}","ts":1000,"deleted":false,"reactions":[]}}"#,
        a[0], a[1], a[2], a[3], a[4]
    )
}

/// Parses `cmd` lines.
fn command(words: &[&str]) -> Command {
    let rest = |i: usize| words[i..].join(" ");
    match words[0] {
        "chat" => Command::SendChat {
            client_id: words[1].into(),
            channel: words[2].into(),
            text: rest(3),
            reply_to: None,
            image: None,
        },
        "edit" => Command::EditChat { id: words[1].parse().unwrap(), text: rest(2) },
        "delete" => Command::DeleteChat { id: words[1].parse().unwrap() },
        "react" => Command::React { id: words[1].parse().unwrap(), emoji: words[2].into() },
        "typing" => Command::Typing { channel: words[1].into() },
        "voice-join" => Command::VoiceJoin { channel: words[1].into() },
        "voice-leave" => Command::VoiceLeave,
        "voice-state" => Command::VoiceState { muted: words[1] == "true", deafened: words[2] == "true" },
        "speaking" => Command::Speaking { speaking: words[1] == "true" },
        "signal-bye" => Command::Signal { to: words[1].parse().unwrap(), data: SignalData::Bye {}, camera: None },
        "leave" => Command::Leave,
        other => panic!("unknown command {other}"),
    }
}

/// One line per event, short enough to read in a transcript.
fn describe(e: &Event) -> String {
    let msg = |m: &ChatMessage| {
        let mut s = format!("{} #{} {}: {}", m.channel, m.id, m.author, m.text);
        if m.deleted {
            s.push_str(" (deleted)");
        }
        if m.edited_ts.is_some() {
            s.push_str(" (edited)");
        }
        for r in &m.reactions {
            s.push_str(&format!(" [{} {}]", r.emoji, r.names.join("+")));
        }
        s
    };
    match e {
        Event::Connecting { attempt } => format!("connecting {attempt}"),
        Event::Connected { server, .. } => format!("connected to {}", server.name),
        Event::Joined { you, members, rejoin, .. } => {
            let ids: Vec<String> = members.iter().map(|m| m.id.to_string()).collect();
            format!("joined as {you} with [{}] rejoin={rejoin}", ids.join(","))
        }
        Event::History { channel, messages, has_more } => {
            let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
            format!("history {channel} [{}] more={has_more}", ids.join(","))
        }
        Event::Message(m) => format!("message {}", msg(m)),
        Event::MessageUpdated(m) => format!("updated {}", msg(m)),
        Event::SendAcked { client_id, id } => format!("acked {client_id} as #{id}"),
        Event::SendFailed { client_id, code, .. } => format!("send failed {client_id} {}", code.as_str()),
        Event::Typing { channel, member } => format!("typing {channel} {member}"),
        Event::TypingStopped { channel, member } => format!("typing stopped {channel} {member}"),
        Event::MemberJoined(m) => format!("member joined {} {}", m.id, m.name),
        Event::MemberUpdated(m) => format!(
            "member updated {} voice={} muted={} deafened={}",
            m.id,
            m.voice_channel.as_deref().unwrap_or("-"),
            m.muted,
            m.deafened
        ),
        Event::MemberLeft { id, name, reason } => format!("member left {id} {} {reason:?}", name.as_deref().unwrap_or("?")),
        Event::Speaking { member, speaking } => format!("speaking {member} {speaking}"),
        Event::VoiceJoined { channel, rejoin } => format!("voice joined {channel} rejoin={rejoin}"),
        Event::VoiceLeft { channel } => format!("voice left {channel}"),
        Event::Signal { from, data, camera } => match camera {
            None => format!("signal from {from} {data:?}"),
            Some(owner) => format!("signal from {from} camera {owner} {data:?}"),
        },
        Event::ServerError { code, src, .. } => format!("error {} {}", code.as_str(), src.as_deref().unwrap_or("-")),
        Event::RateLimited { retry_after_ms, src } => format!("rate limited {retry_after_ms} {}", src.as_deref().unwrap_or("-")),
        Event::NotSent { what } => format!("not sent {what}"),
        Event::ServerShutdown { message } => format!("server shutdown: {message}"),
        Event::Disconnected { reason, retry_in_ms } => format!("disconnected ({reason}), retry in {retry_in_ms} ms"),
        Event::Closed(CloseReason::Left { unsent }) => format!("closed: left, unsent [{}]", unsent.join(",")),
        Event::Closed(CloseReason::Fatal { code, message }) => {
            format!("closed: fatal {} ({message})", code.map_or("-", ErrorCode::as_str))
        }
        Event::Closed(CloseReason::CertificateMismatch(m)) => {
            format!("closed: certificate {} instead of {}", &m.presented.hex()[..4], &m.expected.hex()[..4])
        }
        other => format!("{other:?}"),
    }
}

fn render(o: &Output) -> String {
    match o {
        Output::Connect => "connect!".into(),
        Output::Close => "close!".into(),
        Output::Send(m) => format!("-> {}", encode_client(m)),
        Output::Event(e) => describe(e),
    }
}

fn is_input(line: &str) -> bool {
    ["<- ", "cmd ", "at "].iter().any(|p| line.starts_with(p))
        || ["connected", "failed", "wrong certificate", "timeout"].contains(&line)
        || line.starts_with("lost")
}

/// Replays one transcript; panics with the first difference.
fn replay(name: &str, script: &str) {
    let mut opts = CoreOptions::new(Some("lobby".into()), "alice");
    opts.backoff = Backoff { initial_ms: 100, max_ms: 1000 };
    opts.seed = 1;
    let mut core = ClientCore::new(opts);
    let mut now: Millis = 0;
    let mut got: VecDeque<String> = VecDeque::new();
    let drain = |core: &mut ClientCore, got: &mut VecDeque<String>| {
        while let Some(o) = core.poll_output() {
            got.push_back(render(&o));
        }
    };
    drain(&mut core, &mut got);
    for (n, raw) in script.lines().enumerate() {
        let line = raw.trim();
        let at = format!("{name}:{}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if is_input(line) {
            assert!(got.is_empty(), "{at}: outputs not expected before `{line}`: {got:#?}");
            if let Some(json) = line.strip_prefix("<- ") {
                let msg = decode_server(&expand(json)).unwrap_or_else(|e| panic!("{at}: {e}"));
                core.handle_message(now, msg);
            } else if let Some(cmd) = line.strip_prefix("cmd ") {
                core.handle_command(now, command(&cmd.split(' ').collect::<Vec<_>>()));
            } else if let Some(t) = line.strip_prefix("at ") {
                now = t.parse().unwrap();
                core.handle_timeout(now);
            } else if line == "timeout" {
                now = core.poll_timeout().unwrap_or_else(|| panic!("{at}: no timer set"));
                core.handle_timeout(now);
            } else if line == "connected" {
                core.handle_connected(now);
            } else if line == "failed" {
                core.handle_connect_failed(now, "refused");
            } else if line == "wrong certificate" {
                let mismatch = CertificateMismatch { presented: Fingerprint([0x11; 32]), expected: Fingerprint([0x22; 32]) };
                core.handle_certificate_mismatch(now, mismatch);
            } else if let Some(code) = line.strip_prefix("lost") {
                let close = code.trim().parse::<u16>().ok().map(|c| (c, String::new()));
                core.handle_closed(now, close);
            }
            drain(&mut core, &mut got);
        } else {
            let expected = expand(line);
            match got.pop_front() {
                Some(actual) => assert_eq!(actual, expected, "{at}"),
                None => panic!("{at}: expected `{expected}`, got nothing more"),
            }
        }
    }
    assert!(got.is_empty(), "{name}: outputs not expected at the end: {got:#?}");
}

macro_rules! transcript {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            replay($file, include_str!(concat!("transcripts/", $file)));
        }
    };
}

transcript!(chat_edits_reactions_typing_and_dms, "chat.txt");
transcript!(reconnect_rejoins_voice_and_resends_unacknowledged_chat, "reconnect.txt");
transcript!(fatal_errors_end_the_client_and_transient_ones_retry, "fatal.txt");
transcript!(heartbeat_pings_a_silent_server_and_drops_a_dead_one, "heartbeat.txt");
transcript!(voice_signal_and_rate_limits, "voice.txt");
transcript!(a_backlog_is_paced_to_the_rate_limit_and_keeps_its_order, "pacing.txt");
transcript!(another_certificate_on_reconnection_ends_the_client, "certificate.txt");

#[test]
fn client_ids_are_unique_and_prefixed() {
    let mut a = ClientIds::from_seed(1);
    let mut b = ClientIds::from_seed(2);
    let ids: std::collections::BTreeSet<String> = (0..100).flat_map(|_| [a.next_id(), b.next_id()]).collect();
    assert_eq!(ids.len(), 200);
    assert!(ids.iter().all(|id| id.len() <= 64));
}
