//! VP8 over RTP (RFC 7741): splitting encoded frames into packets, and the pure reassembly of
//! received packets into frames.
//!
//! [`FrameAssembler`] holds no clock and does no IO: the reader of a remote video track hands it
//! each RTP packet with the time it arrived, and acts on what it returns (deliver a frame,
//! report a loss, send a picture loss indication). That keeps the loss and reordering logic
//! testable without a network.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;

use crate::ReceivedVideoFrame;

/// The largest RTP payload we send: 1200 bytes leaves room for the RTP header, SRTP's tag and
/// header extensions inside the 1280-byte IPv6 minimum MTU, so packets are never fragmented.
pub(crate) const MAX_PAYLOAD: usize = 1200;

/// A payloader that writes picture ids, so receivers (browsers too) can tell frames apart.
pub(crate) fn payloader() -> Vp8Payloader {
    let mut payloader = Vp8Payloader::default();
    payloader.enable_picture_id = true;
    payloader
}

/// Splits one encoded VP8 frame into RTP payloads of at most [`MAX_PAYLOAD`] bytes, each with
/// its payload descriptor (with a picture id, so receivers can tell frames apart). The result
/// is shared by every connection the frame goes to; only the RTP header differs per connection.
pub(crate) fn packetize(payloader: &mut Vp8Payloader, frame: &Bytes) -> Vec<Bytes> {
    // The payloader only fails for an MTU too small for its descriptor, which ours is not.
    payloader.payload(MAX_PAYLOAD, frame).unwrap_or_default()
}

/// What reassembly needs from a VP8 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// The S bit: the payload starts a VP8 partition.
    pub start: bool,
    /// The partition index (PID).
    pub partition: u8,
    /// The length of the descriptor; the VP8 data follows it.
    pub len: usize,
}

/// Why a payload is not VP8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Vp8Error {
    /// The payload ends inside its descriptor, or carries no data after it.
    #[error("VP8 payload too short for its descriptor")]
    Short,
}

/// Parses the payload descriptor at the start of an RTP payload (RFC 7741 §4.2).
pub(crate) fn parse_descriptor(payload: &[u8]) -> Result<Descriptor, Vp8Error> {
    let first = *payload.first().ok_or(Vp8Error::Short)?;
    let mut len = 1;
    if first & 0x80 != 0 {
        // X: an extension byte says which optional fields follow.
        let ext = *payload.get(1).ok_or(Vp8Error::Short)?;
        len = 2;
        if ext & 0x80 != 0 {
            // I: a picture id of one byte, or two when its M bit is set.
            let pic = *payload.get(len).ok_or(Vp8Error::Short)?;
            len += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            len += 1; // L: TL0PICIDX.
        }
        if ext & 0x30 != 0 {
            len += 1; // T or K: one byte with TID, Y and KEYIDX.
        }
    }
    if payload.len() <= len {
        return Err(Vp8Error::Short);
    }
    Ok(Descriptor {
        start: first & 0x10 != 0,
        partition: first & 0x07,
        len,
    })
}

/// One received RTP packet of a video track, as reassembly sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RtpIn {
    /// The sender's synchronisation source; a change starts a new stream.
    pub ssrc: u32,
    /// The RTP sequence number.
    pub sequence: u16,
    /// The RTP timestamp, shared by every packet of a frame.
    pub timestamp: u32,
    /// The marker bit, set on the last packet of a frame.
    pub marker: bool,
    /// The RTP payload: descriptor and VP8 data.
    pub payload: Bytes,
}

/// What reassembly asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Assembly {
    /// A complete frame, in order.
    Frame(ReceivedVideoFrame),
    /// Data was lost: frames are dropped until the next keyframe.
    Lost,
    /// Ask the sender for a keyframe (a picture loss indication). Already rate-limited.
    RequestKeyframe,
}

