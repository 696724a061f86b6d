//! The synthetic test pattern, with its frame number and capture time burned into the
//! pixels so that a test can read them back after a lossy codec.
//!
//! The stamp is 128 bits (frame number u32, timestamp u64, a 32-bit checksum of both), one
//! bit per 16x16 luma block, laid out row-major from the top-left corner. Blocks are black
//! (Y=16) or white (Y=235): at ~300 kbps VP8 keeps a 16x16 flat block far from the middle
//! grey, so the reader thresholds the mean of each block's inner 8x8 (the edges ring) and
//! refuses any block that is too close to grey. The checksum turns the remaining rare
//! misreads into `None` rather than a wrong value.

use super::VideoError;
use super::frame::{I420Frame, VideoFormat, VideoSource, check_dims};

/// Side of one stamp block in pixels.
const BLOCK: usize = 16;
/// Bits in a stamp: frame number, timestamp, checksum.
const STAMP_BITS: usize = 32 + 64 + 32;
const BLACK: u8 = 16;
const WHITE: u8 = 235;
/// A block whose inner mean lies between these is unreadable.
const LOW_MAX: u32 = 90;
const HIGH_MIN: u32 = 160;

/// What [`TestPattern`] burns into each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Frame number, counted from 0 by the pattern.
    pub frame_number: u32,
    /// Capture time the frame was made with, in microseconds.
    pub timestamp_us: u64,
}

/// A moving test pattern: a grey gradient background, a white vertical bar that sweeps
/// across the frame (4 pixels per frame), coloured chroma quadrants, and the [`Stamp`] in
/// the top rows.
#[derive(Debug)]
pub struct TestPattern {
    format: VideoFormat,
    frame_number: u32,
    /// The static background, drawn once: each frame starts as a copy of it.
    background: Vec<u8>,
}

impl TestPattern {
    /// A pattern of the given size and rate. Errors if the size is odd or zero.
    pub fn new(format: VideoFormat) -> Result<Self, VideoError> {
        check_dims(format.width, format.height)?;
        let mut bg = I420Frame::black(format.width, format.height, 0)?;
        let (w, h) = (format.width as usize, format.height as usize);
        {
            let (y, u, v) = bg.planes_mut();
            for row in 0..h {
                for col in 0..w {
                    // A diagonal gradient gives the encoder some texture to spend bits on.
                    y[row * w + col] = (48 + (row + col) * 128 / (w + h)) as u8;
                }
            }
            let (cw, ch) = (w / 2, h / 2);
            for row in 0..ch {
                for col in 0..cw {
                    let right = col >= cw / 2;
                    let bottom = row >= ch / 2;
                    u[row * cw + col] = if right { 160 } else { 96 };
                    v[row * cw + col] = if bottom { 160 } else { 96 };
                }
            }
        }
        Ok(Self {
            format,
            frame_number: 0,
            background: bg.data,
        })
    }

    /// Frames made so far (the next frame's number).
    pub fn frame_number(&self) -> u32 {
        self.frame_number
    }

    /// Draws frame `frame_number` stamped with `timestamp_us`.
    pub fn render(&self, frame_number: u32, timestamp_us: u64) -> I420Frame {
        let (w, h) = (self.format.width as usize, self.format.height as usize);
        let mut frame = I420Frame {
            width: self.format.width,
            height: self.format.height,
            data: self.background.clone(),
            timestamp_us,
        };
        let (y, _, _) = frame.planes_mut();
        // The moving bar, below the stamp rows so it never touches a stamp block.
        let top = stamp_rows(w).map_or(0, |r| r * BLOCK);
        let bar_w = (w / 16).max(2);
        let x0 = (frame_number as usize * 4) % w;
        for row in top..h {
            for dx in 0..bar_w {
                y[row * w + (x0 + dx) % w] = WHITE;
            }
        }
        write_stamp(
            y,
            w,
            h,
            Stamp {
                frame_number,
                timestamp_us,
            },
        );
        frame
    }
}

impl VideoSource for TestPattern {
    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        let frame = self.render(self.frame_number, now_us);
        self.frame_number = self.frame_number.wrapping_add(1);
        Ok(Some(frame))
    }
}

/// Rows of blocks the stamp needs at this width, or `None` if fewer than 4 blocks fit in
/// a row (the stamp would be taller than it is useful).
fn stamp_rows(width: usize) -> Option<usize> {
    let per_row = width / BLOCK;
    (per_row >= 4).then(|| STAMP_BITS.div_ceil(per_row))
}

