//! The settings screen's devices: the lists to choose from, the microphone test (a level
//! meter outside a call) and the test sound.
//!
//! Everything here may block on the sound server or the camera driver, so none of it runs on
//! the core's task: the list and the test sound run on blocking threads, and the microphone
//! test on a thread of its own that only reads a ring the audio callback fills (the callback
//! itself is hearth-media's, which neither allocates nor locks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hearth_media::video::list_cameras;
use hearth_media::{
    AudioSource, CaptureStream, DeviceDirection, MediaError, PlaybackStream, SAMPLE_RATE,
    analysis::{rms, to_dbfs},
    list_devices,
};
use tokio::sync::mpsc;

use crate::CameraKind;
use crate::ipc::{AppEvent, Device, DeviceList};

/// The id `list` gives the test pattern when it stands in for a camera.
pub const TEST_PATTERN_ID: &str = "test-pattern";

/// How often the microphone test sends the level: as often as a call does.
pub(crate) const LEVEL_INTERVAL: Duration = Duration::from_millis(50);

/// The meter's reading of a level: -60 dBFS and below is 0, full scale is 1. A call and the
/// microphone test show the same number for the same sound.
pub fn meter(dbfs: f32) -> f32 {
    let level = ((dbfs + 60.0) / 60.0).clamp(0.0, 1.0);
    if level.is_finite() { level } else { 0.0 }
}

