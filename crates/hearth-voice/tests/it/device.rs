//! The receiving end on a real device: a call through the server where the listener's
//! session plays through cpal into a PulseAudio null sink, and the tone the other member
//! sent is found in what the sink's monitor captures.
//!
//! cpal finds PulseAudio through `XDG_RUNTIME_DIR`, which a test cannot change for its own
//! process (setting environment variables is unsafe in Rust 2024 and the workspace forbids
//! unsafe code), so the test starts a private daemon and runs the call in a copy of this
//! test binary whose environment points at it — the approach of hearth-media's device test.

use std::time::{Duration, Instant};

use hearth_media::analysis::{rms, tone_ratio};
use hearth_media::pulse::PrivatePulse;
use hearth_media::{CaptureStream, SAMPLE_RATE};
use hearth_voice::AudioOutput;

use crate::support::{Member, TestServer, until, voice_config};

const CHILD_ENV: &str = "HEARTH_VOICE_PULSE_CHILD";
/// The null sink the listener plays into.
const SINK: &str = "hvsink";
/// The tone's share of a 100 ms window that counts as clean: a sine gives 0.5, and Opus and
/// the device path keep it above 0.45 unless something is wrong.
const TONE_PRESENT: f32 = 0.4;
/// How much of the monitor's capture is examined.
const LISTEN: Duration = Duration::from_millis(1500);

#[test]
fn a_call_plays_the_other_members_tone_on_a_real_device() {
    // The call runs in a child process; holding the lock keeps this binary's other calls
    // off the cores meanwhile.
    let _serial = crate::support::ONE_AT_A_TIME.blocking_lock();
    if cfg!(not(target_os = "linux")) {
        return;
    }
    let pulse = PrivatePulse::start("hearth-voice", &[(SINK, 48_000)]).expect("pulseaudio starts (cargo xtask test installs it)");
    // run_test tries a failed call once more (see there): a scheduling stall of the shared
    // CI machine is not what this test is about, a broken device path fails twice.
    if let Err(output) = pulse.run_test("device::in_pulseaudio", CHILD_ENV) {
        panic!("the call on a device failed:\n{output}");
    }
    drop(pulse);
}

/// Runs only inside the copy started above, with `XDG_RUNTIME_DIR` pointing at the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by a_call_plays_the_other_members_tone_on_a_real_device"]
async fn in_pulseaudio() {
    if std::env::var_os(CHILD_ENV).is_none() {
        // Run by hand with --ignored: without the private daemon there is nothing to test,
        // and the parent test is the one that counts.
        eprintln!("skipped: runs inside a_call_plays_the_other_members_tone_on_a_real_device");
        return;
    }
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice", 440.0).await;
    let speaker = AudioOutput::Device(Some(SINK.into()));
    let bob = Member::join_with(&server, "bob", 660.0, voice_config(), Some(speaker)).await;
    let mut mic = CaptureStream::open(Some(&format!("{SINK}.monitor"))).expect("the sink's monitor opens");
    assert_eq!(mic.device().name, format!("{SINK}.monitor"), "captured the sink's monitor, not a fallback");
    alice.voice_join().await;
    bob.voice_join().await;
    until(&bob, "a peer and audio", |s| s.peers.len() == 1 && s.packets_received > 50).await;
    // Let the jitter buffer and the device queue fill before listening; what the monitor held
    // until now (silence from before the call) is thrown away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    mic.read(&mut Vec::new());

    let mut captured = Vec::new();
    let start = Instant::now();
    while start.elapsed() < LISTEN {
        mic.read(&mut captured);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mic.read(&mut captured);
    let stats = bob.stats().await;
    // The tone is judged in 100 ms windows (44 whole periods of 440 Hz), not over the whole
    // capture: one stall of the loaded test machine makes the jitter buffer conceal for a
    // moment, and the tone resumes with another phase, which would cancel in one long window.
    let window = SAMPLE_RATE as usize / 10;
    let windows: Vec<&[f32]> = captured.chunks_exact(window).collect();
    let clean = windows.iter().filter(|w| tone_ratio(w, SAMPLE_RATE, alice.tone) > TONE_PRESENT).count();
    let own = windows.iter().map(|w| tone_ratio(w, SAMPLE_RATE, bob.tone)).fold(0.0, f32::max);
    let level = rms(&captured);
    eprintln!(
        "captured {} samples from {}: rms {level:.3}, {} Hz in {clean} of {} windows, {} Hz share at most {own:.4}; \
         receivers {:?}",
        captured.len(),
        mic.device().name,
        alice.tone,
        windows.len(),
        bob.tone,
        stats.receivers,
    );
    // 1.5 s of a 48 kHz monitor, allowing for the device's period granularity.
    let expected = SAMPLE_RATE as usize * 5 / 4;
    assert!(captured.len() >= expected, "the monitor delivered only {} samples", captured.len());
    // Alice sends a 0.3 amplitude sine (RMS 0.21); Opus and the device path keep most of it.
    assert!(level > 0.1, "the sink played almost nothing: rms {level}");
    assert!(
        clean * 4 >= windows.len() * 3,
        "alice's {} Hz was clean in only {clean} of {} windows of what the sink played",
        alice.tone,
        windows.len()
    );
    assert!(own < 0.01, "bob's own tone reached his speaker: share {own}");

    alice.leave().await;
    bob.leave().await;
    server.stop().await;
}