/// One buffered packet.
#[derive(Debug)]
enum Fragment {
    /// A packet without payload (padding, or a bandwidth probe): it uses a sequence number
    /// but belongs to no frame.
    Filler,
    Data {
        timestamp: u32,
        marker: bool,
        /// S = 1 and partition 0: the first packet of a frame.
        frame_start: bool,
        /// A frame start whose VP8 header says keyframe.
        keyframe: bool,
        /// The VP8 data after the descriptor.
        data: Bytes,
    },
}

/// How far, in packets, the buffer reaches behind the newest packet. A frame that needs more
/// packets than this cannot be reassembled (at 1200 bytes a packet, 600 KB); packets further
/// back are dropped, which bounds the memory a sender can make us hold.
const WINDOW: u64 = 512;

/// Reassembles VP8 frames from RTP packets (see the module documentation).
///
/// Frames come out complete and in sequence order. A packet that stays missing for
/// `max_wait` after a later one arrived (long enough for NACK retransmission to fill the
/// hole) counts as lost: the frame it belonged to is dropped, and since later VP8 frames
/// refer to earlier ones, so is every frame until the next keyframe. Keyframe requests are
/// made while waiting for one, at most once per `request_interval`.
#[derive(Debug)]
pub(crate) struct FrameAssembler {
    max_wait: Duration,
    request_interval: Duration,
    ssrc: Option<u32>,
    /// The extended (never wrapping) sequence number of the newest packet.
    highest: Option<u64>,
    packets: BTreeMap<u64, Fragment>,
    /// Where the next frame starts; `None` while waiting for a keyframe.
    next: Option<u64>,
    /// Everything up to here was delivered or given up; later copies are ignored.
    consumed: Option<u64>,
    /// A loss happened and no keyframe is in sight yet: ask for one.
    keyframe_needed: bool,
    /// Since when a missing packet has held up the next frame.
    blocked_since: Option<Instant>,
    last_request: Option<Instant>,
}

/// The result of looking for a frame at the head of the buffer.
enum Head {
    /// The frame occupies these extended sequence numbers, both ends included.
    Complete(u64, u64),
    /// A packet is missing; `hole` tells whether a later packet already arrived.
    Waiting { hole: bool },
    /// A packet without payload sits where the next frame should start.
    Filler,
    /// The packets there cannot form a frame.
    Broken,
}

impl FrameAssembler {
    /// An assembler that waits `max_wait` for missing packets and asks for keyframes at most
    /// once per `request_interval`.
    pub(crate) fn new(max_wait: Duration, request_interval: Duration) -> Self {
        Self {
            max_wait,
            request_interval,
            ssrc: None,
            highest: None,
            packets: BTreeMap::new(),
            next: None,
            consumed: None,
            keyframe_needed: false,
            blocked_since: None,
            last_request: None,
        }
    }

    /// Takes one packet that arrived at `now`, and returns what to do.
    pub(crate) fn handle_packet(&mut self, now: Instant, packet: RtpIn) -> Vec<Assembly> {
        let mut out = Vec::new();
        if self.ssrc != Some(packet.ssrc) {
            // A new stream numbers its packets afresh; nothing buffered relates to it.
            if self.ssrc.is_some() {
                self.lose(&mut out);
            }
            self.ssrc = Some(packet.ssrc);
            self.highest = None;
            self.packets.clear();
            self.consumed = None;
        }
        let ext = self.extend(packet.sequence);
        let highest = self.highest.unwrap_or(ext).max(ext);
        self.highest = Some(highest);
        let floor = highest.saturating_sub(WINDOW);
        if ext <= floor || self.consumed.is_some_and(|c| ext <= c) {
            // Too old, or part of a frame already delivered or given up: a late duplicate.
            return out;
        }
        let fragment = match fragment(&packet) {
            Ok(fragment) => fragment,
            Err(e) => {
                // Left as a hole: the frame it belonged to cannot be completed and is given up
                // once the hole has waited its time.
                tracing::debug!(sequence = packet.sequence, "malformed VP8 payload: {e}");
                self.advance(now, &mut out);
                return out;
            }
        };
        self.packets.entry(ext).or_insert(fragment);
        // Keep the buffer within the window of the newest packet.
        if self
            .packets
            .first_key_value()
            .is_some_and(|(&k, _)| k <= floor)
        {
            self.packets = self.packets.split_off(&(floor + 1));
        }
        if self.next.is_some_and(|n| n <= floor) {
            // The frame at the head waited for a packet that is now out of reach.
            self.lose(&mut out);
        }
        self.advance(now, &mut out);
        out
    }

