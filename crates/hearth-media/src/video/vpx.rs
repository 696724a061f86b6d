//! VP8 through the system libvpx: the only module of this crate with `unsafe` code.
//!
//! The wrapper is thin on purpose: each type owns one boxed `vpx_codec_ctx_t` (boxed so its
//! address never changes while libvpx holds on to it) and destroys it on drop. Frames go in
//! and out as [`I420Frame`]s with tight planes; the decoder copies out of libvpx's strided
//! image row by row, because libvpx pads its planes (stride > width) and reuses the buffer
//! on the next call.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_int, c_long, c_uint, c_ulong};
use std::ptr;

use vpx_sys as sys;

use super::VideoError;
use super::frame::{I420Frame, check_dims};

/// Settings of a [`Vp8Encoder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Nominal frame rate, for rate control.
    pub fps: u32,
    /// Target bitrate in kbps (constant bitrate).
    pub bitrate_kbps: u32,
    /// Encoder threads (1 is right below 720p on small machines).
    pub threads: u32,
    /// At most this many frames between keyframes (0: only forced ones and the first).
    pub keyframe_interval: u32,
}

/// One VP8 frame out of the encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The VP8 frame as it goes into RTP (one frame, all partitions).
    pub data: Vec<u8>,
    /// Whether this is a keyframe (decodable on its own).
    pub keyframe: bool,
    /// The capture time of the frame it encodes.
    pub timestamp_us: u64,
}

/// libvpx's message for the last error on `ctx`.
fn last_error(
    ctx: &mut sys::vpx_codec_ctx_t,
    what: &str,
    code: sys::vpx_codec_err_t,
) -> VideoError {
    // SAFETY: `ctx` is a valid context (initialised or failed init, both of which libvpx
    // allows here); vpx_codec_error returns a static NUL-terminated string, and
    // vpx_codec_error_detail either null or a string owned by the context that we copy
    // before the next call.
    let (message, detail) = unsafe {
        let message = CStr::from_ptr(sys::vpx_codec_error(ctx))
            .to_string_lossy()
            .into_owned();
        let detail = sys::vpx_codec_error_detail(ctx);
        let detail =
            (!detail.is_null()).then(|| CStr::from_ptr(detail).to_string_lossy().into_owned());
        (message, detail)
    };
    VideoError::Codec {
        what: what.to_owned(),
        code: code as u32,
        message: match detail {
            Some(d) => format!("{message}: {d}"),
            None => message,
        },
    }
}

/// A zeroed context: libvpx's init functions fill it in.
fn zeroed_ctx() -> Box<sys::vpx_codec_ctx_t> {
    // SAFETY: vpx_codec_ctx_t is a plain C struct of pointers and integers (and an enum
    // whose 0 is VPX_CODEC_OK); all-zero is the state libvpx documents before init.
    Box::new(unsafe { std::mem::zeroed() })
}

/// A VP8 encoder tuned for real-time calls: one-pass CBR, no look-ahead, error resilient,
/// the real-time deadline.
pub struct Vp8Encoder {
    ctx: Box<sys::vpx_codec_ctx_t>,
    cfg: sys::vpx_codec_enc_cfg_t,
    config: EncoderConfig,
    /// Whether `ctx` holds an initialised encoder that Drop must destroy.
    live: bool,
    /// The next frame must be a keyframe (after a size change).
    force_next: bool,
    last_pts: Option<i64>,
}

// SAFETY: the context is owned exclusively by this value and libvpx keeps no thread-local
// state for it; moving it to another thread between calls is fine.
unsafe impl Send for Vp8Encoder {}

impl std::fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("config", &self.config)
            .finish()
    }
}

