//! A browser guest: real Chromium loads the web client from the server's own port over
//! HTTPS (the self-signed certificate accepted), joins the room and chats with a native
//! client.

use std::process::Stdio;
use std::time::Duration;

use hearth_wire::{ClientMsg, ServerMsg};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{TestServer, WAIT, config, join};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_guest_chats_with_a_native_client() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let playwright = root.join("ui/node_modules/playwright-core");
    let chromium = std::env::var("HEARTH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !hearth_server::web::has_client() || !playwright.is_dir() || !std::path::Path::new(&chromium).exists() {
        // `cargo xtask test` installs Chromium and the UI's packages and builds ui/dist
        // before the Rust tests, so CI always has all three.
        assert!(std::env::var_os("CI").is_none(), "the browser test cannot run under CI");
        eprintln!("SKIPPED: needs ui/dist, ui/node_modules and {chromium}");
        return;
    }
    let server = TestServer::start(config(None)).await;
    let mut native = join(&server, "native").await;
    let shots = root.join("test-output/server");
    std::fs::create_dir_all(&shots).expect("test-output/server");

    let mut browser = tokio::process::Command::new("node")
        .arg(root.join("crates/hearth-server/tests/browser/chat.mjs"))
        .arg(format!("https://{}/lobby", server.addr))
        .arg(&shots)
        .env("PLAYWRIGHT_CORE", playwright.join("index.mjs"))
        .current_dir(root.join("ui"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut lines = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut next_line = async || {
        tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the browser script went quiet")
            .expect("read the script's output")
    };

    assert_eq!(next_line().await.as_deref(), Some("joined"));
    assert_eq!(next_line().await.as_deref(), Some("sent"));
    // The native client sees the guest's message, as the text the guest typed.
    let message = native
        .conn
        .wait_for(WAIT * 3, |m| match m {
            ServerMsg::Chat { message } if message.author == "guest" => Some(message.clone()),
            _ => None,
        })
        .await
        .expect("the guest's message");
    assert_eq!(message.text, "hello from the <b>browser</b>");
    native
        .send(ClientMsg::ChatSend {
            channel: message.channel.clone(),
            client_id: "n-1".into(),
            text: "hi from native <i>code</i>".into(),
            reply_to: None,
            image: None,
        })
        .await;
    assert_eq!(next_line().await.as_deref(), Some("got: hi from native <i>code</i>"));
    let status = tokio::time::timeout(Duration::from_secs(30), browser.wait())
        .await
        .expect("the browser script ends")
        .expect("wait for node");
    assert!(status.success(), "the browser script failed: {status}");
    server.stop().await;
}
