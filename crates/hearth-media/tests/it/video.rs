//! The video layer end to end: the stamped test pattern through real libvpx VP8.

use hearth_media::video::{
    EncoderConfig, I420Frame, IvfReader, IvfWriter, TestPattern, VideoFormat, VideoSource,
    Vp8Decoder, Vp8Encoder, Y4mSource, read_stamp,
};
use proptest::prelude::*;

const FRAME_US: u64 = 33_333;

fn config(width: u32, height: u32, kbps: u32) -> EncoderConfig {
    EncoderConfig {
        width,
        height,
        fps: 30,
        bitrate_kbps: kbps,
        threads: 1,
        keyframe_interval: 0,
    }
}

fn pattern(width: u32, height: u32) -> TestPattern {
    TestPattern::new(VideoFormat {
        width,
        height,
        fps: 30,
    })
    .unwrap()
}

/// Encodes `n` frames of the pattern from frame `start`; returns the encoded frames.
fn encode_frames(
    enc: &mut Vp8Encoder,
    src: &mut TestPattern,
    n: u32,
    force_at: Option<u32>,
) -> Vec<hearth_media::video::EncodedFrame> {
    let mut out = Vec::new();
    for i in 0..n {
        let number = src.frame_number();
        let frame = src
            .next_frame(u64::from(number) * FRAME_US)
            .unwrap()
            .unwrap();
        if let Some(e) = enc.encode(&frame, force_at == Some(i)).unwrap() {
            out.push(e);
        }
    }
    out
}

#[test]
fn stamps_survive_vp8_at_300_kbps_in_order() {
    let mut enc = Vp8Encoder::new(config(640, 480, 300)).unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    let mut src = pattern(640, 480);
    let encoded = encode_frames(&mut enc, &mut src, 90, None);
    assert!(
        encoded.len() >= 85,
        "rate control dropped {} frames",
        90 - encoded.len()
    );
    assert!(encoded[0].keyframe, "the first frame must be a keyframe");
    let bytes: usize = encoded.iter().map(|e| e.data.len()).sum();
    let kbps = bytes as f64 * 8.0 / (90.0 / 30.0) / 1000.0;
    assert!(kbps < 450.0, "CBR at 300 kbps produced {kbps:.0} kbps");
    let mut numbers = Vec::new();
    for e in &encoded {
        let frame = dec.decode(&e.data, e.timestamp_us).unwrap().unwrap();
        assert_eq!((frame.width, frame.height), (640, 480));
        let stamp = read_stamp(&frame).expect("stamp unreadable after VP8 at 300 kbps");
        assert_eq!(stamp.timestamp_us, u64::from(stamp.frame_number) * FRAME_US);
        numbers.push(stamp.frame_number);
    }
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let expected: Vec<u32> = encoded
        .iter()
        .map(|e| (e.timestamp_us / FRAME_US) as u32)
        .collect();
    assert_eq!(numbers, expected);
}

#[test]
fn forced_keyframe_comes_out_as_keyframe() {
    let mut enc = Vp8Encoder::new(config(320, 240, 200)).unwrap();
    let mut src = pattern(320, 240);
    let encoded = encode_frames(&mut enc, &mut src, 20, Some(12));
    let keys: Vec<u64> = encoded
        .iter()
        .filter(|e| e.keyframe)
        .map(|e| e.timestamp_us / FRAME_US)
        .collect();
    assert_eq!(keys, vec![0, 12]);
}

#[test]
fn set_bitrate_changes_the_rate() {
    let mut enc = Vp8Encoder::new(config(640, 480, 800)).unwrap();
    let mut src = pattern(640, 480);
    let high: usize = encode_frames(&mut enc, &mut src, 60, None)[30..]
        .iter()
        .map(|e| e.data.len())
        .sum();
    enc.set_bitrate(150).unwrap();
    let low: usize = encode_frames(&mut enc, &mut src, 60, None)[30..]
        .iter()
        .map(|e| e.data.len())
        .sum();
    assert!(
        low * 2 < high,
        "800 kbps: {high} bytes, 150 kbps: {low} bytes"
    );
}

