//! The SHA-256 fingerprint of a server's TLS certificate, as join links carry it and people
//! compare it by eye.
//!
//! A hosted room serves a self-signed certificate, so no certificate authority vouches for
//! it: the join link does. Native clients pin the fingerprint from the link; a browser shows
//! the certificate, and the first-visit page shows the fingerprint, to compare with the
//! host's screen.

use std::fmt;
use std::str::FromStr;

/// A certificate's SHA-256 digest (of its DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// Why a text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// Not 32 bytes of hexadecimal.
    #[error("a certificate fingerprint is 64 hexadecimal digits (colons allowed), got {0} digits")]
    Length(usize),
    /// Something other than hexadecimal digits and colons.
    #[error("a certificate fingerprint has only hexadecimal digits and colons, not {0:?}")]
    Character(char),
}

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Fingerprint {
        use sha2::Digest as _;
        Fingerprint(sha2::Sha256::digest(der).into())
    }

    /// Lowercase hexadecimal without separators: the form join links carry (`#fp=…`).
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }
}

/// Uppercase pairs separated by colons, as browsers show a certificate's fingerprint, so a
/// guest can compare the two screens pair by pair.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.hex())
    }
}

/// Accepts both forms `Display` and [`Fingerprint::hex`] write, in either case, and
/// surrounding whitespace (a fingerprint is often pasted).
impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut digits = Vec::with_capacity(64);
        for c in text.trim().chars() {
            match c.to_digit(16) {
                // A digit's value is below 16, so it fits in a byte.
                Some(value) => digits.push(value as u8),
                None if c == ':' => {}
                None => return Err(FingerprintError::Character(c)),
            }
        }
        if digits.len() != 64 {
            return Err(FingerprintError::Length(digits.len()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        Ok(Fingerprint(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_forms_read_back() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0xA5;
        }
        let fp = Fingerprint(bytes);
        assert_eq!(fp.hex().len(), 64);
        assert_eq!(fp.to_string().len(), 95);
        assert!(fp.to_string().starts_with("A5:80:"), "{fp}");
        assert_eq!(fp.hex().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(
            format!("  {}\n", fp.to_string().to_lowercase()).parse::<Fingerprint>(),
            Ok(fp)
        );
    }

    #[test]
    fn the_digest_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            Fingerprint::of_certificate(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bad_text_is_named() {
        assert_eq!(
            "ab".parse::<Fingerprint>(),
            Err(FingerprintError::Length(2))
        );
        assert_eq!(
            format!("{}0", "a".repeat(64)).parse::<Fingerprint>(),
            Err(FingerprintError::Length(65))
        );
        assert_eq!(
            format!("{}g", "a".repeat(63)).parse::<Fingerprint>(),
            Err(FingerprintError::Character('g'))
        );
        let message = "xyz".parse::<Fingerprint>().unwrap_err().to_string();
        assert!(message.contains("hexadecimal"), "{message}");
    }

    proptest! {
        #[test]
        fn any_text_parses_or_errs_without_panicking(text in "\\PC{0,120}") {
            let _ = text.parse::<Fingerprint>();
        }

        #[test]
        fn any_fingerprint_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let fp = Fingerprint(bytes);
            prop_assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
            prop_assert_eq!(fp.hex().parse::<Fingerprint>(), Ok(fp));
        }
    }
}
