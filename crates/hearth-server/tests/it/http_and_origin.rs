//! The HTTP side of the port: `/health`, and the Origin rule for browsers.

use hearth_client::{ClientError, Connection};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestServer, config, join};

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_status_and_members() {
    let server = TestServer::start(config(None)).await;
    let _a = join(&server, "alice").await;
    let _b = join(&server, "bob").await;
    let response = http_get(server.addr, "/health").await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["members"], 2);
    assert_eq!(json["rooms"], 1);
    assert!(http_get(server.addr, "/no/such/page").await.starts_with("HTTP/1.1 404"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_is_served_to_this_computer() {
    if !hearth_server::web::has_client() {
        // `cargo xtask test` builds ui/dist before the Rust tests, so CI always has it.
        assert!(std::env::var_os("CI").is_none(), "built without ui/dist under CI");
        eprintln!("SKIPPED: this build has no web client (run `npm run build` in ui/ first)");
        return;
    }
    let server = TestServer::start(config(None)).await;
    let page = http_get(server.addr, "/lobby").await;
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Type: text/html; charset=utf-8"), "{head}");
    assert!(head.contains("Content-Security-Policy: default-src 'self'; script-src 'self';"), "{head}");
    assert!(body.contains(r#"<meta name="hearth-served" content="">"#), "{body}");
    // Every script and style sheet the page names is served with its type.
    let mut assets = 0;
    for reference in body.split(['"', '\'']).filter(|s| s.starts_with("/assets/")) {
        let asset = http_get(server.addr, reference).await;
        assert!(asset.starts_with("HTTP/1.1 200 OK"), "{reference}: {}", &asset[..asset.len().min(200)]);
        let expected = if reference.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(asset.contains(&format!("Content-Type: {expected}")), "{reference}");
        assets += 1;
    }
    assert!(assets >= 2, "the page names its script and styles: {body}");
    for missing in ["/assets/nope.js", "/../Cargo.toml", "/a/b"] {
        let response = http_get(server.addr, missing).await;
        assert!(response.starts_with("HTTP/1.1 404"), "{missing}: {response}");
    }
    // A WebSocket still upgrades on the same port.
    let _alice = join(&server, "alice").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused_and_own_origins_are_allowed() {
    let mut cfg = config(None);
    cfg.allowed_origins = vec!["https://friends.example".into()];
    let server = TestServer::start(cfg).await;
    match Connection::connect(&server.url, Some("https://evil.example")).await {
        Err(ClientError::WebSocket(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
            assert_eq!(resp.status(), 403);
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("evil.example"), "{body}");
        }
        Err(e) => panic!("expected HTTP 403, got {e}"),
        Ok(_) => panic!("a foreign origin was allowed"),
    }
    for allowed in [None, Some("tauri://localhost"), Some("https://friends.example")] {
        Connection::connect(&server.url, allowed).await.unwrap_or_else(|e| panic!("{allowed:?} refused: {e}"));
    }
    let same_host = format!("http://{}", server.addr);
    Connection::connect(&server.url, Some(&same_host)).await.expect("the server's own origin is allowed");
    server.stop().await;
}

/// `GET path` over HTTPS, trusting exactly the certificate with `pin`.
async fn https_get(addr: std::net::SocketAddr, pin: hearth_wire::Fingerprint, path: &str) -> String {
    let config = hearth_client::pin::pinned_config(pin).expect("client config");
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = connector.connect(name, tcp).await.expect("TLS with the pinned certificate");
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // The server closes without a TLS close_notify only if it is broken; either way the
    // bytes read so far are the answer.
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// An address of this computer that is not loopback, if it has one (its LAN address).
fn lan_address() -> Option<std::net::IpAddr> {
    // Connecting a UDP socket sends nothing; it only asks the kernel for a route.
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.200:9").or_else(|_| probe.connect("10.255.255.254:9")).ok()?;
    Some(probe.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_share_the_port_and_plain_http_stays_on_this_computer() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(None);
    cfg.data_dir = Some(dir.path().to_owned());
    let server = TestServer::start_on("0.0.0.0:0".parse().unwrap(), cfg).await;
    let port = server.addr.port();
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let identity = hearth_server::tls::Identity::load_or_create(dir.path(), &[]).unwrap();
    let pin = identity.fingerprint();

    // Over HTTPS the health check and (with a built client) the page answer, and the page
    // names the certificate's fingerprint for the guest to compare.
    let health = https_get(local, pin, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    if hearth_server::web::has_client() {
        let page = https_get(local, pin, "/lobby").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{}", &page[..page.len().min(300)]);
        assert!(page.contains(&format!(r#"<meta name="hearth-fingerprint" content="{pin}">"#)), "{page}");
    }

    // A native client joins over WSS on the same port, and one over plain WS beside it.
    let mut options = hearth_client::ClientOptions::new(Some("lobby".into()), "secure");
    options.trust = hearth_client::Trust::Pinned(pin);
    let mut secure = hearth_client::Client::connect(&format!("wss://{local}/lobby"), options).await.expect("WSS");
    let joined = tokio::time::timeout(crate::support::WAIT, async {
        loop {
            match secure.next_event().await {
                Some(hearth_client::Event::Joined { .. }) => return true,
                Some(_) => {}
                None => return false,
            }
        }
    })
    .await;
    assert_eq!(joined, Ok(true), "joined over WSS");
    let _plain = join(&server, "plain").await;

    // A handshake that is not TLS after the 0x16 byte, and silence, cost nothing: the
    // server still answers.
    let mut junk = tokio::net::TcpStream::connect(local).await.unwrap();
    junk.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0]).await.unwrap();
    assert!(http_get(local, "/health").await.starts_with("HTTP/1.1 200 OK"));

    // From another computer (this one's LAN address), plain HTTP pages redirect to HTTPS
    // and plain WebSockets are refused.
    let Some(lan) = lan_address() else {
        eprintln!("SKIPPED the LAN half: this computer has no address besides loopback");
        server.stop().await;
        return;
    };
    let lan = std::net::SocketAddr::new(lan, port);
    let page = http_get(lan, "/lobby").await;
    assert!(page.starts_with("HTTP/1.1 308"), "{page}");
    assert!(page.contains(&format!("Location: https://{lan}/lobby\r\n")), "{page}");
    let url = format!("ws://{lan}/lobby");
    // Neither a browser's plain WebSocket nor a native client's: the password would cross
    // the LAN in clear.
    for origin in [Some(format!("http://{lan}")), None] {
        match Connection::connect(&url, origin.as_deref()).await {
            Err(ClientError::WebSocket(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                assert_eq!(resp.status(), 403);
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
                assert!(body.contains("wss://"), "{body}");
            }
            other => panic!("a plain WebSocket from the LAN ({origin:?}) was not refused: {:?}", other.map(drop)),
        }
    }
    // Over HTTPS the same address is fine.
    let page = https_get(lan, pin, "/health").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    server.stop().await;
}
