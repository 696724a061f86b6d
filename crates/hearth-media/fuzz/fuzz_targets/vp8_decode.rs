//! Feeds damaged VP8 streams to one decoder, the way a receiver sees them after loss,
//! corruption or a sender switching resolution.
//!
//! Random bytes rarely get past a VP8 frame header, so besides raw frames the input is read as
//! a script over real streams encoded once at start-up (two sizes, so a script can switch size
//! mid-stream): each step plays one real frame whole, with a byte changed, cut short, or as a
//! raw chunk of the input. Whatever was played, decoding must not panic, every picture must
//! have a sane size, and a clean keyframe afterwards must decode: that is how a receiver
//! recovers, by asking for one.
#![no_main]

use std::sync::LazyLock;

use hearth_media::video::{
    EncoderConfig, TestPattern, VideoFormat, VideoSource, Vp8Decoder, Vp8Encoder,
};
use libfuzzer_sys::fuzz_target;

/// The two sizes of the real streams.
const SIZES: [(u32, u32); 2] = [(96, 64), (160, 120)];
/// Frames per real stream; frame 0 and [`SECOND_KEYFRAME`] are keyframes.
const FRAMES: u32 = 8;
const SECOND_KEYFRAME: u32 = 5;

/// Real VP8 frames, per size.
static STREAMS: LazyLock<Vec<Vec<Vec<u8>>>> = LazyLock::new(|| SIZES.map(encode).to_vec());

fn encode((width, height): (u32, u32)) -> Vec<Vec<u8>> {
    let format = VideoFormat { width, height, fps: 30 };
    let mut source = TestPattern::new(format).expect("pattern");
    let mut encoder = Vp8Encoder::new(EncoderConfig {
        width,
        height,
        fps: 30,
        bitrate_kbps: 200,
        threads: 1,
        keyframe_interval: 0,
    })
    .expect("encoder");
    let mut frames = Vec::new();
    for n in 0..FRAMES {
        let picture = source
            .next_frame(u64::from(n) * 33_333)
            .expect("pattern frame")
            .expect("pattern never ends");
        if let Some(encoded) = encoder
            .encode(&picture, n == SECOND_KEYFRAME)
            .expect("encode")
        {
            frames.push(encoded.data);
        }
    }
    frames
}

fuzz_target!(|data: &[u8]| {
    let streams = &*STREAMS;
    let Ok(mut decoder) = Vp8Decoder::new() else {
        return;
    };
    let mut rest = data;
    while let [op, a, b, tail @ ..] = rest {
        rest = tail;
        let stream = &streams[usize::from(op & 1)];
        let mut frame = stream[usize::from(*a) % stream.len()].clone();
        match (op >> 1) & 3 {
            // The real frame, whole (lets a script build up decoder state).
            0 => {}
            // One byte changed, anywhere.
            1 => {
                let at = usize::from(*b) * 7 % frame.len();
                frame[at] ^= op | 1;
            }
            // Cut short, as when the last packets of a frame are lost.
            2 => frame.truncate(usize::from(*b) * frame.len() / 256),
            // A raw chunk of the input, up to 255 bytes.
            _ => {
                let len = usize::from(*b).min(rest.len());
                frame = rest[..len].to_vec();
                rest = &rest[len..];
            }
        }
        check(decoder.decode(&frame, 0));
    }
    // Recovery: a clean keyframe of either size decodes to that size.
    for (stream, (width, height)) in streams.iter().zip(SIZES) {
        let picture = decoder
            .decode(&stream[0], 0)
            .expect("a clean keyframe decodes after any damage")
            .expect("a keyframe gives a picture");
        assert_eq!((picture.width, picture.height), (width, height));
    }
});

fn check(result: Result<Option<hearth_media::video::I420Frame>, hearth_media::video::VideoError>) {
    if let Ok(Some(picture)) = result {
        assert!(picture.width > 0 && picture.height > 0);
        assert!(picture.width % 2 == 0 && picture.height % 2 == 0);
        assert!(picture.width <= 16_383 && picture.height <= 16_383);
    }
}
