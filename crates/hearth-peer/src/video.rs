//! The two camera kinds of the shared connection task (`peer.rs`): [`VideoSend`], a send-only
//! VP8 track whose RTP we write ourselves, and [`VideoReceive`], which reassembles frames from
//! the remote track and asks for keyframes.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_VP8;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, warn};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::camera::CameraEvent;
use crate::peer::{CONTROL_RESERVE, Media, local_track, negotiated_payload_type, random_ssrc};
use crate::vp8::{Assembly, FrameAssembler, RtpIn};
use crate::{Error, MemberId};

/// The VP8 payload type we offer; the sender reads the negotiated one back before writing.
const VP8_PAYLOAD_TYPE: u8 = 96;
/// Frames queued for one watcher before new ones are dropped (a quarter second at 30 fps).
pub(crate) const FRAME_QUEUE: usize = 8;
/// How long a missing packet may hold up the frames behind it before it counts as lost. NACK
/// asks again every 100 ms, so this allows a few retransmissions.
const MAX_WAIT: Duration = Duration::from_millis(400);
/// The least time between two keyframe requests for one stream, at either end: a keyframe is
/// large and takes a while to arrive, and asking again meanwhile only costs another.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// One frame packetized for every watcher; each connection adds its own RTP headers.
#[derive(Debug)]
pub(crate) struct OutFrame {
    /// The frame's number among those given to send, so a gap shows a missed frame.
    pub number: u64,
    pub keyframe: bool,
    /// The sender's 90 kHz timestamp.
    pub timestamp: u32,
    /// The RTP payloads, descriptors included.
    pub payloads: Vec<Bytes>,
}

/// A request for a keyframe, from the watcher's owner to the connection's task.
pub(crate) struct KeyframeRequest;

fn vp8_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Registers VP8 with NACK (retransmission), PLI and FIR feedback, and the default
/// interceptors (NACK both ways, RTCP reports).
fn register_vp8(engine: &mut MediaEngine) -> Result<Registry, Error> {
    engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8_codec(),
            payload_type: VP8_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    engine.register_feedback(
        RTCPFeedback {
            typ: "ccm".to_owned(),
            parameter: "fir".to_owned(),
        },
        RtpCodecKind::Video,
    );
    Ok(register_default_interceptors(Registry::new(), engine)?)
}

/// Offers an event that may be lost (a frame, a report, a keyframe request) without waiting:
/// returns false, dropping it, when the queue is nearly full.
fn offer_event(events: &mpsc::Sender<CameraEvent>, event: CameraEvent) -> bool {
    // Media and reports leave the last slots to signaling and state, as voice does.
    events.capacity() > CONTROL_RESERVE && events.try_send(event).is_ok()
}

/// The sending end of a camera connection.
#[derive(Default)]
pub(crate) struct VideoSend {
    /// The watcher cannot decode what comes next until it has a keyframe: it just connected,
    /// or missed a frame.
    need_keyframe: bool,
    last_frame: Option<u64>,
    last_request: Option<Instant>,
    send_errors: u64,
}

/// The video track of one camera connection, and its RTP numbering.
pub(crate) struct VideoSendConn {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    sequence: u16,
    /// Added to the sender's timestamps; random, as RFC 3550 §5.1 asks.
    base: u32,
    payload_type: Option<u8>,
}

impl VideoSend {
    fn request_keyframe(&mut self, member: MemberId, events: &mpsc::Sender<CameraEvent>) {
        let now = Instant::now();
        if self
            .last_request
            .is_none_or(|t| now.duration_since(t) >= KEYFRAME_REQUEST_INTERVAL)
            && offer_event(events, CameraEvent::KeyframeRequest { member })
        {
            self.last_request = Some(now);
        }
    }
}

#[async_trait::async_trait]
impl Media for VideoSend {
    type Event = CameraEvent;
    type Out = Arc<OutFrame>;
    type Conn = VideoSendConn;
    const BYE_ON_CLOSE: bool = true;

    fn configure(engine: &mut MediaEngine) -> Result<Registry, Error> {
        // Keyframe requests and receiver reports are the application's business here, so an
        // interceptor at the application end of the chain marks them for delivery.
        Ok(register_vp8(engine)?.with(Slot::from(14_000), FeedbackToApplication::default()))
    }

