//! The device shell over cpal: list devices, open a capture or playback stream on a named
//! device (or the default), and fall back to the default device when the chosen one fails.
//!
//! Streams run at the device's own rate, channel count and sample format. The cpal callbacks
//! only convert samples to or from `f32` and copy them through a preallocated SPSC ring
//! (`rtrb`): no allocation, no lock, no syscall on the real-time thread. Mixing down to
//! mono and resampling to 48 kHz (and back) happen on the owner's side of the ring, in
//! [`CaptureStream::read`] and [`PlaybackStream::write`].
//!
//! Errors from cpal arrive on its error callback, which is not real-time (it runs when a
//! device fails), so it may use an ordinary channel. The owner turns them into
//! [`DeviceEvent`]s in `poll_event`, reopening on the default device when the device is gone.
//!
//! Not every host reports a vanished device. cpal 0.18's PulseAudio host says nothing when
//! a source is unloaded (PulseAudio itself moves the stream to another source, so audio
//! keeps flowing from a device the user did not choose). So `poll_event` also checks, at
//! most every [`PRESENCE_INTERVAL`], that the device is still listed, and each callback bumps
//! an atomic counter so that a stream whose callbacks stopped for [`STALL_TIMEOUT`] counts as
//! lost too. This shell is the one place in the crate that reads the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, ErrorKind, FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::source::{LinearResampler, downmix};
use crate::{MediaError, SAMPLE_RATE};

/// Which way a device carries sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDirection {
    /// Microphones and monitors.
    Input,
    /// Speakers and sinks.
    Output,
}

/// A device as shown to the user and remembered in settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    /// The host's stable identifier (on PulseAudio the sink or source name, such as
    /// `vsink.monitor`); store this one in settings.
    pub name: String,
    /// The human-readable name.
    pub description: String,
    /// Whether this is the system's default device for its direction.
    pub is_default: bool,
}

/// Something the owner of a stream should know about its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// The device failed or disappeared; the stream was reopened on the default device.
    FellBackToDefault {
        /// The device that was lost.
        lost: String,
        /// The default device now in use.
        now: String,
        /// What cpal reported.
        reason: String,
    },
    /// The device failed and no default device could be opened: the stream is stopped.
    Failed {
        /// The device that was lost.
        device: String,
        /// What went wrong.
        reason: String,
    },
    /// The stream followed a change of the system default device by itself.
    Rerouted,
    /// The driver dropped or repeated audio (an xrun); informational.
    Glitch,
}

/// Lists the devices of the default host for `direction`.
pub fn list_devices(direction: DeviceDirection) -> Result<Vec<AudioDevice>, MediaError> {
    let host = cpal::default_host();
    let default_id = default_device(&host, direction).and_then(|d| d.id().ok());
    let devices = match direction {
        DeviceDirection::Input => host.input_devices()?.collect::<Vec<_>>(),
        DeviceDirection::Output => host.output_devices()?.collect::<Vec<_>>(),
    };
    Ok(devices
        .iter()
        .filter_map(|d| describe(d, default_id.as_ref()))
        .collect())
}

fn describe(device: &cpal::Device, default_id: Option<&cpal::DeviceId>) -> Option<AudioDevice> {
    let id = device.id().ok()?;
    let description = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| id.id().to_owned());
    Some(AudioDevice {
        name: id.id().to_owned(),
        description,
        is_default: default_id == Some(&id),
    })
}

fn default_device(host: &cpal::Host, direction: DeviceDirection) -> Option<cpal::Device> {
    match direction {
        DeviceDirection::Input => host.default_input_device(),
        DeviceDirection::Output => host.default_output_device(),
    }
}

