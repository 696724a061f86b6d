//! Certificate pinning against the real server over WSS: with the fingerprint the join link
//! names, the client joins the room (by IP address, which no certificate authority could
//! vouch for); with any other it is refused, with a message naming both fingerprints. Without
//! a fingerprint, the first certificate is trusted and then pinned.

use hearth_client::{Client, ClientError, ClientOptions, Event};
use hearth_server::Config;
use hearth_server::tls::Identity;

use crate::support::{TestServer, WAIT, options};

fn pinned(name: &str, pin: hearth_wire::Fingerprint) -> ClientOptions {
    let mut options = options(name);
    options.trust = hearth_client::Trust::Pinned(pin);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_certificate_is_reached_and_any_other_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { data_dir: Some(dir.path().to_owned()), ..Config::default() };
    let server = TestServer::start(config).await;
    let url = format!("wss://{}/lobby", server.addr);
    // The server made its certificate in the data directory on start; the host's screen
    // (and so the join link) shows the same file's fingerprint.
    let identity = Identity::load_or_create(dir.path(), &[]).expect("the server's identity");

    let mut right = Client::connect(&url, pinned("pinned", identity.fingerprint())).await.expect("the pinned client connects");
    let joined = tokio::time::timeout(WAIT, async {
        while let Some(event) = right.next_event().await {
            if let Event::Joined { you, .. } = event {
                return Some(you);
            }
        }
        None
    })
    .await
    .expect("joined in time");
    assert!(joined.is_some(), "the pinned client joined the room over WSS");

    // Another certificate's fingerprint: refused before any HTTP is sent, and the first
    // connection failing ends the client with a message that names both.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let wrong = Identity::load_or_create(other_dir.path(), &[]).expect("other identity").fingerprint();
    let refused = tokio::time::timeout(WAIT, Client::connect(&url, pinned("stranger", wrong)))
        .await
        .expect("the client gave up in time");
    let Err(ClientError::CertificateMismatch(mismatch)) = refused else {
        panic!("not refused for its certificate: {:?}", refused.map(drop))
    };
    assert_eq!((mismatch.presented, mismatch.expected), (identity.fingerprint(), wrong));
    let message = mismatch.to_string();
    assert!(
        message.contains(&wrong.to_string()) && message.contains(&identity.fingerprint().to_string()),
        "{message}"
    );
    drop(right);
    server.stop().await;
}

/// A bare address (no fingerprint) is trusted on first use: the client joins over WSS, says
/// which certificate it met, and pins it. When the server comes back on the same port with
/// another certificate, the client stops instead of reconnecting to a stranger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_certificate_is_trusted_and_then_pinned() {
    let first_dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(Config { data_dir: Some(first_dir.path().to_owned()), ..Config::default() }).await;
    let addr = server.addr;
    let first = Identity::load_or_create(first_dir.path(), &[]).expect("the first identity").fingerprint();

    let mut options = options("newcomer");
    options.trust = hearth_client::Trust::FirstUse;
    options.core.backoff = hearth_client::Backoff { initial_ms: 50, max_ms: 200 };
    let mut client = Client::connect(&format!("wss://{addr}/lobby"), options).await.expect("joins over WSS");
    assert_eq!(client.certificate(), Some(first), "the client tells which certificate it met");

    // The same port, another certificate: someone else answers now.
    server.stop().await;
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = TestServer::start_on(addr, Config { data_dir: Some(other_dir.path().to_owned()), ..Config::default() }).await;
    let mismatch = tokio::time::timeout(WAIT * 2, async {
        while let Some(event) = client.next_event().await {
            if let Event::Closed(hearth_client::core::CloseReason::CertificateMismatch(mismatch)) = event {
                return Some(mismatch);
            }
        }
        None
    })
    .await
    .expect("the client stopped in time")
    .expect("it stopped for the certificate");
    assert_eq!(mismatch.expected, first);
    assert_ne!(mismatch.presented, first);
    other.stop().await;
}
