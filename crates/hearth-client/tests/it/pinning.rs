//! Certificate pinning over a real TLS WebSocket: a server presenting the certificate the
//! join link names is reached, any other is refused with a message naming both fingerprints.

use std::time::Duration;

use hearth_client::{Client, ClientError, ClientOptions};
use hearth_server::tls::Identity;
use hearth_wire::Fingerprint;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A TLS listener presenting `identity` that completes WebSocket upgrades and reports each
/// one (then holds the socket open without speaking Hearth).
async fn tls_websocket_server(
    identity: &Identity,
) -> (u16, mpsc::UnboundedReceiver<Result<(), String>>) {
    let acceptor =
        tokio_rustls::TlsAcceptor::from(identity.server_config().expect("server config"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let report = report.clone();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => return drop(report.send(Err(format!("TLS: {e}")))),
                };
                match tokio_tungstenite::accept_async(tls).await {
                    Ok(ws) => {
                        let _ = report.send(Ok(()));
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(ws);
                    }
                    Err(e) => drop(report.send(Err(format!("WebSocket: {e}")))),
                }
            });
        }
    });
    (port, reports)
}

fn options(pin: Fingerprint) -> ClientOptions {
    let mut options = ClientOptions::new(Some("lobby".into()), "pinned");
    options.pin = Some(pin);
    options
}

#[tokio::test]
async fn the_pinned_certificate_is_reached_and_any_other_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = Identity::load_or_create(dir.path(), &["localhost".into()]).expect("identity");
    let (port, mut reports) = tls_websocket_server(&identity).await;
    let url = format!("wss://127.0.0.1:{port}/");

    // The right fingerprint: TLS and the WebSocket upgrade complete (by IP address, which a
    // CA-checked connection could not even name). The server never says hello, so the
    // client waits for it until the task is dropped.
    let right = tokio::spawn({
        let url = url.clone();
        let options = options(identity.fingerprint());
        async move { Client::connect(&url, options).await.map(drop) }
    });
    let upgrade = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the server saw a connection")
        .expect("report");
    assert_eq!(upgrade, Ok(()), "the pinned connection was upgraded");
    right.abort();

    // Another certificate's fingerprint: refused before any HTTP is sent, and the first
    // connection failing ends the client with a message that names both.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let wrong = Identity::load_or_create(other_dir.path(), &[])
        .expect("other identity")
        .fingerprint();
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        Client::connect(&url, options(wrong)),
    )
    .await
    .expect("the client gave up in time");
    let Err(ClientError::Fatal { message, .. }) = refused else {
        panic!("not refused as fatal: {:?}", refused.map(drop))
    };
    assert!(
        message.contains(&wrong.to_string())
            && message.contains(&identity.fingerprint().to_string()),
        "{message}"
    );
    let seen = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("the server saw the attempt")
        .expect("report");
    assert!(
        seen.is_err(),
        "the server saw no completed upgrade: {seen:?}"
    );
}