/// Microphones, speakers and cameras present now. Blocking (it asks the sound server and the
/// camera driver): call it from a blocking thread. A kind that cannot be listed is empty,
/// and the reason is logged.
pub(crate) fn list(camera: CameraKind) -> DeviceList {
    let audio = |direction| match list_devices(direction) {
        Ok(devices) => devices
            .into_iter()
            .map(|d| Device {
                id: d.name,
                label: d.description,
                is_default: d.is_default,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, ?direction, "could not list audio devices");
            Vec::new()
        }
    };
    let cameras = match camera {
        // The test pattern is the only camera `camera_on` will use; list it so it can be
        // chosen.
        CameraKind::TestPattern => vec![Device {
            id: TEST_PATTERN_ID.to_string(),
            label: "Test pattern".to_string(),
            is_default: true,
        }],
        CameraKind::Device => match list_cameras() {
            // `camera_on` opens the first camera when none is chosen; the settings store
            // the index.
            Ok(cameras) => cameras
                .into_iter()
                .enumerate()
                .map(|(i, c)| Device {
                    id: c.index.to_string(),
                    label: c.name,
                    is_default: i == 0,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not list cameras");
                Vec::new()
            }
        },
    };
    DeviceList {
        inputs: audio(DeviceDirection::Input),
        outputs: audio(DeviceDirection::Output),
        cameras,
    }
}

/// The test sound: two soft bell notes, a fifth apart (C5 then G5), 1 s in all, at 48 kHz
/// mono. Each note starts with a 10 ms rise and dies away exponentially to silence, so
/// neither end clicks.
pub fn test_tone() -> Vec<f32> {
    const NOTES: [(f32, f32); 2] = [(523.25, 0.4), (783.99, 0.6)];
    let rate = SAMPLE_RATE as f32;
    let mut out = Vec::with_capacity(SAMPLE_RATE as usize);
    for (frequency, seconds) in NOTES {
        let n = (seconds * rate) as usize;
        for i in 0..n {
            let t = i as f32 / rate;
            let attack = (t / 0.010).min(1.0);
            // Decays to about 2 % by the end; the last 20 ms fade to exactly zero.
            let decay = (-4.0 * t / seconds).exp();
            let tail = ((n - i) as f32 / (0.020 * rate)).min(1.0);
            let phase = std::f32::consts::TAU * frequency * t;
            // A little second harmonic makes it a bell rather than a beep.
            let wave = phase.sin() + 0.2 * (2.0 * phase).sin();
            out.push(0.25 * attack * decay * tail * wave);
        }
    }
    out
}

/// Plays the test sound on `output` (a device id, `None` for the default). Blocking: opens
/// the device, then sends `opened` its outcome (so the command can say when the speaker is
/// missing), then plays the sound to its end.
pub(crate) fn play_test_sound(
    output: Option<String>,
    opened: tokio::sync::oneshot::Sender<Result<(), MediaError>>,
) {
    let mut speaker = match PlaybackStream::open(output.as_deref()) {
        Ok(speaker) => {
            let _ = opened.send(Ok(()));
            speaker
        }
        Err(e) => {
            let _ = opened.send(Err(e));
            return;
        }
    };
    let tone = test_tone();
    let mut written = 0;
    // Generous: the sound is 1 s; a device that stops taking samples must not keep the
    // thread forever.
    let deadline = Instant::now() + Duration::from_secs(5);
    while written < tone.len() && Instant::now() < deadline {
        written += speaker.write(&tone[written..]);
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let what is queued toward the device play out before closing it.
    while speaker.queued_frames() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Where the microphone test listens.
pub(crate) enum MicInput {
    /// A capture device by id, or the default.
    Device(Option<String>),
    /// A synthetic source (48 kHz mono), paced by the wall clock.
    Source(Box<dyn AudioSource + Send>),
}

/// A running microphone test: a thread that sends `input_level` events until this is
/// dropped.
pub(crate) struct MicTest {
    stop: Arc<AtomicBool>,
}

impl Drop for MicTest {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl MicTest {
    /// Starts listening on `input`; a device that cannot be opened is reported as an
    /// `error` event and the test ends.
    pub(crate) fn start(input: MicInput, events: mpsc::UnboundedSender<AppEvent>) -> MicTest {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("mic-test".into())
            .spawn(move || run_mic_test(input, &events, &flag));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the microphone test");
        }
        MicTest { stop }
    }
}

fn run_mic_test(input: MicInput, events: &mpsc::UnboundedSender<AppEvent>, stop: &AtomicBool) {
    enum Open {
        Device(Box<CaptureStream>),
        Source(Box<dyn AudioSource + Send>),
    }
    let mut input = match input {
        MicInput::Device(name) => match CaptureStream::open(name.as_deref()) {
            Ok(stream) => Open::Device(Box::new(stream)),
            Err(e) => {
                let _ = events.send(AppEvent::Error {
                    code: "device_unavailable".to_string(),
                    message: format!("The microphone could not be opened: {e}."),
                    src: Some("mic_test".to_string()),
                    client_id: None,
                });
                return;
            }
        },
        MicInput::Source(source) => Open::Source(source),
    };
    // The level of the newest 20 ms, as a call measures each frame.
    let frame = 2 * hearth_media::SAMPLES_PER_10MS;
    let per_tick = (u64::from(SAMPLE_RATE) * LEVEL_INTERVAL.as_millis() as u64 / 1000) as usize;
    let mut samples = Vec::with_capacity(SAMPLE_RATE as usize);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(LEVEL_INTERVAL);
        samples.clear();
        match &mut input {
            Open::Device(stream) => {
                stream.read(&mut samples);
                if let Some(event) = stream.poll_event() {
                    tracing::info!(?event, "microphone test device changed");
                }
            }
            Open::Source(source) => {
                samples.resize(per_tick, 0.0);
                let _ = source.read(&mut samples);
            }
        }
        if samples.is_empty() {
            continue;
        }
        let newest = &samples[samples.len().saturating_sub(frame)..];
        let level = meter(to_dbfs(rms(newest)));
        if stop.load(Ordering::Relaxed) || events.send(AppEvent::InputLevel { level }).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use hearth_media::analysis::{peak, tone_ratio};

    use super::*;

    #[test]
    fn the_meter_maps_minus_60_to_0_dbfs_onto_0_to_1() {
        assert_eq!(meter(f32::NEG_INFINITY), 0.0);
        assert_eq!(meter(-100.0), 0.0);
        assert_eq!(meter(-60.0), 0.0);
        assert!((meter(-30.0) - 0.5).abs() < 1e-6);
        assert_eq!(meter(0.0), 1.0);
        assert_eq!(meter(6.0), 1.0);
        assert_eq!(meter(f32::NAN), 0.0);
    }

    #[test]
    fn the_test_tone_is_a_second_of_two_soft_notes_without_clicks() {
        let tone = test_tone();
        let rate = SAMPLE_RATE as usize;
        assert_eq!(tone.len(), rate, "one second");
        let loudest = peak(&tone);
        assert!(
            (0.1..=0.35).contains(&loudest),
            "soft but audible: {loudest}"
        );
        // No click: it starts from silence, ends in it, and no two samples jump far apart.
        assert!(tone[0].abs() < 1e-6 && tone[tone.len() - 1].abs() < 1e-3);
        let jump = tone
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(jump < 0.05, "a step of {jump} would click");
        // C5 in the first note, G5 in the second, each mostly pure.
        let first = &tone[rate / 20..rate / 4];
        let second = &tone[rate / 2..rate * 3 / 4];
        assert!(tone_ratio(first, SAMPLE_RATE, 523.25) > 0.3);
        assert!(tone_ratio(first, SAMPLE_RATE, 783.99) < 0.05);
        assert!(tone_ratio(second, SAMPLE_RATE, 783.99) > 0.3);
        assert!(tone_ratio(second, SAMPLE_RATE, 523.25) < 0.05);
    }
}
