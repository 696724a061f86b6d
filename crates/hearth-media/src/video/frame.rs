//! Raw frames and the source trait.

use super::VideoError;

/// A raw video frame in I420 (planar YUV 4:2:0): the Y plane, then U, then V, each tightly
/// packed (stride = width of the plane). Width and height are even, so the chroma planes are
/// exactly `width/2 x height/2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Y, U and V planes back to back; `width*height*3/2` bytes.
    pub data: Vec<u8>,
    /// Capture time in microseconds, on the caller's clock.
    pub timestamp_us: u64,
}

impl I420Frame {
    /// Bytes an I420 frame of this size takes.
    pub fn byte_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * ((w / 2) * (h / 2))
    }

    /// A frame filled with black (Y=16, U=V=128, video range).
    pub fn black(width: u32, height: u32, timestamp_us: u64) -> Result<Self, VideoError> {
        check_dims(width, height)?;
        let luma = (width as usize) * (height as usize);
        let mut data = vec![128u8; Self::byte_len(width, height)];
        data[..luma].fill(16);
        Ok(Self {
            width,
            height,
            data,
            timestamp_us,
        })
    }

    /// Wraps existing planes, checking the dimensions and the length.
    pub fn from_data(
        width: u32,
        height: u32,
        data: Vec<u8>,
        timestamp_us: u64,
    ) -> Result<Self, VideoError> {
        check_dims(width, height)?;
        let want = Self::byte_len(width, height);
        if data.len() != want {
            return Err(VideoError::InvalidFrame(format!(
                "{width}x{height} needs {want} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
            timestamp_us,
        })
    }

    fn luma_len(&self) -> usize {
        (self.width as usize) * (self.height as usize)
    }

    fn chroma_len(&self) -> usize {
        (self.width as usize / 2) * (self.height as usize / 2)
    }

    /// The Y plane (stride = `width`).
    pub fn y(&self) -> &[u8] {
        &self.data[..self.luma_len()]
    }

    /// The U plane (stride = `width/2`).
    pub fn u(&self) -> &[u8] {
        let start = self.luma_len();
        &self.data[start..start + self.chroma_len()]
    }

    /// The V plane (stride = `width/2`).
    pub fn v(&self) -> &[u8] {
        let start = self.luma_len() + self.chroma_len();
        &self.data[start..start + self.chroma_len()]
    }

    /// All three planes, mutable, for writers.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (l, c) = (self.luma_len(), self.chroma_len());
        let (y, rest) = self.data.split_at_mut(l);
        let (u, v) = rest.split_at_mut(c);
        (y, u, &mut v[..c])
    }
}

/// Checks that a frame size is usable for I420 (non-zero, even).
pub(crate) fn check_dims(width: u32, height: u32) -> Result<(), VideoError> {
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(VideoError::InvalidFrame(format!(
            "{width}x{height}: dimensions must be non-zero and even"
        )));
    }
    Ok(())
}

/// The size and rate a source produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

/// Anything that yields I420 frames: the test pattern, files, cameras.
pub trait VideoSource: Send {
    /// The format of the frames this source yields.
    fn format(&self) -> VideoFormat;

    /// The next frame, stamped with `now_us` (the caller's capture time; sources never read
    /// a clock). `Ok(None)` is the end of the stream.
    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_have_the_right_sizes_and_order() {
        let mut f = I420Frame::black(4, 2, 0).unwrap();
        assert_eq!(f.data.len(), 12);
        let (y, u, v) = f.planes_mut();
        y.fill(1);
        u.fill(2);
        v.fill(3);
        assert_eq!(f.y(), &[1; 8]);
        assert_eq!(f.u(), &[2; 2]);
        assert_eq!(f.v(), &[3; 2]);
    }

    #[test]
    fn odd_or_short_frames_are_refused() {
        assert!(I420Frame::black(3, 2, 0).is_err());
        assert!(I420Frame::from_data(4, 2, vec![0; 11], 0).is_err());
    }
}
