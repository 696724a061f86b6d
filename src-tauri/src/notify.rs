//! System notifications for what a user away from the window should not miss: mentions, DMs,
//! being kicked or banned, a hosted server that stopped. The core decides what is worth one
//! (`AppEvent::Notification`); the shell only shows it, and only when the window is not the
//! one the user looks at, since the UI shows the same thing in the window.

use hearth_desktop::ipc::AppEvent;
use tauri::{AppHandle, Manager as _, Runtime};
use tauri_plugin_notification::NotificationExt as _;

/// Shows a notification for `event` if it is one and the window is not focused.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: &AppEvent) {
    let AppEvent::Notification { title, body, .. } = event else {
        return;
    };
    let focused = app
        .get_webview_window("main")
        .and_then(|window| window.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    // Absent in the mock-runtime tests, which do not add the plugin.
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_none()
    {
        return;
    }
    // No notification service (a bare session, CI) is not worth more than a log line.
    if let Err(error) = app.notification().builder().title(title).body(body).show() {
        tracing::info!(%error, "could not show a system notification");
    }
}
