//! What a user types (or a link carries) to join a room, turned into a WebSocket URL.

use hearth_client::Trust;
use hearth_wire::Fingerprint;

/// The port `hearth-server` and the host toggle use unless told otherwise.
pub const DEFAULT_PORT: u16 = 7777;

/// A parsed join address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinAddress {
    /// Host name or IP (IPv6 in brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The room, if the address names one.
    pub room: Option<String>,
    /// TLS (`wss://`) and which certificates it accepts: the one the link names (`#fp=`);
    /// the web's authorities for `wss://` or `https://` without one; for an address of another
    /// computer given without a scheme (or with `hearth://`, `http://`), the certificate met
    /// the first time, then remembered with the address. `None`: plain WebSocket, for this
    /// computer or when asked for by name (`ws://`).
    pub tls: Option<Trust>,
}

impl JoinAddress {
    /// The certificate fingerprint the address names, if any.
    pub fn pin(&self) -> Option<Fingerprint> {
        match self.tls {
            Some(Trust::Pinned(pin)) => Some(pin),
            _ => None,
        }
    }

    /// The WebSocket URL to connect to.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let room = self.room.as_deref().unwrap_or("");
        format!("{scheme}://{}:{}/{room}", self.host, self.port)
    }

    /// The `hearth://` link for this address, with its pin.
    pub fn link(&self) -> String {
        let mut link = format!("hearth://{}:{}", self.host, self.port);
        if let Some(room) = &self.room {
            link.push('/');
            link.push_str(room);
        }
        if let Some(pin) = self.pin() {
            link.push_str(&format!("#fp={}", pin.hex()));
        }
        link
    }
}

/// The join link a host shows (and its QR code carries): the HTTPS address of the room, which
/// opens the web client in any browser and which the app accepts too, with the certificate's
/// fingerprint after `#` (browsers never send it to the server).
pub fn share_link(host: &str, port: u16, room: &str, pin: Fingerprint) -> String {
    format!("https://{host}:{port}/{room}#fp={}", pin.hex())
}

/// Parses `host`, `host:port`, `host:port/room`, and the same behind `ws://`, `wss://`,
/// `http://`, `https://` or `hearth://`, with an optional `#fp=<fingerprint>` pin at the end.
/// The error says what is wrong, in words for the user.
pub fn parse(input: &str) -> Result<JoinAddress, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("Enter the address of a Hearth server, like 192.168.1.20:7777.".into());
    }
    let (text, fragment) = text.split_once('#').unwrap_or((text, ""));
    let mut pin = None;
    for part in fragment.split('&').filter(|p| !p.is_empty()) {
        if let Some(value) = part.strip_prefix("fp=") {
            pin = Some(value.parse::<Fingerprint>().map_err(|_| {
                "The link's certificate fingerprint (after #fp=) is damaged; ask the host for the link again."
                    .to_string()
            })?);
        }
    }
    // What the scheme asks for: Some(true) TLS, Some(false) plain, None either.
    let (asked_tls, rest) = match text.split_once("://") {
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "ws" => (Some(false), rest),
            "hearth" | "http" => (None, rest),
            "wss" | "https" => (Some(true), rest),
            _ => return Err(format!("\"{scheme}://\" is not a Hearth address.")),
        },
        None => (None, text),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let room = path.trim_matches('/');
    if room.contains('/') || room.contains(char::is_whitespace) {
        return Err(format!("\"{room}\" is not a room name."));
    }
    let (host, port) = split_port(authority)?;
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains(['@', '?', '#']) {
        return Err(format!("\"{authority}\" is not a host name or address."));
    }
    Ok(JoinAddress {
        host: host.to_string(),
        port,
        room: (!room.is_empty()).then(|| room.to_string()),
        tls: match (pin, asked_tls) {
            // A pin always means TLS, whatever the scheme.
            (Some(pin), _) => Some(Trust::Pinned(pin)),
            (None, Some(true)) => Some(Trust::Authorities),
            (None, Some(false)) => None,
            // Plain WebSocket would carry the password and chat in clear across the LAN (and
            // the server refuses it from other computers).
            (None, None) if is_this_computer(host) => None,
            (None, None) => Some(Trust::FirstUse),
        },
    })
}

