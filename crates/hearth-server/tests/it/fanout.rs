//! The write path under pressure: a member that stops reading is dropped while the others
//! keep every message in order, and WebSocket pings are answered between broadcasts (the
//! writer shards and the connection tasks hand the socket back and forth for both).

use futures_util::{SinkExt, StreamExt};
use hearth_client::ClientError;
use hearth_wire::{ClientMsg, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, WAIT, chat, config, join};

fn fast_config() -> hearth_server::Config {
    let mut config = config(None);
    config.limits.rate_per_sec = 100_000;
    config.limits.rate_burst = 100_000;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_reading_is_dropped_and_keeps_what_came_before_in_order() {
    let server = TestServer::start(fast_config()).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    alice.sync().await;
    let alice_id = alice.id;
    // Alice reads nothing from here on. Bob posts large messages, a window at a time, and
    // reads his own copies, until the server gives up on Alice: her socket buffers and her
    // bounded queue fill up.
    let text = "x".repeat(3000);
    let mut sent = 0;
    let mut dropped = false;
    while !dropped {
        assert!(sent < 20_000, "alice was never dropped");
        for _ in 0..50 {
            bob.send(chat("general", &format!("c{sent}"), &text)).await;
            sent += 1;
        }
        let last = format!("c{}", sent - 1);
        loop {
            match bob.next().await {
                ServerMsg::Chat { message } if message.client_id == last => break,
                ServerMsg::MemberLeft { id, .. } if id == alice_id => dropped = true,
                _ => {}
            }
        }
    }
    // Alice still gets everything up to the point she was dropped, in order and whole, then
    // a close frame that says why.
    let mut next = 0;
    let code = loop {
        match alice.conn.recv_timeout(WAIT).await {
            Ok(ServerMsg::Chat { message }) => {
                assert_eq!(message.client_id, format!("c{next}"), "in order, nothing missing");
                assert_eq!(message.text.len(), text.len());
                next += 1;
            }
            Ok(_) => {}
            Err(ClientError::Closed(Some(frame))) => break u16::from(frame.code),
            Err(e) => panic!("expected chats and then a close frame, got {e:?}"),
        }
    };
    assert_eq!(code, 1008);
    assert!(next > 1024 && next < sent, "alice got {next} of {sent}");
    // Bob was never held up.
    bob.sync().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_are_answered_between_broadcasts() {
    let server = TestServer::start(fast_config()).await;
    let mut bob = join(&server, "bob").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url.as_str()).await.expect("connect");
    let auth = ClientMsg::Auth {
        protocol: hearth_wire::PROTOCOL_VERSION,
        room: "lobby".into(),
        name: "alice".into(),
        password: None,
        token: None,
    };
    ws.send(Message::text(hearth_wire::encode_client(&auth))).await.unwrap();
    bob.sync().await;
    // Bob's chats and Alice's pings cross; every pong and every chat must arrive intact.
    let rounds = 200;
    for i in 0..rounds {
        bob.send(chat("general", &format!("p{i}"), "hello")).await;
        ws.send(Message::Ping(format!("ping-{i}").into_bytes().into())).await.unwrap();
    }
    let (mut pongs, mut chats) = (0, 0);
    while pongs < rounds || chats < rounds {
        let frame = tokio::time::timeout(WAIT, ws.next()).await.expect("frames keep coming");
        match frame.expect("open").expect("a valid frame") {
            Message::Pong(data) => {
                assert_eq!(&data[..], format!("ping-{pongs}").as_bytes());
                pongs += 1;
            }
            Message::Text(text) => {
                if let Ok(ServerMsg::Chat { message }) = hearth_wire::decode_server(&text) {
                    assert_eq!(message.client_id, format!("p{chats}"));
                    chats += 1;
                }
            }
            _ => {}
        }
    }
    bob.sync().await;
    server.stop().await;
}
