use hearth_media::analysis::tone_ratio;
use hearth_media::{
    AudioSource, CaptureConfig, CapturePipeline, FrameDuration, MediaError, Silence, Sine,
    TransmitMode,
};

/// Runs `frames` frames of `source` through `pipeline`, returning what each produced.
fn run(
    pipeline: &mut CapturePipeline,
    source: &mut dyn AudioSource,
    frames: usize,
) -> Vec<hearth_media::CaptureFrame> {
    let mut buf = vec![0.0; pipeline.frame_samples()];
    (0..frames)
        .map(|_| {
            source.read(&mut buf).unwrap();
            pipeline.process(&buf).unwrap()
        })
        .collect()
}

fn level_config() -> CaptureConfig {
    // Without noise suppression the detector is a level gate, which tones can trigger
    // deterministically (RNNoise is trained to ignore steady tones).
    CaptureConfig {
        noise_suppression: false,
        ..CaptureConfig::default()
    }
}

#[test]
fn packets_decode_back_to_the_tone() {
    for frame in [FrameDuration::Ms10, FrameDuration::Ms20] {
        let mut pipeline = CapturePipeline::new(CaptureConfig {
            frame,
            ..level_config()
        })
        .unwrap();
        let out = run(&mut pipeline, &mut Sine::new(48_000, 440.0, 0.5), 50);
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = Vec::new();
        for (i, f) in out.iter().enumerate() {
            let packet = f.packet.as_ref().expect("a loud tone is always sent");
            assert_eq!(packet.timestamp as usize, i * frame.samples());
            assert_eq!(packet.samples as usize, frame.samples());
            let mut buf = [0.0; 960];
            let n = decoder.decode_float(&packet.data, &mut buf, false).unwrap();
            pcm.extend_from_slice(&buf[..n]);
        }
        assert!(tone_ratio(&pcm[4800..], 48_000, 440.0) > 0.4, "{frame:?}");
        assert!(
            (out[10].level.rms_dbfs - (-9.03)).abs() < 0.1,
            "{:?}",
            out[10].level
        );
        assert!((out[10].level.peak_dbfs - (-6.02)).abs() < 0.1);
    }
}

#[test]
fn voice_activation_has_hangover_and_reports_changes() {
    let mut pipeline = CapturePipeline::new(CaptureConfig {
        hangover_ms: 100,
        ..level_config()
    })
    .unwrap();
    let quiet = run(&mut pipeline, &mut Silence::new(48_000), 5);
    assert!(
        quiet
            .iter()
            .all(|f| f.packet.is_none() && f.speaking_changed.is_none())
    );
    let talk = run(&mut pipeline, &mut Sine::new(48_000, 300.0, 0.3), 5);
    assert_eq!(talk[0].speaking_changed, Some(true));
    assert!(talk.iter().all(|f| f.packet.is_some()));
    // 100 ms of hangover at 20 ms frames: four more frames still count as speech (they
    // are sent unless Opus DTX finds nothing to say), the fifth ends it.
    let mut silence = Silence::new(48_000);
    let after = run(&mut pipeline, &mut silence, 4);
    assert!(after.iter().all(|f| f.speaking_changed.is_none()));
    assert!(pipeline.speaking());
    let end = run(&mut pipeline, &mut silence, 1);
    assert_eq!(end[0].speaking_changed, Some(false));
    assert!(end[0].packet.is_none());
    assert!(!pipeline.speaking());
}

#[test]
fn push_to_talk_and_mute_gate_sending() {
    let mut pipeline = CapturePipeline::new(CaptureConfig {
        mode: TransmitMode::PushToTalk,
        ..level_config()
    })
    .unwrap();
    let mut tone = Sine::new(48_000, 300.0, 0.3);
    assert!(
        run(&mut pipeline, &mut tone, 3)
            .iter()
            .all(|f| f.packet.is_none())
    );
    pipeline.set_push_to_talk(true);
    let held = run(&mut pipeline, &mut tone, 3);
    assert_eq!(held[0].speaking_changed, Some(true));
    assert!(held.iter().all(|f| f.packet.is_some()));
    pipeline.set_muted(true);
    let muted = run(&mut pipeline, &mut tone, 3);
    assert_eq!(muted[0].speaking_changed, Some(false));
    assert!(muted.iter().all(|f| f.packet.is_none()));
    // The meter keeps working while muted, so the user can check the microphone.
    assert!(muted[2].level.rms_dbfs > -20.0);
}

#[test]
fn noise_suppression_reports_a_probability_and_gain_applies() {
    let mut pipeline = CapturePipeline::new(CaptureConfig {
        gain_db: -6.0206,
        ..CaptureConfig::default()
    })
    .unwrap();
    let out = run(&mut pipeline, &mut Silence::new(48_000), 10);
    for f in &out {
        let p = f.vad_probability.expect("noise suppression is on");
        assert!((0.0..=1.0).contains(&p));
        assert!(f.packet.is_none(), "silence is not voice");
    }
    let loud = run(&mut pipeline, &mut Sine::new(48_000, 440.0, 1.0), 2);
    assert!((loud[1].level.peak_dbfs - (-6.02)).abs() < 0.1);
    assert!(matches!(
        pipeline.process(&[0.0; 100]),
        Err(MediaError::FrameSize {
            expected: 960,
            got: 100
        })
    ));
}
