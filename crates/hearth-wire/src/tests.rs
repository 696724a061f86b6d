//! Tests of the wire format.
//!
//! Four kinds of evidence that the JSON shape is right and stays right:
//! - golden fixtures (`tests/fixtures/{client,server}/<type>.json`), one per message type, each
//!   decoded and re-encoded to exactly the same JSON, so that any change to the shape on the
//!   wire shows up as a failing fixture rather than as a confused peer;
//! - property tests: every generated message survives a round trip, and no input, however
//!   broken, makes decoding panic or return an error that breaks the `DecodeError` contract;
//! - targeted tests of how bad frames are classified (`malformed`, `unknown_type`, `invalid`);
//! - checks that `docs/protocol.md` lists exactly the messages, fields and codes of this crate,
//!   and that every JSON example in it decodes, so the prose spec cannot drift from the types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use proptest::{collection::vec, option};
use serde_json::{Map, Value};

use super::*;

// ----- inventories -----


/// The declaration index of a client message's variant.
///
/// The match has no wildcard on purpose: a new variant does not compile until it is listed
/// here, and from then on the coverage tests demand a fixture, a strategy arm and a section in
/// docs/protocol.md for it.
fn client_ordinal(m: &ClientMsg) -> usize {
    match m {
        ClientMsg::Auth { .. } => 0,
        ClientMsg::Ping { .. } => 1,
        ClientMsg::Pong { .. } => 2,
        ClientMsg::SetPresence { .. } => 3,
        ClientMsg::ChatSend { .. } => 4,
        ClientMsg::ChatEdit { .. } => 5,
        ClientMsg::ChatDelete { .. } => 6,
        ClientMsg::ReactAdd { .. } => 7,
        ClientMsg::ReactRemove { .. } => 8,
        ClientMsg::Typing { .. } => 9,
        ClientMsg::HistoryGet { .. } => 10,
        ClientMsg::VoiceJoin { .. } => 11,
        ClientMsg::VoiceLeave {} => 12,
        ClientMsg::VoiceState { .. } => 13,
        ClientMsg::Speaking { .. } => 14,
        ClientMsg::Camera { .. } => 15,
        ClientMsg::CameraOpen { .. } => 16,
        ClientMsg::CameraClose { .. } => 17,
        ClientMsg::CameraBoot { .. } => 18,
        ClientMsg::Block { .. } => 19,
        ClientMsg::Unblock { .. } => 20,
        ClientMsg::Signal { .. } => 21,
        ClientMsg::IceServersGet {} => 22,
        ClientMsg::Kick { .. } => 23,
        ClientMsg::Ban { .. } => 24,
        ClientMsg::Unban { .. } => 25,
        ClientMsg::Lock { .. } => 26,
        ClientMsg::ServerMute { .. } => 27,
        ClientMsg::OpGrant { .. } => 28,
        ClientMsg::OpRevoke { .. } => 29,
    }
}

/// The declaration index of a server message's variant; `None` for `Unknown`, which has no
/// tag of its own. Exhaustive for the same reason as [`client_ordinal`].
fn server_ordinal(m: &ServerMsg) -> Option<usize> {
    Some(match m {
        ServerMsg::Hello { .. } => 0,
        ServerMsg::Welcome { .. } => 1,
        ServerMsg::Ping { .. } => 2,
        ServerMsg::Pong { .. } => 3,
        ServerMsg::MemberJoined { .. } => 4,
        ServerMsg::MemberUpdated { .. } => 5,
        ServerMsg::MemberLeft { .. } => 6,
        ServerMsg::RoomUpdated { .. } => 7,
        ServerMsg::Chat { .. } => 8,
        ServerMsg::ChatUpdated { .. } => 9,
        ServerMsg::Typing { .. } => 10,
        ServerMsg::History { .. } => 11,
        ServerMsg::Speaking { .. } => 12,
        ServerMsg::CameraRing { .. } => 13,
        ServerMsg::CameraOpened { .. } => 14,
        ServerMsg::CameraClosed { .. } => 15,
        ServerMsg::Watchers { .. } => 16,
        ServerMsg::Signal { .. } => 17,
        ServerMsg::IceServers { .. } => 18,
        ServerMsg::Error { .. } => 19,
        ServerMsg::RateLimit { .. } => 20,
        ServerMsg::Disconnect { .. } => 21,
        ServerMsg::Shutdown { .. } => 22,
        ServerMsg::Unknown => return None,
    })
}

/// Every error code. [`code_ordinal`] proves the list complete.
const ALL_CODES: [ErrorCode; 24] = [
    ErrorCode::Malformed,
    ErrorCode::UnknownType,
    ErrorCode::Invalid,
    ErrorCode::TooLarge,
    ErrorCode::UnsupportedVersion,
    ErrorCode::NotAuthenticated,
    ErrorCode::AlreadyAuthenticated,
    ErrorCode::BadPassword,
    ErrorCode::Banned,
    ErrorCode::RoomLocked,
    ErrorCode::RoomNotFound,
    ErrorCode::NameTaken,
    ErrorCode::InvalidName,
    ErrorCode::ServerFull,
    ErrorCode::NotFound,
    ErrorCode::Forbidden,
    ErrorCode::NotInVoice,
    ErrorCode::CameraOff,
    ErrorCode::BadImage,
    ErrorCode::Flood,
    ErrorCode::Kicked,
    ErrorCode::HeartbeatTimeout,
    ErrorCode::Shutdown,
    ErrorCode::Internal,
];

/// Exhaustive, so that a new code fails to compile here until `ALL_CODES` and the docs'
/// error table are extended.
fn code_ordinal(c: ErrorCode) -> usize {
    match c {
        ErrorCode::Malformed => 0,
        ErrorCode::UnknownType => 1,
        ErrorCode::Invalid => 2,
        ErrorCode::TooLarge => 3,
        ErrorCode::UnsupportedVersion => 4,
        ErrorCode::NotAuthenticated => 5,
        ErrorCode::AlreadyAuthenticated => 6,
        ErrorCode::BadPassword => 7,
        ErrorCode::Banned => 8,
        ErrorCode::RoomLocked => 9,
        ErrorCode::RoomNotFound => 10,
        ErrorCode::NameTaken => 11,
        ErrorCode::InvalidName => 12,
        ErrorCode::ServerFull => 13,
        ErrorCode::NotFound => 14,
        ErrorCode::Forbidden => 15,
        ErrorCode::NotInVoice => 16,
        ErrorCode::CameraOff => 17,
        ErrorCode::BadImage => 18,
        ErrorCode::Flood => 19,
        ErrorCode::Kicked => 20,
        ErrorCode::HeartbeatTimeout => 21,
        ErrorCode::Shutdown => 22,
        ErrorCode::Internal => 23,
    }
}

