//! A full mesh: one voice connection ([`Peer`](crate::Peer)) per remote member.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::warn;

use crate::peer::{Group, Role};
use crate::voice::{AUDIO_QUEUE, AudioOut, Voice, queue_audio};
use crate::{Event, MemberId, PeerConfig, Signal};

/// Events buffered between the peers and the mesh's owner. Audio beyond this is dropped (see
/// [`Event::Audio`]); signaling and state events wait for room.
const EVENT_QUEUE: usize = 1024;

/// The connections of the local member to every other member of a voice room.
///
/// The mesh is a plain value owned by one task (the client core); it is not shared. All the
/// peers' events arrive on the one receiver returned by [`Mesh::new`].
pub struct Mesh {
    peers: Group<Voice>,
}

impl Mesh {
    /// A mesh for the local member `local`, and the receiver of its peers' events.
    pub fn new(local: MemberId, config: PeerConfig) -> (Mesh, mpsc::Receiver<Event>) {
        let (peers, rx) = Group::new(local, config, EVENT_QUEUE);
        (Mesh { peers }, rx)
    }

    /// The local member's id.
    pub fn local(&self) -> MemberId {
        self.peers.local()
    }

    /// The remote members with a peer, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.peers.members()
    }

    /// Starts connecting to `member` and makes an offer. Both ends may do this at the same
    /// time: the lower id is the polite side and yields, so crossed offers resolve. Returns
    /// false (and does nothing) for the local member or a member already present. Must be
    /// called inside a tokio runtime.
    pub fn add_member(&mut self, member: MemberId) -> bool {
        let polite = self.peers.local() < member;
        match self.peers.add(
            member,
            Role::Mutual { polite },
            Voice::default(),
            AUDIO_QUEUE,
        ) {
            Some(peer) => {
                peer.connect();
                true
            }
            None => false,
        }
    }

    /// Closes the connection to `member` and waits for its tasks. Returns false when there
    /// was none.
    pub async fn remove_member(&mut self, member: MemberId) -> bool {
        self.peers.remove(member).await
    }

    /// Routes a signaling message from `from` to its peer. Messages from members without a
    /// peer (gone, or never announced) are logged and dropped.
    pub fn handle_signal(&mut self, from: MemberId, signal: Signal) {
        if self.peers.route(from, signal).is_err() {
            warn!(member = from, "signal from a member without a peer dropped");
        }
    }

    /// Sends one encoded Opus packet to every connected member. The payload is shared, not
    /// copied or re-encoded.
    pub fn send_audio(&self, payload: Bytes, duration: Duration) {
        self.queue(payload, None, duration);
    }

    /// Like [`Mesh::send_audio`], for a packet whose first sample is sample number
    /// `timestamp` of the capture; see [`Peer::send_audio_at`](crate::Peer::send_audio_at).
    pub fn send_audio_at(&self, payload: Bytes, timestamp: u32, duration: Duration) {
        self.queue(payload, Some(timestamp), duration);
    }

    fn queue(&self, payload: Bytes, timestamp: Option<u32>, duration: Duration) {
        for peer in self.peers.links() {
            let packet = AudioOut {
                payload: payload.clone(),
                duration,
                timestamp,
            };
            queue_audio(peer, packet);
        }
    }

    /// Closes every peer and waits for all their tasks.
    pub async fn close(self) {
        self.peers.close().await;
    }
}