impl Vp8Encoder {
    /// An encoder with these settings.
    pub fn new(config: EncoderConfig) -> Result<Self, VideoError> {
        check_dims(config.width, config.height)?;
        if config.fps == 0 || config.bitrate_kbps == 0 {
            return Err(VideoError::InvalidConfig(
                "fps and bitrate must be non-zero".into(),
            ));
        }
        let mut cfg = std::mem::MaybeUninit::<sys::vpx_codec_enc_cfg_t>::uninit();
        // SAFETY: the interface pointer is a static of libvpx; cfg is a valid out pointer,
        // which vpx_codec_enc_config_default overwrites whole (a struct copy of the
        // interface's default) on success. The struct holds enums with no zero value, so
        // it must not be zero-initialised.
        let err = unsafe {
            sys::vpx_codec_enc_config_default(sys::vpx_codec_vp8_cx(), cfg.as_mut_ptr(), 0)
        };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(VideoError::Codec {
                what: "encoder default config".into(),
                code: err as u32,
                message: format!("{err:?}"),
            });
        }
        // SAFETY: initialised by the successful call above.
        let cfg = unsafe { cfg.assume_init() };
        let mut encoder = Self {
            ctx: zeroed_ctx(),
            cfg,
            config,
            live: false,
            force_next: true,
            last_pts: None,
        };
        encoder.init()?;
        Ok(encoder)
    }

    /// The current settings (size follows the last frame encoded).
    pub fn config(&self) -> EncoderConfig {
        self.config
    }

    fn fill_cfg(&mut self) {
        let c = &self.config;
        let cfg = &mut self.cfg;
        cfg.g_w = c.width;
        cfg.g_h = c.height;
        cfg.g_threads = c.threads.max(1);
        // Microsecond timebase: pts is the capture time as given.
        cfg.g_timebase = sys::vpx_rational {
            num: 1,
            den: 1_000_000,
        };
        cfg.g_error_resilient = sys::VPX_ERROR_RESILIENT_DEFAULT;
        cfg.g_pass = sys::vpx_enc_pass::VPX_RC_ONE_PASS;
        // Any look-ahead is latency in a call.
        cfg.g_lag_in_frames = 0;
        cfg.rc_end_usage = sys::vpx_rc_mode::VPX_CBR;
        cfg.rc_target_bitrate = c.bitrate_kbps;
        // WebRTC's settings for real-time VP8: drop frames rather than overshoot, a small
        // buffer so the rate follows set_bitrate quickly.
        cfg.rc_dropframe_thresh = 0;
        cfg.rc_resize_allowed = 0;
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_undershoot_pct = 100;
        cfg.rc_overshoot_pct = 15;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        cfg.rc_buf_sz = 1000;
        if c.keyframe_interval == 0 {
            cfg.kf_mode = sys::vpx_kf_mode::VPX_KF_DISABLED;
        } else {
            cfg.kf_mode = sys::vpx_kf_mode::VPX_KF_AUTO;
            cfg.kf_min_dist = 0;
            cfg.kf_max_dist = c.keyframe_interval;
        }
    }

    fn init(&mut self) -> Result<(), VideoError> {
        self.destroy();
        self.fill_cfg();
        // SAFETY: ctx is a zeroed or destroyed context we own; cfg is fully initialised;
        // the ABI version is the one the bindings were generated for.
        let err = unsafe {
            sys::vpx_codec_enc_init_ver(
                &mut *self.ctx,
                sys::vpx_codec_vp8_cx(),
                &self.cfg,
                0,
                sys::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(last_error(&mut self.ctx, "encoder init", err));
        }
        self.live = true;
        // -6: the usual real-time speed (WebRTC uses -6 to -12 by CPU); fast enough for
        // 720p30 on one core of a laptop.
        self.control(sys::vp8e_enc_control_id::VP8E_SET_CPUUSED as c_int, -6)?;
        self.control(
            sys::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY as c_int,
            0,
        )?;
        self.control(
            sys::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD as c_int,
            1,
        )?;
        self.force_next = true;
        self.last_pts = None;
        Ok(())
    }

    fn control(&mut self, id: c_int, value: c_int) -> Result<(), VideoError> {
        // SAFETY: the context is initialised (`live`); the controls used here all take an
        // int, which is what the variadic argument carries.
        let err = unsafe { sys::vpx_codec_control_(&mut *self.ctx, id, value) };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(last_error(&mut self.ctx, "encoder control", err));
        }
        Ok(())
    }

    fn destroy(&mut self) {
        if self.live {
            // SAFETY: the context was initialised and is destroyed exactly once (`live`).
            unsafe { sys::vpx_codec_destroy(&mut *self.ctx) };
            self.live = false;
            *self.ctx = *zeroed_ctx();
        }
    }

    /// Changes the target bitrate from the next frame on.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), VideoError> {
        let kbps = kbps.max(1);
        self.config.bitrate_kbps = kbps;
        self.cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is initialised; cfg is a valid configuration of the same size.
        let err = unsafe { sys::vpx_codec_enc_config_set(&mut *self.ctx, &self.cfg) };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(last_error(&mut self.ctx, "encoder set bitrate", err));
        }
        Ok(())
    }

    /// Encodes one frame. A frame of another size than the last re-initialises the encoder
    /// at that size (its first frame is a keyframe). `Ok(None)` when the rate control drops
    /// the frame.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedFrame>, VideoError> {
        check_dims(frame.width, frame.height)?;
        if frame.data.len() != I420Frame::byte_len(frame.width, frame.height) {
            return Err(VideoError::InvalidFrame(
                "data length does not match the size".into(),
            ));
        }
        if (frame.width, frame.height) != (self.config.width, self.config.height) || !self.live {
            self.config.width = frame.width;
            self.config.height = frame.height;
            self.init()?;
        }
        // libvpx needs strictly increasing pts; a caller's clock may repeat a value.
        let pts = (frame.timestamp_us.min(i64::MAX as u64) as i64)
            .max(self.last_pts.map_or(0, |p| p.saturating_add(1)));
        self.last_pts = Some(pts);
        let duration = (1_000_000 / self.config.fps.max(1)) as c_ulong;
        let flags: c_long = if force_keyframe || self.force_next {
            sys::VPX_EFLAG_FORCE_KF as c_long
        } else {
            0
        };

        let mut img = std::mem::MaybeUninit::<sys::vpx_image_t>::uninit();
        // SAFETY: frame.data holds exactly width*height*3/2 bytes laid out as I420 with
        // stride alignment 1, which is what vpx_img_wrap computes its plane pointers from;
        // vpx_img_wrap zeroes and fills the whole image struct. The encoder only reads the
        // pixels (the *mut is the C API's), and `img` and the data outlive the
        // vpx_codec_encode call, after which libvpx keeps no pointer into them
        // (g_lag_in_frames = 0, so no frame is queued).
        let wrapped = unsafe {
            sys::vpx_img_wrap(
                img.as_mut_ptr(),
                sys::vpx_img_fmt::VPX_IMG_FMT_I420,
                frame.width as c_uint,
                frame.height as c_uint,
                1,
                frame.data.as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(VideoError::InvalidFrame(
                "libvpx refused to wrap the frame".into(),
            ));
        }
        // SAFETY: see above; the context is initialised.
        let err = unsafe {
            sys::vpx_codec_encode(
                &mut *self.ctx,
                wrapped,
                pts,
                duration,
                flags,
                sys::VPX_DL_REALTIME as c_ulong,
            )
        };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(last_error(&mut self.ctx, "encode", err));
        }
        let mut out: Option<EncodedFrame> = None;
        let mut iter: sys::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: iterating the packets of the encode call just made; each packet and
            // its buffer stay valid until the next encode call, and we copy them now.
            let pkt = unsafe { sys::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: non-null packet from libvpx.
            let pkt = unsafe { &*pkt };
            if pkt.kind != sys::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: for a frame packet the `frame` member of the union is the active one,
            // and buf points to sz bytes.
            let (bytes, keyframe) = unsafe {
                let f = pkt.data.frame;
                let bytes = std::slice::from_raw_parts(f.buf as *const u8, f.sz as usize);
                (bytes, f.flags & sys::VPX_FRAME_IS_KEY != 0)
            };
            // VP8 without partitions yields one packet per frame; append just in case.
            let entry = out.get_or_insert_with(|| EncodedFrame {
                data: Vec::with_capacity(bytes.len()),
                keyframe,
                timestamp_us: frame.timestamp_us,
            });
            entry.data.extend_from_slice(bytes);
            entry.keyframe |= keyframe;
        }
        if out.as_ref().is_some_and(|f| f.keyframe) {
            self.force_next = false;
        }
        Ok(out)
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// A VP8 decoder that survives any input: a bad frame is an error, and decoding resumes at
/// the next frame libvpx can use (in practice the next keyframe).
pub struct Vp8Decoder {
    ctx: Box<sys::vpx_codec_ctx_t>,
}

