//! The web client, served to browsers from the room's own port: the same `ui/` the desktop
//! app shows, built into `ui/dist` and embedded at compile time (`build.rs`).
//!
//! A path is served only if it is exactly one of the embedded files (or a page path, which
//! gets `index.html`), so no request can reach the file system.

use hearth_wire::Fingerprint;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// The tag that tells the UI it was served by a Hearth server and should talk to it
/// directly (`ui/src/ipc/index.ts`); an empty `content` means "the page's own origin".
const SERVED_TAG: &str = r#"<meta name="hearth-served" content="">"#;

/// What the page may load: only itself, plus the WebSocket to its own server, pasted and
/// camera images as blob/data URLs, and Svelte's inline styles. No inline or foreign script,
/// so chat text can never become code.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
    connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// One response of the web client.
pub(crate) struct Page {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: &'static str,
    /// Whether to send the content security policy (the HTML page).
    pub is_document: bool,
    /// The body.
    pub body: std::borrow::Cow<'static, [u8]>,
}

/// Whether this build carries the web client (`ui/dist` existed when it was compiled).
pub fn has_client() -> bool {
    index().is_some()
}

fn index() -> Option<&'static [u8]> {
    assets::ASSETS
        .iter()
        .find(|(path, _)| *path == "/index.html")
        .map(|(_, body)| *body)
}

/// The response for `GET target` (a request target, query and all), or `None` for 404.
/// The page carries `fingerprint`, the server certificate's, for the guest to compare with
/// the host's screen.
pub(crate) fn page(target: &str, fingerprint: Fingerprint) -> Option<Page> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if let Some((_, body)) = assets::ASSETS.iter().find(|(p, _)| *p == path && *p != "/index.html") {
        return Some(Page {
            content_type: content_type(path),
            // Vite puts a content hash in every name under /assets/, so those never change.
            cache_control: if path.starts_with("/assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
            is_document: false,
            body: std::borrow::Cow::Borrowed(body),
        });
    }
    // "/" and "/<room>": the app itself, which reads the room from its own path.
    let page_path = path == "/" || path == "/index.html" || (path.len() > 1 && !path[1..].contains(['/', '.']));
    if !page_path {
        return None;
    }
    let html = String::from_utf8_lossy(index()?);
    // The fingerprint is hex digits and colons only, so it needs no escaping.
    let tags = format!("{SERVED_TAG}\n<meta name=\"hearth-fingerprint\" content=\"{fingerprint}\">\n");
    let tagged = match html.find("</head>") {
        Some(at) => format!("{}{tags}{}", &html[..at], &html[at..]),
        None => format!("{tags}{html}"),
    };
    Some(Page {
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
        is_document: true,
        body: std::borrow::Cow::Owned(tagged.into_bytes()),
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_embedded_files_and_page_paths_are_served() {
        let fingerprint = Fingerprint::of_certificate(b"a certificate");
        for bad in [
            "/../Cargo.toml",
            "/assets/../../secret",
            "/a/b",
            "/x.txt",
            "//etc/passwd",
            "",
        ] {
            assert!(page(bad, fingerprint).is_none(), "{bad} was served");
        }
        if !has_client() {
            assert!(page("/", fingerprint).is_none(), "no page without a built client");
            return;
        }
        let home = page("/?join=1", fingerprint).expect("the page");
        let html = String::from_utf8_lossy(&home.body).into_owned();
        assert_eq!(html.matches(SERVED_TAG).count(), 1, "{html}");
        assert!(html.contains(&format!(r#"<meta name="hearth-fingerprint" content="{fingerprint}">"#)), "{html}");
        assert!(home.is_document);
        let room = page("/lan-party", fingerprint).expect("a room path gets the page too");
        assert_eq!(room.body, home.body);
        let (asset, _) = assets::ASSETS
            .iter()
            .find(|(p, _)| p.ends_with(".js"))
            .expect("a script");
        let script = page(asset, fingerprint).expect("the script");
        assert_eq!(script.content_type, "text/javascript; charset=utf-8");
        assert!(script.cache_control.contains("immutable"));
    }
}
