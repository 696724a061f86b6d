//! Cameras through nokhwa (V4L2 on Linux, AVFoundation, Media Foundation): the only module
//! of the workspace that imports nokhwa.
//!
//! Frames are converted to I420 here with [`super::convert`], not by nokhwa, whose only
//! output is RGB: YUYV and NV12 cameras go straight to I420, MJPEG is decoded to RGB first.

use std::sync::mpsc;

use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::VideoError;
use super::convert::{nv12_to_i420, rgb_to_i420, yuyv_to_i420};
use super::frame::{I420Frame, VideoFormat, VideoSource};

/// A camera the system offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to pass in [`CameraChoice::index`].
    pub index: u32,
    /// Human-readable name.
    pub name: String,
    /// The backend's description (device path and driver on Linux).
    pub description: String,
}

/// Which camera to open, and the format wanted; the nearest format offered is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraChoice {
    /// Index from [`list_cameras`].
    pub index: u32,
    /// Wanted width.
    pub width: u32,
    /// Wanted height.
    pub height: u32,
    /// Wanted frame rate.
    pub fps: u32,
}

fn camera_error(what: &str, e: nokhwa::NokhwaError) -> VideoError {
    VideoError::Camera(format!("{what}: {e}"))
}

/// The cameras present. Empty (not an error) on a machine without any.
pub fn list_cameras() -> Result<Vec<CameraInfo>, VideoError> {
    let cameras =
        nokhwa::query(ApiBackend::Auto).map_err(|e| camera_error("listing cameras", e))?;
    Ok(cameras
        .into_iter()
        .filter_map(|c| match c.index() {
            CameraIndex::Index(index) => Some(CameraInfo {
                index: *index,
                name: c.human_name(),
                description: c.description().to_owned(),
            }),
            CameraIndex::String(_) => None,
        })
        .collect())
}

/// An open camera streaming frames.
///
/// nokhwa's camera is not `Send`, so it lives on a thread of its own that opens it, reads
/// frames, converts them to I420 and hands them over a one-frame channel; dropping the
/// source ends the thread (after its current read) and closes the device.
pub struct CameraSource {
    frames: Option<mpsc::Receiver<Result<I420Frame, VideoError>>>,
    format: VideoFormat,
}

impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Opens a camera at the format nearest the choice. Tries the wanted size in MJPEG, YUYV
/// and NV12 (in that order: MJPEG reaches 720p30 on USB 2 cameras where raw formats
/// cannot), then whatever the camera offers at its highest frame rate.
fn open_camera(choice: CameraChoice) -> Result<(Camera, VideoFormat), VideoError> {
    let index = CameraIndex::Index(choice.index);
    let mut attempts: Vec<RequestedFormatType> =
        [FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::NV12]
            .into_iter()
            .map(|ff| {
                RequestedFormatType::Closest(CameraFormat::new(
                    Resolution::new(choice.width, choice.height),
                    ff,
                    choice.fps,
                ))
            })
            .collect();
    attempts.push(RequestedFormatType::AbsoluteHighestFrameRate);
    let mut last_error = None;
    for requested in attempts {
        let opened = Camera::new(index.clone(), RequestedFormat::new::<RgbFormat>(requested))
            .and_then(|mut camera| camera.open_stream().map(|()| camera));
        match opened {
            Ok(camera) => {
                let f = camera.camera_format();
                let format = VideoFormat {
                    width: f.width() & !1,
                    height: f.height() & !1,
                    fps: f.frame_rate(),
                };
                return Ok((camera, format));
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => camera_error(&format!("opening camera {}", choice.index), e),
        None => VideoError::Camera(format!("camera {} offers no usable format", choice.index)),
    })
}

/// Reads one frame and converts it; the timestamp is set by the consumer.
fn read_frame(camera: &mut Camera) -> Result<I420Frame, VideoError> {
    let buffer = camera.frame().map_err(|e| VideoError::Disconnected {
        reason: e.to_string(),
    })?;
    let res = buffer.resolution();
    let (w, h) = (res.width(), res.height());
    let data = buffer.buffer();
    match buffer.source_frame_format() {
        FrameFormat::YUYV => yuyv_to_i420(data, w, h, w as usize * 2, 0),
        FrameFormat::NV12 => nv12_to_i420(data, w, h, w as usize, 0),
        FrameFormat::RAWRGB => rgb_to_i420(data, w, h, 0),
        FrameFormat::MJPEG | FrameFormat::RAWBGR | FrameFormat::GRAY => {
            let rgb = buffer
                .decode_image::<RgbFormat>()
                .map_err(|e| camera_error("decoding a camera frame", e))?;
            rgb_to_i420(rgb.as_raw(), w, h, 0)
        }
    }
}

impl CameraSource {
    /// Opens a camera (see the fallbacks on [`CameraSource`]'s format choice) and starts
    /// its stream. Errors name the camera and the backend's reason.
    pub fn open(choice: CameraChoice) -> Result<Self, VideoError> {
        let (opened_tx, opened_rx) = mpsc::sync_channel(1);
        // One frame in flight: a slow consumer gets fresh frames, not a backlog.
        let (frames_tx, frames_rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(format!("camera-{}", choice.index))
            .spawn(move || {
                let mut camera = match open_camera(choice) {
                    Ok((camera, format)) => {
                        let _ = opened_tx.send(Ok(format));
                        camera
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let frame = read_frame(&mut camera);
                    let gone = matches!(frame, Err(VideoError::Disconnected { .. }));
                    if frames_tx.send(frame).is_err() || gone {
                        break;
                    }
                }
                // Dropping the camera stops the stream and closes the device.
            })
            .map_err(|e| VideoError::Camera(format!("starting the camera thread: {e}")))?;
        let format = opened_rx
            .recv()
            .map_err(|_| VideoError::Camera("camera thread ended while opening".into()))??;
        Ok(Self {
            frames: Some(frames_rx),
            format,
        })
    }
}

impl VideoSource for CameraSource {
    fn format(&self) -> VideoFormat {
        self.format
    }

    /// Blocks until the camera delivers a frame. A camera that is gone yields
    /// `Err(Disconnected)` once, and `Ok(None)` from then on.
    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        let Some(frames) = self.frames.as_ref() else {
            return Ok(None);
        };
        match frames.recv() {
            Ok(Ok(mut frame)) => {
                frame.timestamp_us = now_us;
                Ok(Some(frame))
            }
            Ok(Err(e)) => {
                if matches!(e, VideoError::Disconnected { .. }) {
                    self.frames = None;
                }
                Err(e)
            }
            Err(_) => {
                self.frames = None;
                Err(VideoError::Disconnected {
                    reason: "camera thread ended".into(),
                })
            }
        }
    }
}
