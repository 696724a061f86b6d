//! A browser guest: real Chromium loads the web client from the server's own port over
//! HTTPS (the self-signed certificate accepted), joins the room and chats with a native
//! client.

use std::time::Duration;

use hearth_testkit::{BrowserGuest, repo_root};
use hearth_wire::{ClientMsg, ServerMsg};

use crate::support::{TestServer, WAIT, config, join};

const STEP: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_guest_chats_with_a_native_client() {
    let server = TestServer::start(config(None)).await;
    let shots = repo_root().join("test-output/server");
    std::fs::create_dir_all(&shots).expect("test-output/server");
    let script = repo_root().join("crates/hearth-server/tests/browser/chat.mjs");
    let args = [format!("https://{}/lobby", server.addr), shots.display().to_string()];
    let Some(mut browser) = BrowserGuest::start(&script, &args, hearth_server::web::has_client()) else { return };
    let mut native = join(&server, "native").await;

    assert_eq!(browser.next_line(STEP).await, "joined");
    assert_eq!(browser.next_line(STEP).await, "sent");
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
    assert_eq!(browser.next_line(STEP).await, "got: hi from native <i>code</i>");
    browser.finish(STEP).await;
    server.stop().await;
}
