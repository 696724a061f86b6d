//! Voice: the Opus connection to one member of the voice mesh.
//!
//! [`Peer`] is the public handle; [`Voice`] is the voice kind of the shared connection task
//! (`peer.rs`): one Opus track each way, RTP written here so timestamps can follow the
//! sender's capture clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, warn};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::peer::{
    CONTROL_RESERVE, Link, Media, Role, local_track, negotiated_payload_type, random_ssrc,
};
use crate::{AudioPacket, Error, Event, MemberId, PeerConfig, Signal};

/// The Opus payload type we offer. The answerer may choose another; the sender reads the
/// negotiated one back before writing.
const OPUS_PAYLOAD_TYPE: u8 = 111;
/// Audio packets queued for one peer before new ones are dropped. Late audio is useless, so a
/// peer whose task is stuck loses packets instead of growing a queue.
pub(crate) const AUDIO_QUEUE: usize = 32;

/// A handle to one voice connection's task.
///
/// The handle only holds channels into its task. The task owns the webrtc-rs
/// `PeerConnection`, the local audio track and the tasks that read the remote track.
pub struct Peer {
    link: Link<Voice>,
}

impl Peer {
    /// Starts the task for a connection to `member`. `polite` decides which side yields when
    /// offers cross; the two ends must disagree. Nothing is sent until [`Peer::connect`] is
    /// called or an offer arrives. Must be called inside a tokio runtime.
    pub fn spawn(
        member: MemberId,
        polite: bool,
        config: Arc<PeerConfig>,
        events: mpsc::Sender<Event>,
    ) -> Peer {
        Peer {
            link: Link::spawn(
                member,
                Role::Mutual { polite },
                Voice::default(),
                config,
                events,
                AUDIO_QUEUE,
            ),
        }
    }

    /// The remote member this peer connects to.
    pub fn member(&self) -> MemberId {
        self.link.member()
    }

    /// Makes an offer (the start of a connection). Safe to call on both ends at once.
    pub fn connect(&self) {
        self.link.connect();
    }

    /// Hands a signaling message from the remote member to the connection. Bad messages are
    /// logged and dropped; they never end the peer.
    pub fn handle_signal(&self, signal: Signal) {
        self.link.handle_signal(signal);
    }

    /// Queues one encoded Opus packet lasting `duration` for sending. Packets given before the
    /// connection is up, or while the queue is full, are dropped: audio is only worth sending
    /// on time.
    pub fn send_audio(&self, payload: Bytes, duration: Duration) {
        self.queue_audio(AudioOut {
            payload,
            duration,
            timestamp: None,
        });
    }

    /// Like [`Peer::send_audio`], for a packet whose first sample is sample number
    /// `timestamp` of the sender's capture (48 kHz). Frames the sender did not send (silence
    /// under voice activation or DTX) still advance the RTP timestamp, so the receiver's
    /// jitter buffer does not take the first packet after a pause for one that is late by the
    /// whole pause; that packet also carries the marker bit of a new talk spurt (RFC 7587).
    pub fn send_audio_at(&self, payload: Bytes, timestamp: u32, duration: Duration) {
        self.queue_audio(AudioOut {
            payload,
            duration,
            timestamp: Some(timestamp),
        });
    }

    fn queue_audio(&self, packet: AudioOut) {
        queue_audio(&self.link, packet);
    }

    /// Closes the connection and waits for its task, and every task it spawned, to end. The
    /// last event the peer sends is [`Event::Closed`].
    pub async fn close(self) -> Result<(), Error> {
        self.link.close().await
    }
}

/// Queues one audio packet for a voice connection's task; a packet that finds the queue full
/// is dropped, since audio is only worth sending on time.
pub(crate) fn queue_audio(link: &Link<Voice>, packet: AudioOut) {
    if !link.queue(packet) {
        debug!(
            member = link.member(),
            "audio packet dropped (peer busy or closed)"
        );
    }
}

/// The voice kind of connection: Opus both ways.
#[derive(Default)]
pub(crate) struct Voice {
    send_errors: u64,
}

/// The audio track of one voice connection.
pub(crate) struct VoiceConn {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    /// Numbering of the packets sent on this connection.
    rtp: RtpNumbering,
    /// The negotiated payload type, read once the connection is up.
    payload_type: Option<u8>,
}

#[async_trait::async_trait]
impl Media for Voice {
    type Event = Event;
    type Out = AudioOut;
    type Conn = VoiceConn;
    const BYE_ON_CLOSE: bool = false;