/// The device called `name` (identifier or description), or the default for `None`.
fn find_device(
    host: &cpal::Host,
    direction: DeviceDirection,
    name: Option<&str>,
) -> Result<cpal::Device, MediaError> {
    let missing = || MediaError::NoDevice(name.unwrap_or("(default)").to_owned());
    let Some(name) = name else {
        return default_device(host, direction).ok_or_else(missing);
    };
    let mut devices = match direction {
        DeviceDirection::Input => host.input_devices()?.collect::<Vec<_>>(),
        DeviceDirection::Output => host.output_devices()?.collect::<Vec<_>>(),
    };
    let position = devices.iter().position(|d| {
        d.id().is_ok_and(|id| id.id() == name)
            || d.description().is_ok_and(|desc| desc.name() == name)
    });
    position.map(|i| devices.swap_remove(i)).ok_or_else(missing)
}

/// How long a stream may go without a callback before its device counts as lost. Far
/// longer than any real period (PulseAudio's default is about 0.3 s), short enough that a
/// user notices the fallback rather than silence.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(1);

/// How often `poll_event` checks that the device is still there: a device list costs a
/// round trip to the sound server, so not on every call.
pub const PRESENCE_INTERVAL: Duration = Duration::from_secs(1);

/// The state shared by both stream kinds: the cpal stream, its device and its errors.
struct Opened {
    stream: cpal::Stream,
    device: AudioDevice,
    channels: u16,
    sample_rate: u32,
    errors: mpsc::Receiver<cpal::Error>,
    callbacks: Arc<AtomicU64>,
    seen_callbacks: u64,
    last_progress: Instant,
    direction: DeviceDirection,
    last_presence_check: Instant,
    gave_up: bool,
}

impl Opened {
    fn new(
        stream: cpal::Stream,
        device: AudioDevice,
        config: &StreamConfig,
        errors: mpsc::Receiver<cpal::Error>,
        callbacks: Arc<AtomicU64>,
        direction: DeviceDirection,
    ) -> Opened {
        Opened {
            stream,
            device,
            channels: config.channels,
            sample_rate: config.sample_rate,
            errors,
            callbacks,
            seen_callbacks: 0,
            last_progress: Instant::now(),
            direction,
            last_presence_check: Instant::now(),
            gave_up: false,
        }
    }

    /// The reason the device counts as lost, if it does: an error from cpal, or callbacks
    /// that stopped. Xruns and reroutes come back as events that need no reopening.
    fn check(&mut self) -> Option<Result<DeviceEvent, String>> {
        if self.gave_up {
            return None;
        }
        if let Ok(error) = self.errors.try_recv() {
            return Some(match error.kind() {
                ErrorKind::Xrun => Ok(DeviceEvent::Glitch),
                ErrorKind::DeviceChanged => Ok(DeviceEvent::Rerouted),
                _ => Err(error.to_string()),
            });
        }
        if self.last_presence_check.elapsed() >= PRESENCE_INTERVAL {
            self.last_presence_check = Instant::now();
            // A failed listing says nothing about this device; the stall check covers a
            // sound server that went away.
            if let Ok(devices) = list_devices(self.direction)
                && !devices.iter().any(|d| d.name == self.device.name)
            {
                return Some(Err(format!("{} is no longer listed", self.device.name)));
            }
        }
        let count = self.callbacks.load(Ordering::Relaxed);
        if count != self.seen_callbacks {
            self.seen_callbacks = count;
            self.last_progress = Instant::now();
            return None;
        }
        (self.last_progress.elapsed() >= STALL_TIMEOUT).then(|| {
            Err(format!(
                "no audio callback for {} ms",
                STALL_TIMEOUT.as_millis()
            ))
        })
    }
}

/// How much audio the rings hold: a second, because some hosts (PulseAudio with its default
/// buffer) deliver a quarter of a second per callback.
fn ring_capacity(config: &StreamConfig) -> usize {
    config.sample_rate as usize * usize::from(config.channels.max(1))
}

/// Asks for 10 ms callbacks where the device allows, for low latency.
fn preferred_config(supported: &cpal::SupportedStreamConfig) -> StreamConfig {
    let mut config = supported.config();
    let want = (config.sample_rate / 100).max(1);
    if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size() {
        config.buffer_size = BufferSize::Fixed(want.clamp(*min, (*max).max(*min)));
    }
    config
}

