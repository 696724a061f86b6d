//! The HTTP side of the one port: plain requests (`/health`) and the Origin rule for
//! WebSocket upgrades.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest request head we look at before deciding what a connection is.
const MAX_HEAD: usize = 8 * 1024;

/// What the first bytes of a connection asked for.
pub(crate) enum Request {
    /// A WebSocket upgrade; hand the untouched stream to tungstenite.
    Upgrade,
    /// A plain HTTP GET of this path, with the `Host` header if there was one.
    Plain { path: String, host: Option<String> },
    /// Not something we serve.
    Bad,
}

/// Peeks (without consuming) at the request head to tell a WebSocket upgrade from a plain
/// HTTP request. Gives up after `deadline` so that silent sockets cannot pile up.
pub(crate) async fn classify(stream: &TcpStream, deadline: Duration) -> Request {
    let mut buf = vec![0u8; MAX_HEAD];
    let peeked = tokio::time::timeout(deadline, async {
        loop {
            let n = stream.peek(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if let Some(end) = find(&buf[..n], b"\r\n\r\n") {
                return Some(end);
            }
            if n == buf.len() {
                return None;
            }
            // The head is not complete yet; wait for more bytes to arrive.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let Ok(Some(end)) = peeked else { return Request::Bad };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let (mut upgrade, mut host) = (false, None);
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("upgrade") && value.eq_ignore_ascii_case("websocket") {
            upgrade = true;
        } else if name.eq_ignore_ascii_case("host") {
            host = Some(value.to_owned());
        }
    }
    match (method, upgrade) {
        ("GET", true) => Request::Upgrade,
        ("GET", false) => Request::Plain { path: path.to_owned(), host },
        _ => Request::Bad,
    }
}

/// Whether a `Host` header is a plain host name or address with an optional port, and so
/// safe to echo into a redirect (no spaces, no line breaks, no path or user part).
pub(crate) fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Writes a complete HTTP/1.1 response and closes the write side.
pub(crate) async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    respond_with(stream, status, &[("Content-Type", content_type), ("Cache-Control", "no-store")], body.as_bytes())
        .await;
}

/// Writes a complete HTTP/1.1 response with these headers (besides length, `nosniff`,
/// no referrer and `Connection: close`) and closes the write side.
pub(crate) async fn respond_with(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n",
        body.len()
    ));
    // The request head was only peeked. Closing a socket with unread bytes makes the kernel
    // reset the connection, which destroys whatever of the response is still in flight.
    let mut sink = [0u8; 4096];
    while let Ok(read) = stream.try_read(&mut sink) {
        if read == 0 {
            break;
        }
    }
    // The client may already be gone; there is nobody to report a failed write to.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
    // Likewise for anything it sends meanwhile: wait (briefly) for it to close its side.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
    })
    .await;
}

/// The app's own webview origins on every platform Tauri supports.
const APP_ORIGINS: &[&str] = &["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

/// Whether a WebSocket upgrade with this `Origin` (and `Host`) may proceed.
///
/// Native clients send no Origin and are allowed. Browsers always send one; a page may only
/// open a socket if it is the app itself, served by this server (same host), or listed by
/// the host. This stops any web page the user visits from driving a locally hosted room
/// (cross-site WebSocket hijacking).
pub(crate) fn origin_allowed(origin: Option<&str>, host: Option<&str>, extra: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim().trim_end_matches('/');
    if APP_ORIGINS.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        return true;
    }
    if extra.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(host) = host else { return false };
    let same_host = |scheme: &str| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host.trim()))
    };
    same_host("http://") || same_host("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_hosts_are_echoed() {
        for good in ["192.168.1.20:7777", "[fd00::2]:7777", "lan-box.local", "localhost"] {
            assert!(is_host(good), "{good}");
        }
        for bad in ["", "evil.example/x", "a b", "a\r\nSet-Cookie: x", "user@host", &"a".repeat(256)] {
            assert!(!is_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        let extra = vec!["https://friends.example".to_string()];
        assert!(origin_allowed(None, Some("10.0.0.5:7777"), &[]));
        assert!(origin_allowed(Some("tauri://localhost"), Some("127.0.0.1:1"), &[]));
        assert!(origin_allowed(Some("http://10.0.0.5:7777"), Some("10.0.0.5:7777"), &[]));
        assert!(origin_allowed(Some("https://friends.example/"), None, &extra));
        assert!(!origin_allowed(Some("https://evil.example"), Some("127.0.0.1:7777"), &extra));
        assert!(!origin_allowed(Some("http://127.0.0.1:7778"), Some("127.0.0.1:7777"), &[]));
        assert!(!origin_allowed(Some("null"), Some("127.0.0.1:7777"), &[]));
        assert!(!origin_allowed(Some("http://127.0.0.1:7777.evil"), Some("127.0.0.1:7777"), &[]));
    }
}