/// Top-level fields a decoder accepts absent, per client message type. Every other field of
/// a fixture is required. The docs' "Required" column is checked against this list too.
const CLIENT_OPTIONAL: &[(&str, &str)] = &[
    ("auth", "password"),
    ("auth", "token"),
    ("ping", "nonce"),
    ("pong", "nonce"),
    ("set_presence", "status_text"),
    ("chat_send", "reply_to"),
    ("chat_send", "image"),
    ("history_get", "before"),
    ("history_get", "limit"),
    ("kick", "reason"),
    ("ban", "reason"),
    ("signal", "camera"),
];

/// The same for server messages.
const SERVER_OPTIONAL: &[(&str, &str)] = &[
    ("ping", "nonce"),
    ("pong", "nonce"),
    ("error", "src"),
    ("error", "client_id"),
    ("rate_limit", "src"),
    ("signal", "camera"),
];

/// Where each data type appears in a server fixture, and which of its fields a decoder
/// accepts absent. The fixture object at the pointer holds every field of the type.
const DATA_TYPES: &[(&str, &str, &str, &[&str])] = &[
    ("ServerInfo", "hello", "/server", &[]),
    ("RoomSummary", "hello", "/rooms/0", &[]),
    ("Limits", "hello", "/limits", &[]),
    ("RoomInfo", "welcome", "/room", &[]),
    ("Channel", "welcome", "/room/channels/0", &["topic"]),
    (
        "Member",
        "member_updated",
        "/member",
        &["status_text", "voice_channel"],
    ),
    (
        "IceServer",
        "welcome",
        "/ice_servers/1",
        &["username", "credential"],
    ),
    (
        "ChatMessage",
        "chat_updated",
        "/message",
        &["reply_to", "image", "edited_ts", "deleted", "reactions"],
    ),
    ("Image", "chat_updated", "/message/image", &[]),
    ("Reaction", "chat_updated", "/message/reactions/0", &[]),
];

fn is_optional(table: &[(&str, &str)], ty: &str, field: &str) -> bool {
    table.iter().any(|&(t, f)| t == ty && f == field)
}

// ----- fixtures -----

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `<type>.json` in a fixture directory, as (type, text), sorted by type.
fn fixtures(dir: &str) -> Vec<(String, String)> {
    let path: PathBuf = crate_dir().join("tests/fixtures").join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let file = entry.unwrap().path();
        // Anything but a .json file here is a mistake that would silently go untested.
        assert_eq!(
            file.extension().and_then(|e| e.to_str()),
            Some("json"),
            "{}",
            file.display()
        );
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        out.push((stem, text));
    }
    out.sort();
    out
}

fn fixture(dir: &str, ty: &str) -> Value {
    let (_, text) = fixtures(dir)
        .into_iter()
        .find(|(t, _)| t == ty)
        .expect("fixture exists");
    serde_json::from_str(&text).unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn client_fixtures_round_trip_exactly() {
    let mut seen = BTreeSet::new();
    for (ty, text) in fixtures("client") {
        let msg = decode_client(&text).unwrap_or_else(|e| panic!("{ty}.json: {e}"));
        assert_eq!(msg.type_name(), ty, "{ty}.json decodes to another type");
        // The list is documented as being in declaration order; this pins that down.
        assert_eq!(CLIENT_MSG_TYPES[client_ordinal(&msg)], ty);
        let encoded = encode_client(&msg);
        // Comparing JSON values, not strings: key order and whitespace are not part of the
        // format, but every key and value is.
        assert_eq!(
            json(&encoded),
            json(&text),
            "{ty}.json does not re-encode to itself"
        );
        assert_eq!(
            json(&encoded)["type"],
            ty,
            "type_name() differs from the serde tag"
        );
        assert_eq!(decode_client(&encoded), Ok(msg));
        seen.insert(ty);
    }
    let expected: BTreeSet<String> = CLIENT_MSG_TYPES.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, expected, "fixtures and CLIENT_MSG_TYPES disagree");
    assert_eq!(
        CLIENT_MSG_TYPES.len(),
        expected.len(),
        "CLIENT_MSG_TYPES has duplicates"
    );
}

#[test]
fn server_fixtures_round_trip_exactly() {
    let mut seen = BTreeSet::new();
    for (ty, text) in fixtures("server") {
        let msg = decode_server(&text).unwrap_or_else(|e| panic!("{ty}.json: {e}"));
        assert_eq!(msg.type_name(), ty, "{ty}.json decodes to another type");
        let ordinal = server_ordinal(&msg).expect("a fixture must not decode to Unknown");
        assert_eq!(SERVER_MSG_TYPES[ordinal], ty);
        let encoded = encode_server(&msg);
        assert_eq!(
            json(&encoded),
            json(&text),
            "{ty}.json does not re-encode to itself"
        );
        assert_eq!(
            json(&encoded)["type"],
            ty,
            "type_name() differs from the serde tag"
        );
        assert_eq!(decode_server(&encoded), Ok(msg));
        seen.insert(ty);
    }
    let expected: BTreeSet<String> = SERVER_MSG_TYPES.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, expected, "fixtures and SERVER_MSG_TYPES disagree");
}

/// Adds a field nobody knows to every object in `v`, nested ones included.
fn add_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_unknown_fields(child);
            }
            map.insert(
                "x_from_the_future".into(),
                serde_json::json!({"nested": [1, "two", null]}),
            );
        }
        Value::Array(items) => items.iter_mut().for_each(add_unknown_fields),
        _ => {}
    }
}

/// Decodes in the direction of a fixture directory, as a comparable debug string.
fn decode_dir(dir: &str, text: &str) -> Result<String, DecodeError> {
    match dir {
        "client" => decode_client(text).map(|m| format!("{m:?}")),
        _ => decode_server(text).map(|m| format!("{m:?}")),
    }
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    for dir in ["client", "server"] {
        for (ty, text) in fixtures(dir) {
            let mut v = json(&text);
            add_unknown_fields(&mut v);
            // Re-serialising a Value sorts the keys, so `type` is usually no longer first:
            // the tag's position must not matter either.
            let extended = v.to_string();
            assert_ne!(extended, json(&text).to_string());
            assert_eq!(
                decode_dir(dir, &extended),
                decode_dir(dir, &text),
                "{dir}/{ty}.json with extra fields"
            );
        }
    }
}