    async fn attach(
        &mut self,
        member: MemberId,
        pc: &dyn PeerConnection,
        events: &mpsc::Sender<CameraEvent>,
        readers: &mut JoinSet<()>,
    ) -> Result<VideoSendConn, Error> {
        let ssrc = random_ssrc();
        let track = local_track(
            RtpCodecKind::Video,
            "hearth-camera",
            "camera",
            vp8_codec(),
            ssrc,
        );
        let track = Arc::new(TrackLocalStaticRTP::new(track));
        let transceiver = pc
            .add_transceiver_from_track(
                Arc::clone(&track) as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await?;
        let sender = transceiver.sender().await?.ok_or(Error::Closed)?;
        readers.spawn(read_feedback(
            member,
            Arc::clone(&track),
            ssrc,
            events.clone(),
        ));
        // A new connection means a new decoder at the other end.
        self.need_keyframe = true;
        Ok(VideoSendConn {
            track,
            sender,
            ssrc,
            sequence: random_ssrc() as u16,
            base: random_ssrc(),
            payload_type: None,
        })
    }

    async fn connected(
        &mut self,
        member: MemberId,
        conn: &mut VideoSendConn,
        events: &mpsc::Sender<CameraEvent>,
    ) {
        if conn.payload_type.is_none() {
            conn.payload_type = negotiated_payload_type(&*conn.sender).await;
        }
        if self.need_keyframe {
            // Ask at once rather than wait for the watcher's PLI a round trip later.
            self.request_keyframe(member, events);
        }
    }

    fn remote_track(
        &mut self,
        member: MemberId,
        _conn: &mut VideoSendConn,
        _track: Arc<dyn TrackRemote>,
        _events: &mpsc::Sender<CameraEvent>,
        _readers: &mut JoinSet<()>,
    ) {
        // The answer is receive-only; a track from the watcher is not something we asked for.
        debug!(
            member,
            "remote track on a send-only camera connection ignored"
        );
    }

    async fn send(
        &mut self,
        member: MemberId,
        conn: Option<&mut VideoSendConn>,
        frame: Arc<OutFrame>,
        events: &mpsc::Sender<CameraEvent>,
    ) {
        let continuous = self.last_frame.is_some_and(|l| l + 1 == frame.number);
        self.last_frame = Some(frame.number);
        let Some((conn, pt)) = conn.and_then(|c| c.payload_type.map(|pt| (c, pt))) else {
            self.need_keyframe = true;
            return;
        };
        if !continuous {
            self.need_keyframe = true;
        }
        if self.need_keyframe && !frame.keyframe {
            // The watcher could not decode this; send nothing until a keyframe.
            self.request_keyframe(member, events);
            return;
        }
        self.need_keyframe = false;
        let last = frame.payloads.len().saturating_sub(1);
        for (i, payload) in frame.payloads.iter().enumerate() {
            let header = rtc::rtp::header::Header {
                version: 2,
                marker: i == last,
                payload_type: pt,
                sequence_number: conn.sequence,
                timestamp: conn.base.wrapping_add(frame.timestamp),
                ssrc: conn.ssrc,
                ..Default::default()
            };
            conn.sequence = conn.sequence.wrapping_add(1);
            let packet = rtc::rtp::packet::Packet {
                header,
                payload: payload.clone(),
            };
            if let Err(e) = conn.track.write_rtp(packet).await {
                self.send_errors += 1;
                // One line per burst is enough to see the problem without flooding the log.
                if self.send_errors.is_power_of_two() {
                    warn!(member, errors = self.send_errors, "video send failed: {e}");
                }
                // The rest of the frame is useless, and so are the frames that refer to it.
                self.need_keyframe = true;
                return;
            }
        }
    }
}

/// Reads the RTCP feedback about our track until the connection closes: keyframe requests
/// and receiver reports become events.
async fn read_feedback(
    member: MemberId,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    events: mpsc::Sender<CameraEvent>,
) {
    let mut nacks = NackCount::default();
    while let Some(ev) = track.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = ev else {
            continue;
        };
        let mut keyframe = false;
        for packet in &packets {
            let any = packet.as_any();
            if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
                keyframe = true;
            } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                if nack.media_ssrc == ssrc {
                    nacks.add(nack);
                }
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                for report in rr.reports.iter().filter(|r| r.ssrc == ssrc) {
                    offer_event(
                        &events,
                        CameraEvent::Report {
                            member,
                            fraction_lost: f32::from(report.fraction_lost) / 256.0,
                            fraction_nacked: nacks.fraction(report.last_sequence_number),
                            jitter: report.jitter,
                        },
                    );
                }
            }
        }
        if keyframe && !offer_event(&events, CameraEvent::KeyframeRequest { member }) {
            debug!(member, "keyframe request dropped (event queue full)");
        }
    }
}

