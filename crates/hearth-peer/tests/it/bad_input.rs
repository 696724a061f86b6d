//! Bad input from the network or from signaling: logged, survived, and nobody else affected.

use std::time::{Duration, Instant};

use hearth_peer::{ConnectionState, Signal};

use crate::net::{Net, serial};

const CONNECT: Duration = Duration::from_secs(10);

/// Members 1, 2 and 3, all connected with audio flowing.
async fn connected_three() -> Net {
    let mut net = Net::new();
    for id in [1, 2, 3] {
        net.add_node(id);
    }
    net.join_both(1, 2);
    net.join_both(1, 3);
    net.join_both(2, 3);
    net.audio_every = Some(Duration::from_millis(20));
    let pairs = [(1, 2), (1, 3), (2, 3)];
    let ok = net
        .pump_until(CONNECT, |n| {
            pairs
                .iter()
                .all(|&(a, b)| n.audio(a, b) >= 3 && n.audio(b, a) >= 3)
        })
        .await;
    assert!(ok, "setup did not connect");
    net
}

/// Audio keeps arriving on every listed pair, both ways, and none of them failed.
async fn still_flowing(net: &mut Net, pairs: &[(u64, u64)]) {
    let before: Vec<(usize, usize)> = pairs
        .iter()
        .map(|&(a, b)| (net.audio(a, b), net.audio(b, a)))
        .collect();
    let ok = net
        .pump_until(CONNECT, |n| {
            pairs
                .iter()
                .zip(&before)
                .all(|(&(a, b), &(ab, ba))| n.audio(a, b) >= ab + 10 && n.audio(b, a) >= ba + 10)
        })
        .await;
    assert!(ok, "audio stopped on one of {pairs:?}");
    for &(a, b) in pairs {
        for (x, y) in [(a, b), (b, a)] {
            let seen = net.seen(x, y).unwrap();
            assert_eq!(
                seen.state,
                Some(ConnectionState::Connected),
                "{x} sees {y} as {:?}",
                seen.states
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_from_unknown_members_are_dropped() {
    let _serial = serial().await;
    let mut net = connected_three().await;
    let mesh = &mut net.nodes.get_mut(&1).unwrap().mesh;
    mesh.handle_signal(
        77,
        Signal::Offer {
            sdp: "v=0\r\n".into(),
        },
    );
    mesh.handle_signal(
        77,
        Signal::Answer {
            sdp: "v=0\r\n".into(),
        },
    );
    mesh.handle_signal(
        77,
        Signal::Candidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        },
    );
    mesh.handle_signal(77, Signal::Bye);
    // A signal "from ourselves" is the same kind of nonsense.
    mesh.handle_signal(1, Signal::Offer { sdp: String::new() });
    let mut members: Vec<u64> = mesh.members().collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [2, 3],
        "an unknown member's offer must not create a peer"
    );
    still_flowing(&mut net, &[(1, 2), (1, 3), (2, 3)]).await;
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_descriptions_and_candidates_are_survived() {
    let _serial = serial().await;
    let mut net = connected_three().await;
    let long = "x".repeat(100_000);
    let bad = [
        Signal::Offer { sdp: String::new() },
        Signal::Offer { sdp: "garbage".into() },
        Signal::Offer { sdp: long.clone() },
        Signal::Offer { sdp: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".into() },
        Signal::Answer { sdp: "garbage".into() },
        Signal::Answer { sdp: "v=0\r\n".into() },
        Signal::Candidate { candidate: String::new(), sdp_mid: None, sdp_mline_index: None },
        Signal::Candidate { candidate: "candidate:nonsense".into(), sdp_mid: Some("0".into()), sdp_mline_index: Some(0) },
        Signal::Candidate { candidate: "candidate:1 1 udp 1 999.1.1.1 99999 typ host".into(), sdp_mid: Some("7".into()), sdp_mline_index: Some(9) },
        Signal::Candidate { candidate: long, sdp_mid: None, sdp_mline_index: Some(u16::MAX) },
    ];
    // Member 2 "sends" all of it to member 1; members 1 and 3 must not notice anything.
    for signal in bad {
        net.deliver(2, 1, signal);
    }
    still_flowing(&mut net, &[(1, 2), (1, 3), (2, 3)]).await;
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_vanishing_mid_negotiation_is_survived() {
    let _serial = serial().await;
    let mut net = Net::new();
    for id in [1, 2, 3, 4] {
        net.add_node(id);
    }
    net.join_both(1, 2);
    net.audio_every = Some(Duration::from_millis(20));
    assert!(
        net.pump_until(CONNECT, |n| n.audio(1, 2) >= 3 && n.audio(2, 1) >= 3)
            .await
    );
    // 3 vanishes before anything it sent is delivered: 1's offer is never answered.
    net.join_both(1, 3);
    net.vanish(3).await;
    // 4 vanishes after 1 has its offer and has answered into the void.
    net.join_both(1, 4);
    net.pump_until(Duration::from_millis(100), |n| {
        n.seen(1, 4).is_some_and(|s| s.descriptions_received > 0)
    })
    .await;
    net.vanish(4).await;
    still_flowing(&mut net, &[(1, 2)]).await;
    // Dropping the half-made connections is prompt and clean.
    let started = Instant::now();
    for gone in [3, 4] {
        assert!(
            net.nodes
                .get_mut(&1)
                .unwrap()
                .mesh
                .remove_member(gone)
                .await
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "removal took {:?}",
        started.elapsed()
    );
    still_flowing(&mut net, &[(1, 2)]).await;
    net.close().await;
    assert_eq!(hearth_peer::live_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_and_malformed_rtp_are_survived() {
    let _serial = serial().await;
    let mut net = connected_three().await;
    // Member 2's sockets, as it announced them to member 1.
    let targets = net.seen(1, 2).unwrap().remote_addrs.clone();
    assert!(!targets.is_empty(), "no host candidates seen");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed = 0x1234_5678_u32;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect()
    };
    let mut datagrams: Vec<Vec<u8>> = vec![vec![], vec![0x80], vec![0x80, 0x6f], vec![0x90; 12]];
    for len in [4, 12, 13, 64, 200, 1200, 1500] {
        let mut rtp = noise(len);
        rtp[0] = 0x80 | (rtp[0] & 0x3f); // version 2: demultiplexed as RTP/RTCP
        datagrams.push(rtp);
        let mut stun = noise(len);
        stun[0] &= 0x03; // first byte 0..3: demultiplexed as STUN
        datagrams.push(stun);
        let mut dtls = noise(len);
        dtls[0] = 20 + dtls[0] % 44; // 20..63: demultiplexed as DTLS
        datagrams.push(dtls);
        datagrams.push(noise(len));
    }
    for _ in 0..20 {
        for target in &targets {
            for d in &datagrams {
                let _ = socket.send_to(d, target);
            }
        }
    }
    still_flowing(&mut net, &[(1, 2), (1, 3), (2, 3)]).await;
    net.close().await;
}
