//! The pure core: what a host puts in its DNS-SD records and what a browser makes of them.
//!
//! No sockets, no threads and no mdns-sd types here, so every rule of `docs/protocol.md`
//! ("LAN discovery") is tested in isolation. Decoding takes whatever a stranger on the LAN
//! sent: it never panics, and refuses a record with a typed [`DecodeError`] instead.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The DNS-SD service type of a Hearth room.
pub const SERVICE_TYPE: &str = "_hearth._tcp.local.";

/// The version of the TXT record's layout this crate writes and reads (`txtvers`). Keys may
/// be added without changing it; a browser ignores keys it does not know.
pub const TXT_VERSION: u32 = 1;

/// The Hearth protocol version this build speaks (`proto`); a room that speaks another one
/// cannot be joined, so it is not listed.
pub const PROTOCOL_VERSION: u32 = 1;

/// An instance name is one DNS label, at most 63 bytes; the room's part leaves room for the
/// unique suffix.
const INSTANCE_ROOM_BYTES: usize = 50;

/// One TXT string is a length byte and then `key=value`, so at most 255 bytes.
const TXT_STRING_BYTES: usize = 255;

/// The longest value quoted back in a [`DecodeError`]; the rest is a stranger's noise.
const QUOTE_CHARS: usize = 32;

/// A room as its host advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAd {
    /// The room's name, shown in the list.
    pub name: String,
    /// The room path to join (`host:port/<room>`); `None` joins the server's default room.
    pub room: Option<String>,
    /// Members in the room now.
    pub members: u32,
    /// Joining needs the password.
    pub needs_password: bool,
    /// The SHA-256 fingerprint of the server's TLS certificate: a client that found the
    /// room here connects with TLS and accepts only this certificate, as with a join link.
    pub fingerprint: Option<[u8; 32]>,
}

/// Why a room cannot be advertised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A listed room needs a name.
    #[error("the room's name is empty")]
    EmptyName,
    /// `key=value` would not fit in one TXT string (255 bytes).
    #[error("the TXT entry `{0}` is longer than 255 bytes")]
    TooLong(&'static str),
}

/// Why a TXT record is not a Hearth room this build can list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A required key is absent (or present without `=value`).
    #[error("the TXT key `{0}` is missing")]
    Missing(&'static str),
    /// A value is not UTF-8.
    #[error("the TXT value of `{0}` is not UTF-8")]
    NotUtf8(&'static str),
    /// A value does not have the form its key needs.
    #[error("the TXT value of `{key}` is not valid: {value:?}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The start of what was sent.
        value: String,
    },
    /// The record's layout is a version this build does not read.
    #[error("TXT record version {0} is not supported")]
    UnsupportedTxtVersion(u32),
    /// The room speaks a protocol version this build does not.
    #[error("protocol version {0} is not supported")]
    UnsupportedProtocol(u32),
}

/// The TXT entries advertising `ad`, in a stable order.
pub fn encode(ad: &RoomAd) -> Result<Vec<(&'static str, String)>, EncodeError> {
    if ad.name.is_empty() {
        return Err(EncodeError::EmptyName);
    }
    let mut entries = vec![
        ("txtvers", TXT_VERSION.to_string()),
        ("proto", PROTOCOL_VERSION.to_string()),
        ("name", ad.name.clone()),
        ("members", ad.members.to_string()),
        ("pw", if ad.needs_password { "1" } else { "0" }.to_string()),
    ];
    if let Some(room) = &ad.room {
        entries.push(("room", room.clone()));
    }
    if let Some(fingerprint) = &ad.fingerprint {
        entries.push(("fp", fingerprint.iter().map(|b| format!("{b:02x}")).collect()));
    }
    for (key, value) in &entries {
        if key.len() + 1 + value.len() > TXT_STRING_BYTES {
            return Err(EncodeError::TooLong(key));
        }
    }
    Ok(entries)
}

/// Reads a room from TXT entries as `(key, value)`, where a key sent without `=` has no
/// value. Keys are matched without regard to case and only the first of a repeated key
/// counts (RFC 6763, 6.4); unknown keys are ignored.
pub fn decode<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Result<RoomAd, DecodeError> {
    let mut first: BTreeMap<String, Option<&[u8]>> = BTreeMap::new();
    for (key, value) in entries {
        first.entry(key.to_ascii_lowercase()).or_insert(value);
    }
    let text = |key: &'static str| -> Result<Option<&str>, DecodeError> {
        match first.get(key) {
            None | Some(None) => Ok(None),
            Some(Some(bytes)) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| DecodeError::NotUtf8(key)),
        }
    };
    let required = |key: &'static str| text(key)?.ok_or(DecodeError::Missing(key));

    // An absent txtvers is version 1: the key is optional in DNS-SD practice.
    if let Some(version) = text("txtvers")? {
        let version = number("txtvers", version)?;
        if version != TXT_VERSION {
            return Err(DecodeError::UnsupportedTxtVersion(version));
        }
    }
    let protocol = number("proto", required("proto")?)?;
    if protocol != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedProtocol(protocol));
    }
    let name = required("name")?;
    if name.is_empty() {
        return Err(invalid("name", name));
    }
    let members = number("members", required("members")?)?;
    let needs_password = match required("pw")? {
        "0" => false,
        "1" => true,
        other => return Err(invalid("pw", other)),
    };
    let room = match text("room")? {
        None => None,
        Some("") => return Err(invalid("room", "")),
        Some(room) => Some(room.to_string()),
    };
    let fingerprint = text("fp")?.map(|fp| hex32(fp).ok_or_else(|| invalid("fp", fp))).transpose()?;
    Ok(RoomAd {
        name: name.to_string(),
        room,
        members,
        needs_password,
        fingerprint,
    })
}

