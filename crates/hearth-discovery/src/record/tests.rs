use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn ad() -> RoomAd {
    RoomAd {
        name: "Den".into(),
        room: Some("den".into()),
        members: 3,
        needs_password: true,
        fingerprint: Some(FINGERPRINT),
    }
}

const FINGERPRINT: [u8; 32] = [0xab; 32];
const FINGERPRINT_HEX: &str = "abababababababababababababababababababababababababababababababab";

/// `encode`'s output in the form `decode` takes.
fn as_txt<'a>(entries: &'a [(&'static str, String)]) -> Vec<(&'static str, Option<&'a [u8]>)> {
    entries
        .iter()
        .map(|(k, v)| (*k, Some(v.as_bytes())))
        .collect()
}

fn txt<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, Option<&'a [u8]>)> {
    pairs
        .iter()
        .map(|(k, v)| (*k, Some(v.as_bytes())))
        .collect()
}

const GOOD: &[(&str, &str)] = &[
    ("txtvers", "1"),
    ("proto", "1"),
    ("name", "Den"),
    ("members", "3"),
    ("pw", "1"),
    ("room", "den"),
    ("fp", FINGERPRINT_HEX),
];

fn with(key: &str, value: &str) -> Vec<(String, String)> {
    GOOD.iter()
        .map(|(k, v)| (k.to_string(), if *k == key { value } else { v }.to_string()))
        .collect()
}

fn decode_owned(pairs: &[(String, String)]) -> Result<RoomAd, DecodeError> {
    decode(pairs.iter().map(|(k, v)| (k.as_str(), Some(v.as_bytes()))))
}

#[test]
fn encode_writes_every_key_and_decode_reads_it_back() {
    let entries = encode(&ad()).unwrap();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["txtvers", "proto", "name", "members", "pw", "room", "fp"]);
    assert!(entries.contains(&("fp", FINGERPRINT_HEX.to_string())));
    assert_eq!(decode(as_txt(&entries)), Ok(ad()));
    // Upper-case hex is the same fingerprint.
    let upper = decode_owned(&with("fp", &FINGERPRINT_HEX.to_uppercase())).unwrap();
    assert_eq!(upper.fingerprint, Some(FINGERPRINT));

    let open = RoomAd {
        room: None,
        needs_password: false,
        fingerprint: None,
        ..ad()
    };
    let entries = encode(&open).unwrap();
    assert!(entries.iter().all(|(k, _)| *k != "room" && *k != "fp"));
    assert!(entries.contains(&("pw", "0".to_string())));
    assert_eq!(decode(as_txt(&entries)), Ok(open));
}

#[test]
fn encode_refuses_what_cannot_be_listed_or_sent() {
    let empty = RoomAd {
        name: String::new(),
        ..ad()
    };
    assert_eq!(encode(&empty), Err(EncodeError::EmptyName));
    let long = RoomAd {
        name: "x".repeat(251),
        ..ad()
    };
    assert_eq!(encode(&long), Err(EncodeError::TooLong("name")));
    let fits = RoomAd {
        name: "x".repeat(250),
        ..ad()
    };
    assert!(encode(&fits).is_ok(), "name= and 250 bytes is 255");
}

#[test]
fn keys_ignore_case_first_wins_and_unknown_keys_are_ignored() {
    let mut pairs = txt(&[
        ("NAME", "Den"),
        ("Proto", "1"),
        ("members", "3"),
        ("pw", "0"),
    ]);
    pairs.push(("name", Some(b"Second")));
    pairs.push(("colour", Some(b"blue")));
    pairs.push(("flag", None));
    let decoded = decode(pairs).unwrap();
    assert_eq!(decoded.name, "Den");
    assert_eq!(decoded.room, None);
    assert!(!decoded.needs_password);
}

