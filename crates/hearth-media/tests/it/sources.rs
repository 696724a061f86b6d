use hearth_media::analysis::{rms, tone_ratio};
use hearth_media::{AudioSink, AudioSource, Sine, WavSink, WavSource};

#[test]
fn wav_round_trip_resamples_to_48k_mono() {
    let dir = std::env::temp_dir().join(format!("hearth-media-wav-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A 44.1 kHz stereo 16-bit file, as a user's notification sound might be.
    let stereo = dir.join("stereo.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&stereo, spec).unwrap();
    let mut tone = vec![0.0; 44_100];
    Sine::new(44_100, 1000.0, 0.5).read(&mut tone).unwrap();
    for x in &tone {
        let s = (x * 32767.0) as i16;
        writer.write_sample(s).unwrap();
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();

    let mut source = WavSource::open(&stereo).unwrap();
    assert_eq!(source.sample_rate(), 48_000);
    let samples = source.samples().to_vec();
    assert!(
        (samples.len() as i64 - 48_000).abs() <= 2,
        "{}",
        samples.len()
    );
    assert!(tone_ratio(&samples[100..], 48_000, 1000.0) > 0.45);
    assert!((rms(&samples) - 0.5 / 2f32.sqrt()).abs() < 0.01);

    // Written back as 48 kHz mono float and read again, it is unchanged.
    let mono = dir.join("mono.wav");
    let mut sink = WavSink::create(&mono, 48_000).unwrap();
    let mut buf = vec![0.0; 1000];
    loop {
        let n = source.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sink.write(&buf[..n]).unwrap();
    }
    sink.finalize().unwrap();
    assert_eq!(WavSource::open(&mono).unwrap().samples(), &samples[..]);

    std::fs::write(dir.join("bad.wav"), b"RIFF not really").unwrap();
    assert!(WavSource::open(dir.join("bad.wav")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
