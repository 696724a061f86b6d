//! Checks on user-supplied strings and images, shared by the core's handlers.

use crate::event::ErrorKind;

/// A rule broken, as the error code and explanation to send back.
pub(crate) type Refusal = (ErrorKind, String);

/// Member names: 1 to `max` characters of letters, digits, space and `-_.'`, no leading or
/// trailing space, not starting with `@` (which marks direct-message channels).
pub(crate) fn name(name: &str, max: u32) -> Result<(), Refusal> {
    let chars = name.chars().count();
    let bad = |why: &str| Err((ErrorKind::InvalidName, format!("name {why}")));
    if chars == 0 {
        return bad("must not be empty");
    }
    if chars > max as usize {
        return bad(&format!("must be at most {max} characters"));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return bad("must not start or end with a space");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || " -_.'".contains(*c))) {
        return bad(&format!("must use letters, digits, spaces and - _ . ' only, not {c:?}"));
    }
    Ok(())
}

/// A bounded free-text field.
pub(crate) fn text(what: &str, text: &str, max_chars: u32) -> Result<(), Refusal> {
    if text.chars().count() > max_chars as usize {
        return Err((ErrorKind::TooLarge, format!("{what} is longer than {max_chars} characters")));
    }
    Ok(())
}

/// Image type and size, with the bytes checked against the declared type's magic number so
/// that nothing but an image is ever relayed as one.
pub(crate) fn image(mime: &str, bytes: &[u8], max_bytes: u32) -> Result<(), Refusal> {
    if bytes.len() > max_bytes as usize {
        return Err((
            ErrorKind::TooLarge,
            format!("image is {} bytes, the limit is {max_bytes}", bytes.len()),
        ));
    }
    let magic_ok = match mime {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        other => {
            let other: String = other.chars().take(40).collect();
            return Err((
                ErrorKind::BadImage,
                format!("image type {other:?} is not one of image/png, image/jpeg, image/gif, image/webp"),
            ));
        }
    };
    if !magic_ok {
        return Err((ErrorKind::BadImage, format!("image bytes are not a valid {mime} file")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("Alice B.", 32).is_ok());
        assert!(name("Zoë_9", 32).is_ok());
        assert_eq!(name("", 32).unwrap_err().0, ErrorKind::InvalidName);
        assert!(name(" alice", 32).is_err());
        assert!(name("@alice", 32).is_err());
        assert!(name("<script>", 32).is_err());
        assert!(name(&"a".repeat(33), 32).is_err());
        assert!(name(&"é".repeat(32), 32).is_ok());
    }

    #[test]
    fn images() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert!(image("image/png", png, 100).is_ok());
        assert_eq!(image("image/png", png, 5).unwrap_err().0, ErrorKind::TooLarge);
        assert_eq!(image("image/jpeg", png, 100).unwrap_err().0, ErrorKind::BadImage);
        assert_eq!(image("text/html", png, 100).unwrap_err().0, ErrorKind::BadImage);
        assert!(image("image/webp", b"RIFF\0\0\0\0WEBPVP8 ", 100).is_ok());
    }
}
