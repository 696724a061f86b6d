//! The HTTP side of the port: `/health`, and the Origin rule for browsers.

use hearth_client::{ClientError, Connection};
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
