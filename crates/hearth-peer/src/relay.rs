//! A loopback UDP relay that impairs traffic (loss, delay, jitter), for tests.
//!
//! The kernel here has no `netem`, so impairment happens in user space. The relay stands in
//! for every endpoint it is asked about: [`UdpRelay::proxy`] gives a relay address for a real
//! one. A datagram from `S` arriving at the proxy of `E` is sent on to `E` from the proxy of
//! `S`, so `E` replies to `S`'s proxy and both directions cross the relay. Tests put the relay
//! in the signaling path with [`UdpRelay::rewrite_signal`], which replaces the addresses in
//! host candidates (trickled or inside an SDP) by their proxies; the peers then never learn each
//! other's real addresses and all media goes through the relay.
//!
//! One task owns every socket's send side, the delay queue and the random generator; one reader
//! task per socket hands it what arrives. [`UdpRelay::close`] ends them all.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::debug;

use crate::Signal;

/// What the relay does to each datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// The probability, 0.0 to 1.0, that a datagram is dropped.
    pub loss: f64,
    /// The delay every datagram gets.
    pub delay: Duration,
    /// An extra delay drawn uniformly from zero to this, per datagram (so datagrams reorder).
    pub jitter: Duration,
    /// Seeds the random generator, so a run can be repeated.
    pub seed: u64,
}

impl Impairment {
    /// No impairment at all.
    pub const NONE: Impairment = Impairment {
        loss: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        seed: 1,
    };
}

/// What the relay has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams sent on.
    pub forwarded: u64,
    /// Datagrams dropped on purpose.
    pub dropped: u64,
}

enum Command {
    Proxy(SocketAddr, oneshot::Sender<io::Result<SocketAddr>>),
    Set(Impairment),
    Stats(oneshot::Sender<RelayStats>),
}

/// A running relay. See the module documentation.
pub struct UdpRelay {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl UdpRelay {
    /// Starts a relay on 127.0.0.1 with the given impairment.
    pub fn start(impairment: Impairment) -> UdpRelay {
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(impairment, rx));
        UdpRelay { commands, task }
    }