#[test]
fn missing_keys_are_named() {
    for key in ["proto", "name", "members", "pw"] {
        let pairs: Vec<_> = txt(GOOD).into_iter().filter(|(k, _)| *k != key).collect();
        assert_eq!(decode(pairs), Err(DecodeError::Missing(key)), "{key}");
        // A key without `=value` is as good as absent.
        let pairs: Vec<_> = txt(GOOD)
            .into_iter()
            .map(|(k, v)| (k, if k == key { None } else { v }))
            .collect();
        assert_eq!(
            decode(pairs),
            Err(DecodeError::Missing(key)),
            "{key} without ="
        );
    }
    let no_version: Vec<_> = txt(GOOD)
        .into_iter()
        .filter(|(k, _)| *k != "txtvers")
        .collect();
    assert!(decode(no_version).is_ok(), "txtvers is optional");
}

#[test]
fn bad_values_are_refused_with_the_key() {
    for (key, value) in [
        ("members", "-1"),
        ("members", "+3"),
        ("members", " 3"),
        ("members", "4294967296"),
        ("members", ""),
        ("proto", "one"),
        ("pw", "yes"),
        ("pw", ""),
        ("name", ""),
        ("room", ""),
        ("fp", ""),
        ("fp", &FINGERPRINT_HEX[1..]),
        ("fp", &"g".repeat(64)),
        ("fp", &"+f".repeat(32)),
    ] {
        assert!(
            matches!(decode_owned(&with(key, value)), Err(DecodeError::Invalid { key: k, .. }) if k == key),
            "{key}={value:?}"
        );
    }
    let bad_utf8 = vec![("name", Some(&b"\xff\xfe"[..])), ("proto", Some(b"1"))];
    assert_eq!(decode(bad_utf8), Err(DecodeError::NotUtf8("name")));
    let Err(DecodeError::Invalid { value, .. }) = decode_owned(&with("pw", &"y".repeat(200)))
    else {
        panic!("a long bad value is refused");
    };
    assert_eq!(
        value.len(),
        32,
        "only the start of a stranger's value is kept"
    );
}

#[test]
fn other_versions_are_not_listed() {
    assert_eq!(
        decode_owned(&with("proto", "2")),
        Err(DecodeError::UnsupportedProtocol(2))
    );
    assert_eq!(
        decode_owned(&with("txtvers", "2")),
        Err(DecodeError::UnsupportedTxtVersion(2))
    );
}

#[test]
fn instance_names_are_one_safe_label_and_unique() {
    assert_eq!(instance_name("Den", 0xab), "Den-000000ab");
    assert_eq!(instance_name("a.b\\c/d", 1), "a-b-c-d-00000001");
    assert_eq!(instance_name("  ", 1), "room-00000001");
    assert_eq!(instance_name("Café Ü", 1), "Café Ü-00000001");
    let long = instance_name(&"é".repeat(64), u32::MAX);
    assert!(long.len() <= 63, "{} bytes", long.len());
    assert!(long.ends_with("-ffffffff"));
    assert_ne!(instance_name("Den", 1), instance_name("Den", 2));
}

#[test]
fn the_best_address_is_routable_ipv4_first_and_stable() {
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
    let v4b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    let v4_link = IpAddr::V4(Ipv4Addr::new(169, 254, 3, 4));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let v6_link = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    assert_eq!(best_address([v6_link, v6, v4_link, v4]), Some(v4));
    assert_eq!(best_address([v4, v4b]), best_address([v4b, v4]));
    assert_eq!(best_address([v6_link, v4_link]), Some(v4_link));
    assert_eq!(best_address([v6_link, v6]), Some(v6));
    assert_eq!(best_address([]), None);
}

