//! The settings screen's devices through the app core: the device lists, the microphone test
//! and the test sound, on synthetic sound and on a real (PulseAudio null) device.
//!
//! cpal finds PulseAudio through `XDG_RUNTIME_DIR`, which a test cannot change for its own
//! process (setting environment variables is unsafe in Rust 2024 and the workspace forbids
//! unsafe code), so the device test starts a private daemon and runs in a copy of this test
//! binary whose environment points at it — the approach of hearth-media's and hearth-voice's
//! device tests.

use std::time::{Duration, Instant};

use hearth_desktop::devices::TEST_PATTERN_ID;
use hearth_desktop::ipc::{AppEvent, Settings};
use hearth_desktop::{AudioKind, CameraKind, Desktop, DesktopConfig};
use hearth_media::analysis::{rms, tone_ratio};
use hearth_media::pulse::PrivatePulse;
use hearth_media::{CaptureStream, SAMPLE_RATE};

use crate::support::{ONE_AT_A_TIME, WAIT};

const CHILD_ENV: &str = "HEARTH_DESKTOP_PULSE_CHILD";
/// The null sink the test sound plays into; its monitor is the microphone.
const SINK: &str = "hdsink";

/// The `input_level` events that arrive within `window`.
async fn levels_for(desktop: &mut Desktop, window: Duration) -> Vec<f32> {
    let end = tokio::time::Instant::now() + window;
    let mut levels = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(end, desktop.events.recv()).await {
        if let AppEvent::InputLevel { level } = event {
            levels.push(level);
        }
    }
    levels
}

#[tokio::test]
async fn the_device_list_answers_without_a_sound_server_and_offers_the_test_pattern() {
    // No sound server is started for this process: cpal answers with what its hosts find
    // (maybe nothing), and the core must answer all the same.
    let desktop = Desktop::spawn(DesktopConfig::default());
    let list = tokio::time::timeout(WAIT, desktop.handle.list_devices())
        .await
        .expect("the list in time")
        .unwrap();
    // Cameras are listed by index, which is what camera_on reads from the settings. This
    // machine has none, and an empty list is the answer then.
    assert!(
        list.cameras.iter().all(|c| c.id.parse::<u32>().is_ok()),
        "{list:?}"
    );
    assert!(list.cameras.iter().filter(|c| c.is_default).count() <= 1);
    desktop.handle.shutdown().await.unwrap();

    let desktop = Desktop::spawn(DesktopConfig {
        camera: CameraKind::TestPattern,
        ..DesktopConfig::default()
    });
    let list = desktop.handle.list_devices().await.unwrap();
    assert_eq!(list.cameras.len(), 1, "{list:?}");
    assert_eq!(list.cameras[0].id, TEST_PATTERN_ID);
    assert!(list.cameras[0].is_default);
    desktop.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mic_test_meters_the_input_outside_a_call_and_stops_when_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // A -10 dBFS tone: the meter reads it high, about 20 times a second.
    let mut tone = Desktop::spawn(DesktopConfig {
        audio: AudioKind::Synthetic,
        ..DesktopConfig::default()
    });
    assert!(
        levels_for(&mut tone, Duration::from_millis(300))
            .await
            .is_empty(),
        "no level before the test is on"
    );
    tone.handle.mic_test(true).await.unwrap();
    let levels = levels_for(&mut tone, Duration::from_secs(2)).await;
    assert!(
        (20..=60).contains(&levels.len()),
        "about 20 levels a second: {} in 2 s",
        levels.len()
    );
    assert!(
        levels.iter().all(|&l| l > 0.6),
        "a 0.3 sine (-13.5 dBFS) reads about 0.77: {levels:?}"
    );

    // Off: what was on its way arrives, then nothing.
    tone.handle.mic_test(false).await.unwrap();
    levels_for(&mut tone, Duration::from_millis(200)).await;
    let late = levels_for(&mut tone, Duration::from_millis(700)).await;
    assert!(late.is_empty(), "levels after the test was off: {late:?}");
    tone.handle.shutdown().await.unwrap();

    // Silence reads as nothing on the same meter.
    let mut quiet = Desktop::spawn(DesktopConfig {
        audio: AudioKind::Silent,
        ..DesktopConfig::default()
    });
    quiet.handle.mic_test(true).await.unwrap();
    let levels = levels_for(&mut quiet, Duration::from_secs(1)).await;
    assert!(levels.len() >= 10, "levels flow: {levels:?}");
    assert!(
        levels.iter().all(|&l| l < 0.05),
        "silence reads ~0: {levels:?}"
    );
    quiet.handle.shutdown().await.unwrap();
}

