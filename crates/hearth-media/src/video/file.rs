//! Video files: a Y4M reader (raw 4:2:0 video, a [`VideoSource`]) and IVF, the simple
//! container libvpx's tools use for VP8 streams.
//!
//! Both parsers read untrusted files: every length is checked against a limit before it is
//! allocated, and every malformed input is an error (`Corrupt` or `Unsupported`), never a
//! panic.

use std::io::{BufRead, Read, Write};

use super::VideoError;
use super::frame::{I420Frame, VideoFormat, VideoSource};

/// Largest width or height accepted from a file header (8K plus margin).
const MAX_DIMENSION: u32 = 16_384;
/// Longest Y4M header or frame line accepted.
const MAX_LINE: usize = 4096;
/// Largest IVF frame accepted.
const MAX_IVF_FRAME: u32 = 16 << 20;

fn io(e: std::io::Error) -> VideoError {
    VideoError::Io(e.to_string())
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes; `None` at a clean EOF.
fn read_line<R: BufRead>(r: &mut R) -> Result<Option<Vec<u8>>, VideoError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(io)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(VideoError::Corrupt("Y4M line too long or cut short".into()));
    }
    line.pop();
    Ok(Some(line))
}

/// A Y4M (YUV4MPEG2) file as a video source. Only 4:2:0 8-bit (`C420*`, or no `C` tag)
/// with even dimensions is supported. Frames are stamped with the caller's time, not a
/// time derived from the file.
#[derive(Debug)]
pub struct Y4mSource<R> {
    reader: R,
    format: VideoFormat,
}

impl<R: BufRead + Send> Y4mSource<R> {
    /// Parses the stream header.
    pub fn new(mut reader: R) -> Result<Self, VideoError> {
        let line =
            read_line(&mut reader)?.ok_or_else(|| VideoError::Corrupt("empty Y4M file".into()))?;
        let text = std::str::from_utf8(&line)
            .map_err(|_| VideoError::Corrupt("Y4M header is not text".into()))?;
        let mut tokens = text.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(VideoError::Corrupt(
                "not a Y4M file (no YUV4MPEG2 signature)".into(),
            ));
        }
        let (mut width, mut height, mut fps) = (None, None, 30u32);
        for token in tokens.filter(|t| !t.is_empty()) {
            // Tags are one ASCII letter, but the header is any UTF-8 text: split after the
            // first character, not the first byte (found by fuzzing).
            let mut chars = token.chars();
            let tag = chars.next().map_or("", |c| &token[..c.len_utf8()]);
            let value = chars.as_str();
            match tag {
                "W" => width = value.parse::<u32>().ok(),
                "H" => height = value.parse::<u32>().ok(),
                "F" => {
                    let (num, den) = value.split_once(':').unwrap_or((value, "1"));
                    let (num, den) = (num.parse::<u32>(), den.parse::<u32>());
                    if let (Ok(num), Ok(den)) = (num, den)
                        && den > 0
                        && num / den > 0
                    {
                        fps = num.div_ceil(den);
                    }
                }
                // 8-bit 4:2:0 with any chroma siting; C420p10, C422, C444, Cmono are not.
                "C" if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                    return Err(VideoError::Unsupported(format!(
                        "Y4M colour space C{value}: only 4:2:0 8-bit is supported"
                    )));
                }
                _ => {}
            }
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Err(VideoError::Corrupt(
                "Y4M header lacks a valid W or H".into(),
            ));
        };
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(VideoError::Corrupt(format!(
                "Y4M size {width}x{height} out of range"
            )));
        }
        if width % 2 == 1 || height % 2 == 1 {
            return Err(VideoError::Unsupported(format!(
                "Y4M size {width}x{height} is odd"
            )));
        }
        Ok(Self {
            reader,
            format: VideoFormat { width, height, fps },
        })
    }
}

impl<R: BufRead + Send> VideoSource for Y4mSource<R> {
    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        let Some(line) = read_line(&mut self.reader)? else {
            return Ok(None);
        };
        if !line.starts_with(b"FRAME") {
            return Err(VideoError::Corrupt(
                "Y4M frame does not start with FRAME".into(),
            ));
        }
        let VideoFormat { width, height, .. } = self.format;
        // Read through `take` rather than into a buffer of the full size: a header may claim
        // 16384x16384 (400 MB a frame) in a file of a few bytes, and memory should follow
        // the data that is actually there.
        let len = I420Frame::byte_len(width, height);
        let mut data = Vec::new();
        self.reader
            .by_ref()
            .take(len as u64)
            .read_to_end(&mut data)
            .map_err(io)?;
        if data.len() != len {
            return Err(VideoError::Corrupt("Y4M frame cut short".into()));
        }
        I420Frame::from_data(width, height, data, now_us).map(Some)
    }
}

