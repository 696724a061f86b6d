//! What a user types (or a link carries) to join a room, turned into a WebSocket URL.

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
}

impl JoinAddress {
    /// The WebSocket URL to connect to.
    pub fn url(&self) -> String {
        match &self.room {
            Some(room) => format!("ws://{}:{}/{}", self.host, self.port, room),
            None => format!("ws://{}:{}/", self.host, self.port),
        }
    }

    /// The `hearth://` link for this address.
    pub fn link(&self) -> String {
        match &self.room {
            Some(room) => format!("hearth://{}:{}/{}", self.host, self.port, room),
            None => format!("hearth://{}:{}", self.host, self.port),
        }
    }
}

/// Parses `host`, `host:port`, `host:port/room`, and the same behind `ws://` or `hearth://`.
/// The error says what is wrong, in words for the user.
pub fn parse(input: &str) -> Result<JoinAddress, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("Enter the address of a Hearth server, like 192.168.1.20:7777.".into());
    }
    let rest = if let Some((scheme, rest)) = text.split_once("://") {
        match scheme.to_ascii_lowercase().as_str() {
            "ws" | "hearth" => rest,
            "wss" | "https" | "http" => {
                return Err(format!(
                    "{scheme}:// addresses are not supported yet; use the host and port, like \
                     192.168.1.20:7777."
                ));
            }
            _ => return Err(format!("\"{scheme}://\" is not a Hearth address.")),
        }
    } else {
        text
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
    })
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
        let a = |h: &str, p, r: Option<&str>| JoinAddress {
            host: h.into(),
            port: p,
            room: r.map(Into::into),
        };
        assert_eq!(parse("192.168.1.20"), Ok(a("192.168.1.20", 7777, None)));
        assert_eq!(
            parse(" host:9000/lobby "),
            Ok(a("host", 9000, Some("lobby")))
        );
        assert_eq!(
            parse("ws://host:9000/lobby"),
            Ok(a("host", 9000, Some("lobby")))
        );
        assert_eq!(
            parse("hearth://host:9000/games/"),
            Ok(a("host", 9000, Some("games")))
        );
        assert_eq!(parse("HEARTH://[::1]:9000"), Ok(a("[::1]", 9000, None)));
        assert_eq!(parse("[fe80::1]"), Ok(a("[fe80::1]", 7777, None)));
        assert_eq!(
            parse("hearth://host:9000/lobby").unwrap().url(),
            "ws://host:9000/lobby"
        );
    }

    #[test]
    fn bad_addresses_are_explained() {
        for (input, words) in [
            ("", "Enter the address"),
            ("host:0", "not a port"),
            ("host:99999", "not a port"),
            ("host:abc", "not a port"),
            ("ftp://host", "not a Hearth address"),
            ("https://host", "not supported"),
            ("host/a/b", "not a room"),
            ("[::1", "unclosed"),
            ("user@host", "not a host"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(words), "{input:?}: {err}");
        }
    }
}
