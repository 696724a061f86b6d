//! History survives a restart of the server on the same data directory.

use hearth_wire::{ClientMsg, ServerMsg};

use crate::support::{TestServer, chat, join};

/// History in `dir`, with a rate limit high enough for a scripted burst of 60 messages.
fn config(dir: &std::path::Path) -> hearth_server::Config {
    let mut c = crate::support::config(Some(dir.to_owned()));
    c.limits.rate_per_sec = 1000;
    c.limits.rate_burst = 1000;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_edits_and_reactions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let mut alice = join(&server, "alice").await;
    let mut bob = join(&server, "bob").await;
    let mut ids = Vec::new();
    for i in 0..60 {
        alice.send(chat("general", &format!("m{i}"), &format!("message {i}"))).await;
        // Only what was acknowledged counts; wait for each ack.
        ids.push(alice.expect("ack", |e| match e {
            ServerMsg::Chat { message } if message.client_id == format!("m{i}") => Some(message.id),
            _ => None,
        }).await);
    }
    alice.send(ClientMsg::ChatEdit { id: ids[59], text: "edited".into() }).await;
    bob.send(ClientMsg::ReactAdd { id: ids[59], emoji: "✅".into() }).await;
    bob.send(chat("@alice", "dm", "private")).await;
    bob.expect("dm ack", |e| matches!(e, ServerMsg::Chat { message } if message.client_id == "dm").then_some(())).await;
    alice.expect("reaction", |e| matches!(e, ServerMsg::ChatUpdated { message } if !message.reactions.is_empty()).then_some(())).await;
    drop((alice, bob));
    server.stop().await;

    let server = TestServer::start(config(dir.path())).await;
    // A late joiner gets the newest 50 at once and can page back to the rest.
    let (mut carol, _) = hearth_client::Connection::join(&server.url, "lobby", "carol", None, None).await.unwrap();
    let (first_page, has_more) = carol.wait_for(crate::support::WAIT, |e| match e {
        ServerMsg::History { messages, has_more, .. } => Some((messages.clone(), *has_more)),
        _ => None,
    }).await.unwrap();
    assert_eq!(first_page.len(), 50);
    assert!(has_more);
    assert_eq!(first_page[0].text, "edited");
    assert_eq!(first_page[0].reactions[0].names, vec!["bob".to_string()]);
    carol.send(&ClientMsg::HistoryGet { channel: "general".into(), before: first_page.last().map(|m| m.id), limit: Some(100) }).await.unwrap();
    let rest = carol.wait_for(crate::support::WAIT, |e| match e {
        ServerMsg::History { messages, .. } => Some(messages.clone()),
        _ => None,
    }).await.unwrap();
    let mut all: Vec<u64> = first_page.iter().chain(rest.iter()).map(|m| m.id).collect();
    all.reverse();
    assert_eq!(all, ids, "every acknowledged message, once, in order");

    // The direct message survived too, for its two parties only.
    let mut alice = join(&server, "alice").await;
    alice.send(ClientMsg::HistoryGet { channel: "@bob".into(), before: None, limit: None }).await;
    let dm = alice.expect("dm history", |e| match e {
        ServerMsg::History { messages, .. } => Some(messages.clone()),
        _ => None,
    }).await;
    assert_eq!(dm.iter().map(|m| (m.channel.as_str(), m.text.as_str())).collect::<Vec<_>>(), vec![("@bob", "private")]);

    // A resend of an old client id after the restart is still deduplicated.
    alice.send(chat("general", "m3", "message 3")).await;
    let again = alice.expect("re-ack", |e| match e { ServerMsg::Chat { message } => Some(message.id), _ => None }).await;
    assert_eq!(again, ids[3]);
    server.stop().await;
}
