//! A browser guest: real Chromium loads the web client from the server's own port over
//! HTTPS (the self-signed certificate accepted), joins the room and chats with a native
//! client; and, in a room with a password, is held to the rules while it trades direct
//! messages and pictures.

use std::time::Duration;

use base64::Engine as _;
use hearth_server::config::Secret;
use hearth_testkit::{BrowserGuest, repo_root};
use hearth_wire::{ClientMsg, ServerMsg};

use crate::support::{Member, TestServer, WAIT, config, join, join_with};

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

/// The rest of what a guest does or must not do, in a room with a password and a native
/// operator; see `tests/browser/features.mjs` for the page's side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_guest_is_held_to_the_rules_and_trades_direct_messages_and_pictures() {
    let mut cfg = config(None);
    cfg.password = Some(Secret("open sesame".into()));
    cfg.operator_tokens = vec![Secret("host-token".into())];
    let server = TestServer::start(cfg).await;
    let shots = repo_root().join("test-output/server");
    std::fs::create_dir_all(&shots).expect("test-output/server");
    let picture = repo_root().join("icons/32x32.png");
    let script = repo_root().join("crates/hearth-server/tests/browser/features.mjs");
    let args = [
        format!("https://{}/lobby", server.addr),
        "open sesame".into(),
        picture.display().to_string(),
        shots.display().to_string(),
    ];
    let Some(mut browser) = BrowserGuest::start(&script, &args, hearth_server::web::has_client()) else { return };
    let mut native = join_with(&server, "native", None, Some("host-token")).await;

    let refused = browser.expect_line("refused:", STEP).await;
    assert!(refused.contains("The password is wrong."), "the page says why it could not join: {refused}");
    assert_eq!(browser.next_line(STEP).await, "joined");
    assert_eq!(browser.expect_line("tabs:", STEP).await, "Join, Room, Settings", "a browser tab hosts nothing");
    let elsewhere = browser.expect_line("elsewhere:", STEP).await;
    eprintln!("a page on another origin: {elsewhere}");
    assert!(elsewhere.starts_with("closed"), "a page on another origin got the room's socket: {elsewhere}");
    assert_eq!(browser.expect_line("token:", STEP).await, "bad_password", "a guessed operator token");
    assert_eq!(browser.expect_line("kick:", STEP).await, "forbidden", "a guest kicking");
    let menu = browser.expect_line("menu:", STEP).await;
    eprintln!("the member menu: {menu}");
    assert!(menu.contains("direct message"), "the menu offers a direct message: {menu}");
    for action in ["Kick", "Ban", "Mute for everyone", "operator"] {
        assert!(!menu.contains(action), "the menu offers a guest {action}: {menu}");
    }
    // The native operator is still in the room: nothing the guest tried touched it.
    native.sync().await;

    native
        .send(ClientMsg::ChatSend {
            channel: "@guest".into(),
            client_id: "n-dm".into(),
            text: "psst <b>guest</b>".into(),
            reply_to: None,
            image: None,
        })
        .await;
    browser.send_line("dm").await;
    assert_eq!(browser.expect_line("dm:", STEP).await, "psst <b>guest</b>");
    assert_eq!(browser.next_line(STEP).await, "dm sent");
    let answer = from_guest(&mut native, "the guest's direct message").await;
    assert_eq!((answer.channel.as_str(), answer.text.as_str()), ("@guest", "psst back"));

    assert_eq!(browser.next_line(STEP).await, "picture sent");
    let posted = from_guest(&mut native, "the guest's picture").await;
    let bytes = std::fs::read(&picture).expect("the picture");
    let image = posted.image.clone().expect("the message carries the picture");
    assert_eq!(image.mime, "image/png");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&image.data).expect("base64"), bytes);
    assert_eq!(posted.text, "a picture");
    native
        .send(ClientMsg::ChatSend {
            channel: posted.channel.clone(),
            client_id: "n-pic".into(),
            text: String::new(),
            reply_to: None,
            image: Some(image),
        })
        .await;
    browser.send_line("picture").await;
    assert_eq!(browser.expect_line("picture:", STEP).await, "32x32");
    assert_eq!(browser.next_line(STEP).await, "shot");
    browser.finish(STEP).await;
    server.stop().await;
}

/// The next chat message the guest posts, as `native` receives it.
async fn from_guest(native: &mut Member, what: &str) -> hearth_wire::ChatMessage {
    native
        .expect(what, |m| match m {
            ServerMsg::Chat { message } if message.author == "guest" => Some(message.clone()),
            _ => None,
        })
        .await
}
