//! Pixel format conversions to I420, for camera frames. Pure functions over byte slices,
//! so they are tested without a camera. Odd sizes are cropped to even (I420 frames are
//! even-sized); a buffer shorter than its size claims is an error, never a panic.

use super::VideoError;
use super::frame::I420Frame;

fn even(width: u32, height: u32) -> Result<(usize, usize), VideoError> {
    let (w, h) = ((width & !1) as usize, (height & !1) as usize);
    if w == 0 || h == 0 {
        return Err(VideoError::InvalidFrame(format!(
            "{width}x{height} is too small"
        )));
    }
    Ok((w, h))
}

fn short(what: &str, need: usize, got: usize) -> VideoError {
    VideoError::InvalidFrame(format!("{what} buffer needs {need} bytes, got {got}"))
}

/// YUYV 4:2:2 (Y0 U Y1 V per pixel pair, `stride` bytes per row) to I420. Chroma of two
/// rows is averaged into one.
pub fn yuyv_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    timestamp_us: u64,
) -> Result<I420Frame, VideoError> {
    let (w, h) = even(width, height)?;
    if stride < w * 2 {
        return Err(VideoError::InvalidFrame(format!(
            "YUYV stride {stride} < {}",
            w * 2
        )));
    }
    let need = stride * (h - 1) + w * 2;
    if src.len() < need {
        return Err(short("YUYV", need, src.len()));
    }
    let mut frame = I420Frame::black(w as u32, h as u32, timestamp_us)?;
    let (y, u, v) = frame.planes_mut();
    for row in 0..h {
        let line = &src[row * stride..row * stride + w * 2];
        for (x, px) in line.chunks_exact(2).enumerate() {
            y[row * w + x] = px[0];
        }
    }
    for crow in 0..h / 2 {
        let a = &src[2 * crow * stride..];
        let b = &src[(2 * crow + 1) * stride..];
        for cx in 0..w / 2 {
            let i = cx * 4;
            u[crow * (w / 2) + cx] = avg(a[i + 1], b[i + 1]);
            v[crow * (w / 2) + cx] = avg(a[i + 3], b[i + 3]);
        }
    }
    Ok(frame)
}

/// NV12 (Y plane, then interleaved U V at half resolution; both with `stride` bytes per
/// row) to I420.
pub fn nv12_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    timestamp_us: u64,
) -> Result<I420Frame, VideoError> {
    let (w, h) = even(width, height)?;
    if stride < w {
        return Err(VideoError::InvalidFrame(format!(
            "NV12 stride {stride} < {w}"
        )));
    }
    // The chroma plane starts after the full (possibly odd) luma height.
    let uv_start = stride * height as usize;
    let need = uv_start + stride * (h / 2 - 1) + w;
    if src.len() < need {
        return Err(short("NV12", need, src.len()));
    }
    let mut frame = I420Frame::black(w as u32, h as u32, timestamp_us)?;
    let (y, u, v) = frame.planes_mut();
    for row in 0..h {
        y[row * w..(row + 1) * w].copy_from_slice(&src[row * stride..row * stride + w]);
    }
    for crow in 0..h / 2 {
        let line = &src[uv_start + crow * stride..uv_start + crow * stride + w];
        for (cx, uv) in line.chunks_exact(2).enumerate() {
            u[crow * (w / 2) + cx] = uv[0];
            v[crow * (w / 2) + cx] = uv[1];
        }
    }
    Ok(frame)
}

/// Packed RGB24 (as a decoded MJPEG frame comes out) to I420 with BT.601 limited-range
/// coefficients, which is what VP8 decoders assume. Chroma is the average of each 2x2.
pub fn rgb_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    timestamp_us: u64,
) -> Result<I420Frame, VideoError> {
    let (w, h) = even(width, height)?;
    let stride = width as usize * 3;
    let need = stride * (height as usize);
    if src.len() < need {
        return Err(short("RGB", need, src.len()));
    }
    let mut frame = I420Frame::black(w as u32, h as u32, timestamp_us)?;
    let (y, u, v) = frame.planes_mut();
    let px = |row: usize, col: usize| {
        let i = row * stride + col * 3;
        (
            i32::from(src[i]),
            i32::from(src[i + 1]),
            i32::from(src[i + 2]),
        )
    };
    for row in 0..h {
        for col in 0..w {
            let (r, g, b) = px(row, col);
            y[row * w + col] = clamp(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
        }
    }
    for crow in 0..h / 2 {
        for cx in 0..w / 2 {
            let (mut r, mut g, mut b) = (0, 0, 0);
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let p = px(2 * crow + dr, 2 * cx + dc);
                r += p.0;
                g += p.1;
                b += p.2;
            }
            let (r, g, b) = (r / 4, g / 4, b / 4);
            u[crow * (w / 2) + cx] = clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
            v[crow * (w / 2) + cx] = clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
        }
    }
    Ok(frame)
}

fn avg(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_splits_luma_and_averages_chroma_rows() {
        // 2x2: row 0 = Y 10, 20, U 100, V 200; row 1 = Y 30, 40, U 110, V 210.
        let src = [10, 100, 20, 200, 30, 110, 40, 210];
        let f = yuyv_to_i420(&src, 2, 2, 4, 7).unwrap();
        assert_eq!(f.y(), &[10, 20, 30, 40]);
        assert_eq!(f.u(), &[105]);
        assert_eq!(f.v(), &[205]);
        assert_eq!(f.timestamp_us, 7);
    }

    #[test]
    fn nv12_deinterleaves_with_stride_padding() {
        // 2x2 with stride 4 (2 bytes of padding per row).
        let src = [1, 2, 0, 0, 3, 4, 0, 0, 50, 60, 0, 0];
        let f = nv12_to_i420(&src, 2, 2, 4, 0).unwrap();
        assert_eq!(f.y(), &[1, 2, 3, 4]);
        assert_eq!(f.u(), &[50]);
        assert_eq!(f.v(), &[60]);
    }

    #[test]
    fn rgb_primaries_land_on_bt601_values() {
        let white = [255u8; 12];
        let f = rgb_to_i420(&white, 2, 2, 0).unwrap();
        assert_eq!((f.y()[0], f.u()[0], f.v()[0]), (235, 128, 128));
        let black = [0u8; 12];
        let f = rgb_to_i420(&black, 2, 2, 0).unwrap();
        assert_eq!((f.y()[0], f.u()[0], f.v()[0]), (16, 128, 128));
        let red: Vec<u8> = [255, 0, 0].repeat(4);
        let f = rgb_to_i420(&red, 2, 2, 0).unwrap();
        assert_eq!((f.y()[0], f.u()[0], f.v()[0]), (82, 90, 240));
    }

    #[test]
    fn odd_sizes_crop_and_short_buffers_are_errors() {
        let f = rgb_to_i420(&[0u8; 3 * 3 * 3], 3, 3, 0).unwrap();
        assert_eq!((f.width, f.height), (2, 2));
        assert!(rgb_to_i420(&[0u8; 11], 2, 2, 0).is_err());
        assert!(yuyv_to_i420(&[0u8; 7], 2, 2, 4, 0).is_err());
        assert!(nv12_to_i420(&[0u8; 5], 2, 2, 2, 0).is_err());
        assert!(yuyv_to_i420(&[0u8; 8], 2, 2, 2, 0).is_err());
        assert!(rgb_to_i420(&[], 1, 1, 0).is_err());
    }
}
