//! Real devices: a private PulseAudio daemon with a null sink, driven through cpal.
//!
//! cpal finds PulseAudio through `XDG_RUNTIME_DIR`, which a test cannot change for its own
//! process (setting environment variables is unsafe in Rust 2024 and this crate forbids
//! unsafe code), so the test starts the daemon, then runs the device checks in a copy of
//! this test binary whose environment points at it.

use std::process::Command;
use std::time::{Duration, Instant};

use hearth_media::analysis::{find_delay, rms, tone_ratio};
use hearth_media::pulse::PrivatePulse;
use hearth_media::{
    AudioSource, CaptureStream, ClickTrain, DeviceDirection, DeviceEvent, PlaybackStream, Sine,
    list_devices,
};

const CHILD_ENV: &str = "HEARTH_MEDIA_PULSE_CHILD";

#[test]
fn tone_played_to_a_null_sink_is_captured_from_its_monitor() {
    if cfg!(not(target_os = "linux")) {
        return;
    }
    let pulse = PrivatePulse::start("hearth-media", &[("vsink", 48_000), ("vsink44", 44_100)])
        .expect("pulseaudio starts (cargo xtask test installs it)");
    if let Err(output) = pulse.run_test("device::in_pulseaudio", CHILD_ENV) {
        panic!("device checks failed:\n{output}");
    }
    drop(pulse);
}

/// Runs only inside the copy started above, with `XDG_RUNTIME_DIR` pointing at the daemon.
#[test]
#[ignore = "started by tone_played_to_a_null_sink_is_captured_from_its_monitor"]
fn in_pulseaudio() {
    if std::env::var_os(CHILD_ENV).is_none() {
        // Run by hand with --ignored: without the private daemon there is nothing to test,
        // and the parent test is the one that counts.
        eprintln!("skipped: runs inside tone_played_to_a_null_sink_is_captured_from_its_monitor");
        return;
    }

    let outputs = list_devices(DeviceDirection::Output).unwrap();
    let inputs = list_devices(DeviceDirection::Input).unwrap();
    assert!(
        outputs.iter().any(|d| d.name == "vsink" && d.is_default),
        "{outputs:?}"
    );
    assert!(
        inputs.iter().any(|d| d.name == "vsink.monitor"),
        "{inputs:?}"
    );

    let mut speaker = PlaybackStream::open(Some("vsink")).unwrap();
    let mut mic = CaptureStream::open(Some("vsink.monitor")).unwrap();
    assert_eq!(speaker.device().name, "vsink");
    assert_eq!(mic.device().name, "vsink.monitor");
    assert_tone_comes_back(&mut speaker, &mut mic);

    {
        let mut speaker = PlaybackStream::open(Some("vsink44")).unwrap();
        let mut mic = CaptureStream::open(Some("vsink44.monitor")).unwrap();
        assert_eq!(speaker.device_format().0, 44_100);
        assert_eq!(mic.device_format().0, 44_100);
        assert_tone_comes_back(&mut speaker, &mut mic);
    }

    // The clicks start at a known sample of what is written; where they appear in the
    // capture gives the delay through the ring, PulseAudio and back.
    let mut clicks = ClickTrain::new(48_000, 24_000, 0.8);
    let mut reference = vec![0.0; 96_000];
    clicks.read(&mut reference).unwrap();
    let mut clicks = ClickTrain::new(48_000, 24_000, 0.8);
    drain(&mut mic);
    let captured = play_and_capture(
        &mut speaker,
        &mut mic,
        &mut clicks,
        Duration::from_millis(2000),
    );
    let delay = find_delay(&reference[..48_000], &captured, 24_000).expect("clicks were captured");
    eprintln!(
        "loopback delay through PulseAudio: {:.1} ms",
        delay as f64 / 48.0
    );
    assert!(delay < 24_000, "delay {delay}");

    // Hot unplug: a second sink's monitor disappears; capture falls back to the default.
    let status = Command::new("pactl")
        .args([
            "load-module",
            "module-null-sink",
            "sink_name=vsink2",
            "rate=48000",
        ])
        .output()
        .unwrap();
    assert!(status.status.success());
    let module = String::from_utf8_lossy(&status.stdout).trim().to_owned();
    let mut unplugged = CaptureStream::open(Some("vsink2.monitor")).unwrap();
    assert_eq!(unplugged.device().name, "vsink2.monitor");
    assert!(
        Command::new("pactl")
            .args(["unload-module", &module])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let event = loop {
        if let Some(event) = unplugged.poll_event() {
            break event;
        }
        // Keep reading, as a real owner would: the stream must be drained to stay alive.
        unplugged.read(&mut Vec::new());
        assert!(
            Instant::now() < deadline,
            "no event after the device was removed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    match event {
        DeviceEvent::FellBackToDefault { lost, now, .. } => {
            assert_eq!(lost, "vsink2.monitor");
            assert_eq!(now, unplugged.device().name);
        }
        other => panic!("expected a fallback, got {other:?}"),
    }
    // The fallback really captures: the default source delivers audio again.
    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while again.len() < 4800 && Instant::now() < deadline {
        unplugged.read(&mut again);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(again.len() >= 4800, "no audio after the fallback");
}

/// Plays a second of a 1 kHz tone and finds it, at 48 kHz, in the capture.
fn assert_tone_comes_back(speaker: &mut PlaybackStream, mic: &mut CaptureStream) {
    eprintln!(
        "playback {:?}, capture {:?}",
        speaker.device_format(),
        mic.device_format()
    );
    let mut tone = Sine::new(48_000, 1000.0, 0.5);
    let captured = play_and_capture(speaker, mic, &mut tone, Duration::from_millis(1200));
    let tail = &captured[captured.len().saturating_sub(24_000)..];
    assert!(
        rms(tail) > 0.2,
        "the tone did not come back: rms {}",
        rms(tail)
    );
    let ratio = tone_ratio(tail, 48_000, 1000.0);
    assert!(ratio > 0.4, "1 kHz holds only {ratio} of the energy");
    assert!(tone_ratio(tail, 48_000, 1500.0) < 0.01);
}

fn drain(mic: &mut CaptureStream) {
    let mut sink = Vec::new();
    mic.read(&mut sink);
}

/// Plays `source` in real time for `duration` while collecting the capture.
fn play_and_capture(
    speaker: &mut PlaybackStream,
    mic: &mut CaptureStream,
    source: &mut dyn AudioSource,
    duration: Duration,
) -> Vec<f32> {
    let mut captured = Vec::new();
    let mut pending: Vec<f32> = Vec::new();
    let start = Instant::now();
    // Keep about 40 ms queued toward the device.
    while start.elapsed() < duration {
        let queued_ms =
            speaker.queued_frames() as u64 * 1000 / u64::from(speaker.device_format().0);
        if queued_ms < 40 && pending.is_empty() {
            pending = vec![0.0; 480];
            source.read(&mut pending).unwrap();
        }
        let taken = speaker.write(&pending);
        pending.drain(..taken);
        mic.read(&mut captured);
        std::thread::sleep(Duration::from_millis(5));
    }
    captured
}