    /// The relay address that stands in for `endpoint`.
    pub async fn proxy(&self, endpoint: SocketAddr) -> io::Result<SocketAddr> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Proxy(endpoint, tx))
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Changes the impairment from now on (a loss of 1.0 cuts the link).
    pub fn set_impairment(&self, impairment: Impairment) {
        let _ = self.commands.send(Command::Set(impairment));
    }

    /// The counts so far.
    pub async fn stats(&self) -> RelayStats {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stats(tx)).is_err() {
            return RelayStats::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Replaces the address of every UDP host candidate in `signal` (a trickled candidate, or
    /// the `a=candidate` lines of an SDP) by its proxy. Other candidates pass unchanged.
    pub async fn rewrite_signal(&self, signal: Signal) -> io::Result<Signal> {
        Ok(match signal {
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => Signal::Candidate {
                candidate: self.rewrite_candidate(&candidate).await?,
                sdp_mid,
                sdp_mline_index,
            },
            Signal::Offer { sdp } => Signal::Offer {
                sdp: self.rewrite_sdp(&sdp).await?,
            },
            Signal::Answer { sdp } => Signal::Answer {
                sdp: self.rewrite_sdp(&sdp).await?,
            },
            Signal::Bye => Signal::Bye,
        })
    }

    async fn rewrite_sdp(&self, sdp: &str) -> io::Result<String> {
        let mut out = String::with_capacity(sdp.len());
        for line in sdp.split_inclusive('\n') {
            match line.strip_prefix("a=") {
                Some(rest) if rest.starts_with("candidate:") => {
                    let body = rest.trim_end_matches(['\r', '\n']);
                    out.push_str("a=");
                    out.push_str(&self.rewrite_candidate(body).await?);
                    out.push_str(&rest[body.len()..]);
                }
                _ => out.push_str(line),
            }
        }
        Ok(out)
    }

    async fn rewrite_candidate(&self, candidate: &str) -> io::Result<String> {
        let fields: Vec<&str> = candidate.split(' ').collect();
        let is_udp_host =
            fields.len() >= 8 && fields[2].eq_ignore_ascii_case("udp") && fields[7] == "host";
        let Some(addr) = is_udp_host
            .then(|| {
                format!("{}:{}", fields[4], fields[5])
                    .parse::<SocketAddr>()
                    .ok()
            })
            .flatten()
        else {
            return Ok(candidate.to_owned());
        };
        let proxy = self.proxy(addr).await?;
        let mut fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
        fields[4] = proxy.ip().to_string();
        fields[5] = proxy.port().to_string();
        Ok(fields.join(" "))
    }

    /// Stops the relay and waits for its tasks.
    pub async fn close(self) {
        drop(self.commands);
        let _ = self.task.await;
    }
}

fn closed() -> io::Error {
    io::Error::other("the relay is closed")
}

/// A datagram waiting out its delay.
struct Delayed {
    due: Instant,
    order: u64,
    via: usize,
    to: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

struct Relay {
    impairment: Impairment,
    rng: u64,
    /// Proxy sockets, indexed; `endpoints[i]` is the real address socket `i` stands for.
    sockets: Vec<Arc<UdpSocket>>,
    endpoints: Vec<SocketAddr>,
    by_endpoint: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Reverse<Delayed>>,
    order: u64,
    stats: RelayStats,
}

impl Relay {
    fn random(&mut self) -> f64 {
        // xorshift64*: plenty for drawing losses and jitter in tests.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    async fn proxy(
        &mut self,
        endpoint: SocketAddr,
        readers: &mut JoinSet<()>,
        arrivals: &mpsc::Sender<(usize, SocketAddr, Vec<u8>)>,
    ) -> io::Result<usize> {
        if let Some(&i) = self.by_endpoint.get(&endpoint) {
            return Ok(i);
        }
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let i = self.sockets.len();
        self.sockets.push(Arc::clone(&socket));
        self.endpoints.push(endpoint);
        self.by_endpoint.insert(endpoint, i);
        readers.spawn(read(i, socket, arrivals.clone()));
        Ok(i)
    }

    async fn arrive(
        &mut self,
        at: usize,
        from: SocketAddr,
        data: Vec<u8>,
        readers: &mut JoinSet<()>,
        arrivals: &mpsc::Sender<(usize, SocketAddr, Vec<u8>)>,
    ) {
        // The sender gets a proxy of its own, through which the destination's replies return.
        let via = match self.proxy(from, readers, arrivals).await {
            Ok(via) => via,
            Err(e) => {
                debug!("relay cannot proxy {from}: {e}");
                return;
            }
        };
        if self.random() < self.impairment.loss {
            self.stats.dropped += 1;
            return;
        }
        let jitter = self.impairment.jitter.mul_f64(self.random());
        let due = Instant::now() + self.impairment.delay + jitter;
        self.order += 1;
        let to = self.endpoints[at];
        self.queue.push(Reverse(Delayed {
            due,
            order: self.order,
            via,
            to,
            data,
        }));
    }

    async fn send_due(&mut self) {
        let now = Instant::now();
        while self.queue.peek().is_some_and(|d| d.0.due <= now) {
            let Reverse(d) = self.queue.pop().expect("peeked");
            match self.sockets[d.via].send_to(&d.data, d.to).await {
                Ok(_) => self.stats.forwarded += 1,
                Err(e) => debug!("relay send to {} failed: {e}", d.to),
            }
        }
    }
}

async fn read(
    index: usize,
    socket: Arc<UdpSocket>,
    arrivals: mpsc::Sender<(usize, SocketAddr, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if arrivals
                    .send((index, from, buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // ICMP port-unreachable from a closed peer shows up as an error; keep reading.
            Err(e) => debug!("relay read: {e}"),
        }
    }
}

async fn run(impairment: Impairment, mut commands: mpsc::UnboundedReceiver<Command>) {
    let (arrivals_tx, mut arrivals) = mpsc::channel(1024);
    let mut readers = JoinSet::new();
    let mut relay = Relay {
        impairment,
        rng: impairment.seed.max(1),
        sockets: Vec::new(),
        endpoints: Vec::new(),
        by_endpoint: HashMap::new(),
        queue: BinaryHeap::new(),
        order: 0,
        stats: RelayStats::default(),
    };
    loop {
        let next_due = relay.queue.peek().map(|d| d.0.due);
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Proxy(endpoint, reply)) => {
                    let result = relay.proxy(endpoint, &mut readers, &arrivals_tx).await;
                    let _ = reply.send(result.map(|i| relay.sockets[i].local_addr()).and_then(|a| a));
                }
                Some(Command::Set(impairment)) => relay.impairment = impairment,
                Some(Command::Stats(reply)) => { let _ = reply.send(relay.stats); }
                None => break,
            },
            Some((at, from, data)) = arrivals.recv() => relay.arrive(at, from, data, &mut readers, &arrivals_tx).await,
            () = async { if let Some(due) = next_due { tokio::time::sleep_until(due).await } else { std::future::pending().await } } => {
                relay.send_due().await;
            }
        }
    }
    readers.shutdown().await;
}
