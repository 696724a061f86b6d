//! Feeds arbitrary bytes to both decoders.
//!
//! Decoding must never panic, and whatever it accepts must survive a re-encode: a message the
//! server accepted but could not faithfully relay or store would be a silent corruption. The
//! bytes are tried as text twice: as-is when they are valid UTF-8 (what a WebSocket text frame
//! delivers), and lossily converted otherwise, so that invalid sequences still reach the JSON
//! parser as replacement characters.
#![no_main]

use std::borrow::Cow;

use hearth_wire::{DecodeError, decode_client, decode_server, encode_client, encode_server};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match String::from_utf8_lossy(data) {
        Cow::Borrowed(text) => check(text),
        // Only reached for invalid UTF-8, so valid input is not checked twice.
        Cow::Owned(text) => check(&text),
    }
});

fn check(text: &str) {
    match decode_client(text) {
        Ok(msg) => {
            let again = encode_client(&msg);
            assert_eq!(
                decode_client(&again).as_ref(),
                Ok(&msg),
                "client re-encode: {again}"
            );
        }
        Err(err) => check_error(&err),
    }
    match decode_server(text) {
        Ok(msg) => {
            let again = encode_server(&msg);
            assert_eq!(
                decode_server(&again).as_ref(),
                Ok(&msg),
                "server re-encode: {again}"
            );
        }
        Err(err) => check_error(&err),
    }
}

/// The promise servers rely on when they echo `src` back: a tag of at most 64 characters.
fn check_error(err: &DecodeError) {
    if let Some(src) = err.src() {
        assert!(src.chars().count() <= 64, "untruncated type in {err:?}");
    }
    // Display must not panic either: servers put it in `error.message`.
    let _ = err.to_string();
}