/// Counts the packets a watcher asked to have resent (NACK) between two receiver reports.
///
/// A receiver report's fraction lost counts a packet as received once its retransmission
/// arrives, so with NACK repairing most losses it shows only what repair missed: 25 % loss on
/// the path reads as a few percent, and a loss-based bitrate controller would never back off.
/// The NACKed share of the packets sent is what the path really loses, which is what the
/// controller needs (Google Congestion Control reads it from transport-wide feedback).
#[derive(Debug, Default)]
struct NackCount {
    /// Sequence numbers NACKed since the last report; a packet asked for twice counts once.
    nacked: BTreeSet<u16>,
    /// The extended highest sequence number of the previous report.
    last_highest: Option<u32>,
}

impl NackCount {
    fn add(&mut self, nack: &TransportLayerNack) {
        for pair in &nack.nacks {
            self.nacked.extend(pair.packet_list());
        }
    }

    /// The share of the packets sent since the previous report that were NACKed, given this
    /// report's extended highest sequence number; 0 for the first report.
    fn fraction(&mut self, highest: u32) -> f32 {
        let nacked = std::mem::take(&mut self.nacked).len();
        let sent = self.last_highest.map(|last| highest.wrapping_sub(last));
        self.last_highest = Some(highest);
        match sent {
            // A report that goes backwards (reordered, or a new stream) says nothing.
            Some(sent) if sent > 0 && sent < 1 << 16 => (nacked as f32 / sent as f32).min(1.0),
            _ => 0.0,
        }
    }
}

/// Whether an inbound RTCP packet is for the sending application: a keyframe request, a
/// receiver report, or a NACK (counted for bitrate adaptation; the NACK responder before this
/// interceptor has already resent the packets).
fn for_application(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>()
        || any.is::<FullIntraRequest>()
        || any.is::<ReceiverReport>()
        || any.is::<TransportLayerNack>()
}

