//! The icon set in icons/: every file tauri.conf.json and the Windows Store need, and the
//! sizes inside icon.ico and icon.icns, read from their headers.

use std::fs;
use std::path::Path;

use crate::report::{Outcome, StepResult, note};

/// PNG files with their side in pixels (`tauri icon` writes all of them).
const PNGS: &[(&str, u32)] = &[
    ("32x32.png", 32),
    ("64x64.png", 64),
    ("128x128.png", 128),
    ("128x128@2x.png", 256),
    ("icon.png", 512),
    ("Square30x30Logo.png", 30),
    ("Square44x44Logo.png", 44),
    ("Square71x71Logo.png", 71),
    ("Square89x89Logo.png", 89),
    ("Square107x107Logo.png", 107),
    ("Square142x142Logo.png", 142),
    ("Square150x150Logo.png", 150),
    ("Square284x284Logo.png", 284),
    ("Square310x310Logo.png", 310),
    ("StoreLogo.png", 50),
];

/// Windows: small icons for lists and the taskbar, 256 for Explorer's large views.
const ICO_SIDES: &[u32] = &[16, 24, 32, 48, 64, 256];

/// macOS: the PNG-carrying icns types from 32 to 1024 pixels (ic11 is 16@2x, ic10 512@2x).
const ICNS_TYPES: &[&str] = &[
    "ic07", "ic08", "ic09", "ic10", "ic11", "ic12", "ic13", "ic14",
];

pub fn check(root: &Path) -> StepResult {
    let dir = root.join("icons");
    let read = |name: &str| {
        fs::read(dir.join(name)).map_err(|error| format!("cannot read icons/{name}: {error}"))
    };
    for (name, side) in PNGS {
        let size = png_size(&read(name)?).ok_or(format!("icons/{name} is not a PNG"))?;
        if size != (*side, *side) {
            return Err(format!("icons/{name} is {size:?}, not {side}x{side}"));
        }
    }
    let ico = ico_sides(&read("icon.ico")?)?;
    if ico != ICO_SIDES {
        return Err(format!("icons/icon.ico holds {ico:?}, not {ICO_SIDES:?}"));
    }
    let icns = icns_types(&read("icon.icns")?)?;
    if let Some(missing) = ICNS_TYPES
        .iter()
        .find(|kind| !icns.contains(&kind.to_string()))
    {
        return Err(format!(
            "icons/icon.icns has no {missing} entry (it has {icns:?})"
        ));
    }
    note(&format!(
        "{} PNGs, icon.ico {ICO_SIDES:?}, icon.icns {}",
        PNGS.len(),
        icns.join(" ")
    ));
    Ok(Outcome::Done)
}

fn png_size(data: &[u8]) -> Option<(u32, u32)> {
    if data.len() < 24 || &data[..8] != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
    Some((be(16), be(20)))
}

/// The side of each image in an .ico, from the image itself when it is a PNG (the
/// directory's byte says 0 for 256).
fn ico_sides(data: &[u8]) -> Result<Vec<u32>, String> {
    let le16 = |at: usize| {
        data.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let le32 = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let count = le16(4).ok_or("icon.ico is too short")?;
    let mut sides = Vec::new();
    for index in 0..usize::from(count) {
        let entry = 6 + 16 * index;
        let (Some(size), Some(offset), Some(&width)) =
            (le32(entry + 8), le32(entry + 12), data.get(entry))
        else {
            return Err("icon.ico's directory is cut short".to_string());
        };
        let image = data
            .get(offset as usize..(offset + size) as usize)
            .ok_or("an icon.ico image lies past the end of the file")?;
        sides.push(match png_size(image) {
            Some((side, _)) => side,
            None if width == 0 => 256,
            None => u32::from(width),
        });
    }
    Ok(sides)
}

fn icns_types(data: &[u8]) -> Result<Vec<String>, String> {
    if data.get(..4) != Some(b"icns") {
        return Err("icon.icns does not start with `icns`".to_string());
    }
    let mut types = Vec::new();
    let mut at = 8;
    while at + 8 <= data.len() {
        let length = u32::from_be_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
        if length < 8 {
            return Err("icon.icns has an entry shorter than its header".to_string());
        }
        types.push(String::from_utf8_lossy(&data[at..at + 4]).into_owned());
        at += length;
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed icon set is complete; regenerate it as icons/source/draw-logo.py says.
    #[test]
    fn the_committed_icons_are_complete() {
        let root = crate::workspace::root();
        assert!(
            matches!(check(&root), Ok(Outcome::Done)),
            "{:?}",
            check(&root).err()
        );
    }
}