    fn configure(engine: &mut MediaEngine) -> Result<Registry, Error> {
        engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus_codec(),
                payload_type: OPUS_PAYLOAD_TYPE,
            },
            RtpCodecKind::Audio,
        )?;
        Ok(register_default_interceptors(Registry::new(), engine)?)
    }

    async fn attach(
        &mut self,
        _member: MemberId,
        pc: &dyn PeerConnection,
        _events: &mpsc::Sender<Event>,
        _readers: &mut JoinSet<()>,
    ) -> Result<VoiceConn, Error> {
        let ssrc = random_ssrc();
        let track = local_track(RtpCodecKind::Audio, "hearth", "mic", opus_codec(), ssrc);
        let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?);
        let sender = pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await?;
        Ok(VoiceConn {
            track,
            sender,
            ssrc,
            rtp: RtpNumbering {
                sequence: random_ssrc() as u16,
                base: random_ssrc(),
                next: 0,
                started: false,
            },
            payload_type: None,
        })
    }

    async fn connected(
        &mut self,
        _member: MemberId,
        conn: &mut VoiceConn,
        _events: &mpsc::Sender<Event>,
    ) {
        if conn.payload_type.is_none() {
            conn.payload_type = negotiated_payload_type(&*conn.sender).await;
        }
    }

    fn remote_track(
        &mut self,
        member: MemberId,
        _conn: &mut VoiceConn,
        track: Arc<dyn TrackRemote>,
        events: &mpsc::Sender<Event>,
        readers: &mut JoinSet<()>,
    ) {
        readers.spawn(read_track(member, track, events.clone()));
    }

    async fn send(
        &mut self,
        member: MemberId,
        conn: Option<&mut VoiceConn>,
        packet: AudioOut,
        _events: &mpsc::Sender<Event>,
    ) {
        let Some(conn) = conn else { return };
        let Some(pt) = conn.payload_type else {
            return;
        };
        let samples =
            (packet.duration.as_micros() * u128::from(OPUS_CLOCK_RATE) / 1_000_000) as u32;
        let rtp = &mut conn.rtp;
        let at = packet.timestamp.unwrap_or(rtp.next);
        // The first packet, and the first after frames that were not sent, start a talk spurt.
        let marker = !rtp.started || at != rtp.next;
        let header = rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: rtp.sequence,
            timestamp: rtp.base.wrapping_add(at),
            ssrc: conn.ssrc,
            ..Default::default()
        };
        rtp.sequence = rtp.sequence.wrapping_add(1);
        rtp.next = at.wrapping_add(samples);
        rtp.started = true;
        let rtp_packet = rtc::rtp::packet::Packet {
            header,
            payload: packet.payload,
        };
        if let Err(e) = conn.track.write_rtp(rtp_packet).await {
            self.send_errors += 1;
            // One line per burst is enough to see the problem without flooding the log.
            if self.send_errors.is_power_of_two() {
                warn!(member, errors = self.send_errors, "audio send failed: {e}");
            }
        }
    }
}

/// Reads one remote track until its stream ends (the connection closed).
async fn read_track(member: MemberId, track: Arc<dyn TrackRemote>, events: mpsc::Sender<Event>) {
    let mut dropped: u64 = 0;
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
            continue;
        };
        if pkt.payload.is_empty() {
            // An RTP packet without payload carries no audio (padding or a probe).
            debug!(member, "empty RTP packet ignored");
            continue;
        }
        let packet = AudioPacket {
            sequence_number: pkt.header.sequence_number,
            timestamp: pkt.header.timestamp,
            ssrc: pkt.header.ssrc,
            payload: pkt.payload,
        };
        // Never block the reader on a slow consumer: old audio is worthless. Audio also leaves
        // the last slots of the queue to signaling and state events, so a consumer that falls
        // behind on audio never stalls a negotiation or a close.
        if events.capacity() <= CONTROL_RESERVE
            || events.try_send(Event::Audio { member, packet }).is_err()
        {
            dropped += 1;
            if dropped.is_power_of_two() {
                debug!(member, dropped, "received audio dropped (event queue full)");
            }
        }
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// One audio packet queued for the peer task.
pub(crate) struct AudioOut {
    pub(crate) payload: Bytes,
    pub(crate) duration: Duration,
    /// The sender's sample number of the packet's first sample; `None` continues from the
    /// previous packet.
    pub(crate) timestamp: Option<u32>,
}

/// RTP sequence numbers and timestamps of one connection's audio. Both start at random
/// values (RFC 3550 §5.1); the timestamp is `base` plus the sender's sample number.
pub(crate) struct RtpNumbering {
    sequence: u16,
    base: u32,
    /// The sample number the next packet starts at if nothing was skipped.
    next: u32,
    started: bool,
}

/// Opus's RTP clock rate, whatever the audio's real rate (RFC 7587 §4.1).
const OPUS_CLOCK_RATE: u32 = 48_000;
