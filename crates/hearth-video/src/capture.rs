//! The capture thread: one OS thread per camera that is on, owning the video source and the
//! VP8 encoder.
//!
//! A camera's `frame()` call blocks until the device has a frame, and a VP8 encode of a
//! 640x480 frame takes milliseconds of CPU; neither may stall the session task, which also
//! relays signaling and receives other members' video. So both live here, and the thread
//! talks to the session through two queues: control messages in (force a keyframe, change
//! the bitrate, stop), encoded frames and the end of the stream out. The thread is the shell
//! around the source: it reads the clock and paces the source at its frame rate.

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hearth_media::video::{EncodedFrame, EncoderConfig, VideoSource, Vp8Encoder};
use tokio::sync::mpsc;

/// Encoded frames queued towards the session before the camera waits. Encoded frames are
/// never dropped (a dropped inter frame breaks every frame after it until the next keyframe),
/// so a slow session slows the camera instead.
const OUT_QUEUE: usize = 4;

/// What the capture thread reports.
#[derive(Debug)]
pub(crate) enum CaptureOutput {
    /// One encoded frame.
    Frame(EncodedFrame),
    /// The source ended or failed; the thread has stopped. The text says why, for the user.
    Ended(String),
}

/// Orders to the capture thread.
#[derive(Debug)]
pub(crate) enum CaptureControl {
    /// Make the next frame a keyframe (a new watcher, or a receiver asked).
    Keyframe,
    /// Change the encoder's target bitrate, kb/s.
    Bitrate(u32),
}

/// Encoder settings the session chooses; the frame size and rate come from the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncoderSettings {
    pub bitrate_kbps: u32,
    pub threads: u32,
    pub keyframe_interval: u32,
}

/// A running capture thread. Dropping it stops the thread (its control queue closes) and
/// waits for it.
pub(crate) struct CaptureThread {
    control: Option<std_mpsc::Sender<CaptureControl>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl CaptureThread {
    /// Starts capturing from `source` and encoding; frames go to the returned receiver.
    /// `epoch` is the session's clock origin: frame timestamps are microseconds since it.
    pub fn start(
        source: Box<dyn VideoSource>,
        settings: EncoderSettings,
        epoch: Instant,
    ) -> (CaptureThread, mpsc::Receiver<CaptureOutput>) {
        let (control, control_rx) = std_mpsc::channel();
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let thread = thread::Builder::new()
            .name("hearth-camera".into())
            .spawn(move || run(source, settings, epoch, &control_rx, &out))
            .ok();
        (
            CaptureThread {
                control: Some(control),
                thread,
            },
            out_rx,
        )
    }

    /// Sends an order; a stopped thread ignores it.
    pub fn send(&self, msg: CaptureControl) {
        if let Some(control) = &self.control {
            let _ = control.send(msg);
        }
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        // Closing the control queue is the stop signal; the thread notices within one frame.
        self.control = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    mut source: Box<dyn VideoSource>,
    settings: EncoderSettings,
    epoch: Instant,
    control: &std_mpsc::Receiver<CaptureControl>,
    out: &mpsc::Sender<CaptureOutput>,
) {
    let format = source.format();
    let period = Duration::from_secs_f64(1.0 / f64::from(format.fps.max(1)));
    let mut encoder = match Vp8Encoder::new(EncoderConfig {
        width: format.width,
        height: format.height,
        fps: format.fps,
        bitrate_kbps: settings.bitrate_kbps,
        threads: settings.threads,
        keyframe_interval: settings.keyframe_interval,
    }) {
        Ok(encoder) => encoder,
        Err(e) => {
            let _ = out.blocking_send(CaptureOutput::Ended(format!(
                "the video encoder failed: {e}"
            )));
            return;
        }
    };
    let mut force_keyframe = true;
    let mut next = Instant::now();
    loop {
        loop {
            match control.try_recv() {
                Ok(CaptureControl::Keyframe) => force_keyframe = true,
                Ok(CaptureControl::Bitrate(kbps)) => {
                    if let Err(e) = encoder.set_bitrate(kbps) {
                        tracing::warn!(kbps, error = %e, "cannot change the video bitrate");
                    }
                }
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        // After a stall, start counting again from now rather than capture a burst.
        next = (next + period).max(Instant::now());
        let now_us = epoch.elapsed().as_micros() as u64;
        let frame = match source.next_frame(now_us) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let _ = out.blocking_send(CaptureOutput::Ended("the video source ended".into()));
                return;
            }
            Err(e) => {
                let _ = out.blocking_send(CaptureOutput::Ended(format!("the camera stopped: {e}")));
                return;
            }
        };
        match encoder.encode(&frame, force_keyframe) {
            Ok(Some(encoded)) => {
                force_keyframe = false;
                if out.blocking_send(CaptureOutput::Frame(encoded)).is_err() {
                    return;
                }
            }
            // The encoder may hold a frame back (it never does in realtime mode).
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "a video frame failed to encode"),
        }
    }
}