#[test]
fn resolution_change_mid_stream() {
    let mut enc = Vp8Encoder::new(config(640, 480, 300)).unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    for (w, h) in [(640, 480), (320, 240), (1280, 720)] {
        let mut src = pattern(w, h);
        let encoded = encode_frames(&mut enc, &mut src, 5, None);
        assert!(encoded[0].keyframe, "a new size starts with a keyframe");
        for e in encoded {
            let f = dec.decode(&e.data, 0).unwrap().unwrap();
            assert_eq!((f.width, f.height), (w, h));
            assert!(read_stamp(&f).is_some());
        }
    }
}

#[test]
fn a_small_black_frame_round_trips_with_its_timestamp() {
    let mut enc = Vp8Encoder::new(config(64, 48, 100)).unwrap();
    let f = I420Frame::black(64, 48, 0).unwrap();
    let e = enc.encode(&f, false).unwrap().unwrap();
    let mut dec = Vp8Decoder::new().unwrap();
    let d = dec.decode(&e.data, 5).unwrap().unwrap();
    assert_eq!((d.width, d.height, d.timestamp_us), (64, 48, 5));
    assert!(d.y().iter().all(|&p| p.abs_diff(16) <= 3));
}

#[test]
fn decoder_errors_on_garbage_and_recovers_at_the_next_keyframe() {
    let mut enc = Vp8Encoder::new(config(320, 240, 300)).unwrap();
    let mut src = pattern(320, 240);
    let encoded = encode_frames(&mut enc, &mut src, 30, Some(20));
    let mut dec = Vp8Decoder::new().unwrap();
    assert!(dec.decode(&[], 0).is_err());
    assert!(dec.decode(&[0xff; 3], 0).is_err());
    // An inter frame before any keyframe cannot be decoded.
    let _ = dec.decode(&encoded[5].data, 0);
    // A truncated keyframe.
    let key = &encoded[0].data;
    let _ = dec.decode(&key[..key.len() / 3], 0);
    // Wrong codec: a VP9-looking or random header.
    let _ = dec.decode(&[0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0], 0);
    for e in &encoded[20..] {
        let f = dec.decode(&e.data, 0).unwrap().unwrap();
        assert_eq!(
            read_stamp(&f).map(|s| s.frame_number),
            Some((e.timestamp_us / FRAME_US) as u32)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn decoder_never_panics_and_recovers(
        noise in proptest::collection::vec(any::<u8>(), 0..2000),
        flip in any::<usize>(),
        cut in any::<usize>(),
    ) {
        let mut enc = Vp8Encoder::new(config(320, 240, 300)).unwrap();
        let mut src = pattern(320, 240);
        let encoded = encode_frames(&mut enc, &mut src, 4, Some(3));
        let mut dec = Vp8Decoder::new().unwrap();
        let _ = dec.decode(&noise, 0);
        let mut flipped = encoded[0].data.clone();
        let i = flip % flipped.len();
        flipped[i] ^= 0x5a;
        let _ = dec.decode(&flipped, 0);
        let _ = dec.decode(&encoded[1].data[..cut % encoded[1].data.len()], 0);
        let _ = dec.decode(&encoded[2].data, 0);
        let f = dec.decode(&encoded[3].data, 0).unwrap().unwrap();
        prop_assert_eq!(read_stamp(&f).map(|s| s.frame_number), Some(3));
    }
}

fn y4m_bytes(header: &str, frames: &[I420Frame]) -> Vec<u8> {
    let mut out = format!("{header}\n").into_bytes();
    for f in frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&f.data);
    }
    out
}