/// Whether `host` names this computer, which alone may be reached over plain WebSocket.
fn is_this_computer(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn split_port(authority: &str) -> Result<(&str, u16), String> {
    // [v6]:port, [v6], host:port, host.
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("\"{authority}\" has an unclosed [."))?;
        let _ = addr;
        let host = &authority[..addr.len() + 2];
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("\"{authority}\" is not a host and port.")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("\"{text}\" is not a port number (1 to 65535).")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_a_user_or_link_gives() {
        // `first_use`: another computer, reached over TLS trusted on first use; else plain.
        let a = |h: &str, p, r: Option<&str>, first_use: bool| JoinAddress {
            host: h.into(),
            port: p,
            room: r.map(Into::into),
            tls: first_use.then_some(Trust::FirstUse),
        };
        assert_eq!(parse("192.168.1.20"), Ok(a("192.168.1.20", 7777, None, true)));
        assert_eq!(
            parse(" host:9000/lobby "),
            Ok(a("host", 9000, Some("lobby"), true))
        );
        assert_eq!(
            parse("ws://host:9000/lobby"),
            Ok(a("host", 9000, Some("lobby"), false))
        );
        assert_eq!(
            parse("hearth://host:9000/games/"),
            Ok(a("host", 9000, Some("games"), true))
        );
        assert_eq!(parse("HEARTH://[::1]:9000"), Ok(a("[::1]", 9000, None, false)));
        assert_eq!(parse("[fe80::1]"), Ok(a("[fe80::1]", 7777, None, true)));
        // Only this computer is reached over plain WebSocket without being asked to.
        for here in ["127.0.0.1:9000/lobby", "localhost:9000/lobby", "[::1]:9000/lobby"] {
            assert!(parse(here).unwrap().url().starts_with("ws://"), "{here}");
        }
        assert_eq!(
            parse("hearth://host:9000/lobby").unwrap().url(),
            "wss://host:9000/lobby"
        );
        assert_eq!(
            parse("192.168.1.20:7777/lobby").unwrap().url(),
            "wss://192.168.1.20:7777/lobby"
        );
    }

    #[test]
    fn share_links_carry_the_pin_and_connect_over_wss() {
        let pin = Fingerprint::of_certificate(b"a certificate");
        let link = share_link("192.168.1.20", 7777, "lobby", pin);
        assert_eq!(link, format!("https://192.168.1.20:7777/lobby#fp={}", pin.hex()));
        let parsed = parse(&link).unwrap();
        assert_eq!(parsed.tls, Some(Trust::Pinned(pin)));
        assert_eq!(parsed.url(), "wss://192.168.1.20:7777/lobby");
        assert_eq!(parsed.link(), format!("hearth://192.168.1.20:7777/lobby#fp={}", pin.hex()));
        // The app's own links keep the pin through a round trip; colons are allowed too.
        for again in [parsed.link(), format!("hearth://192.168.1.20:7777/lobby#fp={pin}")] {
            let again = parse(&again).unwrap();
            assert_eq!((again.tls, again.url()), (parsed.tls, parsed.url()));
        }
        // TLS without a pin is asked for by the scheme alone.
        let plain_tls = parse("wss://chat.example:443/lobby").unwrap();
        assert_eq!((plain_tls.tls, plain_tls.url().as_str()), (Some(Trust::Authorities), "wss://chat.example:443/lobby"));
        // A pin means TLS even behind ws://.
        let pinned_ws = parse(&format!("ws://192.168.1.20:7777/lobby#fp={}", pin.hex())).unwrap();
        assert_eq!((pinned_ws.tls, pinned_ws.url().as_str()), (Some(Trust::Pinned(pin)), "wss://192.168.1.20:7777/lobby"));
        let damaged = parse("https://192.168.1.20:7777/lobby#fp=abc").unwrap_err();
        assert!(damaged.contains("damaged"), "{damaged}");
    }

    #[test]
    fn bad_addresses_are_explained() {
        for (input, words) in [
            ("", "Enter the address"),
            ("host:0", "not a port"),
            ("host:99999", "not a port"),
            ("host:abc", "not a port"),
            ("ftp://host", "not a Hearth address"),
            ("host/a/b", "not a room"),
            ("[::1", "unclosed"),
            ("user@host", "not a host"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(words), "{input:?}: {err}");
        }
    }
}