fn error_sender(tx: mpsc::Sender<cpal::Error>) -> impl FnMut(cpal::Error) + Send + 'static {
    move |error| {
        let _ = tx.send(error);
    }
}

/// What `poll_event` does for both stream kinds: report, or reopen on the default device
/// (through `reopen`, which replaces the stream) when the device is lost.
fn poll<S>(
    stream: &mut S,
    opened: impl Fn(&mut S) -> &mut Opened,
    reopen: impl FnOnce() -> Result<S, MediaError>,
) -> Option<DeviceEvent> {
    let reason = match opened(stream).check()? {
        Ok(event) => return Some(event),
        Err(reason) => reason,
    };
    let lost = opened(stream).device.name.clone();
    match reopen() {
        Ok(new) => {
            *stream = new;
            let now = opened(stream).device.name.clone();
            Some(DeviceEvent::FellBackToDefault { lost, now, reason })
        }
        Err(error) => {
            let old = opened(stream);
            let _ = old.stream.pause();
            // The failure is reported once; the stream stays stopped.
            old.gave_up = true;
            Some(DeviceEvent::Failed {
                device: lost,
                reason: format!("{reason}; default device: {error}"),
            })
        }
    }
}

/// Calls `build::<T>(args)` with `T` the sample type of a `SampleFormat`: cpal streams are
/// typed by sample, so each format the device may use needs its own instance.
macro_rules! with_sample_type {
    ($format:expr, $build:ident($($arg:expr),*)) => {
        match $format {
            SampleFormat::F32 => $build::<f32>($($arg),*),
            SampleFormat::I16 => $build::<i16>($($arg),*),
            SampleFormat::I32 => $build::<i32>($($arg),*),
            SampleFormat::U16 => $build::<u16>($($arg),*),
            SampleFormat::U8 => $build::<u8>($($arg),*),
            SampleFormat::F64 => $build::<f64>($($arg),*),
            other => Err(MediaError::Format(format!("sample format {other}"))),
        }
    };
}

/// Finds the device, picks its own format, builds the stream through `build` (which makes
/// the ring and the typed cpal stream) and starts it.
fn open_stream<R>(
    direction: DeviceDirection,
    name: Option<&str>,
    build: impl FnOnce(
        &cpal::Device,
        SampleFormat,
        StreamConfig,
        mpsc::Sender<cpal::Error>,
        Arc<AtomicU64>,
    ) -> Result<(cpal::Stream, R), MediaError>,
) -> Result<(Opened, R), MediaError> {
    let host = cpal::default_host();
    let device = find_device(&host, direction, name)?;
    let supported = match direction {
        DeviceDirection::Input => device.default_input_config()?,
        DeviceDirection::Output => device.default_output_config()?,
    };
    let config = preferred_config(&supported);
    let (tx, errors) = mpsc::channel();
    let callbacks = Arc::new(AtomicU64::new(0));
    let (stream, ring) = build(
        &device,
        supported.sample_format(),
        config,
        tx,
        callbacks.clone(),
    )?;
    // cpal 0.18 streams do not start by themselves.
    stream.play()?;
    let described = describe(&device, None)
        .ok_or_else(|| MediaError::NoDevice(name.unwrap_or("(default)").to_owned()))?;
    Ok((
        Opened::new(stream, described, &config, errors, callbacks, direction),
        ring,
    ))
}

/// A running microphone (or monitor) stream.
pub struct CaptureStream {
    opened: Opened,
    ring: rtrb::Consumer<f32>,
    resampler: LinearResampler,
    scratch: Vec<f32>,
    mono: Vec<f32>,
}