/// 64 hex digits (either case) as 32 bytes.
fn hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    // from_str_radix alone would also take a sign ("+f").
    if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(bytes)
}

/// A decimal `u32` with digits only: `+1`, ` 1` and `01x` are refused, so every host writes
/// a number one way.
fn number(key: &'static str, value: &str) -> Result<u32, DecodeError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(key, value));
    }
    value.parse().map_err(|_| invalid(key, value))
}

fn invalid(key: &'static str, value: &str) -> DecodeError {
    DecodeError::Invalid {
        key,
        value: value.chars().take(QUOTE_CHARS).collect(),
    }
}

/// The DNS-SD instance name for a room: its name with only letters, digits, spaces, `-` and
/// `_` kept (anything else becomes `-`, so no dot or backslash needs escaping), cut to 50
/// bytes, then `-` and `unique` in hex. Two hosts may host rooms of the same name; the
/// suffix keeps their instance names apart without mDNS renaming either.
pub fn instance_name(room_name: &str, unique: u32) -> String {
    let mut safe = String::new();
    for c in room_name.trim().chars() {
        let c = if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_') {
            c
        } else {
            '-'
        };
        if safe.len() + c.len_utf8() > INSTANCE_ROOM_BYTES {
            break;
        }
        safe.push(c);
    }
    let safe = safe.trim();
    let safe = if safe.is_empty() { "room" } else { safe };
    format!("{safe}-{unique:08x}")
}

/// The address to join a room at among those it was seen on: IPv4 before IPv6 (the
/// embedded server listens on IPv4 only), routable before link-local, then the lowest, so
/// the choice does not flicker as announcements arrive in another order.
pub fn best_address(addresses: impl IntoIterator<Item = IpAddr>) -> Option<IpAddr> {
    addresses.into_iter().min_by_key(|ip| {
        let rank = match ip {
            IpAddr::V4(v4) if !v4.is_link_local() => 0,
            IpAddr::V4(_) => 1,
            IpAddr::V6(v6) if !v6.is_unicast_link_local() => 2,
            IpAddr::V6(_) => 3,
        };
        (rank, *ip)
    })
}

/// A room found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanRoom {
    /// The DNS-SD instance's full name (`<instance>._hearth._tcp.local.`): one per
    /// advertised room, however many addresses it was seen on.
    pub service: String,
    /// What the TXT record says.
    pub ad: RoomAd,
    /// Where to connect ([`best_address`] of those seen).
    pub address: IpAddr,
    /// The server's TCP port.
    pub port: u16,
}

/// Rooms found so far, keyed by service name. The browser feeds it mdns-sd's events; it
/// decides what the list is.
#[derive(Debug, Default)]
pub struct Rooms {
    found: BTreeMap<String, Found>,
}

#[derive(Debug)]
struct Found {
    service: String,
    ad: RoomAd,
    port: u16,
    addresses: Vec<IpAddr>,
}

impl Rooms {
    /// A service was resolved (again): adds or updates it, or forgets it when its record is
    /// not a room this build can list. Addresses from earlier resolutions are kept unless
    /// the port changed, so a room seen on IPv4 and then on IPv6 keeps its IPv4 address.
    /// Returns whether the list changed.
    pub fn resolved<'a>(
        &mut self,
        service: &str,
        addresses: impl IntoIterator<Item = IpAddr>,
        port: u16,
        txt: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
    ) -> Result<bool, DecodeError> {
        // DNS names compare without regard to case; removals may come spelled otherwise.
        let key = service.to_ascii_lowercase();
        let ad = match decode(txt) {
            Ok(ad) => ad,
            Err(e) => {
                self.found.remove(&key);
                return Err(e);
            }
        };
        let before = self.list();
        let entry = self.found.entry(key).or_insert_with(|| Found {
            service: service.to_string(),
            ad: ad.clone(),
            port,
            addresses: Vec::new(),
        });
        if entry.port != port {
            entry.addresses.clear();
        }
        entry.ad = ad;
        entry.port = port;
        for address in addresses {
            if !entry.addresses.contains(&address) {
                entry.addresses.push(address);
            }
        }
        Ok(self.list() != before)
    }

    /// A service said goodbye or expired. Returns whether the list changed.
    pub fn removed(&mut self, service: &str) -> bool {
        self.found.remove(&service.to_ascii_lowercase()).is_some()
    }

    /// The rooms with an address, by name, then by service name.
    pub fn list(&self) -> Vec<LanRoom> {
        let mut rooms: Vec<LanRoom> = self
            .found
            .values()
            .filter_map(|f| {
                Some(LanRoom {
                    service: f.service.clone(),
                    ad: f.ad.clone(),
                    address: best_address(f.addresses.iter().copied())?,
                    port: f.port,
                })
            })
            .collect();
        rooms.sort_by(|a, b| (&a.ad.name, &a.service).cmp(&(&b.ad.name, &b.service)));
        rooms
    }
}

#[cfg(test)]
mod tests;
