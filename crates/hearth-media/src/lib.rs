//! Hearth's audio pipeline: everything between a microphone and an Opus packet, and between
//! Opus packets from peers and a speaker.
//!
//! The crate is split into pure cores, which take time as an input and never touch a device
//! or a clock, and one thin device shell:
//!
//! - [`source`]: [`AudioSource`] and [`AudioSink`] traits, synthetic generators (sine, click
//!   train, silence), WAV in and out, and a streaming [`LinearResampler`] to 48 kHz mono.
//! - [`capture`]: [`CapturePipeline`], which turns 10 or 20 ms frames of 48 kHz mono into
//!   one Opus packet per frame (gain, level meter, noise suppression, voice activity with
//!   hangover, push-to-talk, self mute). The caller sends the same packet to every peer.
//! - [`jitter`]: [`JitterBuffer`], an adaptive playout buffer per peer keyed by RTP sequence
//!   number and timestamp.
//! - [`receive`]: [`PeerReceiver`] (jitter buffer, Opus decode with FEC and PLC, per-user
//!   volume and mute) and [`Mixer`] (all peers, deafen).
//! - [`device`]: the cpal shell: device lists, capture and playback streams, fallback to the
//!   default device when one disappears.
//! - [`analysis`]: Goertzel tone detection, RMS and click-train delay, for tests and
//!   benchmarks here and in other crates.
//! - [`video`]: raw I420 frames, the [`video::VideoSource`] trait, a stamped moving test
//!   pattern, a newest-wins [`video::FrameSlot`] and a loss-based
//!   [`video::BitrateController`].
//! - [`pulse`]: a private PulseAudio daemon with null sinks, for device tests on machines
//!   without a sound card.
//!
//! # Real-time invariant
//!
//! cpal calls its data callbacks on the audio driver's real-time thread. A callback that
//! blocks (a lock, an allocation that takes the allocator's lock, a syscall) makes the device
//! skip, which is heard as a click. So the callbacks in [`device`] only convert each sample
//! to or from `f32` and copy it through a preallocated single-producer single-consumer ring
//! (`rtrb`), and count callbacks and underruns in atomics: no allocation, no lock, no
//! syscall. Mixing down, resampling, noise suppression, Opus, jitter buffering and mixing
//! all run on the owner's thread on the other side of those rings. Keep it that way: any
//! new work for the callbacks belongs on the owner's side.
//!
//! # Wiring it to the network
//!
//! One thread (or task) owns the capture side, another the playback side; neither needs a
//! lock, and only the device shell reads the clock. Packets go out once per frame, to every
//! peer; each peer's packets come in with their RTP sequence number and timestamp.
//!
//! ```no_run
//! use std::time::Instant;
//! use hearth_media::{CaptureConfig, CapturePipeline, CaptureStream, JitterConfig, Mixer, PlaybackStream};
//!
//! # fn main() -> Result<(), hearth_media::MediaError> {
//! // Send side.
//! let mut mic = CaptureStream::open(None)?;
//! let mut pipeline = CapturePipeline::new(CaptureConfig::default())?;
//! let mut pending = Vec::new();
//! mic.read(&mut pending);
//! while pending.len() >= pipeline.frame_samples() {
//!     let frame: Vec<f32> = pending.drain(..pipeline.frame_samples()).collect();
//!     let out = pipeline.process(&frame)?;
//!     if let Some(packet) = out.packet {
//!         // Hand `packet.data` (with `packet.timestamp` as the RTP timestamp offset) to
//!         // every peer's track.
//!     }
//!     if let Some(speaking) = out.speaking_changed { /* tell the UI and the room */ }
//! }
//! if let Some(event) = mic.poll_event() { /* show "switched to the default microphone" */ }
//!
//! // Receive side: per packet from peer `user` ...
//! let start = Instant::now();
//! let mut mixer: Mixer<String> = Mixer::new(JitterConfig::default());
//! mixer.add_peer("ann".to_owned())?;
//! let payload = [0u8; 3];
//! let _ = mixer.push_packet(&"ann".to_owned(), 17, 960 * 17, &payload, start.elapsed());
//! // ... and every 10 ms, top up the speaker.
//! let mut speaker = PlaybackStream::open(None)?;
//! let mut mix = [0.0f32; 480];
//! mixer.mix(&mut mix, start.elapsed());
//! speaker.write(&mix);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod analysis;
pub mod capture;
pub mod device;
pub mod jitter;
pub mod pulse;
pub mod receive;
pub mod source;
pub mod video;

pub use capture::{
    CaptureConfig, CaptureFrame, CapturePipeline, EncodedFrame, FrameDuration, Level, TransmitMode,
};

pub use device::{
    AudioDevice, CaptureStream, DeviceDirection, DeviceEvent, PlaybackStream, list_devices,
};
pub use jitter::{InsertOutcome, JitterBuffer, JitterConfig, JitterStats, Next};
pub use receive::{Mixer, PeerReceiver, ReceiverStats};
pub use source::{
    AudioSink, AudioSource, ClickTrain, LinearResampler, Silence, Sine, WavSink, WavSource,
};

/// The pipeline's sample rate: every core works on 48 kHz mono, which is Opus's native rate.
pub const SAMPLE_RATE: u32 = 48_000;

/// Samples in 10 ms at [`SAMPLE_RATE`], which is also RNNoise's frame.
pub const SAMPLES_PER_10MS: usize = 480;

/// Every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A WAV file could not be read or written.
    #[error("WAV file: {0}")]
    Wav(#[from] hound::Error),
    /// libopus refused an operation (a bad packet, a bad setting).
    #[error("Opus: {0}")]
    Opus(#[from] opus::Error),
    /// A frame handed to the capture pipeline had the wrong number of samples.
    #[error("expected a frame of {expected} samples, got {got}")]
    FrameSize {
        /// Samples per frame the pipeline was configured for.
        expected: usize,
        /// Samples that were passed.
        got: usize,
    },
    /// A sample rate or channel count that cannot be used (zero, or absurdly large).
    #[error("unsupported audio format: {0}")]
    Format(String),
    /// The audio system (cpal) reported an error.
    #[error("audio device: {0}")]
    Device(#[from] cpal::Error),
    /// No device matched the requested name, and there is no default device either.
    #[error("no audio device named {0:?} and no default device")]
    NoDevice(String),
}