impl CaptureStream {
    /// Opens and starts capture on the device called `name` (identifier or description), or
    /// on the default input device for `None`.
    pub fn open(name: Option<&str>) -> Result<CaptureStream, MediaError> {
        let (opened, ring) = open_stream(
            DeviceDirection::Input,
            name,
            |device, format, config, tx, callbacks| {
                let (producer, ring) = rtrb::RingBuffer::new(ring_capacity(&config));
                let stream = with_sample_type!(
                    format,
                    build_input(device, config, producer, tx, callbacks)
                )?;
                Ok((stream, ring))
            },
        )?;
        let capacity = ring.buffer().capacity();
        Ok(CaptureStream {
            resampler: LinearResampler::new(opened.sample_rate, SAMPLE_RATE)?,
            opened,
            ring,
            scratch: vec![0.0; capacity],
            mono: Vec::with_capacity(capacity),
        })
    }

    /// The device in use.
    pub fn device(&self) -> &AudioDevice {
        &self.opened.device
    }

    /// The device's own sample rate and channel count.
    pub fn device_format(&self) -> (u32, u16) {
        (self.opened.sample_rate, self.opened.channels)
    }

    /// Appends everything captured since the last call to `out`, as 48 kHz mono.
    /// Returns the number of samples appended.
    pub fn read(&mut self, out: &mut Vec<f32>) -> usize {
        let available = self.ring.slots().min(self.scratch.len());
        let channels = self.opened.channels.max(1);
        // Only whole frames, so channels never shift.
        let whole = available - available % usize::from(channels);
        let Ok(chunk) = self.ring.read_chunk(whole) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        self.scratch[..a.len()].copy_from_slice(a);
        self.scratch[a.len()..a.len() + b.len()].copy_from_slice(b);
        chunk.commit_all();
        self.mono.clear();
        let mono = &mut self.mono;
        downmix(&self.scratch[..whole], channels, |x| mono.push(x));
        let before = out.len();
        self.resampler.process(&self.mono, |x| out.push(x));
        out.len() - before
    }

    /// The next device event, if any. When the device is gone this reopens capture on the
    /// default input device before returning [`DeviceEvent::FellBackToDefault`]; call it
    /// regularly (say with every [`CaptureStream::read`]).
    pub fn poll_event(&mut self) -> Option<DeviceEvent> {
        poll(self, |s| &mut s.opened, || CaptureStream::open(None))
    }
}

fn build_input<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut producer: rtrb::Producer<f32>,
    errors: mpsc::Sender<cpal::Error>,
    callbacks: Arc<AtomicU64>,
) -> Result<cpal::Stream, MediaError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    // Real-time callback: converts and copies into the preallocated ring; when the reader
    // falls behind, the newest samples are dropped rather than waiting.
    let data = move |data: &[T], _: &cpal::InputCallbackInfo| {
        callbacks.fetch_add(1, Ordering::Relaxed);
        let n = data.len().min(producer.slots());
        if let Ok(chunk) = producer.write_chunk_uninit(n) {
            chunk.fill_from_iter(data.iter().map(|&s| s.to_sample::<f32>()));
        }
    };
    Ok(device.build_input_stream::<T, _, _>(config, data, error_sender(errors), None)?)
}

/// A running speaker stream.
pub struct PlaybackStream {
    opened: Opened,
    ring: rtrb::Producer<f32>,
    resampler: LinearResampler,
    resampled: Vec<f32>,
    underruns: Arc<AtomicU64>,
}

impl PlaybackStream {
    /// Opens and starts playback on the device called `name` (identifier or description), or
    /// on the default output device for `None`. It plays silence until written to.
    pub fn open(name: Option<&str>) -> Result<PlaybackStream, MediaError> {
        let underruns = Arc::new(AtomicU64::new(0));
        let u = underruns.clone();
        let (opened, ring) = open_stream(
            DeviceDirection::Output,
            name,
            |device, format, config, tx, callbacks| {
                let (ring, consumer) = rtrb::RingBuffer::new(ring_capacity(&config));
                let counters = Counters {
                    underruns: u,
                    callbacks,
                };
                let stream = with_sample_type!(
                    format,
                    build_output(device, config, consumer, tx, counters)
                )?;
                Ok((stream, ring))
            },
        )?;
        let capacity = ring.buffer().capacity();
        Ok(PlaybackStream {
            resampler: LinearResampler::new(SAMPLE_RATE, opened.sample_rate)?,
            opened,
            ring,
            resampled: Vec::with_capacity(capacity),
            underruns,
        })
    }

