//! A browser guest and a native member in one voice channel: real Chromium (fake devices)
//! loads the served page over HTTPS and joins voice; the native member recognises
//! Chromium's fake microphone (a 400 Hz beep) in what it decodes, and the page's WebAudio
//! analyser finds the native member's sine.

use std::time::Duration;

use hearth_media::SAMPLE_RATE;
use hearth_media::analysis::{rms, tone_ratio};
use hearth_peer::PeerConfig;
use hearth_client::core::Event;
use hearth_testkit::{BrowserGuest, repo_root};

use crate::support::{Member, TestServer, until, voice_config};

const STEP: Duration = Duration::from_secs(30);
/// Chromium's fake microphone beeps at this frequency.
const BEEP_HZ: f32 = 400.0;
/// The native member's sine.
const NATIVE_HZ: f32 = 660.0;

/// The 10 ms windows of `heard` that carry the beep: loud, and mostly 400 Hz.
fn beep_windows(heard: &[f32]) -> usize {
    heard
        .chunks(SAMPLE_RATE as usize / 100)
        .filter(|w| rms(w) > 0.005 && tone_ratio(w, SAMPLE_RATE, BEEP_HZ) > 0.3)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_guest_and_a_native_member_hear_each_other() {
    let _serial = crate::support::ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let shots = repo_root().join("test-output/voice");
    std::fs::create_dir_all(&shots).expect("test-output/voice");
    let script = repo_root().join("crates/hearth-voice/tests/browser/voice.mjs");
    let args = [format!("https://{}/lobby", server.addr), shots.display().to_string()];
    let Some(mut browser) = BrowserGuest::start(&script, &args, hearth_server::web::has_client()) else { return };

    // The native member gathers on every interface as the app does, and on loopback too,
    // so the test also runs on a machine whose only interface is loopback.
    let mut config = voice_config();
    config.peer =
        PeerConfig { include_loopback: true, ice_check_interval: Duration::from_millis(20), ..PeerConfig::default() };
    let mut native = Member::join_with(&server, "native", NATIVE_HZ, config, None).await;
    native.voice_join().await;
    assert_eq!(browser.next_line(STEP).await, "joined");
    assert_eq!(browser.next_line(STEP).await, "in voice");

    until(&native, "a peer and audio from the browser", |s| s.peers.len() == 1 && s.packets_received > 100).await;
    let peak: f32 = browser.expect_line("peak", STEP).await.parse().expect("a frequency");
    let bin = SAMPLE_RATE as f32 / 8192.0;
    assert!((peak - NATIVE_HZ).abs() <= 2.0 * bin, "the page's analyser found {peak} Hz, not the native {NATIVE_HZ} Hz");
    assert_eq!(browser.expect_line("speaking", STEP).await, "native", "the page shows the native member speaking");
    assert_eq!(browser.next_line(STEP).await, "shot");

    // Two seconds of what the native member decoded carry the beep (several of them).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let heard = native.heard.last(2000);
    let beeps = beep_windows(&heard);
    let stats = native.stats().await;
    eprintln!("beep windows {beeps}, rms {}, 400 Hz share {}, stats {stats:?}", rms(&heard), tone_ratio(&heard, SAMPLE_RATE, BEEP_HZ));
    assert!(beeps >= 2, "the native member heard no beep from the browser: {beeps} windows, rms {}", rms(&heard));
    let own = tone_ratio(&heard, SAMPLE_RATE, NATIVE_HZ);
    assert!(own < 0.02, "the native member does not hear itself: share {own}");

    // The guest's voice controls, each checked by what it does to the sound both ways.
    let normal = played(&mut browser).await;
    assert!(normal > -60.0, "the page plays the native sine: {normal} dB");
    command(&mut browser, "volume 0").await;
    let quiet = played(&mut browser).await;
    assert!(quiet < normal - 30.0, "volume 0 for the native member silences it: {quiet} dB, was {normal} dB");
    command(&mut browser, "volume 1").await;
    let back = played(&mut browser).await;
    assert!(back > normal - 10.0, "volume 1 brings it back: {back} dB, was {normal} dB");

    command(&mut browser, "mute").await;
    native.expect("the guest shown muted", |e| guest_update(e).filter(|m| m.muted)).await;
    assert_eq!(beeps_next(&native).await, 0, "the native member still hears the muted guest");
    command(&mut browser, "mute").await;
    native.expect("the guest shown unmuted", |e| guest_update(e).filter(|m| !m.muted)).await;
    assert!(beeps_next(&native).await >= 2, "the native member hears the unmuted guest again");

    command(&mut browser, "deafen").await;
    native.expect("the guest shown deafened", |e| guest_update(e).filter(|m| m.deafened && m.muted)).await;
    let deaf = played(&mut browser).await;
    assert!(deaf < normal - 30.0, "a deafened guest plays nothing: {deaf} dB, was {normal} dB");
    assert_eq!(beeps_next(&native).await, 0, "deafen also mutes");
    command(&mut browser, "deafen").await;
    let undeaf = played(&mut browser).await;
    assert!(undeaf > normal - 10.0, "undeafen plays again: {undeaf} dB, was {normal} dB");
    assert!(beeps_next(&native).await >= 2, "undeafen unmutes");

    // Push-to-talk while the tab has focus: only the held key sends the microphone.
    command(&mut browser, "ptt KeyT").await;
    assert_eq!(beeps_next(&native).await, 0, "push-to-talk sends nothing until the key is held");
    command(&mut browser, "press").await;
    assert!(beeps_next(&native).await >= 2, "holding the key sends the microphone");
    command(&mut browser, "release").await;
    assert_eq!(beeps_next(&native).await, 0, "releasing the key stops it");

    browser.send_line("done").await;
    browser.finish(STEP).await;
    native.leave().await;
    server.stop().await;
}

/// Tells the page to do `line` and waits for its "ok".
async fn command(browser: &mut BrowserGuest, line: &str) {
    browser.send_line(line).await;
    assert_eq!(browser.next_line(STEP).await, "ok", "the page did {line}");
}

/// The level (dB) at the native sine's frequency in what the page plays, over one second.
async fn played(browser: &mut BrowserGuest) -> f32 {
    browser.send_line(&format!("output {NATIVE_HZ}")).await;
    browser.expect_line("output", STEP).await.parse().expect("a level")
}

/// Beep windows the native member decodes over two seconds, starting half a second from
/// now so that a change the page just made has reached the wire. The beep repeats every
/// second, so two seconds of an open microphone always hold some.
async fn beeps_next(native: &Member) -> usize {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = native.heard.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    beep_windows(&native.heard.since(from))
}

/// The guest's entry when `event` updates it.
fn guest_update(event: &Event) -> Option<hearth_wire::Member> {
    match event {
        Event::MemberUpdated(m) if m.name == "guest" => Some(m.clone()),
        _ => None,
    }
}
