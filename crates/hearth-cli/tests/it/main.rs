//! `hearth-cli` as a black box: the built binary against an in-process server.

use std::process::Stdio;
use std::time::{Duration, Instant};

use hearth_client::{Client, ClientOptions, Event};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(10);

async fn start_server() -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), hearth_server::ServerError>>) {
    let listener = hearth_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(hearth_server::run(listener, hearth_server::Config::default(), async {
        let _ = stopped.await;
    }));
    (format!("ws://{addr}/lobby"), stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sends_stdin_as_chat_prints_json_lines_and_exits_after_duration() {
    let (url, stop, server) = start_server().await;
    let mut bob = Client::connect(&url, ClientOptions::new(None, "bob")).await.unwrap();

    let started = Instant::now();
    let mut cli = Command::new(env!("CARGO_BIN_EXE_hearth-cli"))
        .args(["join", &url, "--name", "bot", "--duration", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run hearth-cli");
    let mut stdin = cli.stdin.take().unwrap();
    let mut stdout = BufReader::new(cli.stdout.take().unwrap()).lines();
    let mut lines: Vec<Value> = Vec::new();
    let mut next_json = async |lines: &mut Vec<Value>| -> Value {
        let line = tokio::time::timeout(WAIT, stdout.next_line()).await.expect("a line in time").unwrap().expect("stdout open");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
        lines.push(v.clone());
        v
    };
    while next_json(&mut lines).await["event"] != "joined" {}

    stdin.write_all(b"hello from the bot\nsecond line\n").await.unwrap();
    stdin.flush().await.unwrap();
    for text in ["hello from the bot", "second line"] {
        let got = bob
            .wait_for(WAIT, |e| match e {
                Event::Message(m) if m.text == text => Some(m.clone()),
                _ => None,
            })
            .await
            .unwrap();
        assert_eq!((got.author.as_str(), got.channel.as_str()), ("bot", "general"));
    }
    bob.chat("general", "hi bot").await.unwrap();
    loop {
        let v = next_json(&mut lines).await;
        if v["event"] == "message" && v["message"]["text"] == "hi bot" {
            assert_eq!(v["message"]["author"], "bob");
            break;
        }
    }

    // The rest of the output up to the exit, which --duration brings about.
    while let Ok(Ok(Some(line))) = tokio::time::timeout(WAIT, stdout.next_line()).await {
        lines.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}")));
    }
    let status = tokio::time::timeout(WAIT, cli.wait()).await.expect("exits after --duration").unwrap();
    assert!(status.success(), "{status}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(8), "ran for {took:?}");
    let acks = lines.iter().filter(|v| v["event"] == "send_acked").count();
    assert_eq!(acks, 2, "both lines acknowledged");
    assert_eq!(lines.last().unwrap()["event"], "closed");
    assert_eq!(lines.last().unwrap()["reason"], "left");
    bob.wait_for(WAIT, |e| matches!(e, Event::MemberLeft { name: Some(n), .. } if n == "bot").then_some(())).await.unwrap();

    bob.leave().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_duration_the_cli_leaves_once_stdin_ends_and_its_chat_is_stored() {
    let (url, stop, server) = start_server().await;
    let mut bob = Client::connect(&url, ClientOptions::new(None, "bob")).await.unwrap();
    let mut cli = Command::new(env!("CARGO_BIN_EXE_hearth-cli"))
        .args(["join", &url, "--name", "piper"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = cli.stdin.take().unwrap();
    stdin.write_all(b"piped in\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(WAIT, cli.wait_with_output()).await.expect("exits at end of input").unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.contains(r#""event":"send_acked""#)), "{text}");
    bob.wait_for(WAIT, |e| matches!(e, Event::Message(m) if m.text == "piped in").then_some(())).await.unwrap();
    bob.leave().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Runs the CLI with `args` and no input; returns its stderr, asserting it failed.
async fn failing_run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth-cli")).args(args).stdin(Stdio::null()).output().await.unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two bots in a voice channel: one sends a tone, the other records it to a WAV file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_bot_is_heard_and_recorded_by_another_bot() {
    let (url, stop, server) = start_server().await;
    let dir = std::env::temp_dir().join(format!("hearth-cli-voice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("heard.wav");
    let run = |args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_hearth-cli"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run hearth-cli")
    };
    let base = |name: &str, secs: &str| -> Vec<String> {
        ["join", &url, "--name", name, "--voice", "voice", "--duration", secs].map(String::from).to_vec()
    };
    // The singer stays two seconds longer, so the recording's end is not its departure; six
    // seconds leave a loaded machine time to connect before the last one, which is checked.
    let singer =
        run([base("singer", "8"), vec!["--tone".into(), "523".into(), "--frame-ms".into(), "10".into()]].concat());
    let listener = run([base("listener", "6"), vec!["--record".into(), wav.display().to_string()]].concat());
    let (sung, heard) = tokio::join!(singer.wait_with_output(), listener.wait_with_output());
    let (sung, heard) = (sung.unwrap(), heard.unwrap());
    assert!(sung.status.success(), "{}", String::from_utf8_lossy(&sung.stderr));
    assert!(heard.status.success(), "{}", String::from_utf8_lossy(&heard.stderr));
    let out = String::from_utf8_lossy(&sung.stdout);
    assert!(out.lines().any(|l| l.contains(r#""event":"voice_joined""#)), "{out}");
    assert!(out.lines().any(|l| l.contains(r#""event":"voice_speaking","speaking":true"#)), "{out}");

    let recorded = hearth_media::WavSource::open(&wav).expect("a valid WAV file").samples().to_vec();
    // The tone must fill the last of the six seconds (the first include connecting).
    let rate = hearth_media::SAMPLE_RATE;
    assert!(recorded.len() > 5 * rate as usize, "recorded {} samples", recorded.len());
    let tail = &recorded[recorded.len() - rate as usize..];
    let share = hearth_media::analysis::tone_ratio(tail, rate, 523.0);
    // A pure tone puts half its energy in the positive-frequency bin (see `tone_ratio`).
    assert!(share > 0.4, "the recording holds the 523 Hz tone: share {share}");
    std::fs::remove_dir_all(&dir).ok();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_with_context() {
    let err = failing_run(&["join", "ws://127.0.0.1:9/lobby", "--name", "bot"]).await;
    assert!(err.contains("joining ws://127.0.0.1:9/lobby as bot"), "{err}");
}