#[test]
fn missing_fields_are_invalid_unless_optional_client() {
    for (ty, text) in fixtures("client") {
        let full = json(&text);
        for key in full.as_object().unwrap().keys().filter(|k| *k != "type") {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(key);
            let got = decode_client(&v.to_string());
            if is_optional(CLIENT_OPTIONAL, &ty, key) {
                assert!(got.is_ok(), "{ty} without {key}: {got:?}");
            } else {
                assert!(
                    matches!(&got, Err(DecodeError::Invalid { ty: t, .. }) if *t == ty),
                    "{ty} without {key}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn wrongly_typed_fields_are_invalid_client() {
    for (ty, text) in fixtures("client") {
        let full = json(&text);
        for key in full.as_object().unwrap().keys().filter(|k| *k != "type") {
            // No field of any client message is an array of objects, so this never fits.
            let mut v = full.clone();
            v[key.as_str()] = serde_json::json!([{"bogus": true}]);
            let got = decode_client(&v.to_string());
            assert!(
                matches!(&got, Err(DecodeError::Invalid { ty: t, .. }) if *t == ty),
                "{ty} with a bad {key}: {got:?}"
            );
            assert_eq!(got.unwrap_err().src(), Some(ty.as_str()));
        }
    }
}

#[test]
fn missing_fields_fail_unless_optional_server() {
    // Only "fails, naming the type" is asserted here; that the failure is `Invalid` is
    // `known_server_type_with_missing_field_is_invalid`.
    for (ty, text) in fixtures("server") {
        let full = json(&text);
        for key in full.as_object().unwrap().keys().filter(|k| *k != "type") {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(key);
            let got = decode_server(&v.to_string());
            if is_optional(SERVER_OPTIONAL, &ty, key) {
                assert!(got.is_ok(), "{ty} without {key}: {got:?}");
            } else {
                let err = got.expect_err(&format!("{ty} without {key} decoded"));
                assert_eq!(err.src(), Some(ty.as_str()), "{ty} without {key}");
            }
        }
    }
}

#[test]
fn data_type_fields_are_required_unless_optional() {
    for &(name, ty, pointer, optional) in DATA_TYPES {
        let full = fixture("server", ty);
        let object = full
            .pointer(pointer)
            .and_then(Value::as_object)
            .expect(pointer)
            .clone();
        for field in optional {
            assert!(
                object.contains_key(*field),
                "{name}: the fixture lacks optional {field}"
            );
        }
        for key in object.keys() {
            let mut v = full.clone();
            v.pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
            let got = decode_server(&v.to_string());
            if optional.contains(&key.as_str()) {
                assert!(got.is_ok(), "{name} without {key}: {got:?}");
            } else {
                assert!(got.is_err(), "{name} without {key} decoded: {got:?}");
            }
        }
    }
}

#[test]
fn signal_payload_kinds() {
    let offer = ServerMsg::Signal {
        from: 1,
        data: SignalData::Offer { sdp: "v=0".into() },
        camera: None,
    };
    assert_eq!(
        json(&encode_server(&offer)),
        serde_json::json!({"type": "signal", "from": 1, "data": {"kind": "offer", "sdp": "v=0"}})
    );
    let bye = ClientMsg::Signal {
        to: 2,
        data: SignalData::Bye {},
        camera: None,
    };
    assert_eq!(
        json(&encode_client(&bye)),
        serde_json::json!({"type": "signal", "to": 2, "data": {"kind": "bye"}})
    );
    // A camera connection's signals name the camera's owner.
    let camera_offer = ServerMsg::Signal {
        from: 1,
        data: SignalData::Offer { sdp: "v=0".into() },
        camera: Some(1),
    };
    assert_eq!(
        json(&encode_server(&camera_offer)),
        serde_json::json!({"type": "signal", "from": 1, "camera": 1, "data": {"kind": "offer", "sdp": "v=0"}})
    );
    // The end-of-candidates marker is an empty candidate with the optional fields absent.
    let end = r#"{"type":"signal","to":2,"data":{"kind":"candidate","candidate":""}}"#;
    assert_eq!(
        decode_client(end),
        Ok(ClientMsg::Signal {
            to: 2,
            camera: None,
            data: SignalData::Candidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: None
            }
        })
    );
    let unknown_kind = r#"{"type":"signal","to":2,"data":{"kind":"renegotiate"}}"#;
    assert!(
        matches!(decode_client(unknown_kind), Err(DecodeError::Invalid { ty, .. }) if ty == "signal")
    );
    let no_kind = r#"{"type":"signal","to":2,"data":{"sdp":"v=0"}}"#;
    assert!(
        matches!(decode_client(no_kind), Err(DecodeError::Invalid { ty, .. }) if ty == "signal")
    );
}

// ----- classification of bad frames -----

#[test]
fn unknown_client_type_is_named() {
    let err = decode_client(r#"{"type":"teleport","to":3}"#).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType("teleport".into()));
    assert_eq!(err.code(), ErrorCode::UnknownType);
    assert_eq!(err.src(), Some("teleport"));
}

#[test]
fn unknown_type_is_truncated_to_64_characters() {
    // Characters, not bytes: a multi-byte tag must not be cut inside a character.
    let long = "é".repeat(100);
    let err = decode_client(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType("é".repeat(64)));
    let exact = "x".repeat(64);
    let err = decode_client(&format!(r#"{{"type":"{exact}"}}"#)).unwrap_err();
    assert_eq!(err, DecodeError::UnknownType(exact));
}

#[test]
fn server_types_are_not_client_types_and_back() {
    // Tags shared by both directions (ping, pong, typing, speaking, signal) are fine; the
    // rest must be refused by the other side's decoder, so that a message sent the wrong
    // way is never mistaken for another one.
    for ty in SERVER_MSG_TYPES
        .iter()
        .filter(|t| !CLIENT_MSG_TYPES.contains(t))
    {
        let err = decode_client(&format!(r#"{{"type":"{ty}"}}"#)).unwrap_err();
        assert_eq!(err, DecodeError::UnknownType(ty.to_string()));
    }
    for ty in CLIENT_MSG_TYPES
        .iter()
        .filter(|t| !SERVER_MSG_TYPES.contains(t))
    {
        let frame = fixture("client", ty).to_string();
        assert_eq!(decode_server(&frame), Ok(ServerMsg::Unknown), "{ty}");
    }
}

#[test]
fn unknown_server_type_decodes_to_unknown() {
    for frame in [
        r#"{"type":"teleport","to":3,"nested":{"deep":[1,2,{"x":null}]}}"#,
        r#"{"type":"unknown"}"#,
        r#"{"type":""}"#,
        r#"{"from":1,"type":"poll_created"}"#,
    ] {
        assert_eq!(decode_server(frame), Ok(ServerMsg::Unknown), "{frame}");
    }
    assert_eq!(ServerMsg::Unknown.type_name(), "unknown");
}

#[test]
fn missing_or_non_string_type_is_malformed() {
    let frames = [
        "",
        " ",
        "ping",
        "null",
        "42",
        r#""ping""#,
        "{}",
        r#"{"nonce":1}"#,
        r#"{"type":null}"#,
        r#"{"type":1}"#,
        r#"{"type":true}"#,
        r#"{"type":["ping"]}"#,
        r#"{"type":{"name":"ping"}}"#,
        r#"{"type":"ping""#,
        r#"{"type":"ping"} {"type":"ping"}"#,
        r#"{"type":"ping","type":"ping"}"#,
        "{\"type\":\"ping\"}\0",
    ];
    for frame in frames {
        for (dir, got) in [
            ("client", decode_client(frame).map(|m| format!("{m:?}"))),
            ("server", decode_server(frame).map(|m| format!("{m:?}"))),
        ] {
            let err = got.expect_err(&format!("{dir} decoded {frame:?}"));
            assert!(
                matches!(err, DecodeError::Malformed(_)),
                "{dir} {frame:?}: {err:?}"
            );
            assert_eq!(err.code(), ErrorCode::Malformed);
            assert_eq!(err.src(), None);
        }
    }
}

#[test]
fn json_arrays_are_malformed() {
    for frame in [
        r#"["ping"]"#,
        r#"["auth",1,"lobby","bob"]"#,
        r#"["voice_leave"]"#,
    ] {
        assert!(
            matches!(decode_client(frame), Err(DecodeError::Malformed(_))),
            "{frame}"
        );
        assert!(
            matches!(decode_server(frame), Err(DecodeError::Malformed(_))),
            "{frame}"
        );
    }
}

#[test]
fn known_client_type_with_missing_field_is_invalid() {
    let err = decode_client(r#"{"type":"auth","protocol":1,"room":"lobby"}"#).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Invalid { ty, detail } if ty == "auth" && detail.contains("name")),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::Invalid);
    assert_eq!(err.src(), Some("auth"));
}

#[test]
fn known_server_type_with_missing_field_is_invalid() {
    let err = decode_server(r#"{"type":"chat"}"#).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Invalid { ty, .. } if ty == "chat"),
        "{err:?}"
    );
}

#[test]
fn null_stands_for_an_absent_optional_field() {
    assert_eq!(
        decode_client(r#"{"type":"ping","nonce":null}"#),
        Ok(ClientMsg::Ping { nonce: None })
    );
    assert_eq!(
        decode_server(r#"{"type":"rate_limit","retry_after_ms":5,"src":null}"#),
        Ok(ServerMsg::RateLimit {
            retry_after_ms: 5,
            src: None
        })
    );
    // A required field may not be null.
    assert!(matches!(
        decode_client(r#"{"type":"chat_delete","id":null}"#),
        Err(DecodeError::Invalid { .. })
    ));
}

#[test]
fn integers_are_whole_and_in_range() {
    let max = format!(r#"{{"type":"chat_delete","id":{}}}"#, u64::MAX);
    assert_eq!(
        decode_client(&max),
        Ok(ClientMsg::ChatDelete { id: u64::MAX })
    );
    for bad in ["18446744073709551616", "-1", "1.0", "1e3", "\"7\""] {
        let frame = format!(r#"{{"type":"chat_delete","id":{bad}}}"#);
        assert!(
            matches!(decode_client(&frame), Err(DecodeError::Invalid { .. })),
            "{frame}"
        );
    }
    // u32 and u16 fields are range-checked as well, not wrapped.
    let limit = r#"{"type":"history_get","channel":"general","limit":4294967296}"#;
    assert!(matches!(
        decode_client(limit),
        Err(DecodeError::Invalid { .. })
    ));
    let mline = r#"{"type":"signal","to":2,"data":{"kind":"candidate","candidate":"c","sdp_mline_index":65536}}"#;
    assert!(matches!(
        decode_client(mline),
        Err(DecodeError::Invalid { .. })
    ));
}

#[test]
fn enum_values_are_snake_case_and_closed() {
    let presence =
        |p: &str| decode_client(&format!(r#"{{"type":"set_presence","presence":"{p}"}}"#));
    assert!(presence("away").is_ok());
    assert!(presence("Away").is_err(), "enum values are case-sensitive");
    assert!(
        presence("invisible").is_err(),
        "a value this version does not know is refused"
    );
    let reasons = ["left", "timeout", "kicked", "banned", "dropped"];
    for r in reasons {
        let frame = format!(r#"{{"type":"member_left","id":1,"reason":"{r}"}}"#);
        assert!(
            matches!(decode_server(&frame), Ok(ServerMsg::MemberLeft { .. })),
            "{r}"
        );
    }
}

#[test]
fn error_codes_serialize_as_as_str() {
    let mut strings = BTreeSet::new();
    for (i, code) in ALL_CODES.into_iter().enumerate() {
        assert_eq!(
            code_ordinal(code),
            i,
            "ALL_CODES is out of order or has a duplicate"
        );
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            Value::String(code.as_str().into())
        );
        let back: ErrorCode = serde_json::from_value(Value::String(code.as_str().into())).unwrap();
        assert_eq!(back, code);
        assert!(
            strings.insert(code.as_str()),
            "{} is used twice",
            code.as_str()
        );
    }
}

#[test]
fn decode_errors_map_to_codes() {
    assert_eq!(
        DecodeError::Malformed("x".into()).code(),
        ErrorCode::Malformed
    );
    let invalid = DecodeError::Invalid {
        ty: "auth".into(),
        detail: "d".into(),
    };
    assert_eq!(invalid.code(), ErrorCode::Invalid);
    assert_eq!(invalid.src(), Some("auth"));
    assert_eq!(invalid.to_string(), "invalid `auth` message: d");
}

#[test]
fn empty_variants_encode_as_bare_tags() {
    assert_eq!(
        encode_client(&ClientMsg::VoiceLeave {}),
        r#"{"type":"voice_leave"}"#
    );
    assert_eq!(
        encode_client(&ClientMsg::IceServersGet {}),
        r#"{"type":"ice_servers_get"}"#
    );
    assert_eq!(
        encode_client(&ClientMsg::Ping { nonce: None }),
        r#"{"type":"ping"}"#
    );
    assert_eq!(encode_server(&ServerMsg::Unknown), r#"{"type":"unknown"}"#);
}

// ----- strategies -----

/// Short strings: mostly plausible names, sometimes any characters at all (controls, quotes,
/// backslashes, astral planes), which is where JSON escaping goes wrong if it ever does.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 @_.'-]{0,12}",
        1 => vec(any::<char>(), 0..12).prop_map(|cs| cs.into_iter().collect::<String>()),
    ]
    .boxed()
}

/// Ids over the full u64 range as well as small ones: JSON numbers above 2^53 must survive.
fn id() -> BoxedStrategy<u64> {
    prop_oneof![0u64..1000, any::<u64>()].boxed()
}

fn presence() -> impl Strategy<Value = Presence> {
    prop_oneof![
        Just(Presence::Online),
        Just(Presence::Away),
        Just(Presence::Busy)
    ]
}

fn image() -> impl Strategy<Value = Image> {
    (text(), text()).prop_map(|(mime, data)| Image { mime, data })
}

fn signal_data() -> impl Strategy<Value = SignalData> {
    prop_oneof![
        text().prop_map(|sdp| SignalData::Offer { sdp }),
        text().prop_map(|sdp| SignalData::Answer { sdp }),
        (text(), option::of(text()), option::of(any::<u16>())).prop_map(
            |(candidate, sdp_mid, sdp_mline_index)| {
                SignalData::Candidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                }
            }
        ),
        Just(SignalData::Bye {}),
    ]
}

fn member() -> impl Strategy<Value = Member> {
    (
        (
            id(),
            text(),
            any::<bool>(),
            presence(),
            text(),
            option::of(text()),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (id, name, operator, presence, status_text, voice_channel),
                (muted, deafened, server_muted, speaking, camera),
            )| Member {
                id,
                name,
                operator,
                presence,
                status_text,
                voice_channel,
                muted,
                deafened,
                server_muted,
                speaking,
                camera,
            },
        )
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    let reaction = (text(), vec(text(), 0..3)).prop_map(|(emoji, names)| Reaction { emoji, names });
    (
        (
            id(),
            text(),
            text(),
            text(),
            text(),
            option::of(id()),
            option::of(image()),
        ),
        (
            any::<u64>(),
            option::of(any::<u64>()),
            any::<bool>(),
            vec(reaction, 0..3),
        ),
    )
        .prop_map(
            |(
                (id, client_id, channel, author, text, reply_to, image),
                (ts, edited_ts, deleted, reactions),
            )| {
                ChatMessage {
                    id,
                    client_id,
                    channel,
                    author,
                    text,
                    reply_to,
                    image,
                    ts,
                    edited_ts,
                    deleted,
                    reactions,
                }
            },
        )
}

fn room_info() -> impl Strategy<Value = RoomInfo> {
    let kind = prop_oneof![Just(ChannelKind::Text), Just(ChannelKind::Voice)];
    let channel = (text(), kind, text(), text()).prop_map(|(id, kind, name, topic)| Channel {
        id,
        kind,
        name,
        topic,
    });
    (text(), vec(channel, 0..3), any::<bool>()).prop_map(|(name, channels, locked)| RoomInfo {
        name,
        channels,
        locked,
    })
}

fn ice_server() -> impl Strategy<Value = IceServer> {
    (vec(text(), 0..3), option::of(text()), option::of(text())).prop_map(
        |(urls, username, credential)| IceServer {
            urls,
            username,
            credential,
        },
    )
}

fn limits() -> impl Strategy<Value = Limits> {
    (any::<[u32; 7]>(), any::<u64>(), any::<u64>()).prop_map(
        |(n, heartbeat_timeout_ms, ping_interval_ms)| Limits {
            max_frame_bytes: n[0],
            max_text_chars: n[1],
            max_name_chars: n[2],
            max_image_bytes: n[3],
            rate_per_sec: n[4],
            rate_burst: n[5],
            history_page_max: n[6],
            heartbeat_timeout_ms,
            ping_interval_ms,
        },
    )
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(ALL_CODES.to_vec())
}

fn leave_reason() -> impl Strategy<Value = LeaveReason> {
    use LeaveReason::*;
    prop::sample::select(vec![Left, Timeout, Kicked, Banned, Dropped])
}

/// Any client message; every variant has an arm (checked by `strategies_cover_every_variant`).
fn client_msg() -> impl Strategy<Value = ClientMsg> {
    use ClientMsg as C;
    prop_oneof![
        (
            any::<u32>(),
            text(),
            text(),
            option::of(text()),
            option::of(text())
        )
            .prop_map(|(protocol, room, name, password, token)| C::Auth {
                protocol,
                room,
                name,
                password,
                token
            }),
        option::of(any::<u64>()).prop_map(|nonce| C::Ping { nonce }),
        option::of(any::<u64>()).prop_map(|nonce| C::Pong { nonce }),
        (presence(), option::of(text())).prop_map(|(presence, status_text)| C::SetPresence {
            presence,
            status_text
        }),
        (
            text(),
            text(),
            text(),
            option::of(id()),
            option::of(image())
        )
            .prop_map(|(channel, client_id, text, reply_to, image)| {
                C::ChatSend {
                    channel,
                    client_id,
                    text,
                    reply_to,
                    image,
                }
            }),
        (id(), text()).prop_map(|(id, text)| C::ChatEdit { id, text }),
        id().prop_map(|id| C::ChatDelete { id }),
        (id(), text()).prop_map(|(id, emoji)| C::ReactAdd { id, emoji }),
        (id(), text()).prop_map(|(id, emoji)| C::ReactRemove { id, emoji }),
        text().prop_map(|channel| C::Typing { channel }),
        (text(), option::of(id()), option::of(any::<u32>())).prop_map(
            |(channel, before, limit)| C::HistoryGet {
                channel,
                before,
                limit
            }
        ),
        text().prop_map(|channel| C::VoiceJoin { channel }),
        Just(C::VoiceLeave {}),
        (any::<bool>(), any::<bool>())
            .prop_map(|(muted, deafened)| C::VoiceState { muted, deafened }),
        any::<bool>().prop_map(|speaking| C::Speaking { speaking }),
        any::<bool>().prop_map(|on| C::Camera { on }),
        id().prop_map(|member| C::CameraOpen { member }),
        id().prop_map(|member| C::CameraClose { member }),
        id().prop_map(|member| C::CameraBoot { member }),
        id().prop_map(|member| C::Block { member }),
        id().prop_map(|member| C::Unblock { member }),
        (id(), signal_data(), option::of(id())).prop_map(|(to, data, camera)| C::Signal { to, data, camera }),
        Just(C::IceServersGet {}),
        (id(), option::of(text())).prop_map(|(member, reason)| C::Kick { member, reason }),
        (id(), option::of(text())).prop_map(|(member, reason)| C::Ban { member, reason }),
        text().prop_map(|name| C::Unban { name }),
        any::<bool>().prop_map(|locked| C::Lock { locked }),
        (id(), any::<bool>()).prop_map(|(member, muted)| C::ServerMute { member, muted }),
        id().prop_map(|member| C::OpGrant { member }),
        id().prop_map(|member| C::OpRevoke { member }),
    ]
}

/// Any server message except `Unknown`, which has no fields to round-trip.
fn server_msg() -> impl Strategy<Value = ServerMsg> {
    use ServerMsg as S;
    let summary =
        (text(), any::<u32>(), any::<bool>()).prop_map(|(name, members, locked)| RoomSummary {
            name,
            members,
            locked,
        });
    prop_oneof![
        (
            any::<u32>(),
            (text(), text()),
            vec(summary, 0..3),
            any::<bool>(),
            limits()
        )
            .prop_map(
                |(protocol, (name, version), rooms, password_required, limits)| S::Hello {
                    protocol,
                    server: ServerInfo { name, version },
                    rooms,
                    password_required,
                    limits,
                }
            ),
        (
            id(),
            room_info(),
            vec(member(), 0..3),
            vec(ice_server(), 0..3)
        )
            .prop_map(|(you, room, members, ice_servers)| S::Welcome {
                you,
                room,
                members,
                ice_servers
            }),
        option::of(any::<u64>()).prop_map(|nonce| S::Ping { nonce }),
        option::of(any::<u64>()).prop_map(|nonce| S::Pong { nonce }),
        member().prop_map(|member| S::MemberJoined { member }),
        member().prop_map(|member| S::MemberUpdated { member }),
        (id(), leave_reason()).prop_map(|(id, reason)| S::MemberLeft { id, reason }),
        room_info().prop_map(|room| S::RoomUpdated { room }),
        chat_message().prop_map(|message| S::Chat { message }),
        chat_message().prop_map(|message| S::ChatUpdated { message }),
        (text(), id()).prop_map(|(channel, member)| S::Typing { channel, member }),
        (text(), vec(chat_message(), 0..3), any::<bool>()).prop_map(
            |(channel, messages, has_more)| S::History {
                channel,
                messages,
                has_more
            }
        ),
        (id(), any::<bool>()).prop_map(|(member, speaking)| S::Speaking { member, speaking }),
        id().prop_map(|watcher| S::CameraRing { watcher }),
        id().prop_map(|member| S::CameraOpened { member }),
        id().prop_map(|member| S::CameraClosed { member }),
        vec(id(), 0..4).prop_map(|watchers| S::Watchers { watchers }),
        (id(), signal_data(), option::of(id()))
            .prop_map(|(from, data, camera)| S::Signal { from, data, camera }),
        vec(ice_server(), 0..3).prop_map(|servers| S::IceServers { servers }),
        (error_code(), text(), option::of(text()), option::of(text())).prop_map(
            |(code, message, src, client_id)| S::Error {
                code,
                message,
                src,
                client_id
            }
        ),
        (any::<u64>(), option::of(text())).prop_map(|(retry_after_ms, src)| S::RateLimit {
            retry_after_ms,
            src
        }),
        (error_code(), text()).prop_map(|(code, message)| S::Disconnect { code, message }),
        text().prop_map(|message| S::Shutdown { message }),
    ]
}

/// Names of real fields, so that random objects sometimes get past the first missing field.
const FIELD_NAMES: &[&str] = &[
    "protocol",
    "room",
    "name",
    "password",
    "token",
    "nonce",
    "presence",
    "status_text",
    "channel",
    "client_id",
    "text",
    "reply_to",
    "image",
    "id",
    "emoji",
    "before",
    "limit",
    "muted",
    "deafened",
    "speaking",
    "on",
    "member",
    "to",
    "from",
    "data",
    "reason",
    "locked",
    "mime",
    "kind",
    "sdp",
    "candidate",
    "message",
    "code",
    "src",
    "watchers",
    "servers",
    "you",
];

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        text().prop_map(Value::String),
        prop::sample::select(vec![
            "online",
            "text",
            "offer",
            "candidate",
            "kicked",
            "malformed"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELD_NAMES).prop_map(String::from),
        "[a-z_]{1,8}"
    ]
}

/// `type` values: real tags of both directions, plausible unknown ones, and long hostile ones
/// that must be truncated.
fn type_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(CLIENT_MSG_TYPES).prop_map(String::from),
        prop::sample::select(SERVER_MSG_TYPES).prop_map(String::from),
        "[a-z_]{0,16}",
        vec(any::<char>(), 0..150).prop_map(|cs| cs.into_iter().collect::<String>()),
    ]
}

/// What must hold for any decode result, whatever the input.
fn check_decode_contract(text: &str) -> Result<(), TestCaseError> {
    match decode_client(text) {
        // Whatever was accepted must be re-encodable into something that means the same.
        Ok(m) => prop_assert_eq!(decode_client(&encode_client(&m)), Ok(m)),
        Err(DecodeError::UnknownType(t)) => {
            prop_assert!(t.chars().count() <= 64, "untruncated tag {t:?}");
            prop_assert!(
                !CLIENT_MSG_TYPES.contains(&t.as_str()),
                "known tag {t:?} reported unknown"
            );
        }
        Err(DecodeError::Invalid { ty, .. }) => {
            prop_assert!(
                CLIENT_MSG_TYPES.contains(&ty.as_str()),
                "unknown tag {ty:?} reported invalid"
            )
        }
        Err(DecodeError::Malformed(_)) => {}
    }
    match decode_server(text) {
        Ok(m) => prop_assert_eq!(decode_server(&encode_server(&m)), Ok(m)),
        Err(e) => {
            if let Some(t) = e.src() {
                prop_assert!(t.chars().count() <= 64, "untruncated tag {t:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn strategies_cover_every_variant() {
    // A deterministic runner keeps this from being flaky; with 30 equally likely arms the
    // chance of missing one in 3000 draws is below 1e-40 anyway.
    let mut runner = TestRunner::deterministic();
    let (clients, servers) = (client_msg(), server_msg());
    let mut seen_client = BTreeSet::new();
    let mut seen_server = BTreeSet::new();
    for _ in 0..3000 {
        seen_client.insert(client_ordinal(
            &clients.new_tree(&mut runner).unwrap().current(),
        ));
        seen_server.insert(server_ordinal(
            &servers.new_tree(&mut runner).unwrap().current(),
        ));
    }
    assert_eq!(seen_client, (0..CLIENT_MSG_TYPES.len()).collect());
    assert_eq!(seen_server, (0..SERVER_MSG_TYPES.len()).map(Some).collect());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn client_messages_round_trip(m in client_msg()) {
        let encoded = encode_client(&m);
        let tag = json(&encoded)["type"].clone();
        prop_assert_eq!(tag.as_str(), Some(m.type_name()));
        prop_assert_eq!(decode_client(&encoded), Ok(m));
    }

    #[test]
    fn server_messages_round_trip(m in server_msg()) {
        let encoded = encode_server(&m);
        let tag = json(&encoded)["type"].clone();
        prop_assert_eq!(tag.as_str(), Some(m.type_name()));
        prop_assert_eq!(decode_server(&encoded), Ok(m));
    }

    #[test]
    fn arbitrary_strings_keep_the_contract(s in any::<String>()) {
        check_decode_contract(&s)?;
    }

    #[test]
    fn arbitrary_bytes_keep_the_contract(bytes in vec(any::<u8>(), 0..512)) {
        check_decode_contract(&String::from_utf8_lossy(&bytes))?;
    }

    /// Random edits of valid frames reach the deep error paths that random strings never do.
    #[test]
    fn mutated_frames_keep_the_contract(
        m in prop_oneof![
            client_msg().prop_map(|m| encode_client(&m)),
            server_msg().prop_map(|m| encode_server(&m)),
        ],
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = m.into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => bytes[i] = byte,
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        check_decode_contract(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn objects_with_random_types_are_classified(
        ty in type_value(),
        fields in prop::collection::btree_map(field_name(), json_value(), 0..6),
    ) {
        let mut object: Map<String, Value> = fields.into_iter().collect();
        object.insert("type".into(), Value::String(ty.clone()));
        let frame = Value::Object(object).to_string();

        let known = CLIENT_MSG_TYPES.contains(&ty.as_str());
        match decode_client(&frame) {
            Ok(m) => prop_assert_eq!(m.type_name(), ty.as_str()),
            Err(DecodeError::UnknownType(t)) => {
                prop_assert!(!known);
                prop_assert_eq!(t, ty.chars().take(64).collect::<String>());
            }
            Err(DecodeError::Invalid { ty: t, .. }) => {
                prop_assert!(known);
                prop_assert_eq!(&t, &ty);
            }
            Err(e @ DecodeError::Malformed(_)) => prop_assert!(false, "object with a string type: {e}"),
        }

        let known = SERVER_MSG_TYPES.contains(&ty.as_str());
        match decode_server(&frame) {
            Ok(ServerMsg::Unknown) => prop_assert!(!known, "known type {ty:?} decoded as Unknown"),
            Ok(m) => prop_assert_eq!(m.type_name(), ty.as_str()),
            Err(e) => {
                prop_assert!(known, "unknown type {ty:?} failed: {e}");
                prop_assert_eq!(e.src(), Some(ty.as_str()));
            }
        }
    }
}

// ----- docs/protocol.md -----

fn protocol_doc() -> String {
    let path = crate_dir().join("../../docs/protocol.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the `## ` section whose heading starts with `title`.
fn doc_section<'a>(doc: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = doc
        .lines()
        .skip_while(|l| !l.starts_with(&format!("## {title}")));
    let heading = lines
        .next()
        .unwrap_or_else(|| panic!("docs/protocol.md has no `## {title}` section"));
    std::iter::once(heading)
        .chain(lines.take_while(|l| !l.starts_with("## ")))
        .collect()
}

/// One `### ` subsection: its heading text, the rows of its field table (field, required
/// cell) and the bodies of its ```json blocks.
#[derive(Default, Debug)]
struct DocEntry {
    fields: Vec<(String, String)>,
    examples: Vec<String>,
}

/// Splits a section into its `### ` subsections, keyed by the heading with backticks removed.
fn doc_entries(section: &[&str]) -> BTreeMap<String, DocEntry> {
    let mut entries: BTreeMap<String, DocEntry> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut block: Option<String> = None;
    for line in section {
        if let Some(body) = block.as_mut() {
            if line.starts_with("```") {
                let name = current
                    .clone()
                    .expect("a json block outside a ### subsection");
                entries
                    .get_mut(&name)
                    .unwrap()
                    .examples
                    .push(block.take().unwrap());
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if let Some(h) = line.strip_prefix("### ") {
            let name = h.trim().trim_matches('`').to_owned();
            assert!(!entries.contains_key(&name), "### {name} appears twice");
            entries.insert(name.clone(), DocEntry::default());
            current = Some(name);
        } else if line.trim() == "```json" {
            block = Some(String::new());
        } else if line.starts_with("| `") {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = current.clone().expect("a table outside a ### subsection");
            let field = cells[1].trim_matches('`').to_owned();
            let required = cells.get(3).copied().unwrap_or_default().to_owned();
            entries
                .get_mut(&name)
                .unwrap()
                .fields
                .push((field, required));
        }
    }
    assert!(block.is_none(), "unterminated ```json block");
    entries
}

/// Checks one message section: exactly the given types, each with a field table that lists
/// exactly the fixture's fields plus the optional ones, marked required correctly, and with
/// at least one example that decodes to that type.
fn check_message_section(
    section: &str,
    dir: &str,
    types: &[&str],
    optional: &[(&str, &str)],
    decode: impl Fn(&str) -> Result<&'static str, DecodeError>,
) {
    let doc = protocol_doc();
    let entries = doc_entries(&doc_section(&doc, section));
    let documented: BTreeSet<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(
        documented,
        types.iter().copied().collect(),
        "`## {section}` lists other types"
    );
    for (ty, entry) in &entries {
        let mut expected: BTreeSet<String> = fixture(dir, ty)
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "type")
            .cloned()
            .collect();
        expected.extend(
            optional
                .iter()
                .filter(|(t, _)| t == ty)
                .map(|(_, f)| f.to_string()),
        );
        let listed: BTreeSet<String> = entry.fields.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(listed, expected, "fields of `{ty}` in docs");
        for (field, required) in &entry.fields {
            let want = if is_optional(optional, ty, field) {
                "no"
            } else {
                "yes"
            };
            assert!(
                required.starts_with(want),
                "`{ty}.{field}` should say required {want}, says {required}"
            );
        }
        assert!(!entry.examples.is_empty(), "`{ty}` has no JSON example");
        for example in &entry.examples {
            let got =
                decode(example).unwrap_or_else(|e| panic!("example of `{ty}`: {e}\n{example}"));
            assert_eq!(got, ty, "example under `{ty}` is another type");
        }
    }
}

#[test]
fn doc_client_messages_match_the_types() {
    check_message_section(
        "Client messages",
        "client",
        CLIENT_MSG_TYPES,
        CLIENT_OPTIONAL,
        |t| decode_client(t).map(|m| m.type_name()),
    );
}

#[test]
fn doc_server_messages_match_the_types() {
    check_message_section(
        "Server messages",
        "server",
        SERVER_MSG_TYPES,
        SERVER_OPTIONAL,
        |t| decode_server(t).map(|m| m.type_name()),
    );
}

#[test]
fn doc_data_types_match_the_types() {
    let doc = protocol_doc();
    let entries = doc_entries(&doc_section(&doc, "Data types"));
    for &(name, ty, pointer, optional) in DATA_TYPES {
        let entry = entries
            .get(name)
            .unwrap_or_else(|| panic!("`### {name}` missing from Data types"));
        let object = fixture("server", ty)
            .pointer(pointer)
            .unwrap()
            .as_object()
            .unwrap()
            .clone();
        let listed: BTreeSet<&str> = entry.fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            listed,
            object.keys().map(String::as_str).collect(),
            "fields of {name} in docs"
        );
        for (field, required) in &entry.fields {
            let want = if optional.contains(&field.as_str()) {
                "no"
            } else {
                "yes"
            };
            assert!(
                required.starts_with(want),
                "`{name}.{field}` should say required {want}, says {required}"
            );
        }
    }
    // Each documented example of a data type must deserialize as that type.
    fn parses<T: serde::de::DeserializeOwned>(text: &str) -> Result<(), serde_json::Error> {
        serde_json::from_str::<T>(text).map(|_| ())
    }
    for (name, entry) in &entries {
        for example in &entry.examples {
            let result = match name.as_str() {
                "ServerInfo" => parses::<ServerInfo>(example),
                "RoomSummary" => parses::<RoomSummary>(example),
                "Limits" => parses::<Limits>(example),
                "RoomInfo" => parses::<RoomInfo>(example),
                "Channel" => parses::<Channel>(example),
                "Member" => parses::<Member>(example),
                "IceServer" => parses::<IceServer>(example),
                "ChatMessage" => parses::<ChatMessage>(example),
                "Image" => parses::<Image>(example),
                "Reaction" => parses::<Reaction>(example),
                "SignalData" => parses::<SignalData>(example),
                other => panic!("a JSON example under `### {other}`, which the test cannot check"),
            };
            result.unwrap_or_else(|e| panic!("example of {name}: {e}\n{example}"));
        }
    }
    for name in ["Presence", "LeaveReason", "ChannelKind", "SignalData"] {
        assert!(
            entries.contains_key(name),
            "`### {name}` missing from Data types"
        );
    }
}

#[test]
fn doc_lists_every_enum_value() {
    let doc = protocol_doc();
    let codes: BTreeSet<String> = doc_section(&doc, "Error codes")
        .iter()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split('`').next().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = ALL_CODES.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(codes, expected, "the error code table");

    let types = doc_section(&doc, "Data types").join("\n");
    let values = [
        "online", "away", "busy", "left", "timeout", "kicked", "banned", "dropped", "text", "voice",
    ];
    for v in values
        .iter()
        .chain(&["offer", "answer", "candidate", "bye"])
    {
        assert!(
            types.contains(&format!("`{v}`")),
            "`{v}` is not documented under Data types"
        );
    }

    let limits = doc_section(&doc, "Limits").join("\n");
    // The hello fixture round-trips exactly, so it holds every field of `Limits`.
    for field in fixture("server", "hello")["limits"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(
            limits.contains(&format!("`{field}`")),
            "limit `{field}` is not in ## Limits"
        );
    }
}

/// The worked example is a transcript: `Name → {json}` is a frame the client sends,
/// `Name ← {json}` one it receives. Every such line must decode in its direction.
#[test]
fn doc_worked_example_decodes() {
    let doc = protocol_doc();
    let section = doc_section(&doc, "Worked example");
    let (mut sent, mut received) = (BTreeSet::new(), BTreeSet::new());
    let mut in_block = false;
    for line in section {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block || !line.contains('{') {
            continue;
        }
        let (head, frame) = line.split_at(line.find('{').unwrap());
        let head = head.trim_end();
        if head.ends_with('→') {
            let m = decode_client(frame);
            // The transcript deliberately shows one unknown type being refused; any other
            // unknown type there is a typo.
            if m == Err(DecodeError::UnknownType("teleport".into())) {
                sent.insert("unknown:teleport".to_owned());
                continue;
            }
            let m = m.unwrap_or_else(|e| panic!("worked example: {e}\n{line}"));
            sent.insert(m.type_name().to_owned());
        } else if head.ends_with('←') {
            let m = decode_server(frame).unwrap_or_else(|e| panic!("worked example: {e}\n{line}"));
            assert_ne!(
                m,
                ServerMsg::Unknown,
                "worked example: unknown server type\n{line}"
            );
            received.insert(m.type_name().to_owned());
        } else {
            panic!("worked example: a JSON line without → or ←\n{line}");
        }
    }
    // The brief for the example names these exchanges; losing one in an edit should fail.
    for ty in [
        "auth",
        "chat_send",
        "chat_edit",
        "react_add",
        "typing",
        "voice_join",
        "speaking",
        "camera",
        "camera_open",
        "signal",
        "pong",
    ] {
        assert!(sent.contains(ty), "the worked example never sends `{ty}`");
    }
    for ty in [
        "hello",
        "welcome",
        "history",
        "member_joined",
        "chat",
        "chat_updated",
        "typing",
        "member_updated",
        "speaking",
        "camera_opened",
        "camera_ring",
        "watchers",
        "signal",
        "rate_limit",
        "error",
        "ping",
    ] {
        assert!(
            received.contains(ty),
            "the worked example never receives `{ty}`"
        );
    }
    assert!(
        sent.iter().any(|t| t.starts_with("unknown:")),
        "the worked example shows no unknown type"
    );
}
