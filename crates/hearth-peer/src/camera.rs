//! Camera video on one-way connections, separate from the voice mesh.
//!
//! Each (broadcaster, watcher) pair has one connection of its own: the broadcaster's
//! [`CameraSend`] offers a send-only VP8 track, the watcher's [`CameraWatch`] answers
//! receive-only. Since only the broadcaster offers there is never glare, and only it repairs a
//! failed connection (ICE restart, then a fresh connection), exactly as voice peers do. The
//! client core tags these signals with the camera's owner on the wire, so each side has its
//! own object and its own event receiver, and [`Signal`] is the same type as for voice.

use std::sync::Arc;

use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Payloader;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::peer::{Group, PeerEvent, Role};
use crate::video::{FRAME_QUEUE, KeyframeRequest, OutFrame, VideoReceive, VideoSend};
use crate::vp8::packetize;
use crate::{ConnectionState, Error, MemberId, PeerConfig, Signal};

/// Events buffered between the camera connections and their owner. Frames and reports beyond
/// the last slots are dropped (see [`CameraEvent::Frame`]); signaling and state wait for room.
const EVENT_QUEUE: usize = 1024;

/// One encoded VP8 frame of the local camera, to send to every watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrameOut {
    /// The encoded frame, as the VP8 encoder produced it.
    pub data: Bytes,
    /// Whether the frame is a keyframe (decodable on its own).
    pub keyframe: bool,
    /// The frame's capture time on the 90 kHz RTP clock. Each connection adds its own random
    /// offset, so only differences reach the watcher.
    pub timestamp: u32,
}

/// One complete VP8 frame received from a camera, depacketized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedVideoFrame {
    /// The encoded frame, ready for a VP8 decoder.
    pub data: Bytes,
    /// The RTP timestamp (90 kHz): the sender's timestamp plus a per-connection offset, so
    /// differences between frames are the sender's.
    pub timestamp: u32,
    /// Whether the frame is a keyframe.
    pub keyframe: bool,
}

/// Everything camera connections report, each tagged with the remote member it concerns: a
/// watcher for [`CameraSend`], a camera's owner for [`CameraWatch`].
#[derive(Debug, Clone, PartialEq)]
pub enum CameraEvent {
    /// A signaling message to relay to `member` (tagged with the camera's owner on the wire).
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
    /// At the sender: `member` needs a keyframe (it asked with a PLI or FIR, it just
    /// connected, or frames for it were dropped). Encode the next frame as a keyframe; until
    /// one comes, that watcher is sent nothing, since it could not decode it.
    KeyframeRequest {
        /// The watcher.
        member: MemberId,
    },
    /// At the sender: an RTCP receiver report from `member`, for bitrate adaptation.
    Report {
        /// The watcher.
        member: MemberId,
        /// The fraction of packets lost since the previous report, 0.0 to 1.0, as the report
        /// says: after NACK retransmission repaired what it could.
        fraction_lost: f32,
        /// The fraction of packets sent since the previous report that the watcher asked to
        /// have resent (NACK), 0.0 to 1.0: the loss on the path before repair.
        fraction_nacked: f32,
        /// The interarrival jitter, in 90 kHz timestamp units.
        jitter: u32,
    },
    /// At the watcher: a complete frame from `member`'s camera, in order. Dropped (and
    /// followed by [`CameraEvent::FrameLost`] and a keyframe request) when the event queue is
    /// nearly full, so a slow consumer never stalls signaling.
    Frame {
        /// The camera's owner.
        member: MemberId,
        /// The frame.
        frame: ReceivedVideoFrame,
    },
    /// At the watcher: data from `member` was lost. Frames are dropped until the next
    /// keyframe, which has been asked for.
    FrameLost {
        /// The camera's owner.
        member: MemberId,
    },
    /// The connection to `member` has closed and its task has ended; no event for it follows.
    Closed {
        /// The remote member.
        member: MemberId,
    },
}

impl PeerEvent for CameraEvent {
    fn signal(member: MemberId, signal: Signal) -> Self {
        CameraEvent::Signal { member, signal }
    }
    fn state(member: MemberId, state: ConnectionState) -> Self {
        CameraEvent::State { member, state }
    }
    fn closed(member: MemberId) -> Self {
        CameraEvent::Closed { member }
    }
}

/// The local member's camera, sent to each of its watchers on a connection of its own.
///
/// A plain value owned by one task, like [`crate::Mesh`]; all its connections' events arrive
/// on the receiver returned by [`CameraSend::new`].
pub struct CameraSend {
    watchers: Group<VideoSend>,
    payloader: Vp8Payloader,
    /// Numbers the frames given to send, so a connection notices one it missed.
    frames: u64,
}

impl CameraSend {
    /// The camera of local member `local`, with no watchers yet, and the receiver of its
    /// events.
    pub fn new(local: MemberId, config: PeerConfig) -> (CameraSend, mpsc::Receiver<CameraEvent>) {
        let (watchers, rx) = Group::new(local, config, EVENT_QUEUE);
        let camera = CameraSend {
            watchers,
            payloader: crate::vp8::payloader(),
            frames: 0,
        };
        (camera, rx)
    }

    /// The local member's id.
    pub fn local(&self) -> MemberId {
        self.watchers.local()
    }