/// FNV-1a over the payload, so a misread bit changes the checksum unpredictably.
fn checksum(stamp: Stamp) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in stamp
        .frame_number
        .to_le_bytes()
        .into_iter()
        .chain(stamp.timestamp_us.to_le_bytes())
    {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

fn stamp_bits(stamp: Stamp) -> u128 {
    u128::from(stamp.frame_number)
        | (u128::from(stamp.timestamp_us) << 32)
        | (u128::from(checksum(stamp)) << 96)
}

fn write_stamp(y: &mut [u8], w: usize, h: usize, stamp: Stamp) {
    let Some(rows) = stamp_rows(w) else { return };
    if rows * BLOCK > h {
        return;
    }
    let per_row = w / BLOCK;
    let bits = stamp_bits(stamp);
    for i in 0..STAMP_BITS {
        let value = if (bits >> i) & 1 == 1 { WHITE } else { BLACK };
        let (bx, by) = ((i % per_row) * BLOCK, (i / per_row) * BLOCK);
        for row in by..by + BLOCK {
            y[row * w + bx..row * w + bx + BLOCK].fill(value);
        }
    }
}

/// Reads the [`Stamp`] that [`TestPattern`] burned into a frame. `None` when any block is
/// too grey to read, the checksum does not match, or the frame is too small to carry one;
/// never a wrong value short of a checksum collision (1 in 2^32 on a misread).
pub fn read_stamp(frame: &I420Frame) -> Option<Stamp> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if frame.data.len() < w * h {
        return None;
    }
    let rows = stamp_rows(w)?;
    if rows * BLOCK > h {
        return None;
    }
    let y = &frame.data[..w * h];
    let per_row = w / BLOCK;
    let mut bits: u128 = 0;
    for i in 0..STAMP_BITS {
        let (bx, by) = ((i % per_row) * BLOCK, (i / per_row) * BLOCK);
        // The inner 8x8: block edges ring after a lossy codec.
        let mut sum = 0u32;
        for row in by + 4..by + 12 {
            sum += y[row * w + bx + 4..row * w + bx + 12]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        let mean = sum / 64;
        if mean >= HIGH_MIN {
            bits |= 1 << i;
        } else if mean > LOW_MAX {
            return None;
        }
    }
    let stamp = Stamp {
        frame_number: bits as u32,
        timestamp_us: (bits >> 32) as u64,
    };
    (checksum(stamp) == (bits >> 96) as u32).then_some(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vga() -> VideoFormat {
        VideoFormat {
            width: 640,
            height: 480,
            fps: 30,
        }
    }

    #[test]
    fn stamp_reads_back_from_clean_frames() {
        let mut p = TestPattern::new(vga()).unwrap();
        for n in 0..5u32 {
            let f = p
                .next_frame(u64::from(n) * 33_333 + (1 << 40))
                .unwrap()
                .unwrap();
            let s = read_stamp(&f).unwrap();
            assert_eq!(s.frame_number, n);
            assert_eq!(s.timestamp_us, u64::from(n) * 33_333 + (1 << 40));
        }
    }

    #[test]
    fn the_bar_moves() {
        let mut p = TestPattern::new(vga()).unwrap();
        let a = p.next_frame(0).unwrap().unwrap();
        let b = p.next_frame(0).unwrap().unwrap();
        let last_row = 479 * 640;
        assert_ne!(a.y()[last_row..], b.y()[last_row..]);
    }

    #[test]
    fn a_flipped_bit_or_grey_block_is_none_not_wrong() {
        let p = TestPattern::new(vga()).unwrap();
        let mut f = p.render(7, 99);
        // Invert block 0 (frame number bit 0) completely: the checksum catches it.
        for row in 0..BLOCK {
            for px in &mut f.data[row * 640..row * 640 + BLOCK] {
                *px = if *px == WHITE { BLACK } else { WHITE };
            }
        }
        assert_eq!(read_stamp(&f), None);
        let mut g = p.render(7, 99);
        for row in 0..BLOCK {
            g.data[row * 640 + 16..row * 640 + 32].fill(128);
        }
        assert_eq!(read_stamp(&g), None);
    }

    #[test]
    fn tiny_frames_carry_no_stamp() {
        let p = TestPattern::new(VideoFormat {
            width: 32,
            height: 32,
            fps: 30,
        })
        .unwrap();
        assert_eq!(read_stamp(&p.render(1, 1)), None);
    }
}