#[test]
fn the_devices_of_a_sound_server_are_listed_played_to_and_metered() {
    // The child runs sound through the cores; holding the lock keeps this binary's other
    // media tests off them meanwhile.
    let _serial = ONE_AT_A_TIME.blocking_lock();
    if cfg!(not(target_os = "linux")) {
        return;
    }
    let pulse = PrivatePulse::start("hearth-desktop", &[(SINK, 48_000)])
        .expect("pulseaudio starts (cargo xtask test installs it)");
    let stderr = pulse
        .run_test("devices::in_pulseaudio", CHILD_ENV)
        .unwrap_or_else(|output| panic!("the device test failed:\n{output}"));
    // What the child measured, for `--nocapture`.
    for line in stderr
        .lines()
        .filter(|l| l.starts_with("listed") || l.starts_with("captured"))
    {
        eprintln!("child: {line}");
    }
    drop(pulse);
}

/// Runs only inside the copy started above, with `XDG_RUNTIME_DIR` pointing at the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by the_devices_of_a_sound_server_are_listed_played_to_and_metered"]
async fn in_pulseaudio() {
    if std::env::var_os(CHILD_ENV).is_none() {
        eprintln!(
            "skipped: runs inside the_devices_of_a_sound_server_are_listed_played_to_and_metered"
        );
        return;
    }
    let mut desktop = Desktop::spawn(DesktopConfig::default());
    let monitor = format!("{SINK}.monitor");

    // The null sink is a speaker, its monitor a microphone; the only sink is the default.
    let list = desktop.handle.list_devices().await.unwrap();
    eprintln!("listed: {list:?}");
    let sink = list.outputs.iter().find(|d| d.id == SINK);
    assert!(
        sink.is_some_and(|d| d.is_default),
        "the null sink, as default: {list:?}"
    );
    assert!(
        list.inputs.iter().any(|d| d.id == monitor),
        "its monitor: {list:?}"
    );

    // The settings choose them; the microphone test listens to the monitor.
    desktop
        .handle
        .set_settings(Settings {
            input_device: Some(monitor.clone()),
            output_device: Some(SINK.into()),
            ..Settings::default()
        })
        .await
        .unwrap();
    let mut mic = CaptureStream::open(Some(&monitor)).expect("the monitor opens");
    assert_eq!(mic.device().name, monitor, "not a fallback");
    desktop.handle.mic_test(true).await.unwrap();
    let before = levels_for(&mut desktop, Duration::from_millis(600)).await;
    assert!(before.len() >= 5, "the meter runs: {before:?}");
    assert!(
        before.iter().all(|&l| l < 0.05),
        "a silent sink's monitor reads ~0: {before:?}"
    );
    mic.read(&mut Vec::new());

    // The test sound plays on the sink: the monitor hears both notes, and the meter moves.
    let started = Instant::now();
    tokio::time::timeout(WAIT, desktop.handle.play_test_sound())
        .await
        .expect("the speaker opens in time")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the command does not wait for the sound to end: {:?}",
        started.elapsed()
    );
    let mut captured = Vec::new();
    let mut levels = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_millis(1800);
    while tokio::time::Instant::now() < end {
        mic.read(&mut captured);
        levels.extend(levels_for(&mut desktop, Duration::from_millis(20)).await);
    }
    mic.read(&mut captured);
    let window = SAMPLE_RATE as usize / 10;
    let windows: Vec<&[f32]> = captured.chunks_exact(window).collect();
    let count = |hz: f32| {
        windows
            .iter()
            .filter(|w| rms(w) > 0.01 && tone_ratio(w, SAMPLE_RATE, hz) > 0.3)
            .count()
    };
    let (low, high) = (count(523.25), count(783.99));
    let loudest = levels.iter().copied().fold(0.0, f32::max);
    eprintln!(
        "captured {} samples: rms {:.3}; C5 in {low}, G5 in {high} of {} windows; meter up to {loudest:.2}",
        captured.len(),
        rms(&captured),
        windows.len()
    );
    // 0.4 s of C5 and 0.6 s of G5, both fading: a few clean windows of each.
    assert!(low >= 1, "C5 heard in only {low} windows");
    assert!(high >= 2, "G5 heard in only {high} windows");
    assert!(
        loudest > 0.4,
        "the meter saw the chime (about -20 dBFS at its loudest): {loudest}"
    );
    desktop.handle.mic_test(false).await.unwrap();
    desktop.handle.shutdown().await.unwrap();
}
