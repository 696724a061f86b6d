//! Just enough of a W3C WebDriver client to drive the app through `tauri-driver`.
//!
//! WebDriver is JSON over HTTP/1.1, and the test needs a dozen endpoints, so a blocking
//! client over `TcpStream` is simpler than pulling an async HTTP stack into the app's tests.
//! Every request uses its own connection (`Connection: close`), which keeps reading the
//! answer trivial: everything until the peer closes.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver puts element references under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session: one app window.
pub struct Session {
    port: u16,
    id: String,
}

/// A reference to an element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

/// Sends one request and returns the `value` of the answer, or the WebDriver error.
///
/// tauri-driver now and then closes a connection without answering (its proxy to
/// WebKitWebDriver lost a pooled connection; the request never reached the browser), so
/// such a request is sent again, up to three times.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut tries = 0;
    loop {
        match send(port, method, path, body) {
            Err(e) if e.contains("no HTTP answer") && tries < 3 && path != "/session" => {
                tries += 1;
                eprintln!("{method} {path}: no answer from tauri-driver, sending it again");
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn send(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    // Starting the app (a new session) can take a while on a busy machine; nothing else does.
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: no HTTP answer: {answer:?}"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let json: Value =
        serde_json::from_str(&body).map_err(|e| format!("{method} {path}: {e} in {body:?}"))?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{method} {path}: {error}: {message}"));
    }
    Ok(value)
}

/// Joins the chunks of a chunked HTTP body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

impl Session {
    /// Starts the app at `application` through the driver listening on `port`.
    pub fn start(port: u16, application: &str) -> Result<Session, String> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": application}
        }}});
        // tauri-driver listens before the WebKitWebDriver behind it does, and closes the
        // connection without an answer until then.
        let mut tries = 0;
        let value = loop {
            match request(port, "POST", "/session", Some(&caps)) {
                Err(e) if e.contains("no HTTP answer") && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => break other?,
            }
        };
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {value}"))?
            .to_string();
        Ok(Session { port, id })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        request(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body.as_ref(),
        )
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element, String> {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        found[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
            .ok_or_else(|| format!("no element reference in {found}"))
    }

    /// Waits until an element matching `css` exists.
    pub fn wait_for(&self, css: &str) -> Result<Element, String> {
        self.wait(&format!("an element {css}"), || self.find(css).ok())
    }

    /// Polls `check` every 100 ms until it gives a value, for up to 20 s.
    pub fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> Result<T, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = check() {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out after 20 s waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks, with the mouse, the middle of the element that the JavaScript expression
    /// `element` evaluates to, after scrolling it into view.
    ///
    /// This goes through WebDriver's actions (a mouse move, press and release at a point)
    /// rather than its element click, which makes WebKitGTK 2.50's automation crash the app
    /// under Xvfb.
    pub fn click_at(&self, element: &str) -> Result<(), String> {
        let centre = self.script(&format!(
            "const e = ({element}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
        ))?;
        let (Some(x), Some(y)) = (centre[0].as_f64(), centre[1].as_f64()) else {
            return Err(format!("no element {element} to click"));
        };
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{
                "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "x": x.round() as i64, "y": y.round() as i64, "origin": "viewport"},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                ],
            }]})),
        )
        .map(drop)
    }

    /// Presses and releases one key (a character or a WebDriver key code such as
    /// `\u{E039}` for F9) on whatever has focus.
    pub fn key(&self, key: &str) -> Result<(), String> {
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{
                "type": "key", "id": "keyboard",
                "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
            }]})),
        )
        .map(drop)
    }

    /// Empties an input.
    pub fn clear(&self, element: &Element) -> Result<(), String> {
        self.call(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .map(drop)
    }

    /// Types `text` into an element; `\u{E007}` is Enter.
    pub fn type_text(&self, element: &Element, text: &str) -> Result<(), String> {
        self.call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .map(drop)
    }

    /// Runs JavaScript in the page (its `return` value comes back).
    pub fn script(&self, script: &str) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Ends the session, which closes the app.
    pub fn end(self) -> Result<(), String> {
        request(self.port, "DELETE", &format!("/session/{}", self.id), None).map(drop)
    }
}
