//! Connections through the impairment relay: loss and jitter, and a cut link.

use std::time::Duration;

use hearth_peer::ConnectionState;
use hearth_peer::relay::{Impairment, UdpRelay};

use crate::net::{Net, serial};

/// Members 1 and 2 connected through a relay, with 20 ms audio flowing both ways.
async fn pair_through_relay(impairment: Impairment) -> Net {
    let mut net = Net::new();
    net.add_node(1);
    net.add_node(2);
    net.relay = Some(UdpRelay::start(impairment));
    net.join_both(1, 2);
    net.audio_every = Some(Duration::from_millis(20));
    let ok = net
        .pump_until(Duration::from_secs(20), |n| {
            n.audio(1, 2) >= 3 && n.audio(2, 1) >= 3
        })
        .await;
    assert!(
        ok,
        "no connection through the relay: {:?} / {:?}",
        net.seen(1, 2),
        net.seen(2, 1)
    );
    net
}

fn set(net: &Net, impairment: Impairment) {
    net.relay.as_ref().unwrap().set_impairment(impairment);
}

/// Audio flows again both ways (10 more packets each), whatever happened before.
async fn recovers(net: &mut Net) {
    let before = (net.audio(1, 2), net.audio(2, 1));
    let ok = net
        .pump_until(Duration::from_secs(20), |n| {
            n.audio(1, 2) >= before.0 + 10 && n.audio(2, 1) >= before.1 + 10
        })
        .await;
    let states = (
        &net.seen(1, 2).unwrap().states,
        &net.seen(2, 1).unwrap().states,
    );
    assert!(ok, "no recovery after the link came back: {states:?}");
    assert!(net.connected(&[(1, 2)]), "{states:?}");
}

const CUT: Impairment = Impairment {
    loss: 1.0,
    ..Impairment::NONE
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_crosses_a_relay_with_loss_and_jitter() {
    let _serial = serial().await;
    let impairment = Impairment {
        loss: 0.10,
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(30),
        seed: 7,
    };
    let mut net = pair_through_relay(impairment).await;
    net.audio_every = Some(Duration::from_millis(10));
    let got = net
        .pump_until(Duration::from_secs(10), |n| {
            n.audio(1, 2) >= 300 && n.audio(2, 1) >= 300
        })
        .await;
    assert!(
        got,
        "audio did not cross: {:?} / {:?}",
        net.seen(1, 2),
        net.seen(2, 1)
    );
    let stats = net.relay.as_ref().unwrap().stats().await;
    let loss = stats.dropped as f64 / (stats.dropped + stats.forwarded) as f64;
    let reordered = (
        net.seen(1, 2).unwrap().reordered,
        net.seen(2, 1).unwrap().reordered,
    );
    eprintln!("relay: {stats:?}, loss {loss:.3}; reordered {reordered:?}");
    assert!((0.05..0.15).contains(&loss), "relay loss {loss}");
    // 30 ms of jitter on 10 ms packets must reorder some, or the relay is not jittering.
    assert!(reordered.0 > 0 && reordered.1 > 0);
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_recovers() {
    let _serial = serial().await;
    let mut net = pair_through_relay(Impairment::NONE).await;
    set(&net, CUT);
    let failed = |n: &Net, a, b| {
        n.seen(a, b)
            .unwrap()
            .states
            .contains(&ConnectionState::Failed)
    };
    let ok = net
        .pump_until(Duration::from_secs(15), |n| {
            failed(n, 1, 2) || failed(n, 2, 1)
        })
        .await;
    assert!(
        ok,
        "cutting the link never failed the connection: {:?}",
        net.seen(1, 2).unwrap().states
    );
    // Back at once: the ICE restart that the failure started can succeed.
    set(&net, Impairment::NONE);
    recovers(&mut net).await;
    net.close().await;
    assert_eq!(hearth_peer::live_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_down_longer_than_an_ice_restart_gets_a_fresh_connection() {
    let _serial = serial().await;
    let mut net = pair_through_relay(Impairment::NONE).await;
    let connections = |n: &Net, a, b| n.seen(a, b).unwrap().fingerprints_sent.len();
    assert_eq!((connections(&net, 1, 2), connections(&net, 2, 1)), (1, 1));
    // Down for longer than failing (4 s) plus the restart's allowance (4 s) on loopback.
    set(&net, CUT);
    let ok = net
        .pump_until(Duration::from_secs(15), |n| {
            connections(n, 1, 2) > 1 || connections(n, 2, 1) > 1
        })
        .await;
    assert!(
        ok,
        "no fresh connection was made: {:?}",
        net.seen(1, 2).unwrap().states
    );
    set(&net, Impairment::NONE);
    recovers(&mut net).await;
    net.close().await;
    assert_eq!(hearth_peer::live_connections(), 0);
}