// SAFETY: as for the encoder: exclusively owned, no thread affinity.
unsafe impl Send for Vp8Decoder {}

impl std::fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Decoder").finish_non_exhaustive()
    }
}

impl Vp8Decoder {
    /// A decoder (one thread).
    pub fn new() -> Result<Self, VideoError> {
        let mut ctx = zeroed_ctx();
        let cfg = sys::vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        // SAFETY: ctx is zeroed and owned; cfg is valid for the duration of the call.
        let err = unsafe {
            sys::vpx_codec_dec_init_ver(
                &mut *ctx,
                sys::vpx_codec_vp8_dx(),
                &cfg,
                0,
                sys::VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            let e = last_error(&mut ctx, "decoder init", err);
            // SAFETY: libvpx leaves a failed context safe to destroy.
            unsafe { sys::vpx_codec_destroy(&mut *ctx) };
            return Err(e);
        }
        Ok(Self { ctx })
    }

    /// Decodes one VP8 frame. `Ok(None)` when libvpx produced no picture (a frame it could
    /// not show yet); an error names what was wrong with the input.
    pub fn decode(
        &mut self,
        data: &[u8],
        timestamp_us: u64,
    ) -> Result<Option<I420Frame>, VideoError> {
        if data.is_empty() {
            return Err(VideoError::Corrupt("empty frame".into()));
        }
        let len = c_uint::try_from(data.len())
            .map_err(|_| VideoError::Corrupt("frame larger than 4 GiB".into()))?;
        // SAFETY: data is a valid slice of len bytes for the call; libvpx copies what it
        // keeps. The context is initialised.
        let err = unsafe {
            sys::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, ptr::null_mut(), 0)
        };
        if err != sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(match last_error(&mut self.ctx, "decode", err) {
                VideoError::Codec { message, .. } => VideoError::Corrupt(message),
                other => other,
            });
        }
        let mut iter: sys::vpx_codec_iter_t = ptr::null();
        let mut out = None;
        loop {
            // SAFETY: iterating the pictures of the decode call just made.
            let img = unsafe { sys::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            // SAFETY: non-null image owned by the decoder, valid until the next decode.
            let img = unsafe { &*img };
            out = Some(copy_image(img, timestamp_us)?);
        }
        Ok(out)
    }
}