#[test]
fn rooms_are_keyed_by_service_and_keep_their_ipv4_address() {
    let mut rooms = Rooms::default();
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let v6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let service = "Den-1._hearth._tcp.local.";
    assert_eq!(rooms.resolved(service, [v4], 7777, txt(GOOD)), Ok(true));
    // The same room seen again on another address is one room, still at its IPv4 address.
    assert_eq!(rooms.resolved(service, [v6], 7777, txt(GOOD)), Ok(false));
    let list = rooms.list();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].address, list[0].port), (v4, 7777));
    assert_eq!(list[0].ad.members, 3);

    // A new member count is a change.
    let more = with("members", "4");
    let more = more.iter().map(|(k, v)| (k.as_str(), Some(v.as_bytes())));
    assert_eq!(rooms.resolved(service, [v4], 7777, more), Ok(true));
    assert_eq!(rooms.list()[0].ad.members, 4);

    // A new port drops the old addresses.
    assert_eq!(rooms.resolved(service, [v6], 7778, txt(GOOD)), Ok(true));
    assert_eq!(rooms.list()[0].address, v6);

    // Removal matches without regard to case.
    assert!(rooms.removed(&service.to_uppercase()));
    assert!(rooms.list().is_empty());
    assert!(!rooms.removed(service));
}

#[test]
fn a_record_turning_bad_removes_the_room_and_lists_are_sorted() {
    let mut rooms = Rooms::default();
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    rooms
        .resolved("b._hearth._tcp.local.", [ip], 1, txt(GOOD))
        .unwrap();
    let zed = with("name", "Attic");
    let zed = zed.iter().map(|(k, v)| (k.as_str(), Some(v.as_bytes())));
    rooms
        .resolved("a._hearth._tcp.local.", [ip], 2, zed)
        .unwrap();
    let names: Vec<String> = rooms.list().into_iter().map(|r| r.ad.name).collect();
    assert_eq!(names, ["Attic", "Den"]);
    let bad = txt(&[("proto", "1")]);
    assert!(
        rooms
            .resolved("b._hearth._tcp.local.", [ip], 1, bad)
            .is_err()
    );
    assert_eq!(rooms.list().len(), 1);
    // A room without an address is not listed until one is known.
    rooms
        .resolved("c._hearth._tcp.local.", [], 3, txt(GOOD))
        .unwrap();
    assert_eq!(rooms.list().len(), 1);
}

proptest! {
    /// Whatever a stranger sends, decoding answers without panicking, and what it accepts
    /// encodes back to the same room.
    #[test]
    fn arbitrary_txt_records_never_panic(
        entries in proptest::collection::vec(
            (
                prop_oneof![
                    Just("txtvers".to_string()), Just("proto".to_string()),
                    Just("name".to_string()), Just("members".to_string()),
                    Just("pw".to_string()), Just("room".to_string()),
                    Just("NAME".to_string()), Just("fp".to_string()), "\\PC{0,8}",
                ],
                proptest::option::of(prop_oneof![
                    Just(b"1".to_vec()), Just(b"0".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..40),
                    "[0-9]{0,12}".prop_map(String::into_bytes),
                    "[0-9a-fA-F+]{62,66}".prop_map(String::into_bytes),
                ]),
            ),
            0..12,
        )
    ) {
        let view = entries.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        if let Ok(ad) = decode(view)
            && let Ok(encoded) = encode(&ad)
        {
            prop_assert_eq!(decode(as_txt(&encoded)), Ok(ad));
        }
        let mut rooms = Rooms::default();
        let view = entries.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        let _ = rooms.resolved("x._hearth._tcp.local.", [IpAddr::V4(Ipv4Addr::LOCALHOST)], 1, view);
        prop_assert!(rooms.list().len() <= 1);
    }

    /// Any room name gives one DNS label of at most 63 bytes without dots or backslashes.
    #[test]
    fn any_room_name_gives_a_safe_instance_name(name in "\\PC{0,80}", unique in any::<u32>()) {
        let instance = instance_name(&name, unique);
        prop_assert!(instance.len() <= 63);
        prop_assert!(!instance.contains('.') && !instance.contains('\\'));
    }
}