/// Marks inbound keyframe requests and receiver reports for delivery to the application.
/// webrtc-rs stops inbound RTCP at the end of the interceptor chain unless an interceptor
/// vouches for it; this one sits application-most, so the NACK responder and the report
/// interceptors have seen everything before it narrows the packets down.
#[derive(Default)]
struct FeedbackToApplication {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackToApplication {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &mut msg.message.packet
            && packets.iter().any(|p| for_application(p.as_ref()))
        {
            packets.retain(|p| for_application(p.as_ref()));
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for FeedbackToApplication {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// The receiving end of a camera connection.
pub(crate) struct VideoReceive;

/// The receiving end's link to the reader of the remote track.
pub(crate) struct VideoReceiveConn {
    /// Keyframe requests for the reader, which owns the remote track; set once it arrives.
    requests: Option<mpsc::UnboundedSender<()>>,
}

#[async_trait::async_trait]
impl Media for VideoReceive {
    type Event = CameraEvent;
    type Out = KeyframeRequest;
    type Conn = VideoReceiveConn;
    const BYE_ON_CLOSE: bool = true;

    fn configure(engine: &mut MediaEngine) -> Result<Registry, Error> {
        register_vp8(engine)
    }

    async fn attach(
        &mut self,
        _member: MemberId,
        _pc: &dyn PeerConnection,
        _events: &mpsc::Sender<CameraEvent>,
        _readers: &mut JoinSet<()>,
    ) -> Result<VideoReceiveConn, Error> {
        // Nothing to add: the offer's send-only track makes a receive-only transceiver.
        Ok(VideoReceiveConn { requests: None })
    }

    async fn connected(
        &mut self,
        _member: MemberId,
        _conn: &mut VideoReceiveConn,
        _events: &mpsc::Sender<CameraEvent>,
    ) {
    }

    fn remote_track(
        &mut self,
        member: MemberId,
        conn: &mut VideoReceiveConn,
        track: Arc<dyn TrackRemote>,
        events: &mpsc::Sender<CameraEvent>,
        readers: &mut JoinSet<()>,
    ) {
        if conn.requests.is_some() {
            warn!(member, "second video track on a camera connection ignored");
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        conn.requests = Some(tx);
        readers.spawn(read_video(member, track, events.clone(), rx));
    }

    async fn send(
        &mut self,
        member: MemberId,
        conn: Option<&mut VideoReceiveConn>,
        _request: KeyframeRequest,
        _events: &mpsc::Sender<CameraEvent>,
    ) {
        match conn.and_then(|c| c.requests.as_ref()) {
            Some(tx) => {
                let _ = tx.send(());
            }
            None => debug!(member, "keyframe request before the track arrived dropped"),
        }
    }
}

/// Reads the remote video track until its stream ends (the connection closed): reassembles
/// frames, reports them and losses, and sends keyframe requests.
async fn read_video(
    member: MemberId,
    track: Arc<dyn TrackRemote>,
    events: mpsc::Sender<CameraEvent>,
    mut requests: mpsc::UnboundedReceiver<()>,
) {
    let mut assembler = FrameAssembler::new(MAX_WAIT, KEYFRAME_REQUEST_INTERVAL);
    let mut media_ssrc = None;
    let mut dropped: u64 = 0;
    loop {
        let deadline = assembler.poll_timeout().map(tokio::time::Instant::from_std);
        let out = tokio::select! {
            ev = track.poll() => match ev {
                None => break,
                Some(TrackRemoteEvent::OnRtpPacket(pkt)) => {
                    media_ssrc = Some(pkt.header.ssrc);
                    assembler.handle_packet(Instant::now(), RtpIn {
                        ssrc: pkt.header.ssrc,
                        sequence: pkt.header.sequence_number,
                        timestamp: pkt.header.timestamp,
                        marker: pkt.header.marker,
                        payload: pkt.payload,
                    })
                }
                Some(_) => continue,
            },
            Some(()) = requests.recv() => {
                assembler.keyframe_requested(Instant::now());
                vec![Assembly::RequestKeyframe]
            }
            () = crate::peer::sleep_until(deadline) => assembler.handle_timeout(Instant::now()),
        };
        let mut queue: VecDeque<Assembly> = out.into();
        while let Some(assembly) = queue.pop_front() {
            match assembly {
                Assembly::Frame(frame) => {
                    if !offer_event(&events, CameraEvent::Frame { member, frame }) {
                        dropped += 1;
                        if dropped.is_power_of_two() {
                            debug!(member, dropped, "received frame dropped (event queue full)");
                        }
                        // The frames after it would not decode without it.
                        queue.extend(assembler.force_loss(Instant::now()));
                    }
                }
                Assembly::Lost => {
                    offer_event(&events, CameraEvent::FrameLost { member });
                }
                Assembly::RequestKeyframe => {
                    // Before the first packet, the SSRC the offer announced will do.
                    if media_ssrc.is_none() {
                        media_ssrc = track.ssrcs().await.first().copied();
                    }
                    if let Some(media_ssrc) = media_ssrc {
                        let pli = PictureLossIndication {
                            sender_ssrc: 0,
                            media_ssrc,
                        };
                        if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                            debug!(member, "keyframe request not sent: {e}");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    use super::*;

    fn nack(packet_id: u16, lost_packets: u16) -> TransportLayerNack {
        TransportLayerNack {
            nacks: vec![NackPair {
                packet_id,
                lost_packets,
            }],
            ..TransportLayerNack::default()
        }
    }

    #[test]
    fn nacked_share_counts_each_packet_once_per_report_interval() {
        let mut count = NackCount::default();
        // The first report only sets the baseline.
        count.add(&nack(10, 0));
        assert_eq!(count.fraction(100), 0.0);
        // 100 packets sent; 5 NACKed (one of them twice, in two NACK packets).
        count.add(&nack(120, 0b1011)); // 120, 121, 122, 124
        count.add(&nack(150, 0));
        count.add(&nack(150, 0));
        assert_eq!(count.fraction(200), 0.05);
        // Nothing NACKed in the next interval.
        assert_eq!(count.fraction(300), 0.0);
        // A report that goes backwards, or no packets sent, says nothing.
        count.add(&nack(290, 0));
        assert_eq!(count.fraction(250), 0.0);
        assert_eq!(count.fraction(250), 0.0);
        // More NACKs than packets (NACKs of old packets) cap at 1.
        count.add(&nack(100, 0xffff));
        assert_eq!(count.fraction(260), 1.0);
        // Sequence numbers wrap; the extended number does not.
        assert_eq!(count.fraction(65_536 + 260), 0.0);
    }
}
