//! A test network: several meshes in one process, a switchboard that relays their signaling
//! in memory (optionally reordered or dropped), and a record of what each one saw.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hearth_peer::relay::UdpRelay;
use hearth_peer::{ConnectionState, Event, MemberId, Mesh, PeerConfig, Signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Tests measure process-wide figures (RSS, live connections), so they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the test lock and installs a log subscriber (RUST_LOG=hearth_peer=debug to see it).
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    SERIAL.lock().await
}

/// What one node saw of one remote member.
#[derive(Default, Debug)]
pub struct Seen {
    pub state: Option<ConnectionState>,
    pub states: Vec<ConnectionState>,
    pub audio: usize,
    /// Audio packets whose payload did not name the expected sender.
    pub foreign_audio: usize,
    pub last_seq: Option<u16>,
    /// Packets that arrived with a lower sequence number than one before them.
    pub reordered: usize,
    pub last_ts: Option<u32>,
    pub closed: bool,
    pub offers_sent: usize,
    /// The distinct DTLS fingerprints in descriptions sent to the member: one per connection.
    pub fingerprints_sent: Vec<String>,
    /// Candidates delivered to this node from the member before any description was.
    pub early_candidates: usize,
    pub descriptions_received: usize,
    /// Host candidate addresses the member announced.
    pub remote_addrs: Vec<SocketAddr>,
}

pub struct Node {
    pub mesh: Mesh,
    events: mpsc::Receiver<Event>,
    pub seen: HashMap<MemberId, Seen>,
    counter: u32,
}

/// A message the switchboard holds back.
struct Held {
    from: MemberId,
    to: MemberId,
    signal: Signal,
    until: Instant,
}

#[derive(Default)]
pub struct Net {
    pub nodes: HashMap<MemberId, Node>,
    held: VecDeque<Held>,
    /// Hold offers and answers this long while candidates pass, so candidates arrive first.
    pub delay_descriptions: Option<Duration>,
    /// Send a 20 ms audio packet from every node this often while pumping.
    pub audio_every: Option<Duration>,
    next_audio: Option<Instant>,
    /// When set, every candidate's address is replaced by a relay proxy, so media crosses it.
    pub relay: Option<UdpRelay>,
}

pub fn payload(from: MemberId, counter: u32) -> Bytes {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&(from as u32).to_be_bytes());
    p.extend_from_slice(&counter.to_be_bytes());
    p.extend_from_slice(&[0xAB; 4]);
    Bytes::from(p)
}

impl Net {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_node(&mut self, id: MemberId) {
        let (mesh, events) = Mesh::new(id, PeerConfig::loopback());
        self.nodes.insert(
            id,
            Node {
                mesh,
                events,
                seen: HashMap::new(),
                counter: 0,
            },
        );
    }

    /// Tells `a` about `b` (as the server's member-joined notice would).
    pub fn introduce(&mut self, a: MemberId, b: MemberId) {
        assert!(self.nodes.get_mut(&a).unwrap().mesh.add_member(b));
    }

    /// Both directions at once: the crossed-offer (glare) case.
    pub fn join_both(&mut self, a: MemberId, b: MemberId) {
        self.introduce(a, b);
        self.introduce(b, a);
    }

    pub fn seen(&self, at: MemberId, of: MemberId) -> Option<&Seen> {
        self.nodes.get(&at)?.seen.get(&of)
    }

    pub fn state(&self, at: MemberId, of: MemberId) -> Option<ConnectionState> {
        self.seen(at, of)?.state
    }

    pub fn audio(&self, at: MemberId, of: MemberId) -> usize {
        self.seen(at, of).map_or(0, |s| s.audio)
    }

    pub fn connected(&self, pairs: &[(MemberId, MemberId)]) -> bool {
        pairs.iter().all(|&(a, b)| {
            self.state(a, b) == Some(ConnectionState::Connected)
                && self.state(b, a) == Some(ConnectionState::Connected)
        })
    }

    /// Removes a node without closing it cleanly first, as if its process vanished.
    pub async fn vanish(&mut self, id: MemberId) {
        if let Some(node) = self.nodes.remove(&id) {
            node.mesh.close().await;
        }
        self.held.retain(|h| h.to != id && h.from != id);
    }