/// The header of an IVF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfHeader {
    /// The codec's FourCC (`VP80` for VP8).
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Timebase denominator (frame rate for frame-numbered files).
    pub rate: u32,
    /// Timebase numerator.
    pub scale: u32,
    /// Frames, as the writer claimed (often 0 for streams written without seeking).
    pub frame_count: u32,
}

/// One frame of an IVF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvfFrame {
    /// The compressed frame.
    pub data: Vec<u8>,
    /// Its presentation time in the file's timebase.
    pub pts: u64,
}

/// Reads VP8 frames from an IVF file.
#[derive(Debug)]
pub struct IvfReader<R> {
    reader: R,
    header: IvfHeader,
}

impl<R: Read> IvfReader<R> {
    /// Parses the 32-byte file header. Errors unless the codec is VP8.
    pub fn new(mut reader: R) -> Result<Self, VideoError> {
        let mut h = [0u8; 32];
        reader
            .read_exact(&mut h)
            .map_err(|_| VideoError::Corrupt("IVF header cut short".into()))?;
        if &h[0..4] != b"DKIF" {
            return Err(VideoError::Corrupt(
                "not an IVF file (no DKIF signature)".into(),
            ));
        }
        let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let header_len = u16_at(6);
        if header_len < 32 {
            return Err(VideoError::Corrupt(format!(
                "IVF header length {header_len} < 32"
            )));
        }
        // Skip any header extension a newer writer added.
        std::io::copy(
            &mut reader.by_ref().take(u64::from(header_len) - 32),
            &mut std::io::sink(),
        )
        .map_err(io)?;
        let header = IvfHeader {
            fourcc: [h[8], h[9], h[10], h[11]],
            width: u16_at(12),
            height: u16_at(14),
            rate: u32_at(16),
            scale: u32_at(20),
            frame_count: u32_at(24),
        };
        if &header.fourcc != b"VP80" {
            return Err(VideoError::Unsupported(format!(
                "IVF codec {:?}: only VP8 is supported",
                String::from_utf8_lossy(&header.fourcc)
            )));
        }
        Ok(Self { reader, header })
    }

    /// The file header.
    pub fn header(&self) -> IvfHeader {
        self.header
    }

    /// The next frame; `Ok(None)` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, VideoError> {
        let mut h = [0u8; 12];
        // A clean EOF is only at a frame boundary.
        let mut got = 0;
        while got < h.len() {
            match self.reader.read(&mut h[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(VideoError::Corrupt("IVF frame header cut short".into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let size = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if size > MAX_IVF_FRAME {
            return Err(VideoError::Corrupt(format!("IVF frame of {size} bytes")));
        }
        let pts = u64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
        let mut data = Vec::new();
        self.reader
            .by_ref()
            .take(u64::from(size))
            .read_to_end(&mut data)
            .map_err(io)?;
        if data.len() != size as usize {
            return Err(VideoError::Corrupt("IVF frame cut short".into()));
        }
        Ok(Some(IvfFrame { data, pts }))
    }
}

/// Writes VP8 frames to an IVF file. The header's frame count is 0 (the writer does not
/// seek back), which readers, libvpx's included, accept.
#[derive(Debug)]
pub struct IvfWriter<W> {
    writer: W,
}

impl<W: Write> IvfWriter<W> {
    /// Writes the header: VP8, the size, and a timebase of `scale/rate` seconds per tick.
    pub fn new(
        mut writer: W,
        width: u16,
        height: u16,
        rate: u32,
        scale: u32,
    ) -> Result<Self, VideoError> {
        let mut h = Vec::with_capacity(32);
        h.extend_from_slice(b"DKIF");
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&32u16.to_le_bytes());
        h.extend_from_slice(b"VP80");
        h.extend_from_slice(&width.to_le_bytes());
        h.extend_from_slice(&height.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&scale.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        writer.write_all(&h).map_err(io)?;
        Ok(Self { writer })
    }

    /// Appends one frame.
    pub fn write_frame(&mut self, data: &[u8], pts: u64) -> Result<(), VideoError> {
        let size = u32::try_from(data.len())
            .ok()
            .filter(|&s| s <= MAX_IVF_FRAME)
            .ok_or_else(|| {
                VideoError::InvalidFrame(format!("IVF frame of {} bytes", data.len()))
            })?;
        self.writer.write_all(&size.to_le_bytes()).map_err(io)?;
        self.writer.write_all(&pts.to_le_bytes()).map_err(io)?;
        self.writer.write_all(data).map_err(io)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W, VideoError> {
        self.writer.flush().map_err(io)?;
        Ok(self.writer)
    }
}
