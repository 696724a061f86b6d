//! Video frames for the webview, as one binary message each (the layout `ui/src/ipc/frame.ts`
//! parses): a 22-byte little-endian header — magic `0x48465631`, width, height (u32 each),
//! capture time in µs (u64), the member id's byte length (u16) — then the member id as
//! decimal UTF-8 (empty for our own preview) and the tight I420 planes Y, U, V.
//!
//! Raw planes cost a copy into one buffer and nothing else: no encoding on either side, and
//! the webview uploads them to WebGL textures as they are.

use hearth_media::video::I420Frame;

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

#[cfg(test)]
mod tests {
    use super::*;

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
