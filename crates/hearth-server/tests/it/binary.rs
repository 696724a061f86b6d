//! The `hearth-server` binary as a user runs it: flags, a config file, logs, and signals.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hearth_client::Connection;
use hearth_wire::ServerMsg;

const BIN: &str = env!("CARGO_BIN_EXE_hearth-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until the server answers `/health`.
async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hearth-server did not start listening on {port}");
}

fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind", "--config", "--name", "--room", "--channel", "--password", "--operator-token",
        "--ice-server", "--data-dir", "--allow-origin", "--max-frame-bytes", "--max-connections",
        "--max-text-chars", "--max-image-bytes", "--rate-per-sec", "--rate-burst",
        "--heartbeat-timeout-secs", "--log", "--help", "--version",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
    let bad = Command::new(BIN).args(["--channel", "music:jazz", "--room", "x"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither text nor voice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_configured_rooms_on_the_address_given_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hearth.toml");
    std::fs::write(
        &config,
        r#"
server_name = "From file"
[[rooms]]
name = "den"
channels = [{ id = "chat", kind = "text", topic = "hi" }, { id = "talk", kind = "voice" }]
[[rooms]]
name = "attic"
[limits]
max_text_chars = 500
"#,
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config)
        .args(["--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--log", "debug", "--operator-token", "tok-visible-nowhere"])
        .env("HEARTH_PASSWORD", "pw-visible-nowhere")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port).await;

    let url = format!("ws://127.0.0.1:{port}/");
    let (mut conn, hello) = Connection::connect(&url, None).await.unwrap();
    let ServerMsg::Hello { server, rooms, password_required, limits, .. } = hello else { panic!() };
    assert_eq!(server.name, "From file");
    assert_eq!(rooms.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["den", "attic"]);
    assert!(password_required);
    assert_eq!(limits.max_text_chars, 500);
    conn.send(&hearth_wire::ClientMsg::Auth { protocol: 1, room: "den".into(), name: "op".into(), password: None, token: Some("tok-visible-nowhere".into()) }).await.unwrap();
    let ServerMsg::Welcome { room, members, .. } = conn.recv_timeout(Duration::from_secs(5)).await.unwrap() else { panic!() };
    assert_eq!(room.channels.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["chat", "talk"]);
    assert!(members[0].operator);

    interrupt(&child);
    conn.wait_for(Duration::from_secs(5), |m| matches!(m, ServerMsg::Shutdown { .. }).then_some(())).await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(dir.path().join("data/history.sqlite3").exists());
}

#[test]
fn logs_never_contain_secrets() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--log", "trace", "--password", "pw-secret-123", "--operator-token", "tok-secret-456"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        wait_ready(port).await;
        let url = format!("ws://127.0.0.1:{port}/");
        // A right and a wrong password, and a wrong token: none may be echoed in the logs.
        Connection::join(&url, "lobby", "alice", Some("pw-secret-123"), None).await.unwrap();
        let _ = Connection::join(&url, "lobby", "bob", Some("pw-wrong-789"), None).await;
        let _ = Connection::join(&url, "lobby", "carol", None, Some("tok-wrong-000")).await;
    });
    interrupt(&child);
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut logs = String::new();
    child.stdout.take().unwrap().read_to_string(&mut logs).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("listening"), "logs: {logs}");
    for secret in ["pw-secret-123", "tok-secret-456", "pw-wrong-789", "tok-wrong-000"] {
        assert!(!logs.contains(secret), "{secret} appears in the logs:\n{logs}");
    }
}
