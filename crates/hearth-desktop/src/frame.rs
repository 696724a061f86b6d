//! Video frames for the webview, as one binary message each (the layout `ui/src/ipc/frame.ts`
//! parses): a 22-byte little-endian header — magic `0x48465631`, width, height (u32 each),
//! capture time in µs (u64), the member id's byte length (u16) — then the member id as
//! decimal UTF-8 (empty for our own preview) and the tight I420 planes Y, U, V.
//!
//! Raw planes cost a copy into one buffer and nothing else: no encoding on either side, and
//! the webview uploads them to WebGL textures as they are.

use std::sync::Arc;
use std::time::Duration;

use hearth_media::video::{FrameSlot, I420Frame, VideoError, VideoFormat, VideoSource};

use crate::ipc::MemberId;

/// `HFV1` as a little-endian u32.
pub const MAGIC: u32 = 0x4846_5631;
/// Bytes before the member id.
pub const HEADER_BYTES: usize = 22;

/// One frame as the webview receives it; `member` is `None` for our own camera's preview.
pub fn encode(member: Option<MemberId>, frame: &I420Frame) -> Vec<u8> {
    let id = member.map(|m| m.to_string()).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_BYTES + id.len() + frame.data.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&frame.width.to_le_bytes());
    out.extend_from_slice(&frame.height.to_le_bytes());
    out.extend_from_slice(&frame.timestamp_us.to_le_bytes());
    // A u64 in decimal is at most 20 bytes.
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(frame.y());
    out.extend_from_slice(frame.u());
    out.extend_from_slice(frame.v());
    out
}

/// A video source that also puts a copy of its frames, at most about once per `interval`,
/// in a slot: our own camera's preview, taken from the frames the camera session sends.
/// The copy is made on the camera session's capture thread, never on the core's task.
pub(crate) struct Preview {
    inner: Box<dyn VideoSource>,
    slot: Arc<FrameSlot<I420Frame>>,
    interval_us: u64,
    last_us: Option<u64>,
}

impl Preview {
    pub(crate) fn new(
        inner: Box<dyn VideoSource>,
        slot: Arc<FrameSlot<I420Frame>>,
        interval: Duration,
    ) -> Preview {
        Preview {
            inner,
            slot,
            interval_us: interval.as_micros() as u64,
            last_us: None,
        }
    }
}

impl VideoSource for Preview {
    fn format(&self) -> VideoFormat {
        self.inner.format()
    }

    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        let frame = self.inner.next_frame(now_us)?;
        if let Some(frame) = &frame {
            // Three quarters of the interval is enough: a camera's frames are not evenly
            // spaced, and waiting for the whole interval would skip every other due frame.
            let due = self
                .last_us
                .is_none_or(|last| now_us.saturating_sub(last) >= self.interval_us * 3 / 4);
            if due && !self.slot.is_closed() {
                self.last_us = Some(now_us);
                self.slot.put(frame.clone());
            }
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use hearth_media::video::{TestPattern, read_stamp};

    use super::*;

    #[test]
    fn the_preview_copies_frames_at_its_own_rate_and_passes_all_on() {
        let format = VideoFormat {
            width: 320,
            height: 240,
            fps: 30,
        };
        let slot = Arc::new(FrameSlot::new());
        let pattern = Box::new(TestPattern::new(format).unwrap());
        let mut preview = Preview::new(pattern, Arc::clone(&slot), Duration::from_millis(66));
        assert_eq!(preview.format(), format);
        let mut previewed = Vec::new();
        for n in 0..30u64 {
            let frame = preview.next_frame(n * 33_333).unwrap().expect("a frame");
            assert_eq!(read_stamp(&frame).unwrap().frame_number as u64, n);
            if let Some(copy) = slot.take() {
                assert_eq!(copy, frame, "the preview is the frame sent");
                previewed.push(n);
            }
        }
        // One second of a 30 fps camera at a 15 fps preview: every other frame.
        assert_eq!(previewed, (0..30).step_by(2).collect::<Vec<_>>());
        // A closed slot (camera off) gets nothing more.
        slot.close();
        preview.next_frame(2_000_000).unwrap();
        assert!(slot.take().is_none());
    }

    #[test]
    fn header_then_member_then_planes() {
        let mut frame = I420Frame::black(4, 2, 0x0102_0304_0506_0708).unwrap();
        let (y, u, v) = frame.planes_mut();
        y.fill(1);
        u.fill(2);
        v.fill(3);
        let bytes = encode(Some(42), &frame);
        assert_eq!(&bytes[0..4], b"1VFH", "HFV1 as a little-endian u32");
        assert_eq!(&bytes[4..8], &4u32.to_le_bytes());
        assert_eq!(&bytes[8..12], &2u32.to_le_bytes());
        assert_eq!(&bytes[12..20], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&bytes[20..22], &2u16.to_le_bytes());
        assert_eq!(&bytes[22..24], b"42");
        assert_eq!(&bytes[24..], &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3]);
        let own = encode(None, &frame);
        assert_eq!(&own[20..22], &0u16.to_le_bytes());
        assert_eq!(own.len(), HEADER_BYTES + 12);
    }
}
