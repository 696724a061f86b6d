//! Meshes connecting over loopback and exchanging audio.

use std::time::Duration;

use hearth_peer::ConnectionState;

use crate::net::{Net, serial};

const CONNECT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meshes_connect_and_exchange_audio_both_ways() {
    let _serial = serial().await;
    let mut net = Net::new();
    net.add_node(1);
    net.add_node(2);
    net.join_both(1, 2);
    net.audio_every = Some(Duration::from_millis(20));
    let ok = net
        .pump_until(CONNECT, |n| n.audio(1, 2) >= 10 && n.audio(2, 1) >= 10)
        .await;
    assert!(
        ok,
        "audio did not flow: 1<-2 {:?}, 2<-1 {:?}",
        net.seen(1, 2),
        net.seen(2, 1)
    );
    assert!(net.connected(&[(1, 2)]));
    for (at, of) in [(1, 2), (2, 1)] {
        let seen = net.seen(at, of).unwrap();
        assert_eq!(seen.foreign_audio, 0, "{at} got audio not from {of}");
        assert!(seen.last_seq.is_some() && seen.last_ts.is_some());
    }
    net.close().await;
    assert_eq!(
        hearth_peer::live_connections(),
        0,
        "connections not freed after close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossed_offers_resolve_by_politeness() {
    let _serial = serial().await;
    let mut net = Net::new();
    net.add_node(5);
    net.add_node(9);
    // Both make an offer before either sees the other's: glare on every run.
    net.join_both(5, 9);
    net.audio_every = Some(Duration::from_millis(20));
    let ok = net
        .pump_until(CONNECT, |n| n.audio(5, 9) >= 5 && n.audio(9, 5) >= 5)
        .await;
    assert!(
        ok,
        "glare did not resolve: {:?} / {:?}",
        net.seen(5, 9),
        net.seen(9, 5)
    );
    // The glare really happened: both sides sent an offer.
    assert!(net.seen(5, 9).unwrap().offers_sent >= 1 && net.seen(9, 5).unwrap().offers_sent >= 1);
    // 5 is polite, so it yielded: only 9's offer was answered, and 5 never saw a failure.
    for (at, of) in [(5, 9), (9, 5)] {
        let states = &net.seen(at, of).unwrap().states;
        assert!(
            !states.contains(&ConnectionState::Failed),
            "{at}: {states:?}"
        );
    }
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_meshes_form_a_full_mesh_with_audio_everywhere() {
    let _serial = serial().await;
    let mut net = Net::new();
    for id in [1, 2, 3] {
        net.add_node(id);
    }
    // 1 and 2 are in the room; 3 joins later and everyone learns of it at once.
    net.join_both(1, 2);
    assert!(net.pump_until(CONNECT, |n| n.connected(&[(1, 2)])).await);
    net.join_both(3, 1);
    net.join_both(3, 2);
    net.audio_every = Some(Duration::from_millis(20));
    let pairs = [(1, 2), (1, 3), (2, 3)];
    let ok = net
        .pump_until(CONNECT, |n| {
            pairs
                .iter()
                .all(|&(a, b)| n.audio(a, b) >= 5 && n.audio(b, a) >= 5)
        })
        .await;
    assert!(
        ok,
        "not all pairs got audio: {:?}",
        net.nodes.get(&3).map(|n| &n.seen)
    );
    for &(a, b) in &pairs {
        assert_eq!(net.seen(a, b).unwrap().foreign_audio, 0);
        assert_eq!(net.seen(b, a).unwrap().foreign_audio, 0);
    }
    // Member 3 leaves: the others drop it, and 1 and 2 keep talking.
    net.vanish(3).await;
    for id in [1, 2] {
        assert!(net.nodes.get_mut(&id).unwrap().mesh.remove_member(3).await);
    }
    let before = (net.audio(1, 2), net.audio(2, 1));
    assert!(
        net.pump_until(CONNECT, |n| n.audio(1, 2) >= before.0 + 5
            && n.audio(2, 1) >= before.1 + 5)
            .await
    );
    assert!(net.seen(1, 3).unwrap().closed && net.seen(2, 3).unwrap().closed);
    net.close().await;
    assert_eq!(hearth_peer::live_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_before_the_offer_are_buffered() {
    let _serial = serial().await;
    let mut net = Net::new();
    net.add_node(1);
    net.add_node(2);
    // Offers and answers are held back while candidates go straight through.
    net.delay_descriptions = Some(Duration::from_millis(300));
    net.join_both(1, 2);
    net.audio_every = Some(Duration::from_millis(20));
    let ok = net
        .pump_until(CONNECT, |n| n.audio(1, 2) >= 5 && n.audio(2, 1) >= 5)
        .await;
    assert!(ok, "{:?} / {:?}", net.seen(1, 2), net.seen(2, 1));
    let early = net.seen(1, 2).unwrap().early_candidates + net.seen(2, 1).unwrap().early_candidates;
    assert!(
        early >= 2,
        "the test never delivered a candidate before a description ({early})"
    );
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_that_reconnects_from_scratch_is_accepted() {
    let _serial = serial().await;
    let mut net = Net::new();
    net.add_node(1);
    net.add_node(2);
    net.join_both(1, 2);
    net.audio_every = Some(Duration::from_millis(20));
    assert!(
        net.pump_until(CONNECT, |n| n.audio(1, 2) >= 3 && n.audio(2, 1) >= 3)
            .await
    );
    // Member 2 drops its connection (say, its app restarted) and offers a brand-new one;
    // member 1 still has the old connection and must replace it, not refuse the offer.
    assert!(net.nodes.get_mut(&2).unwrap().mesh.remove_member(1).await);
    net.nodes.get_mut(&2).unwrap().seen.clear();
    net.introduce(2, 1);
    let before = net.audio(1, 2);
    let ok = net
        .pump_until(CONNECT, |n| {
            n.audio(2, 1) >= 5 && n.audio(1, 2) >= before + 5
        })
        .await;
    assert!(ok, "{:?} / {:?}", net.seen(1, 2), net.seen(2, 1));
    net.close().await;
}
