//! Meshes connecting over loopback and exchanging audio.

use std::time::Duration;

use crate::net::{Net, serial};

const CONNECT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meshes_connect_and_exchange_audio_both_ways() {
    let _serial = serial();
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
