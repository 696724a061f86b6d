//! Hearth's WebRTC peer connections.
//!
//! This is the only crate that imports `webrtc` (webrtc-rs) and `rtc`, so a change of WebRTC
//! stack stays inside it. Its API speaks in Hearth's own plain types: [`Signal`] for the
//! offer/answer/candidate messages that the client core relays through the server, [`Event`]
//! for everything a connection reports, and [`AudioPacket`] for received Opus packets.
//!
//! * [`Peer`] is one `RTCPeerConnection` to one remote member, run by one task that owns it.
//!   It sends the Opus packets it is given on one audio track and reports the packets it
//!   receives.
//! * [`Mesh`] keeps one [`Peer`] per remote member, routes signaling by member id, and sends
//!   each packet to every peer. It chooses the polite side of perfect negotiation by member id,
//!   so two members that join at once never deadlock on crossed offers.
//!
//! * [`CameraSend`] and [`CameraWatch`] carry camera video on connections of their own, one
//!   per (broadcaster, watcher) pair, separate from the voice mesh: the broadcaster offers a
//!   send-only VP8 track and the watcher answers receive-only, so only one side ever offers.
//!   The sender packetizes each encoded frame once for all watchers; the watcher reassembles
//!   frames, drops what a loss makes undecodable until the next keyframe, and asks for one.
//!   Their events are [`CameraEvent`]s.
//!
//! Voice and camera connections are one task type with a kind parameter, so negotiation,
//! trickle ICE, restarts and closing are written once.
//!
//! * [`relay::UdpRelay`] is a loopback UDP relay that drops, delays and reorders datagrams,
//!   for tests of media under loss and jitter (the kernel here has no `netem`).
//!
//! Every connection is closed explicitly ([`Peer::close`], [`Mesh::remove_member`],
//! [`Mesh::close`], [`CameraSend::remove_watcher`], [`CameraWatch::close`] and the others),
//! and closing waits for the tasks the connection spawned.

#![deny(missing_docs)]

mod camera;
mod mesh;
mod peer;
pub mod relay;
mod video;
mod voice;
mod vp8;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

pub use camera::{CameraEvent, CameraSend, CameraWatch, ReceivedVideoFrame, VideoFrameOut};
pub use mesh::Mesh;
pub use peer::live_connections;
pub use voice::Peer;

/// The id of a room member, as the server assigns it.
pub type MemberId = u64;

/// A signaling message to or from one remote member. The client core converts it to and from
/// the wire's `SignalData` by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer.
    Offer {
        /// The session description.
        sdp: String,
    },
    /// An SDP answer.
    Answer {
        /// The session description.
        sdp: String,
    },
    /// One trickled ICE candidate.
    Candidate {
        /// The candidate attribute (`candidate:…`).
        candidate: String,
        /// The media section's `mid` the candidate belongs to.
        sdp_mid: Option<String>,
        /// The media section's index the candidate belongs to.
        sdp_mline_index: Option<u16>,
    },
    /// The remote member hung up on this connection.
    Bye,
}

/// One ICE (STUN or TURN) server.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// The TURN user name, empty for STUN.
    pub username: String,
    /// The TURN credential, empty for STUN.
    pub credential: String,
}

impl std::fmt::Debug for IceServer {
    // The credential is a secret and must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &"***")
            .finish()
    }
}

/// How peer connections are set up.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// STUN and TURN servers; none are needed on a LAN.
    pub ice_servers: Vec<IceServer>,
    /// Local UDP addresses to gather host candidates from (`0.0.0.0:0` by default; tests use
    /// `127.0.0.1:0`).
    pub udp_addrs: Vec<SocketAddr>,
    /// Whether loopback addresses may be candidates. Off in the app (a loopback candidate is
    /// useless to a remote member), on in tests where both ends are in one process.
    pub include_loopback: bool,
    /// How long ICE may go without traffic before the connection counts as disconnected.
    pub ice_disconnected_timeout: Duration,
    /// How long ICE may go without traffic before the connection counts as failed, which
    /// triggers an ICE restart.
    pub ice_failed_timeout: Duration,
    /// The pause between ICE connectivity checks. webrtc-rs's 200 ms default makes even a
    /// loopback connection take 200 ms, since the first check waits one interval.
    pub ice_check_interval: Duration,
    /// How long an ICE restart may take before the connection is replaced by a fresh one.
    pub restart_timeout: Duration,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            udp_addrs: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            include_loopback: false,
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(25),
            restart_timeout: Duration::from_secs(10),
            ice_check_interval: Duration::from_millis(200),
        }
    }
}

impl PeerConfig {
    /// A configuration for peers in one process talking over 127.0.0.1, with short timeouts
    /// so that failure handling can be observed in tests.
    pub fn loopback() -> Self {
        Self {
            udp_addrs: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            include_loopback: true,
            ice_disconnected_timeout: Duration::from_secs(2),
            ice_failed_timeout: Duration::from_secs(4),
            restart_timeout: Duration::from_secs(4),
            ice_check_interval: Duration::from_millis(20),
            ..Self::default()
        }
    }
}

/// The state of the connection to one member, as WebRTC reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not yet connecting.
    New,
    /// ICE or DTLS is in progress.
    Connecting,
    /// Media can flow.
    Connected,
    /// Connectivity was lost; it may come back on its own.
    Disconnected,
    /// Connectivity is gone; the peer restarts ICE, then reconnects from scratch.
    Failed,
    /// The connection was closed.
    Closed,
}

/// One received RTP packet of the remote member's audio track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPacket {
    /// The RTP sequence number.
    pub sequence_number: u16,
    /// The RTP timestamp (48 kHz clock).
    pub timestamp: u32,
    /// The sender's synchronisation source.
    pub ssrc: u32,
    /// The Opus packet.
    pub payload: Bytes,
}

/// Everything peers report, each tagged with the remote member it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A signaling message to relay to `member`.
    Signal {
        /// The member the message is for.
        member: MemberId,
        /// The message.
        signal: Signal,
    },
    /// The connection to `member` changed state.
    State {
        /// The remote member.
        member: MemberId,
        /// The new state.
        state: ConnectionState,
    },
    /// An audio packet arrived from `member`.
    Audio {
        /// The remote member.
        member: MemberId,
        /// The packet.
        packet: AudioPacket,
    },
    /// The peer for `member` has closed and its task has ended; no event for it follows.
    Closed {
        /// The remote member.
        member: MemberId,
    },
}

/// Why a peer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// webrtc-rs refused an operation.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// The peer's task has ended.
    #[error("the peer is closed")]
    Closed,
    /// A video frame without data was given to send.
    #[error("empty video frame")]
    EmptyFrame,
}
