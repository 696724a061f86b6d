//! A browser guest on another machine of the LAN hides its addresses behind mDNS names, as
//! browsers do for a page without camera or microphone permission, and the native member
//! must resolve them. Chromium runs in one network namespace and the server and the native
//! member in another, joined by a veth pair with multicast (`hearth_testkit::netns`), so
//! the mDNS queries never leave the test's own network.
//!
//! The native member's own candidates are replaced by an address nobody answers on, so
//! Chromium cannot start the connection from its side (which would let the native side
//! learn Chromium's real address from the checks, without resolving anything): pictures
//! arrive only if the native member resolved the `.local` name and checked it.

use std::time::{Duration, Instant};

use hearth_peer::{PeerConfig, Signal};
use hearth_testkit::netns::NetnsPair;
use hearth_testkit::{BrowserGuest, repo_root};
use hearth_video::VideoConfig;
use hearth_voice::SignalRewriter;

use crate::support::*;

const STEP: Duration = Duration::from_secs(40);
/// The namespace the browser runs in, for the half inside the other.
const GUEST_NAMESPACE_ENV: &str = "HEARTH_GUEST_NETNS";
/// The address the browser reaches the server at.
const HOST_ADDRESS_ENV: &str = "HEARTH_HOST_ADDRESS";
/// TEST-NET-3 (RFC 5737): no one answers there.
const NOWHERE: &str = "203.0.113.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_member_reaches_a_browser_that_hides_its_address_behind_an_mdns_name() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(pair) = NetnsPair::for_test("the mDNS browser test") else { return };
    pair.b.route_default_via(pair.a.address).expect("the guest's default route");
    let host = pair.a.address.to_string();
    let child = pair
        .a
        .spawn_test("mdns::host_side", &[(GUEST_NAMESPACE_ENV, &pair.b.namespace), (HOST_ADDRESS_ENV, &host)])
        .expect("start the host's side");
    let deadline = Instant::now() + Duration::from_secs(120);
    let output = tokio::task::spawn_blocking(move || child.finish(deadline)).await.expect("the wait");
    println!("{}", output.unwrap_or_else(|e| panic!("{e}")));
}

/// The host's side, inside the first namespace: the server, the native member with its
/// camera on, and the browser started in the other namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside a network namespace made by the test above"]
async fn host_side() {
    let (Ok(guest_namespace), Ok(host)) = (std::env::var(GUEST_NAMESPACE_ENV), std::env::var(HOST_ADDRESS_ENV)) else {
        eprintln!("skipped: runs inside a namespace made by its parent test");
        return;
    };
    let server = TestServer::start_on("0.0.0.0:0".parse().unwrap()).await;
    let script = repo_root().join("crates/hearth-video/tests/browser/mdns.mjs");
    let args = [format!("https://{host}:{}/lobby", server.addr.port())];
    let Some(mut browser) =
        BrowserGuest::start_in(Some(&guest_namespace), &script, &args, hearth_server::web::has_client())
    else {
        return;
    };

    // The native member gathers as the app does (every interface but loopback), and tells
    // the guest no address it could use.
    let config = VideoConfig {
        peer: PeerConfig { ice_check_interval: Duration::from_millis(20), ..PeerConfig::default() },
        outgoing_signal: Some(SignalRewriter::new(|signal| async move { unusable_candidates(signal) })),
        ..VideoConfig::default()
    };
    let native = Member::join(&server, "native", config).await;
    native.camera_on(VGA).await;
    assert_eq!(browser.next_line(STEP).await, "joined");

    let candidates = browser.expect_line("candidates", STEP).await;
    eprintln!("the guest's candidates: {candidates}");
    let seen = browser.expect_line("frames", STEP).await;
    let (frames, size) = seen.split_once(' ').expect("frames and size");
    let frames: u32 = frames.parse().expect("a count");
    assert!(candidates.split(' ').any(|a| a.ends_with(".local")), "the guest offered no mDNS name: {candidates}");
    assert!(!candidates.contains("10.77.0."), "the guest showed its address, so nothing needed resolving: {candidates}");
    assert_eq!(size, "640x480");
    assert!(frames >= 20, "the page painted {frames} frames of the native camera in 2 s");
    browser.finish(STEP).await;
    native.leave().await;
    server.stop().await;
}

/// `signal` with the address of every candidate in it replaced by [`NOWHERE`].
fn unusable_candidates(signal: Signal) -> Signal {
    match signal {
        Signal::Candidate { candidate, sdp_mid, sdp_mline_index } => {
            Signal::Candidate { candidate: unusable(&candidate), sdp_mid, sdp_mline_index }
        }
        Signal::Offer { sdp } => Signal::Offer { sdp: sdp.split("\r\n").map(unusable).collect::<Vec<_>>().join("\r\n") },
        Signal::Answer { sdp } => Signal::Answer { sdp: sdp.split("\r\n").map(unusable).collect::<Vec<_>>().join("\r\n") },
        other => other,
    }
}

/// A candidate line (`candidate:<foundation> <component> <transport> <priority> <address>
/// <port> typ …`, maybe after `a=`) with its address replaced; any other line as it is.
fn unusable(line: &str) -> String {
    if !line.trim_start_matches("a=").starts_with("candidate:") {
        return line.to_owned();
    }
    let mut fields: Vec<&str> = line.split(' ').collect();
    if fields.len() > 4 {
        fields[4] = NOWHERE;
    }
    fields.join(" ")
}