/// Copies a decoded image into tight I420 planes. Odd sizes (legal in VP8) lose their
/// last column or row, since [`I420Frame`] is even-sized.
fn copy_image(img: &sys::vpx_image_t, timestamp_us: u64) -> Result<I420Frame, VideoError> {
    if img.fmt != sys::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(VideoError::Corrupt(format!(
            "decoder produced {:?}, not I420",
            img.fmt
        )));
    }
    let (w, h) = (img.d_w & !1, img.d_h & !1);
    check_dims(w, h)?;
    let mut frame = I420Frame::black(w, h, timestamp_us)?;
    let (y, u, v) = frame.planes_mut();
    let planes: [(&mut [u8], usize, usize); 3] = [
        (y, w as usize, h as usize),
        (u, w as usize / 2, h as usize / 2),
        (v, w as usize / 2, h as usize / 2),
    ];
    for (i, (dst, pw, ph)) in planes.into_iter().enumerate() {
        let stride = img.stride[i];
        if img.planes[i].is_null() || stride < pw as c_int {
            return Err(VideoError::Corrupt("decoder image has a bad plane".into()));
        }
        for row in 0..ph {
            // SAFETY: libvpx guarantees plane i has at least ph rows of `stride` bytes
            // (stride >= plane width, checked above), valid until the next decode call.
            let src =
                unsafe { std::slice::from_raw_parts(img.planes[i].add(row * stride as usize), pw) };
            dst[row * pw..(row + 1) * pw].copy_from_slice(src);
        }
    }
    Ok(frame)
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in new() and destroyed exactly once here.
        unsafe { sys::vpx_codec_destroy(&mut *self.ctx) };
    }
}
