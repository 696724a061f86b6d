//! A full mesh: one [`Peer`] per remote member.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::{Event, MemberId, Peer, PeerConfig, Signal};

/// Events buffered between the peers and the mesh's owner. Audio beyond this is dropped (see
/// [`Event::Audio`]); signaling and state events wait for room.
const EVENT_QUEUE: usize = 1024;

/// The connections of the local member to every other member of a voice room.
///
/// The mesh is a plain value owned by one task (the client core); it is not shared. All the
/// peers' events arrive on the one receiver returned by [`Mesh::new`].
pub struct Mesh {
    local: MemberId,
    config: Arc<PeerConfig>,
    peers: HashMap<MemberId, Peer>,
    events: mpsc::Sender<Event>,
}

impl Mesh {
    /// A mesh for the local member `local`, and the receiver of its peers' events.
    pub fn new(local: MemberId, config: PeerConfig) -> (Mesh, mpsc::Receiver<Event>) {
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        (
            Mesh {
                local,
                config: Arc::new(config),
                peers: HashMap::new(),
                events,
            },
            rx,
        )
    }

    /// The local member's id.
    pub fn local(&self) -> MemberId {
        self.local
    }

    /// The remote members with a peer, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.peers.keys().copied()
    }

    /// Starts connecting to `member` and makes an offer. Both ends may do this at the same
    /// time: the lower id is the polite side and yields, so crossed offers resolve. Returns
    /// false (and does nothing) for the local member or a member already present. Must be
    /// called inside a tokio runtime.
    pub fn add_member(&mut self, member: MemberId) -> bool {
        if member == self.local || self.peers.contains_key(&member) {
            debug!(member, "add_member ignored (self or already present)");
            return false;
        }
        let polite = self.local < member;
        let peer = Peer::spawn(
            member,
            polite,
            Arc::clone(&self.config),
            self.events.clone(),
        );
        peer.connect();
        self.peers.insert(member, peer);
        true
    }

    /// Closes the connection to `member` and waits for its tasks. Returns false when there
    /// was none.
    pub async fn remove_member(&mut self, member: MemberId) -> bool {
        let Some(peer) = self.peers.remove(&member) else {
            return false;
        };
        if let Err(e) = peer.close().await {
            warn!(member, "closing peer: {e}");
        }
        true
    }

    /// Routes a signaling message from `from` to its peer. Messages from members without a
    /// peer (gone, or never announced) are logged and dropped.
    pub fn handle_signal(&mut self, from: MemberId, signal: Signal) {
        match self.peers.get(&from) {
            Some(peer) => peer.handle_signal(signal),
            None => warn!(member = from, "signal from a member without a peer dropped"),
        }
    }

    /// Sends one encoded Opus packet to every connected member. The payload is shared, not
    /// copied or re-encoded.
    pub fn send_audio(&self, payload: Bytes, duration: Duration) {
        for peer in self.peers.values() {
            peer.send_audio(payload.clone(), duration);
        }
    }

    /// Like [`Mesh::send_audio`], for a packet whose first sample is sample number
    /// `timestamp` of the capture; see [`Peer::send_audio_at`].
    pub fn send_audio_at(&self, payload: Bytes, timestamp: u32, duration: Duration) {
        for peer in self.peers.values() {
            peer.send_audio_at(payload.clone(), timestamp, duration);
        }
    }

    /// Closes every peer and waits for all their tasks.
    pub async fn close(mut self) {
        for (member, peer) in self.peers.drain() {
            if let Err(e) = peer.close().await {
                warn!(member, "closing peer: {e}");
            }
        }
    }
}