    /// The members watching, in no particular order.
    pub fn watchers(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.watchers.members()
    }

    /// Starts a connection to `member` and makes the offer. The watcher is sent frames from
    /// the first keyframe after it connects (a [`CameraEvent::KeyframeRequest`] asks for
    /// one). Returns false (and does nothing) for the local member or a watcher already
    /// present. Must be called inside a tokio runtime.
    pub fn add_watcher(&mut self, member: MemberId) -> bool {
        let added = self
            .watchers
            .add(member, Role::Offerer, VideoSend::default(), FRAME_QUEUE);
        added.map(|link| link.connect()).is_some()
    }

    /// Closes the connection to `member` (telling it with [`Signal::Bye`]) and waits for its
    /// tasks: no packet goes to it once this returns. Returns false when it was not watching.
    pub async fn remove_watcher(&mut self, member: MemberId) -> bool {
        self.watchers.remove(member).await
    }

    /// Routes a signaling message from watcher `from` to its connection. Messages from
    /// members not watching are logged and dropped. A [`Signal::Bye`] (the watcher closed,
    /// or refused the offer) closes the connection but leaves the watcher listed; to connect
    /// it again, remove it and add it anew.
    pub fn handle_signal(&mut self, from: MemberId, signal: Signal) {
        if self.watchers.route(from, signal).is_err() {
            warn!(
                member = from,
                "camera signal from a member not watching dropped"
            );
        }
    }

    /// Sends one encoded frame to every connected watcher. The frame is split into RTP
    /// payloads once; every connection shares them and only writes its own RTP headers. A
    /// watcher whose queue is full misses the frame, and then waits for a keyframe.
    pub fn send_frame(&mut self, frame: &VideoFrameOut) -> Result<(), Error> {
        if frame.data.is_empty() {
            return Err(Error::EmptyFrame);
        }
        self.frames += 1;
        if self.watchers.members().next().is_none() {
            return Ok(());
        }
        let out = Arc::new(OutFrame {
            number: self.frames,
            keyframe: frame.keyframe,
            timestamp: frame.timestamp,
            payloads: packetize(&mut self.payloader, &frame.data),
        });
        for link in self.watchers.links() {
            if !link.queue(Arc::clone(&out)) {
                debug!(
                    member = link.member(),
                    "video frame dropped (connection busy or closed)"
                );
            }
        }
        Ok(())
    }

    /// Closes every watcher's connection and waits for all their tasks.
    pub async fn close(self) {
        self.watchers.close().await;
    }
}

/// The other members' cameras that the local member watches, one connection per camera.
///
/// A plain value owned by one task; all its connections' events arrive on the receiver
/// returned by [`CameraWatch::new`].
pub struct CameraWatch {
    owners: Group<VideoReceive>,
}

impl CameraWatch {
    /// Watching nothing yet, for local member `local`, and the receiver of its events.
    pub fn new(local: MemberId, config: PeerConfig) -> (CameraWatch, mpsc::Receiver<CameraEvent>) {
        let (owners, rx) = Group::new(local, config, EVENT_QUEUE);
        (CameraWatch { owners }, rx)
    }

    /// The local member's id.
    pub fn local(&self) -> MemberId {
        self.owners.local()
    }

    /// The members whose cameras are open, in no particular order.
    pub fn owners(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.owners.members()
    }

    /// Accepts `owner`'s camera from now on: its offer is answered. Returns false (and does
    /// nothing) for the local member or an owner already open. Must be called inside a tokio
    /// runtime.
    pub fn open(&mut self, owner: MemberId) -> bool {
        let added = self
            .owners
            .add(owner, Role::Answerer, VideoReceive, FRAME_QUEUE);
        added.is_some()
    }

    /// Closes the connection to `owner`'s camera (telling it with [`Signal::Bye`]) and waits
    /// for its tasks. Returns false when it was not open.
    pub async fn close(&mut self, owner: MemberId) -> bool {
        self.owners.remove(owner).await
    }

    /// Routes a signaling message from camera owner `from` to its connection. An offer from
    /// an owner not opened is refused: it is answered with [`Signal::Bye`] (a
    /// [`CameraEvent::Signal`]), so the sender stops trying. Anything else from such a member
    /// is logged and dropped.
    pub fn handle_signal(&mut self, from: MemberId, signal: Signal) {
        let Err(signal) = self.owners.route(from, signal) else {
            return;
        };
        match signal {
            Signal::Offer { .. } => {
                warn!(
                    member = from,
                    "camera offer from an owner not opened refused"
                );
                let bye = CameraEvent::Signal {
                    member: from,
                    signal: Signal::Bye,
                };
                if self.owners.events().try_send(bye).is_err() {
                    debug!(member = from, "refusal dropped (event queue full)");
                }
            }
            _ => debug!(
                member = from,
                "camera signal from an owner not opened dropped"
            ),
        }
    }

    /// Asks `owner` for a keyframe (sends a picture loss indication). Returns false when the
    /// camera is not open or its connection is busy.
    pub fn request_keyframe(&self, owner: MemberId) -> bool {
        self.owners
            .get(owner)
            .is_some_and(|link| link.queue(KeyframeRequest))
    }

    /// Closes every camera connection and waits for all their tasks.
    pub async fn close_all(self) {
        self.owners.close().await;
    }
}
