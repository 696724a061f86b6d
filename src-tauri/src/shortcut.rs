//! Push-to-talk with the key from the settings, also while another window has focus: the key
//! is registered as a global shortcut, whose presses and releases go to the core like the
//! window's own key events do.
//!
//! On Linux this needs X11 (XGrabKey); Wayland compositors do not let applications grab keys.

use std::str::FromStr as _;

use hearth_desktop::DesktopHandle;
use hearth_desktop::ipc::Settings;
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager as _, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt as _, Shortcut, ShortcutState};

/// The global-shortcut plugin, with push-to-talk as what every shortcut does.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_global_shortcut::Builder::new()
        .with_handler(|app, _shortcut, event| {
            let pressed = event.state() == ShortcutState::Pressed;
            if let Some(desktop) = app.try_state::<DesktopHandle>() {
                let desktop = desktop.inner().clone();
                tauri::async_runtime::spawn(async move {
                    // Outside a call the core answers `not_in_voice`; nothing to do then.
                    let _ = desktop.push_to_talk(pressed).await;
                });
            }
        })
        .build()
}

/// The shortcut for a push-to-talk key named like `KeyboardEvent.code` (`KeyV`, `F8`,
/// `Space`), or `None` when push-to-talk is off or the key has no global equivalent.
pub fn push_to_talk_key(settings: &Settings) -> Option<Shortcut> {
    if !settings.push_to_talk {
        return None;
    }
    Shortcut::from_str(settings.push_to_talk_key.as_deref()?).ok()
}

/// Registers the settings' push-to-talk key as the only global shortcut (or none).
pub fn follow_settings<R: Runtime>(app: &AppHandle<R>, settings: &Settings) {
    // Absent in the mock-runtime tests, which do not add the plugin.
    if app
        .try_state::<tauri_plugin_global_shortcut::GlobalShortcut<R>>()
        .is_none()
    {
        return;
    }
    let shortcuts = app.global_shortcut();
    if let Err(error) = shortcuts.unregister_all() {
        tracing::warn!(%error, "could not release the previous push-to-talk key");
    }
    let Some(key) = push_to_talk_key(settings) else {
        return;
    };
    // Another program may hold the key; the window's own key events still work then.
    if let Err(error) = shortcuts.register(key) {
        tracing::warn!(%error, "could not register the push-to-talk key globally");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ptt(on: bool, key: Option<&str>) -> Settings {
        Settings {
            push_to_talk: on,
            push_to_talk_key: key.map(str::to_string),
            ..Settings::default()
        }
    }

    #[test]
    fn keyboard_event_codes_become_shortcuts() {
        for code in ["KeyV", "F8", "Space", "Digit1", "Backquote", "CapsLock"] {
            assert!(
                push_to_talk_key(&ptt(true, Some(code))).is_some(),
                "{code} has no global shortcut"
            );
        }
        assert_ne!(
            push_to_talk_key(&ptt(true, Some("KeyV"))),
            push_to_talk_key(&ptt(true, Some("KeyB")))
        );
    }

    #[test]
    fn no_shortcut_without_push_to_talk_or_a_key() {
        assert_eq!(push_to_talk_key(&ptt(false, Some("KeyV"))), None);
        assert_eq!(push_to_talk_key(&ptt(true, None)), None);
        assert_eq!(push_to_talk_key(&ptt(true, Some("NoSuchKey"))), None);
        // A modifier alone cannot be a global shortcut; the key then works in the window only.
        assert_eq!(push_to_talk_key(&ptt(true, Some("ControlLeft"))), None);
    }
}
