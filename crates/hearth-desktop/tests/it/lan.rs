//! The app's LAN list end to end: a `Desktop` hosting from `host_start` in one network
//! namespace is listed by `lan_rooms` of a `Desktop` in another, with its address, port and
//! live member count, and leaves the list after `host_stop`. The namespaces and the veth
//! between them are made by the test (hearth_testkit::netns), so mDNS multicast never
//! touches the machine's own interfaces; each app runs in a copy of this test binary inside
//! its namespace, because a namespace belongs to a thread and the app starts many.

use std::time::{Duration, Instant};

use hearth_desktop::ipc::{AppEvent, HostStatus, LanRoom};
use hearth_desktop::{Desktop, DesktopConfig, LanInterfaces};
use hearth_testkit::netns::{Half, NetnsPair};

use crate::support::{WAIT, expect, host_room};

const ROOM: &str = "den";

#[test]
fn lan_rooms_lists_a_hosted_room_with_its_members_across_namespaces() {
    let test = "lan_rooms_lists_a_hosted_room_with_its_members_across_namespaces";
    let Some(pair) = NetnsPair::for_test(test) else {
        return;
    };
    pair.run_halves("lan::host_half", "lan::guest_half", 6 * WAIT);
}

/// The app a half runs, with discovery on the namespace's veth only; `None` when the half
/// is run any other way.
fn half() -> Option<(Desktop, Half)> {
    let half = Half::from_env()?;
    let desktop = Desktop::spawn(DesktopConfig {
        lan_discovery: Some(LanInterfaces::Only(vec![half.interface.clone()])),
        ..DesktopConfig::default()
    });
    Some((desktop, half))
}

/// The next `lan_rooms` event whose room `den` passes `check` (`None`: `den` is absent).
async fn lan_event(
    desktop: &mut Desktop,
    what: &str,
    check: impl Fn(Option<&LanRoom>) -> bool,
) -> Option<LanRoom> {
    expect(desktop, what, |event| match event {
        AppEvent::LanRooms { rooms } => {
            let den = rooms.iter().find(|r| r.name == ROOM);
            check(den).then(|| den.cloned())
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one half of lan_rooms_lists_a_hosted_room_with_its_members_across_namespaces"]
async fn host_half() {
    let Some((mut host, Half { steps, .. })) = half() else {
        return;
    };
    let port = host_room(&host, ROOM).await;
    host.handle
        .connect(format!("127.0.0.1:{port}/{ROOM}"), "host".into(), None)
        .await
        .unwrap();
    // The host hears its own room too (multicast loops back on the veth), marked as its own.
    let own = lan_event(&mut host, "our own room, with us in it", |den| {
        den.is_some_and(|d| d.member_count == 1)
    })
    .await
    .unwrap();
    assert!(own.own, "{own:?}");
    assert_eq!(own.port, port);

    // The guest finds the room, joins over the veth, checks the count and leaves.
    expect(&mut host, "the guest to join", |e| {
        matches!(e, AppEvent::MemberJoined { member } if member.name == "guest").then_some(())
    })
    .await;
    steps.wait("seen-2", 3 * WAIT).await;
    let stopped = host.handle.host_stop().await.unwrap();
    assert!(matches!(stopped, HostStatus::Off { .. }), "{stopped:?}");
    lan_event(&mut host, "our room to leave our own list", |den| {
        den.is_none()
    })
    .await;
    steps.wait("gone", 3 * WAIT).await;
    host.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one half of lan_rooms_lists_a_hosted_room_with_its_members_across_namespaces"]
async fn guest_half() {
    let Some((mut guest, Half { steps, peer, .. })) = half() else {
        return;
    };
    let start = Instant::now();
    let den = lan_event(&mut guest, "the hosted room with its host in it", |den| {
        den.is_some_and(|d| d.member_count == 1)
    })
    .await
    .unwrap();
    println!("found {den:?} after {:?}", start.elapsed());
    assert_eq!(den.address, peer.to_string());
    assert_eq!(den.room.as_deref(), Some(ROOM));
    assert!(!den.needs_password && !den.own, "{den:?}");
    assert_eq!(guest.handle.lan_rooms().await.unwrap(), vec![den.clone()]);

    // Join as the Start screen does with a room from the list: over TLS, pinned to the
    // fingerprint the room advertises (a wrong pin would be refused as certificate_mismatch,
    // see room.rs), so no one on the LAN can stand in for the host.
    let fingerprint = den.fingerprint.clone().expect("the room advertises its certificate");
    assert_eq!(fingerprint.len(), 64, "{fingerprint}");
    let joined = Instant::now();
    guest
        .handle
        .connect(
            format!("https://{}:{}/{}#fp={fingerprint}", den.address, den.port, ROOM),
            "guest".into(),
            None,
        )
        .await
        .unwrap();
    lan_event(&mut guest, "two members", |den| {
        den.is_some_and(|d| d.member_count == 2)
    })
    .await;
    println!("member count 2 after {:?}", joined.elapsed());
    steps.done("seen-2");

    let stop = Instant::now();
    lan_event(&mut guest, "the room to leave the list", |den| {
        den.is_none()
    })
    .await;
    println!("gone {:?} after the count was seen", stop.elapsed());
    assert_eq!(guest.handle.lan_rooms().await.unwrap(), Vec::new());
    steps.done("gone");
    // Long enough for a last member count to arrive if anything were still advertised.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(guest.handle.lan_rooms().await.unwrap(), Vec::new());
    guest.handle.shutdown().await.unwrap();
}