    /// When [`FrameAssembler::handle_timeout`] should next be called, if at all.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.blocked_since.map(|t| t + self.max_wait)
    }

    /// Gives up on a missing packet whose wait has run out.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Assembly> {
        let mut out = Vec::new();
        self.advance(now, &mut out);
        out
    }

    /// Notes that a keyframe was requested at `now` by other means, so that automatic
    /// requests do not repeat it within the interval.
    pub(crate) fn keyframe_requested(&mut self, now: Instant) {
        self.last_request = Some(now);
    }

    /// Drops frames until the next keyframe, as after a loss: the caller could not pass a
    /// frame on, so the frames after it would not decode.
    pub(crate) fn force_loss(&mut self, now: Instant) -> Vec<Assembly> {
        let mut out = Vec::new();
        // The frame at the head now is the one after the undelivered frame; it may be a
        // keyframe, so it is not abandoned, only no longer trusted to decode.
        if self.next.take().is_some() {
            out.push(Assembly::Lost);
        }
        self.blocked_since = None;
        self.keyframe_needed = true;
        self.advance(now, &mut out);
        out
    }

    /// The extended sequence number of `sequence`: the one nearest the newest packet.
    fn extend(&self, sequence: u16) -> u64 {
        match self.highest {
            // Start well above zero so that packets just before the first one still fit.
            None => (1 << 32) | u64::from(sequence),
            Some(highest) => {
                let delta = i64::from(sequence.wrapping_sub(highest as u16) as i16);
                highest.saturating_add_signed(delta)
            }
        }
    }

    /// Gives up on the frame at the head: reports the loss, abandons the frame's first packet
    /// (so waiting for a keyframe cannot pick the same broken one again) and everything
    /// before it, and waits for a keyframe.
    fn lose(&mut self, out: &mut Vec<Assembly>) {
        if let Some(head) = self.next.take() {
            out.push(Assembly::Lost);
            self.consume_through(head);
        }
        self.blocked_since = None;
        self.keyframe_needed = true;
    }

    /// Drops every packet up to and including `seq`, and ignores copies that come later.
    fn consume_through(&mut self, seq: u64) {
        self.consumed = Some(self.consumed.map_or(seq, |c| c.max(seq)));
        self.packets = self.packets.split_off(&(seq + 1));
    }

    fn request(&mut self, now: Instant, out: &mut Vec<Assembly>) {
        if self
            .last_request
            .is_none_or(|t| now.saturating_duration_since(t) >= self.request_interval)
        {
            self.last_request = Some(now);
            out.push(Assembly::RequestKeyframe);
        }
    }

    /// Delivers every frame that is complete at the head of the buffer, and gives up on
    /// missing packets that have waited too long.
    fn advance(&mut self, now: Instant, out: &mut Vec<Assembly>) {
        loop {
            let Some(next) = self.next else {
                if !self.resync(now, out) {
                    return;
                }
                continue;
            };
            match self.head(next) {
                Head::Complete(first, last) => {
                    self.blocked_since = None;
                    self.next = Some(last + 1);
                    let frame = self.take_frame(first, last);
                    self.consumed = Some(last);
                    if let Some(frame) = frame {
                        out.push(Assembly::Frame(frame));
                    }
                }
                Head::Waiting { hole: false } => {
                    self.blocked_since = None;
                    return;
                }
                Head::Waiting { hole: true } => {
                    let since = *self.blocked_since.get_or_insert(now);
                    if now.saturating_duration_since(since) < self.max_wait {
                        return;
                    }
                    self.lose(out);
                }
                Head::Filler => {
                    // Padding between frames: skip it.
                    self.consume_through(next);
                    self.next = Some(next + 1);
                }
                Head::Broken => self.lose(out),
            }
        }
    }

    /// While waiting for a keyframe: moves the head to the earliest buffered keyframe start,
    /// dropping what came before it. Returns whether one was found.
    fn resync(&mut self, now: Instant, out: &mut Vec<Assembly>) -> bool {
        let key = self.packets.iter().find_map(|(&seq, f)| match f {
            Fragment::Data { keyframe: true, .. } => Some(seq),
            _ => None,
        });
        match key {
            Some(seq) => {
                self.consume_through(seq - 1);
                self.next = Some(seq);
                self.keyframe_needed = false;
                true
            }
            None => {
                // After a loss, or while frames keep coming that cannot be decoded, the sender
                // must be asked (again).
                let stale = self.packets.values().any(|f| {
                    matches!(
                        f,
                        Fragment::Data {
                            frame_start: true,
                            ..
                        }
                    )
                });
                if self.keyframe_needed || stale {
                    self.request(now, out);
                }
                false
            }
        }
    }

    /// Looks for a complete frame starting at `first`.
    fn head(&self, first: u64) -> Head {
        let highest = self.highest.unwrap_or(first);
        let mut timestamp = None;
        let mut seq = first;
        loop {
            let Some(fragment) = self.packets.get(&seq) else {
                return Head::Waiting {
                    hole: seq < highest,
                };
            };
            match (fragment, timestamp) {
                (Fragment::Filler, None) => return Head::Filler,
                (Fragment::Filler, Some(_)) => {}
                (
                    Fragment::Data {
                        frame_start,
                        timestamp: ts,
                        ..
                    },
                    None,
                ) => {
                    if !frame_start {
                        return Head::Broken;
                    }
                    timestamp = Some(*ts);
                }
                (
                    Fragment::Data {
                        frame_start,
                        timestamp: ts,
                        ..
                    },
                    Some(current),
                ) if *ts != current => {
                    // The next frame began without a marker on this one; nothing is missing
                    // in between, so this frame is whole. A stranger packet means breakage.
                    return if *frame_start {
                        Head::Complete(first, seq - 1)
                    } else {
                        Head::Broken
                    };
                }
                (Fragment::Data { .. }, Some(_)) => {}
            }
            if let Fragment::Data { marker: true, .. } = fragment {
                return Head::Complete(first, seq);
            }
            seq += 1;
        }
    }

    /// Removes the packets up to `last` (the head is `first`) and joins their data into a frame.
    fn take_frame(&mut self, first: u64, last: u64) -> Option<ReceivedVideoFrame> {
        debug_assert_eq!(self.packets.first_key_value().map(|(&k, _)| k), Some(first));
        let rest = self.packets.split_off(&(last + 1));
        let taken = std::mem::replace(&mut self.packets, rest);
        let mut parts = taken.into_values().filter_map(|f| match f {
            Fragment::Filler => None,
            Fragment::Data {
                timestamp,
                keyframe,
                data,
                ..
            } => Some((timestamp, keyframe, data)),
        });
        let (timestamp, keyframe, head) = parts.next()?;
        let rest: Vec<Bytes> = parts.map(|(_, _, data)| data).collect();
        let data = if rest.is_empty() {
            // The usual small frame: its one payload is passed on without a copy.
            head
        } else {
            let len = head.len() + rest.iter().map(Bytes::len).sum::<usize>();
            let mut joined = BytesMut::with_capacity(len);
            joined.extend_from_slice(&head);
            for part in &rest {
                joined.extend_from_slice(part);
            }
            joined.freeze()
        };
        Some(ReceivedVideoFrame {
            data,
            timestamp,
            keyframe,
        })
    }
}