#[test]
fn y4m_file_reads_back_the_frames_written() {
    let p = pattern(320, 240);
    let frames: Vec<I420Frame> = (0..3).map(|n| p.render(n, 1000 + u64::from(n))).collect();
    let dir = std::env::temp_dir().join(format!("hearth-y4m-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clip.y4m");
    std::fs::write(
        &path,
        y4m_bytes("YUV4MPEG2 W320 H240 F25:1 Ip A1:1 C420jpeg", &frames),
    )
    .unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut src = Y4mSource::new(file).unwrap();
    assert_eq!(
        src.format(),
        VideoFormat {
            width: 320,
            height: 240,
            fps: 25
        }
    );
    for (i, want) in frames.iter().enumerate() {
        let got = src.next_frame(i as u64).unwrap().unwrap();
        assert_eq!(got.data, want.data);
        assert_eq!(got.timestamp_us, i as u64, "stamped with the caller's time");
        assert_eq!(read_stamp(&got).unwrap().frame_number, i as u32);
    }
    assert!(src.next_frame(9).unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn y4m_refuses_other_formats_and_broken_files_clearly() {
    let err = |bytes: &[u8]| Y4mSource::new(bytes).unwrap_err().to_string();
    assert!(err(b"YUV4MPEG2 W4 H4 C444\n").contains("only 4:2:0"));
    assert!(err(b"YUV4MPEG2 W4 H4 C420p10\n").contains("only 4:2:0"));
    assert!(err(b"RIFF....\n").contains("not a Y4M"));
    assert!(err(b"YUV4MPEG2 W4\n").contains("W or H"));
    assert!(err(b"YUV4MPEG2 W5 H4\n").contains("odd"));
    assert!(err(b"").contains("empty"));
    // A tag that starts with a multi-byte character once panicked (found by fuzzing).
    assert!(err("YUV4MPEG2 W4 \u{432}PEG\n".as_bytes()).contains("W or H"));
    // A header claiming a huge frame in a tiny file is an error, not a 400 MB allocation.
    let mut huge = Y4mSource::new(&b"YUV4MPEG2 W16384 H16384\nFRAME\n\0\0"[..]).unwrap();
    assert!(huge.next_frame(0).unwrap_err().to_string().contains("cut short"));
    // A frame cut short is an error, then the stream is over.
    let f = I420Frame::black(4, 4, 0).unwrap();
    let mut bytes = y4m_bytes("YUV4MPEG2 W4 H4", &[f]);
    bytes.truncate(bytes.len() - 1);
    let mut src = Y4mSource::new(&bytes[..]).unwrap();
    assert!(
        src.next_frame(0)
            .unwrap_err()
            .to_string()
            .contains("cut short")
    );
}

#[test]
fn ivf_round_trip_decodes_the_same_stamps() {
    let mut enc = Vp8Encoder::new(config(320, 240, 300)).unwrap();
    let mut src = pattern(320, 240);
    let encoded = encode_frames(&mut enc, &mut src, 10, None);
    let mut w = IvfWriter::new(Vec::new(), 320, 240, 1_000_000, 1).unwrap();
    for e in &encoded {
        w.write_frame(&e.data, e.timestamp_us).unwrap();
    }
    let bytes = w.finish().unwrap();
    let mut r = IvfReader::new(&bytes[..]).unwrap();
    assert_eq!(
        (r.header().width, r.header().height, &r.header().fourcc),
        (320, 240, b"VP80")
    );
    let mut dec = Vp8Decoder::new().unwrap();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        assert_eq!(f.data, encoded[n].data);
        assert_eq!(f.pts, encoded[n].timestamp_us);
        let d = dec.decode(&f.data, f.pts).unwrap().unwrap();
        assert_eq!(read_stamp(&d).unwrap().frame_number, n as u32);
        n += 1;
    }
    assert_eq!(n, encoded.len());
    // Truncated in a frame: an error, not a short frame.
    let mut r = IvfReader::new(&bytes[..bytes.len() - 3]).unwrap();
    let results: Vec<_> = std::iter::from_fn(|| r.next_frame().transpose()).collect();
    assert!(results.last().unwrap().is_err());
    let mut vp9 = bytes.clone();
    vp9[8..12].copy_from_slice(b"VP90");
    assert!(
        IvfReader::new(&vp9[..])
            .unwrap_err()
            .to_string()
            .contains("only VP8")
    );
}

#[test]
fn no_camera_here_lists_empty_and_open_fails_clearly() {
    // The test machines have no camera; on one that has, this test says so rather than
    // failing.
    let cameras = hearth_media::video::list_cameras().unwrap();
    if !cameras.is_empty() {
        eprintln!("cameras present, skipping: {cameras:?}");
        return;
    }
    let choice = hearth_media::video::CameraChoice {
        index: 0,
        width: 640,
        height: 480,
        fps: 30,
    };
    let err = hearth_media::video::CameraSource::open(choice)
        .unwrap_err()
        .to_string();
    assert!(err.contains("camera 0"), "{err}");
}
