//! Settings and recent servers, kept as JSON files in the OS config directory.
//!
//! A missing or unreadable file gives the defaults (and a warning in the log), never an error
//! the user must fix before the app starts. Files are written whole to a temporary name and
//! renamed, so a crash mid-write leaves the old file.

use std::path::{Path, PathBuf};

use crate::ipc::{CommandError, RecentServer, Settings};

/// Recent servers remembered.
const MAX_RECENT: usize = 10;
const SETTINGS_FILE: &str = "settings.json";
const RECENT_FILE: &str = "recent.json";

pub(crate) struct Store {
    dir: Option<PathBuf>,
    settings: Settings,
    recent: Vec<RecentServer>,
}

impl Store {
    /// Loads from `dir`, or keeps everything in memory when it is `None`.
    pub(crate) fn load(dir: Option<PathBuf>) -> Store {
        let settings = dir
            .as_deref()
            .and_then(|d| read::<serde_json::Value>(&d.join(SETTINGS_FILE)))
            .and_then(complete_settings)
            .unwrap_or_default();
        let recent = dir
            .as_deref()
            .and_then(|d| read(&d.join(RECENT_FILE)))
            .unwrap_or_default();
        Store {
            dir,
            settings,
            recent,
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn recent(&self) -> &[RecentServer] {
        &self.recent
    }

    /// Checks and stores new settings.
    pub(crate) fn set_settings(&mut self, settings: Settings) -> Result<Settings, CommandError> {
        check(&settings)?;
        self.settings = settings;
        self.save(SETTINGS_FILE, &self.settings)?;
        Ok(self.settings.clone())
    }

    /// Puts `server` first in the recent list (once per address and room) and remembers the
    /// name for the join form.
    pub(crate) fn joined(&mut self, server: RecentServer) {
        self.recent
            .retain(|r| !(r.address == server.address && r.room == server.room));
        self.settings.display_name = server.name.clone();
        self.recent.insert(0, server);
        self.recent.truncate(MAX_RECENT);
        // Failing to remember a recent server is not worth bothering the user with.
        if let Err(e) = self
            .save(RECENT_FILE, &self.recent)
            .and_then(|()| self.save(SETTINGS_FILE, &self.settings))
        {
            tracing::warn!(error = %e, "could not save the recent servers");
        }
    }

    fn save<T: serde::Serialize>(&self, file: &str, value: &T) -> Result<(), CommandError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let fail = |e: std::io::Error| {
            CommandError::new(
                "save_failed",
                format!("Could not save {} in {}: {e}.", file, dir.display()),
            )
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let text = serde_json::to_vec_pretty(value).map_err(|e| fail(std::io::Error::other(e)))?;
        let tmp = dir.join(format!("{file}.tmp"));
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, dir.join(file)).map_err(fail)
    }
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not read; using defaults");
            return None;
        }
    };
    match serde_json::from_slice(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable; using defaults");
            None
        }
    }
}

/// Settings from a file, with the fields it lacks (a file written by an older version)
/// taken from the defaults. `None` when what is there is not settings at all.
fn complete_settings(stored: serde_json::Value) -> Option<Settings> {
    let serde_json::Value::Object(stored) = stored else {
        return None;
    };
    let mut merged = match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(defaults)) => defaults,
        _ => return None,
    };
    merged.extend(stored);
    match serde_json::from_value(serde_json::Value::Object(merged)) {
        Ok(settings) => Some(settings),
        Err(e) => {
            tracing::warn!(error = %e, "settings file unreadable; using defaults");
            None
        }
    }
}

fn check(s: &Settings) -> Result<(), CommandError> {
    let invalid = |m: &str| Err(CommandError::new("invalid_settings", m));
    if !matches!(s.frame_ms, 10 | 20) {
        return invalid("The voice frame size must be 10 or 20 ms.");
    }
    if !(0.0..=1.0).contains(&s.voice_activation_threshold) {
        return invalid("The voice activation threshold must be between 0 and 1.");
    }
    let c = s.camera_resolution;
    if c.width == 0
        || c.height == 0
        || c.width % 2 == 1
        || c.height % 2 == 1
        || c.width > 3840
        || c.height > 2160
    {
        return invalid("The camera resolution must be even and at most 3840x2160.");
    }
    if !(1..=60).contains(&c.fps) {
        return invalid("The camera frame rate must be 1 to 60 frames per second.");
    }
    if s.display_name.chars().count() > 32 {
        return invalid("The name is longer than 32 characters.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_recent_servers_survive_a_restart_and_bad_files_give_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::load(Some(dir.path().to_path_buf()));
        assert_eq!(store.settings(), &Settings::default());
        let wanted = Settings {
            noise_suppression: false,
            frame_ms: 10,
            push_to_talk: true,
            push_to_talk_key: Some("KeyV".into()),
            ..Settings::default()
        };
        store.set_settings(wanted.clone()).unwrap();
        for n in 0..12 {
            store.joined(RecentServer {
                address: format!("host{}:7777", n % 11),
                name: "ann".into(),
                room: "lobby".into(),
                last_joined: n,
            });
        }
        let again = Store::load(Some(dir.path().to_path_buf()));
        assert_eq!(again.settings().frame_ms, 10);
        assert_eq!(again.settings().display_name, "ann");
        assert_eq!(again.recent().len(), MAX_RECENT);
        assert_eq!(
            again.recent()[0].address,
            "host0:7777",
            "most recent first, once"
        );

        // A file from an older version, without fields added since, keeps what it has.
        std::fs::write(dir.path().join(SETTINGS_FILE), r#"{"frame_ms": 10}"#).unwrap();
        let old = Store::load(Some(dir.path().to_path_buf()));
        assert_eq!(old.settings().frame_ms, 10);
        assert_eq!(old.settings().theme, Settings::default().theme);

        std::fs::write(dir.path().join(SETTINGS_FILE), "{ not json").unwrap();
        assert_eq!(
            Store::load(Some(dir.path().to_path_buf())).settings(),
            &Settings::default()
        );
    }

    #[test]
    fn bad_settings_are_refused_in_words_and_change_nothing() {
        let mut store = Store::load(None);
        for bad in [
            Settings {
                frame_ms: 15,
                ..Settings::default()
            },
            Settings {
                voice_activation_threshold: 2.0,
                ..Settings::default()
            },
            Settings {
                camera_resolution: crate::ipc::CameraResolution {
                    width: 641,
                    height: 480,
                    fps: 30,
                },
                ..Settings::default()
            },
        ] {
            let err = store.set_settings(bad).unwrap_err();
            assert_eq!(err.code, "invalid_settings");
        }
        assert_eq!(store.settings(), &Settings::default());
    }
}
