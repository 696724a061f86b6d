//! Camera video over real loopback WebRTC: each member has a `CameraSend` and a
//! `CameraWatch`; a switchboard relays their signaling in memory (through a `UdpRelay` when
//! set), and cameras send synthetic VP8 frames at 30 fps.
//!
//! A synthetic frame is the VP8 frame tag's keyframe bit (all a receiver looks at), the frame
//! number, the length, and a pattern of both, so a watcher can check that every frame it got is
//! whole, in order, and carries the timestamp it was sent with.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use hearth_peer::relay::{Impairment, UdpRelay};
use hearth_peer::{
    CameraEvent, CameraSend, CameraWatch, ConnectionState, MemberId, PeerConfig, Signal,
    VideoFrameOut,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::net::serial;

const CONNECT: Duration = Duration::from_secs(10);
/// 30 fps on the 90 kHz clock.
const FRAME_TICKS: u32 = 3000;

fn frame_bytes(n: u32, len: usize, keyframe: bool) -> Bytes {
    let mut data: Vec<u8> = (0..len).map(|i| (i as u32).wrapping_add(n) as u8).collect();
    // The frame tag's first bit is 0 for a keyframe (RFC 6386 §9.1).
    data[0] = if keyframe { 0x10 } else { 0x11 };
    data[1..5].copy_from_slice(&n.to_be_bytes());
    data[5..9].copy_from_slice(&(len as u32).to_be_bytes());
    Bytes::from(data)
}

/// The frame number of a received frame, if the frame is exactly what was sent.
fn check_frame(data: &[u8], keyframe: bool) -> Option<u32> {
    let n = u32::from_be_bytes(data.get(1..5)?.try_into().ok()?);
    let len = u32::from_be_bytes(data.get(5..9)?.try_into().ok()?) as usize;
    (frame_bytes(n, len, keyframe) == data).then_some(n)
}

/// What a watcher saw of one camera.
#[derive(Default, Debug)]
pub struct Watched {
    /// (frame number, RTP timestamp, keyframe, length) of each frame, in arrival order.
    pub frames: Vec<(u32, u32, bool, usize)>,
    /// Frames whose content was not what was sent.
    pub corrupt: usize,
    /// Frames lost so far, and the number of frames received before each loss.
    pub lost: Vec<usize>,
    pub states: Vec<ConnectionState>,
    pub closed: bool,
    pub byes_sent: usize,
}

/// What a camera saw of one watcher.
#[derive(Default, Debug)]
pub struct Watcher {
    pub keyframe_requests: usize,
    pub reports: usize,
    /// The highest fraction lost a receiver report gave.
    pub max_fraction_lost: f32,
    pub states: Vec<ConnectionState>,
    pub closed: bool,
    pub byes_received: usize,
}

pub struct Cam {
    pub send: CameraSend,
    send_events: mpsc::Receiver<CameraEvent>,
    pub watch: CameraWatch,
    watch_events: mpsc::Receiver<CameraEvent>,
    /// By watcher.
    pub watchers: HashMap<MemberId, Watcher>,
    /// By camera owner.
    pub watched: HashMap<MemberId, Watched>,
    /// Whether this member's camera is on (sends a frame every tick).
    pub on: bool,
    next_frame: u32,
    keyframe_wanted: bool,
    pub keyframes_sent: usize,
    pub key_size: usize,
    pub delta_size: usize,
}

#[derive(Default)]
pub struct CamNet {
    pub nodes: HashMap<MemberId, Cam>,
    pub relay: Option<UdpRelay>,
    next_tick: Option<Instant>,
}

impl CamNet {
    pub fn new(ids: &[MemberId]) -> Self {
        let mut net = CamNet::default();
        for &id in ids {
            let (send, send_events) = CameraSend::new(id, PeerConfig::loopback());
            let (watch, watch_events) = CameraWatch::new(id, PeerConfig::loopback());
            net.nodes.insert(
                id,
                Cam {
                    send,
                    send_events,
                    watch,
                    watch_events,
                    watchers: HashMap::new(),
                    watched: HashMap::new(),
                    on: false,
                    next_frame: 0,
                    keyframe_wanted: true,
                    keyframes_sent: 0,
                    key_size: 8_000,
                    delta_size: 1_500,
                },
            );
        }
        net
    }

    pub fn node(&mut self, id: MemberId) -> &mut Cam {
        self.nodes.get_mut(&id).unwrap()
    }

    /// `watcher` starts watching `owner`'s camera: the watcher opens it, the owner offers.
    pub fn watch(&mut self, watcher: MemberId, owner: MemberId) {
        assert!(self.node(watcher).watch.open(owner));
        assert!(self.node(owner).send.add_watcher(watcher));
    }

    pub fn watched(&self, at: MemberId, owner: MemberId) -> Option<&Watched> {
        self.nodes.get(&at)?.watched.get(&owner)
    }

    pub fn frames(&self, at: MemberId, owner: MemberId) -> usize {
        self.watched(at, owner).map_or(0, |w| w.frames.len())
    }

    pub fn watcher(&self, owner: MemberId, watcher: MemberId) -> Option<&Watcher> {
        self.nodes.get(&owner)?.watchers.get(&watcher)
    }

    /// The highest frame number `owner` has given to send.
    pub fn sent(&self, owner: MemberId) -> u32 {
        self.nodes[&owner].next_frame.saturating_sub(1)
    }

    /// Closes everything, and checks that every webrtc-rs connection was freed.
    pub async fn close(mut self) {
        if let Some(relay) = self.relay.take() {
            relay.close().await;
        }
        for (_, node) in self.nodes.drain() {
            node.send.close().await;
            node.watch.close_all().await;
        }
        assert_eq!(hearth_peer::live_connections(), 0, "connections not freed");
    }

    async fn route(&mut self, to_watch: bool, from: MemberId, to: MemberId, signal: Signal) {
        let signal = match &self.relay {
            Some(relay) => relay.rewrite_signal(signal).await.expect("relay rewrite"),
            None => signal,
        };
        let Some(node) = self.nodes.get_mut(&to) else {
            return;
        };
        if to_watch {
            node.watch.handle_signal(from, signal);
        } else {
            if signal == Signal::Bye {
                node.watchers.entry(from).or_default().byes_received += 1;
            }
            node.send.handle_signal(from, signal);
        }
    }

    /// Processes events and sends frames until `done` holds or `timeout` passes.
    pub async fn pump_until(&mut self, timeout: Duration, done: impl Fn(&CamNet) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let mut outgoing = Vec::new();
            for (&id, node) in &mut self.nodes {
                while let Ok(ev) = node.send_events.try_recv() {
                    match ev {
                        CameraEvent::Signal { member, signal } => {
                            outgoing.push((true, id, member, signal))
                        }
                        CameraEvent::State { member, state } => {
                            node.watchers.entry(member).or_default().states.push(state)
                        }
                        CameraEvent::KeyframeRequest { member } => {
                            node.watchers.entry(member).or_default().keyframe_requests += 1;
                            node.keyframe_wanted = true;
                        }
                        CameraEvent::Report {
                            member,
                            fraction_lost,
                            ..
                        } => {
                            let w = node.watchers.entry(member).or_default();
                            w.reports += 1;
                            w.max_fraction_lost = w.max_fraction_lost.max(fraction_lost);
                        }
                        CameraEvent::Closed { member } => {
                            node.watchers.entry(member).or_default().closed = true
                        }
                        other => panic!("the sender reported {other:?}"),
                    }
                }
                while let Ok(ev) = node.watch_events.try_recv() {
                    match ev {
                        CameraEvent::Signal { member, signal } => {
                            if signal == Signal::Bye {
                                node.watched.entry(member).or_default().byes_sent += 1;
                            }
                            outgoing.push((false, id, member, signal))
                        }
                        CameraEvent::State { member, state } => {
                            node.watched.entry(member).or_default().states.push(state)
                        }
                        CameraEvent::Frame { member, frame } => {
                            let w = node.watched.entry(member).or_default();
                            match check_frame(&frame.data, frame.keyframe) {
                                Some(n) => w.frames.push((
                                    n,
                                    frame.timestamp,
                                    frame.keyframe,
                                    frame.data.len(),
                                )),
                                None => w.corrupt += 1,
                            }
                        }
                        CameraEvent::FrameLost { member } => {
                            let w = node.watched.entry(member).or_default();
                            w.lost.push(w.frames.len());
                        }
                        CameraEvent::Closed { member } => {
                            node.watched.entry(member).or_default().closed = true
                        }
                        other => panic!("the watcher reported {other:?}"),
                    }
                }
            }
            for (to_watch, from, to, signal) in outgoing {
                self.route(to_watch, from, to, signal).await;
            }
            let now = Instant::now();
            if self.next_tick.is_none_or(|t| t <= now) {
                self.next_tick = Some(self.next_tick.unwrap_or(now) + Duration::from_millis(33));
                for node in self.nodes.values_mut().filter(|n| n.on) {
                    // Keyframes only when asked for: a watcher gets frames only if the
                    // keyframe-request path works.
                    let keyframe = std::mem::take(&mut node.keyframe_wanted);
                    let n = node.next_frame;
                    node.next_frame += 1;
                    node.keyframes_sent += usize::from(keyframe);
                    let len = if keyframe {
                        node.key_size
                    } else {
                        node.delta_size
                    };
                    node.send
                        .send_frame(&VideoFrameOut {
                            data: frame_bytes(n, len, keyframe),
                            keyframe,
                            timestamp: n.wrapping_mul(FRAME_TICKS),
                        })
                        .expect("send_frame");
                }
            }
            if done(self) {
                return true;
            }
            if now >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Member 1's camera (keyframes and other frames of the sizes given) watched by member 2,
/// through a relay if asked, with the first frames already through.
async fn streaming_pair(relay: bool, key_size: usize, delta_size: usize) -> CamNet {
    let mut net = CamNet::new(&[1, 2]);
    if relay {
        net.relay = Some(UdpRelay::start(Impairment::NONE));
    }
    let camera = net.node(1);
    (camera.on, camera.key_size, camera.delta_size) = (true, key_size, delta_size);
    net.watch(2, 1);
    let ok = net.pump_until(CONNECT, |n| n.frames(2, 1) >= 10).await;
    assert!(ok, "{:?} / {:?}", net.watched(2, 1), net.watcher(1, 2));
    net
}

/// Frames arrived whole, in order, with the sender's timestamp steps, and began on a keyframe;
/// frames were skipped only up to a keyframe (a decoder never misses a frame it refers to),
/// and not at all when `consecutive`.
fn assert_in_order(w: &Watched, consecutive: bool) {
    assert_eq!(w.corrupt, 0, "corrupt frames");
    let first = w.frames.first().expect("no frames");
    assert!(first.2, "the first frame was not a keyframe: {first:?}");
    for pair in w.frames.windows(2) {
        let ((a, ta, ..), (b, tb, b_key, _)) = (pair[0], pair[1]);
        assert!(b > a, "frame {b} after {a}");
        if consecutive || !b_key {
            assert_eq!(b, a + 1, "frames between {a} and {b} missing");
        }
        assert_eq!(
            tb.wrapping_sub(ta),
            (b - a) * FRAME_TICKS,
            "timestamps of frames {a} and {b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_cross_whole_and_in_order_with_40_kb_keyframes() {
    let _serial = serial().await;
    let mut net = streaming_pair(false, 40_000, 3_000).await;
    let ok = net
        .pump_until(CONNECT, |n| {
            n.frames(2, 1) >= 60 && n.watcher(1, 2).is_some_and(|w| w.reports > 0)
        })
        .await;
    let w = net.watched(2, 1).unwrap();
    assert!(ok, "{w:?} / {:?}", net.watcher(1, 2));
    assert_in_order(w, true);
    assert!(w.lost.is_empty(), "loss on a clean link: {w:?}");
    // The 40 KB keyframe went as some 34 packets and came back as one frame.
    assert_eq!(w.frames[0].3, 40_000);
    assert!(w.frames[1..].iter().all(|f| f.3 == 3_000));
    assert_eq!(w.states.last(), Some(&ConnectionState::Connected));
    assert_eq!(net.watcher(1, 2).unwrap().max_fraction_lost, 0.0);
    // The watcher's own request (a PLI) reaches the sender as a keyframe request.
    let requests = net.watcher(1, 2).unwrap().keyframe_requests;
    assert!(net.node(2).watch.request_keyframe(1));
    assert!(!net.node(2).watch.request_keyframe(3), "not an open camera");
    let ok = net
        .pump_until(CONNECT, |n| {
            n.watcher(1, 2).unwrap().keyframe_requests > requests
        })
        .await;
    assert!(ok, "the PLI never arrived");
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_added_later_starts_on_a_requested_keyframe() {
    let _serial = serial().await;
    let mut net = CamNet::new(&[1, 2, 3]);
    net.node(1).on = true;
    net.watch(2, 1);
    assert!(net.pump_until(CONNECT, |n| n.frames(2, 1) >= 30).await);
    let requests_before = net.node(1).keyframes_sent;
    net.watch(3, 1);
    let ok = net.pump_until(CONNECT, |n| n.frames(3, 1) >= 30).await;
    assert!(ok, "{:?} / {:?}", net.watched(3, 1), net.watcher(1, 3));
    // Watcher 3 asked (or was asked for, on connecting), and its stream began on that keyframe.
    assert!(net.watcher(1, 3).unwrap().keyframe_requests >= 1);
    assert!(net.node(1).keyframes_sent > requests_before);
    assert_in_order(net.watched(3, 1).unwrap(), true);
    // Watcher 2 saw the extra keyframe go by and nothing else changed.
    let w2 = net.watched(2, 1).unwrap();
    assert_in_order(w2, true);
    assert!(w2.lost.is_empty());
    assert!(
        w2.frames.iter().skip(1).any(|f| f.2),
        "watcher 2 missed the keyframe"
    );
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_watcher_stops_frames_at_once() {
    let _serial = serial().await;
    let mut net = CamNet::new(&[1, 2, 3]);
    net.node(1).on = true;
    net.watch(2, 1);
    net.watch(3, 1);
    assert!(
        net.pump_until(CONNECT, |n| n.frames(2, 1) >= 10 && n.frames(3, 1) >= 10)
            .await
    );
    assert!(net.node(1).send.remove_watcher(2).await);
    assert!(!net.node(1).send.remove_watcher(2).await);
    let last_given = net.sent(1);
    assert_eq!(net.node(1).send.watchers().collect::<Vec<_>>(), [3]);
    let before3 = net.frames(3, 1);
    assert!(
        net.pump_until(CONNECT, |n| n.frames(3, 1) >= before3 + 30)
            .await
    );
    let w2 = net.watched(2, 1).unwrap();
    let after: Vec<_> = w2.frames.iter().filter(|f| f.0 > last_given).collect();
    assert!(
        after.is_empty(),
        "frames reached a removed watcher: {after:?}"
    );
    // The watcher was told (Bye) and closed its end; the sender's end is gone.
    assert!(
        w2.states.last() == Some(&ConnectionState::Closed),
        "{:?}",
        w2.states
    );
    assert!(net.watcher(1, 2).unwrap().closed);
    assert_in_order(net.watched(3, 1).unwrap(), true);
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_from_a_camera_not_opened_is_refused() {
    let _serial = serial().await;
    let mut net = CamNet::new(&[1, 2]);
    net.node(1).on = true;
    // 1 offers its camera to 2, which never opened it.
    assert!(net.node(1).send.add_watcher(2));
    let refused = net
        .pump_until(CONNECT, |n| {
            n.watcher(1, 2).is_some_and(|w| {
                w.byes_received >= 1 && w.states.contains(&ConnectionState::Closed)
            })
        })
        .await;
    assert!(refused, "{:?} / {:?}", net.watcher(1, 2), net.watched(2, 1));
    assert_eq!(net.watched(2, 1).unwrap().byes_sent, 1);
    assert_eq!(net.frames(2, 1), 0);
    assert_eq!(net.node(2).watch.owners().count(), 0);
    // Nonsense the other way is survived too: an offer to a sender, garbage to a watcher.
    net.node(1).send.handle_signal(
        2,
        Signal::Offer {
            sdp: "v=0\r\n".into(),
        },
    );
    net.node(1).send.handle_signal(9, Signal::Bye);
    net.node(2).watch.handle_signal(
        9,
        Signal::Offer {
            sdp: "garbage".into(),
        },
    );
    net.node(2).watch.handle_signal(
        9,
        Signal::Answer {
            sdp: "garbage".into(),
        },
    );
    // Once 2 opens the camera, a new offer is accepted.
    assert!(net.node(1).send.remove_watcher(2).await);
    net.watch(2, 1);
    let ok = net.pump_until(CONNECT, |n| n.frames(2, 1) >= 10).await;
    assert!(ok, "{:?}", net.watched(2, 1));
    assert_eq!(net.watched(2, 1).unwrap().byes_sent, 1);
    assert_eq!(
        net.watched(2, 9).map(|w| w.byes_sent),
        Some(1),
        "the garbage offer was refused too"
    );
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_is_repaired_by_nack_and_beyond_it_by_a_keyframe() {
    let _serial = serial().await;
    let mut net = streaming_pair(true, 20_000, 3_000).await;
    let set = |net: &CamNet, loss: f64| {
        net.relay.as_ref().unwrap().set_impairment(Impairment {
            loss,
            delay: Duration::from_millis(2),
            jitter: Duration::from_millis(4),
            seed: 11,
        })
    };
    // 5 % loss: NACK retransmission fills nearly every hole in time.
    set(&net, 0.05);
    let (frames0, sent0) = (net.frames(2, 1), net.sent(1));
    net.pump_until(Duration::from_secs(5), |_| false).await;
    let stats = net.relay.as_ref().unwrap().stats().await;
    let (got, sent) = (net.frames(2, 1) - frames0, (net.sent(1) - sent0) as usize);
    let w = net.watched(2, 1).unwrap();
    eprintln!(
        "5 % loss: {got} of {sent} frames, {} losses, relay {stats:?}",
        w.lost.len()
    );
    assert!(
        stats.dropped > 20,
        "the relay dropped too little: {stats:?}"
    );
    assert!(
        got * 10 >= sent * 8,
        "only {got} of {sent} frames at 5 % loss"
    );
    // 40 % loss: retransmissions are lost too, so frames are lost and a keyframe requested.
    set(&net, 0.40);
    let requests0 = net.watcher(1, 2).unwrap().keyframe_requests;
    let ok = net
        .pump_until(Duration::from_secs(10), |n| {
            !n.watched(2, 1).unwrap().lost.is_empty()
        })
        .await;
    assert!(ok, "no loss detected at 40 %: {:?}", net.watched(2, 1));
    // A little longer, so that receiver reports cover the heavy loss.
    net.pump_until(Duration::from_secs(2), |_| false).await;
    set(&net, 0.05);
    let after = net.frames(2, 1);
    let ok = net
        .pump_until(Duration::from_secs(10), |n| n.frames(2, 1) >= after + 30)
        .await;
    let w = net.watched(2, 1).unwrap();
    assert!(
        ok,
        "no recovery: {} frames, losses {:?}",
        w.frames.len(),
        w.lost
    );
    assert!(net.watcher(1, 2).unwrap().keyframe_requests > requests0);
    // Receiver reports count a packet as lost only until its retransmission arrives, so at
    // 40 % loss they show some loss, but not 40 %.
    let reported = net.watcher(1, 2).unwrap().max_fraction_lost;
    eprintln!("highest fraction lost reported: {reported}");
    assert!(reported > 0.0, "receiver reports show no loss");
    // Whatever was lost, what came out is whole and in order, and after every loss the
    // stream resumed on a keyframe.
    assert_in_order(w, false);
    for &at in &w.lost {
        if let Some(next) = w.frames.get(at) {
            assert!(next.2, "frame {next:?} after a loss is not a keyframe");
        }
    }
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_is_repaired_by_the_broadcaster() {
    let _serial = serial().await;
    let mut net = streaming_pair(true, 8_000, 1_500).await;
    let cut = Impairment {
        loss: 1.0,
        ..Impairment::NONE
    };
    net.relay.as_ref().unwrap().set_impairment(cut);
    let failed = |n: &CamNet| {
        n.watcher(1, 2)
            .unwrap()
            .states
            .contains(&ConnectionState::Failed)
    };
    assert!(
        net.pump_until(Duration::from_secs(15), failed).await,
        "cutting the link never failed the connection: {:?}",
        net.watcher(1, 2)
    );
    // Back at once: the broadcaster's ICE restart (the watcher only answers) reconnects.
    net.relay.as_ref().unwrap().set_impairment(Impairment::NONE);
    let before = net.frames(2, 1);
    let ok = net
        .pump_until(Duration::from_secs(20), |n| n.frames(2, 1) >= before + 30)
        .await;
    let w = net.watched(2, 1).unwrap();
    assert!(ok, "no frames after the link came back: {:?}", w.states);
    assert_in_order(w, false);
    assert_eq!(
        net.watcher(1, 2).unwrap().states.last(),
        Some(&ConnectionState::Connected)
    );
    net.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_connect_close_cycles_do_not_leak() {
    let _serial = serial().await;
    let mut net = CamNet::new(&[1, 2]);
    net.node(1).on = true;
    net.node(1).key_size = 2_000;
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let mut tasks0 = None;
    let mut busy = 0;
    for i in 0..50 {
        if i == 5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tasks0 = Some(tasks());
        }
        for node in net.nodes.values_mut() {
            node.watched.clear();
            node.watchers.clear();
        }
        net.watch(2, 1);
        assert!(
            net.pump_until(CONNECT, |n| n.frames(2, 1) >= 1).await,
            "cycle {i}: {:?}",
            net.watched(2, 1)
        );
        busy = busy.max(tasks());
        // Both ends close, each telling the other; the second Bye finds nothing to close.
        assert!(net.node(1).send.remove_watcher(2).await);
        assert!(net.node(2).watch.close(1).await);
        assert!(
            net.pump_until(CONNECT, |n| {
                n.watched(2, 1).is_some_and(|w| w.closed)
                    && n.watcher(1, 2).is_some_and(|w| w.closed)
            })
            .await
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (tasks0, tasks1) = (tasks0.unwrap(), tasks());
    eprintln!("camera leak test: tasks {tasks0} -> {tasks1} (up to {busy} while connected)");
    // The task count must see the connections' tasks, or its flatness proves nothing.
    assert!(
        busy > tasks0 + 2,
        "task metric saw no camera tasks ({busy})"
    );
    assert_eq!(hearth_peer::live_connections(), 0, "connections not freed");
    assert!(
        tasks1 <= tasks0 + 2,
        "tokio tasks grew from {tasks0} to {tasks1}"
    );
    net.close().await;
}
