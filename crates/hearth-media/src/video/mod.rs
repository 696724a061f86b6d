//! Video media: raw I420 frames, video sources (synthetic test pattern), a newest-wins
//! frame mailbox for slow consumers, and a loss-based bitrate controller.
//!
//! Like the audio cores, everything here takes time as an input (`now_us`, `now`) and never
//! reads a clock, so tests are deterministic.

pub mod bitrate;
pub mod camera;
pub mod convert;
pub mod file;
pub mod frame;
pub mod pattern;
pub mod slot;
pub mod vpx;

pub use bitrate::{BitrateConfig, BitrateController};
pub use camera::{CameraChoice, CameraInfo, CameraSource, list_cameras};
pub use convert::{nv12_to_i420, rgb_to_i420, yuyv_to_i420};
pub use file::{IvfFrame, IvfHeader, IvfReader, IvfWriter, Y4mSource};
pub use frame::{I420Frame, VideoFormat, VideoSource};
pub use pattern::{Stamp, TestPattern, read_stamp};
pub use slot::FrameSlot;
pub use vpx::{EncodedFrame, EncoderConfig, Vp8Decoder, Vp8Encoder};

/// Every error of the video layer.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// Frame dimensions were zero, odd, or did not match the data length.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// An encoder setting was out of range.
    #[error("invalid encoder config: {0}")]
    InvalidConfig(String),
    /// libvpx refused an operation.
    #[error("libvpx {what}: {message} (code {code})")]
    Codec {
        /// The operation.
        what: String,
        /// libvpx's error code.
        code: u32,
        /// libvpx's message and detail.
        message: String,
    },
    /// Input data (a VP8 frame, a file) is corrupt, truncated or not what it claims.
    #[error("corrupt input: {0}")]
    Corrupt(String),
    /// A format or option this crate does not handle (e.g. a Y4M file that is not 4:2:0).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Reading or writing a file failed.
    #[error("I/O: {0}")]
    Io(String),
    /// A camera could not be listed or opened, or a frame of it not decoded.
    #[error("camera: {0}")]
    Camera(String),
    /// A camera (or other live source) went away; the stream has ended.
    #[error("video source disconnected: {reason}")]
    Disconnected {
        /// What the source reported.
        reason: String,
    },
}