/// Classifies one packet's payload.
fn fragment(packet: &RtpIn) -> Result<Fragment, Vp8Error> {
    if packet.payload.is_empty() {
        return Ok(Fragment::Filler);
    }
    let descriptor = parse_descriptor(&packet.payload)?;
    let data = packet.payload.slice(descriptor.len..);
    let frame_start = descriptor.start && descriptor.partition == 0;
    // The VP8 frame tag's first bit (P, "inverse key frame flag") is 0 for a keyframe
    // (RFC 6386 §9.1); it is only present at the start of the frame.
    let keyframe = frame_start && data[0] & 0x01 == 0;
    Ok(Fragment::Data {
        timestamp: packet.timestamp,
        marker: packet.marker,
        frame_start,
        keyframe,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(400);
    const INTERVAL: Duration = Duration::from_millis(500);

    /// A synthetic VP8 frame: the frame tag's keyframe bit, then a recognisable pattern.
    fn frame_data(n: u32, len: usize, keyframe: bool) -> Bytes {
        let mut data: Vec<u8> = (0..len).map(|i| (i as u32 ^ n) as u8).collect();
        data[0] = if keyframe { 0x10 } else { 0x11 };
        Bytes::from(data)
    }

    /// The packets of frame `n` (timestamp `n * 3000`), numbered from `*seq`.
    fn packets(
        payloader: &mut Vp8Payloader,
        seq: &mut u16,
        n: u32,
        len: usize,
        keyframe: bool,
    ) -> Vec<RtpIn> {
        let payloads = packetize(payloader, &frame_data(n, len, keyframe));
        let count = payloads.len();
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                let p = RtpIn {
                    ssrc: 7,
                    sequence: *seq,
                    timestamp: n.wrapping_mul(3000),
                    marker: i + 1 == count,
                    payload,
                };
                *seq = seq.wrapping_add(1);
                p
            })
            .collect()
    }

    /// A sender's packetizer and numbering, and the assembler its packets go to.
    struct Fixture {
        payloader: Vp8Payloader,
        seq: u16,
        a: FrameAssembler,
    }

    impl Fixture {
        fn new(seq: u16) -> Self {
            let a = FrameAssembler::new(WAIT, INTERVAL);
            let payloader = payloader();
            Fixture { payloader, seq, a }
        }

        /// The packets of frame `n`, not delivered (lost, or to be delivered by hand).
        fn packets(&mut self, n: u32, len: usize, keyframe: bool) -> Vec<RtpIn> {
            packets(&mut self.payloader, &mut self.seq, n, len, keyframe)
        }

        /// Frame `n` arriving whole at `now`.
        fn send(&mut self, now: Instant, n: u32, len: usize, keyframe: bool) -> Vec<Assembly> {
            let pkts = self.packets(n, len, keyframe);
            pkts.into_iter()
                .flat_map(|p| self.a.handle_packet(now, p))
                .collect()
        }
    }

    fn frames(out: &[Assembly]) -> Vec<&ReceivedVideoFrame> {
        out.iter()
            .filter_map(|a| match a {
                Assembly::Frame(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn descriptors_with_and_without_extensions() {
        assert_eq!(
            parse_descriptor(&[0x10, 0xAA]),
            Ok(Descriptor {
                start: true,
                partition: 0,
                len: 1
            })
        );
        // X, I with a 15-bit picture id, L, T: 1 + 1 + 2 + 1 + 1 bytes.
        let d = parse_descriptor(&[0x90, 0xE0, 0x81, 0x02, 0x03, 0x04, 0xAA]).unwrap();
        assert_eq!((d.start, d.partition, d.len), (true, 0, 6));
        assert_eq!(parse_descriptor(&[0x03, 0x00]).unwrap().partition, 3);
        for short in [
            &[][..],
            &[0x10],
            &[0x80],
            &[0x80, 0x80],
            &[0x90, 0x80, 0x81, 0x02],
        ] {
            assert_eq!(parse_descriptor(short), Err(Vp8Error::Short), "{short:?}");
        }
    }

    #[test]
    fn large_frames_are_split_and_rejoined_in_order() {
        let now = Instant::now();
        let mut s = Fixture::new(65_500); // wraps inside the second frame
        let mut got = Vec::new();
        for (n, len, key) in [(0, 40_000, true), (1, 3_000, false), (2, 500, false)] {
            let pkts = s.packets(n, len, key);
            assert!(pkts.iter().all(|p| p.payload.len() <= MAX_PAYLOAD));
            if len > MAX_PAYLOAD {
                assert!(pkts.len() > 1);
            }
            for p in pkts {
                got.extend(s.a.handle_packet(now, p));
            }
        }
        let f = frames(&got);
        assert_eq!(f.len(), 3, "{got:?}");
        assert_eq!(f[0].data, frame_data(0, 40_000, true));
        assert!(f[0].keyframe && !f[1].keyframe);
        assert_eq!(f[1].data, frame_data(1, 3_000, false));
        assert_eq!(
            f.iter().map(|f| f.timestamp).collect::<Vec<_>>(),
            [0, 3000, 6000]
        );
        assert!(!got.contains(&Assembly::Lost));
    }

    #[test]
    fn reordered_and_duplicated_packets_still_make_whole_frames() {
        let now = Instant::now();
        let mut s = Fixture::new(100);
        let mut pkts = s.packets(0, 5_000, true);
        pkts.extend(s.packets(1, 2_500, false));
        // Swap neighbours and repeat one: as a jittery path and a retransmission would.
        pkts.swap(1, 2);
        pkts.swap(5, 6);
        pkts.insert(4, pkts[3].clone());
        let mut got = Vec::new();
        for p in pkts {
            got.extend(s.a.handle_packet(now, p));
        }
        let f = frames(&got);
        assert_eq!(f.len(), 2, "{got:?}");
        assert_eq!(f[0].data, frame_data(0, 5_000, true));
        assert_eq!(f[1].data, frame_data(1, 2_500, false));
    }

    #[test]
    fn a_hole_filled_in_time_loses_nothing() {
        let t0 = Instant::now();
        let mut s = Fixture::new(0);
        let mut pkts = s.packets(0, 3_000, true);
        pkts.extend(s.packets(1, 100, false));
        let late = pkts.remove(1);
        let mut got = Vec::new();
        for p in pkts {
            got.extend(s.a.handle_packet(t0, p));
        }
        assert!(frames(&got).is_empty());
        assert_eq!(s.a.poll_timeout(), Some(t0 + WAIT));
        // The retransmission arrives before the wait is over.
        got.extend(s.a.handle_packet(t0 + WAIT / 2, late));
        assert_eq!(frames(&got).len(), 2);
        assert!(!got.contains(&Assembly::Lost) && !got.contains(&Assembly::RequestKeyframe));
        assert_eq!(s.a.poll_timeout(), None);
    }

    #[test]
    fn a_lost_packet_drops_frames_until_a_keyframe_and_asks_for_one() {
        let t0 = Instant::now();
        let mut s = Fixture::new(0);
        let mut got = Vec::new();
        got.extend(s.send(t0, 0, 100, true));
        assert_eq!(frames(&got).len(), 1);
        // Frame 1 loses its only packet; frames 2 and 3 arrive whole.
        let _lost = s.packets(1, 100, false);
        let mut got = Vec::new();
        for n in [2, 3] {
            got.extend(s.send(t0, n, 100, false));
        }
        assert!(got.is_empty(), "{got:?}");
        got.extend(s.a.handle_timeout(t0 + WAIT));
        assert_eq!(got, [Assembly::Lost, Assembly::RequestKeyframe]);
        // More inter frames are dropped; the request repeats only after its interval.
        let mut got = Vec::new();
        got.extend(s.send(t0 + WAIT + INTERVAL / 2, 4, 100, false));
        assert!(got.is_empty(), "{got:?}");
        got.extend(s.send(t0 + WAIT + INTERVAL, 5, 100, false));
        assert_eq!(got, [Assembly::RequestKeyframe]);
        let mut got = Vec::new();
        for n in [6, 7] {
            got.extend(s.send(t0 + 2 * INTERVAL, n, 2_000, n == 6));
        }
        let f = frames(&got);
        assert_eq!(f.len(), 2, "{got:?}");
        assert!(f[0].keyframe);
        assert_eq!(f[0].timestamp, 6 * 3000);
    }

    #[test]
    fn the_first_frame_waits_for_a_keyframe() {
        let t0 = Instant::now();
        let mut s = Fixture::new(9);
        let mut got = Vec::new();
        got.extend(s.send(t0, 0, 100, false));
        // Joined mid-stream: no frame, no loss to report, but a keyframe request.
        assert_eq!(got, [Assembly::RequestKeyframe]);
        let mut got = Vec::new();
        got.extend(s.send(t0, 1, 4_000, true));
        assert_eq!(frames(&got).len(), 1);
    }

    #[test]
    fn malformed_payloads_and_padding_are_survived() {
        let t0 = Instant::now();
        let mut s = Fixture::new(0);
        let mut got = Vec::new();
        got.extend(s.send(t0, 0, 100, true));
        // Padding between frames takes a sequence number but is no loss.
        got.extend(s.a.handle_packet(
            t0,
            RtpIn {
                ssrc: 7,
                sequence: s.seq,
                timestamp: 1,
                marker: false,
                payload: Bytes::new(),
            },
        ));
        s.seq += 1;
        got.extend(s.send(t0, 1, 100, false));
        assert_eq!(frames(&got).len(), 2, "{got:?}");
        // A descriptor without data is a hole, given up after the wait.
        got.clear();
        got.extend(s.a.handle_packet(
            t0,
            RtpIn {
                ssrc: 7,
                sequence: s.seq,
                timestamp: 2 * 3000,
                marker: true,
                payload: Bytes::from_static(&[0x90]),
            },
        ));
        s.seq += 1;
        got.extend(s.send(t0, 3, 100, false));
        got.extend(s.a.handle_timeout(t0 + WAIT));
        assert_eq!(got, [Assembly::Lost, Assembly::RequestKeyframe]);
    }

    #[test]
    fn a_broken_keyframe_gives_way_to_the_next_one() {
        let mut s = Fixture::new(500);
        let t0 = Instant::now();
        // A keyframe loses a middle packet for good; the next keyframe arrives whole.
        let mut broken = s.packets(0, 5_000, true);
        let late = broken.remove(2);
        let mut got: Vec<Assembly> = broken
            .into_iter()
            .flat_map(|p| s.a.handle_packet(t0, p))
            .collect();
        got.extend(s.send(t0, 1, 100, false));
        got.extend(s.send(t0, 2, 3_000, true));
        got.extend(s.send(t0, 3, 100, false));
        assert!(frames(&got).is_empty(), "{got:?}");
        // One wait for the hole, then straight on from the whole keyframe.
        let got = s.a.handle_timeout(t0 + WAIT);
        let f = frames(&got);
        assert_eq!(f.len(), 2, "{got:?}");
        assert_eq!((f[0].timestamp, f[0].keyframe), (2 * 3000, true));
        assert_eq!(got.iter().filter(|a| **a == Assembly::Lost).count(), 1);
        // A late retransmission of the abandoned keyframe changes nothing.
        assert!(s.a.poll_timeout().is_none());
        assert_eq!(s.a.handle_packet(t0 + WAIT, late), []);
        assert_eq!(s.send(t0 + WAIT, 4, 100, false).len(), 1);
    }

    #[test]
    fn a_new_ssrc_starts_a_new_stream() {
        let t0 = Instant::now();
        let mut s = Fixture::new(0);
        s.send(t0, 0, 100, true);
        s.seq = 40_000;
        let mut got = Vec::new();
        for mut p in s.packets(1, 100, true) {
            p.ssrc = 8;
            got.extend(s.a.handle_packet(t0, p));
        }
        assert_eq!(frames(&got).len(), 1, "{got:?}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn packet() -> impl Strategy<Value = (u8, u16, u32, bool, Vec<u8>, u16)> {
            (
                0u8..3,
                any::<u16>(),
                0u32..8,
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..40),
                0u16..2000,
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Random packets (any SSRC, sequence, timestamp, marker, payload, arrival time)
            /// never panic, and what comes out is well-formed.
            #[test]
            fn random_packets_never_panic(pkts in proptest::collection::vec(packet(), 0..200)) {
                let mut a = FrameAssembler::new(WAIT, INTERVAL);
                let t0 = Instant::now();
                for (ssrc, sequence, timestamp, marker, payload, ms) in pkts {
                    let now = t0 + Duration::from_millis(u64::from(ms));
                    let out = a.handle_packet(now, RtpIn {
                        ssrc: u32::from(ssrc),
                        sequence,
                        timestamp,
                        marker,
                        payload: Bytes::from(payload),
                    });
                    for o in out.iter().chain(a.handle_timeout(now).iter()) {
                        if let Assembly::Frame(f) = o {
                            prop_assert!(!f.data.is_empty());
                        }
                    }
                    prop_assert!(a.packets.len() as u64 <= WINDOW);
                }
            }

            /// A real stream with some packets dropped and the rest shuffled a little only
            /// ever yields frames that were sent, whole, in order.
            #[test]
            fn lossy_streams_yield_only_whole_sent_frames(
                drops in proptest::collection::vec(any::<bool>(), 200),
                swaps in proptest::collection::vec(0usize..200, 0..20),
                start in any::<u16>(),
            ) {
                let mut payloader = Vp8Payloader::default();
                let mut seq = start;
                let mut sent = Vec::new();
                let mut pkts = Vec::new();
                for n in 0..40u32 {
                    let len = if n % 10 == 0 { 5_000 } else { 100 + n as usize * 37 };
                    sent.push(frame_data(n, len, n % 10 == 0));
                    pkts.extend(packets(&mut payloader, &mut seq, n, len, n % 10 == 0));
                }
                for s in swaps {
                    if s + 1 < pkts.len() {
                        pkts.swap(s, s + 1);
                    }
                }
                let mut a = FrameAssembler::new(WAIT, INTERVAL);
                let t0 = Instant::now();
                let mut got = Vec::new();
                for (i, p) in pkts.into_iter().enumerate() {
                    if drops.get(i).copied().unwrap_or(false) && i % 7 == 0 {
                        continue;
                    }
                    let now = t0 + Duration::from_millis(i as u64 * 10);
                    got.extend(a.handle_packet(now, p));
                }
                // Every frame is one that was sent, whole; and a decoder is never handed a
                // frame whose predecessor it did not get, unless the frame is a keyframe.
                let mut last: Option<u32> = None;
                for f in frames(&got) {
                    let n = f.timestamp / 3000;
                    prop_assert_eq!(&f.data, &sent[n as usize]);
                    prop_assert!(
                        f.keyframe || last.is_some_and(|l| l + 1 == n),
                        "frame {} after {:?}", n, last
                    );
                    prop_assert!(last.is_none_or(|l| l < n), "out of order");
                    last = Some(n);
                }
            }
        }
    }
}
