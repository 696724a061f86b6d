//! Feeds arbitrary bytes to the two file parsers: as a Y4M file (header, then frames until the
//! end or an error) and as an IVF file whose frames go on to a VP8 decoder.
//!
//! Both read files a user picks as a camera stand-in, so they must turn any content into
//! frames or a clear error: never a panic, never an allocation the file's size does not
//! justify, and every frame they return must be the size the header promised.
#![no_main]

use std::io::Cursor;

use hearth_media::video::{I420Frame, IvfReader, VideoSource, Vp8Decoder, Y4mSource};
use libfuzzer_sys::fuzz_target;

/// Frames read per input at most; a long valid file says nothing more after a few.
const MAX_FRAMES: usize = 16;

fuzz_target!(|data: &[u8]| {
    y4m(data);
    ivf(data);
});

fn y4m(data: &[u8]) {
    let Ok(mut source) = Y4mSource::new(Cursor::new(data)) else {
        return;
    };
    let format = source.format();
    for n in 0..MAX_FRAMES {
        match source.next_frame(n as u64) {
            Ok(Some(frame)) => {
                assert_eq!((frame.width, frame.height), (format.width, format.height));
                assert_eq!(
                    frame.y().len() + frame.u().len() + frame.v().len(),
                    I420Frame::byte_len(format.width, format.height)
                );
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fn ivf(data: &[u8]) {
    let Ok(mut reader) = IvfReader::new(Cursor::new(data)) else {
        return;
    };
    let Ok(mut decoder) = Vp8Decoder::new() else {
        return;
    };
    for _ in 0..MAX_FRAMES {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                if let Ok(Some(picture)) = decoder.decode(&frame.data, frame.pts) {
                    assert!(picture.width > 0 && picture.height > 0);
                    assert!(picture.width % 2 == 0 && picture.height % 2 == 0);
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}
