//! A room advertised in one network namespace is found, updated and withdrawn in another,
//! over a veth pair the test makes: real mDNS multicast, never on the machine's own
//! interfaces (loopback carries no multicast, and the real LAN is not the tests' to use).
//!
//! Each side is a copy of this test binary running one `#[ignore]`d half inside its
//! namespace (a namespace belongs to a thread, and mdns-sd starts threads of its own).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hearth_testkit::netns::{Half, NetnsPair};
use hearth_discovery::{Advertiser, Browser, Interfaces, LanRoom, RoomAd};
use tokio::sync::watch;

/// How long one step may take: mDNS probing alone takes most of a second.
const STEP: Duration = Duration::from_secs(10);
/// The port advertised; nothing listens there, the record is all that is tested.
const PORT: u16 = 7777;
/// Stands for the advertised server's certificate fingerprint.
const FINGERPRINT: [u8; 32] = [0x5a; 32];

#[test]
fn a_room_is_found_updated_and_withdrawn_across_namespaces() {
    let Some(pair) = NetnsPair::for_test("a_room_is_found_updated_and_withdrawn_across_namespaces")
    else {
        return;
    };
    pair.run_halves("lan::advertiser_half", "lan::browser_half", 4 * STEP);
}

/// The half's interface as the only one mDNS may use.
fn only(half: &Half) -> Interfaces {
    Interfaces::Only(vec![half.interface.clone()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one half of a_room_is_found_updated_and_withdrawn_across_namespaces"]
async fn advertiser_half() {
    let Some(half) = Half::from_env() else {
        return;
    };
    let steps = &half.steps;
    let ad = RoomAd {
        name: "Den".into(),
        room: Some("den".into()),
        members: 1,
        needs_password: true,
        fingerprint: Some(FINGERPRINT),
    };
    let mut advertiser = Advertiser::start(&only(&half), ad, PORT).unwrap();
    println!("advertising {}", advertiser.service());
    steps.wait("seen-1", STEP).await;
    advertiser.set_members(2).unwrap();
    steps.wait("seen-2", STEP).await;
    let stopping = Instant::now();
    advertiser.stop().await;
    println!("stopped in {:?}", stopping.elapsed());
    steps.wait("gone", STEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one half of a_room_is_found_updated_and_withdrawn_across_namespaces"]
async fn browser_half() {
    let Some(half) = Half::from_env() else {
        return;
    };
    let steps = &half.steps;
    let host = IpAddr::V4(half.peer);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let browser = Browser::start(&only(&half), async move {
        let _ = stopped.await;
    })
    .unwrap();
    let mut rooms = browser.subscribe();

    let start = Instant::now();
    let den = until(&mut rooms, "the room with one member", |r| {
        r.iter().find(|r| r.ad.members == 1).cloned()
    })
    .await;
    println!("found {den:?} after {:?}", start.elapsed());
    assert_eq!(den.ad.name, "Den");
    assert_eq!(den.ad.room.as_deref(), Some("den"));
    assert!(den.ad.needs_password);
    assert_eq!(den.ad.fingerprint, Some(FINGERPRINT), "the certificate's fingerprint, to pin");
    assert_eq!((den.address, den.port), (host, PORT));
    assert!(den.service.starts_with("Den-"), "{}", den.service);
    assert_eq!(
        browser.rooms().len(),
        1,
        "one room, however often it was announced"
    );
    steps.done("seen-1");

    let update = Instant::now();
    until(&mut rooms, "two members", |r| {
        r.iter().find(|r| r.ad.members == 2).cloned()
    })
    .await;
    println!("member count updated after {:?}", update.elapsed());
    steps.done("seen-2");

    let goodbye = Instant::now();
    until(&mut rooms, "the room to go", |r| r.is_empty().then_some(())).await;
    println!("withdrawn after {:?}", goodbye.elapsed());
    steps.done("gone");
    let _ = stop.send(());
    browser.stopped().await;
}

async fn until<T>(
    rooms: &mut watch::Receiver<Vec<LanRoom>>,
    what: &str,
    mut pick: impl FnMut(&[LanRoom]) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(STEP, async {
        loop {
            if let Some(found) = pick(&rooms.borrow_and_update()) {
                return found;
            }
            rooms.changed().await.expect("the browser is running");
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}; rooms: {:?}", rooms.borrow()))
}