    pub async fn close(mut self) {
        if let Some(relay) = self.relay.take() {
            relay.close().await;
        }
        for (_, node) in self.nodes.drain() {
            node.mesh.close().await;
        }
    }

    /// Delivers one signal from `from` to `to` through the switchboard rules.
    async fn route(&mut self, from: MemberId, to: MemberId, signal: Signal) {
        let signal = match &self.relay {
            Some(relay) => relay.rewrite_signal(signal).await.expect("relay rewrite"),
            None => signal,
        };
        let is_description = matches!(signal, Signal::Offer { .. } | Signal::Answer { .. });
        if let (true, Some(delay)) = (is_description, self.delay_descriptions) {
            self.held.push_back(Held {
                from,
                to,
                signal,
                until: Instant::now() + delay,
            });
            return;
        }
        self.deliver(from, to, signal);
    }

    pub fn deliver(&mut self, from: MemberId, to: MemberId, signal: Signal) {
        let Some(node) = self.nodes.get_mut(&to) else {
            return;
        };
        let seen = node.seen.entry(from).or_default();
        match &signal {
            Signal::Offer { .. } | Signal::Answer { .. } => seen.descriptions_received += 1,
            Signal::Candidate { candidate, .. } => {
                if seen.descriptions_received == 0 {
                    seen.early_candidates += 1;
                }
                if let Some(addr) = host_addr(candidate) {
                    seen.remote_addrs.push(addr);
                }
            }
            Signal::Bye => {}
        }
        node.mesh.handle_signal(from, signal);
    }

    /// Processes events until `done` holds or `timeout` passes; returns whether it held.
    pub async fn pump_until(&mut self, timeout: Duration, done: impl Fn(&Net) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let mut outgoing = Vec::new();
            for (&id, node) in &mut self.nodes {
                while let Ok(ev) = node.events.try_recv() {
                    match ev {
                        Event::Signal { member, signal } => {
                            let seen = node.seen.entry(member).or_default();
                            if let Signal::Offer { sdp } | Signal::Answer { sdp } = &signal {
                                if matches!(signal, Signal::Offer { .. }) {
                                    seen.offers_sent += 1;
                                }
                                let fp = sdp
                                    .lines()
                                    .find(|l| l.starts_with("a=fingerprint:"))
                                    .unwrap_or("")
                                    .to_owned();
                                if !seen.fingerprints_sent.contains(&fp) {
                                    seen.fingerprints_sent.push(fp);
                                }
                            }
                            outgoing.push((id, member, signal));
                        }
                        Event::State { member, state } => {
                            let seen = node.seen.entry(member).or_default();
                            seen.state = Some(state);
                            seen.states.push(state);
                        }
                        Event::Audio { member, packet } => {
                            let seen = node.seen.entry(member).or_default();
                            seen.audio += 1;
                            if packet.payload.get(..4) != Some(&(member as u32).to_be_bytes()[..]) {
                                seen.foreign_audio += 1;
                            }
                            if let Some(last) = seen.last_seq {
                                // Wrapping comparison: a step back of less than half the space.
                                if packet.sequence_number.wrapping_sub(last) > u16::MAX / 2 {
                                    seen.reordered += 1;
                                }
                            }
                            seen.last_seq = Some(packet.sequence_number);
                            seen.last_ts = Some(packet.timestamp);
                        }
                        Event::Closed { member } => {
                            node.seen.entry(member).or_default().closed = true
                        }
                    }
                }
            }
            for (from, to, signal) in outgoing {
                self.route(from, to, signal).await;
            }
            let now = Instant::now();
            while self.held.front().is_some_and(|h| h.until <= now) {
                let h = self.held.pop_front().unwrap();
                self.deliver(h.from, h.to, h.signal);
            }
            if let Some(every) = self.audio_every
                && self.next_audio.is_none_or(|t| t <= now)
            {
                self.next_audio = Some(now + every);
                for (&id, node) in &mut self.nodes {
                    node.counter += 1;
                    node.mesh
                        .send_audio(payload(id, node.counter), Duration::from_millis(20));
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

/// The address of a host candidate (`candidate:… udp PRIO ADDR PORT typ host`).
pub fn host_addr(candidate: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = candidate.split_whitespace().collect();
    if f.len() >= 8 && f[2].eq_ignore_ascii_case("udp") && f[7] == "host" {
        format!("{}:{}", f[4], f[5]).parse().ok()
    } else {
        None
    }
}