    /// The device in use.
    pub fn device(&self) -> &AudioDevice {
        &self.opened.device
    }

    /// The device's own sample rate and channel count.
    pub fn device_format(&self) -> (u32, u16) {
        (self.opened.sample_rate, self.opened.channels)
    }

    /// How many 48 kHz mono samples [`PlaybackStream::write`] can take now without dropping
    /// any; a player tops the ring up to its target latency with this.
    pub fn writable(&self) -> usize {
        let frames = self.ring.slots() / usize::from(self.opened.channels.max(1));
        // One frame less than the exact conversion, for the resampler's rounding.
        (frames as u64 * u64::from(SAMPLE_RATE) / u64::from(self.opened.sample_rate.max(1)))
            .saturating_sub(1) as usize
    }

    /// Samples buffered toward the device, in device frames; with the device's period this is
    /// the output latency.
    pub fn queued_frames(&self) -> usize {
        (self.ring.buffer().capacity() - self.ring.slots())
            / usize::from(self.opened.channels.max(1))
    }

    /// Times the device asked for more than was buffered (and got silence for the rest).
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Queues 48 kHz mono samples for playback, copied to every channel. Returns how many
    /// input samples were taken; the rest did not fit (see [`PlaybackStream::writable`]).
    pub fn write(&mut self, samples: &[f32]) -> usize {
        let channels = usize::from(self.opened.channels.max(1));
        let take = samples.len().min(self.writable());
        self.resampled.clear();
        let resampled = &mut self.resampled;
        self.resampler
            .process(&samples[..take], |x| resampled.push(x));
        let frames = self.resampled.len().min(self.ring.slots() / channels);
        if let Ok(chunk) = self.ring.write_chunk_uninit(frames * channels) {
            let resampled = &self.resampled[..frames];
            chunk.fill_from_iter(
                resampled
                    .iter()
                    .flat_map(|&x| std::iter::repeat_n(x, channels)),
            );
        }
        take
    }

    /// The next device event, if any. When the device is gone this reopens playback on the
    /// default output device before returning [`DeviceEvent::FellBackToDefault`]; call it
    /// regularly (say with every [`PlaybackStream::write`]).
    pub fn poll_event(&mut self) -> Option<DeviceEvent> {
        poll(self, |s| &mut s.opened, || PlaybackStream::open(None))
    }
}

/// Counters the output callback updates (atomics: safe on the real-time thread).
struct Counters {
    underruns: Arc<AtomicU64>,
    callbacks: Arc<AtomicU64>,
}

fn build_output<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut consumer: rtrb::Consumer<f32>,
    errors: mpsc::Sender<cpal::Error>,
    counters: Counters,
) -> Result<cpal::Stream, MediaError>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    // Real-time callback: copies whole frames out of the ring; what the ring lacks stays
    // silent (cpal pre-fills the buffer with silence) and is counted.
    let data = move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
        counters.callbacks.fetch_add(1, Ordering::Relaxed);
        let available = consumer.slots() - consumer.slots() % channels;
        let n = data.len().min(available);
        if let Ok(chunk) = consumer.read_chunk(n) {
            for (out, x) in data.iter_mut().zip(chunk) {
                *out = T::from_sample(x);
            }
        }
        if n < data.len() {
            counters.underruns.fetch_add(1, Ordering::Relaxed);
        }
    };
    Ok(device.build_output_stream::<T, _, _>(config, data, error_sender(errors), None)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owner of a stream may be any thread: the app opens devices on one and runs the
    /// audio loop on another.
    #[test]
    fn streams_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<CaptureStream>();
        assert_send::<PlaybackStream>();
        assert_send::<crate::CapturePipeline>();
        assert_send::<crate::Mixer<String>>();
    }
}
