//! The tray icon: mute, deafen, show the window, quit. The mute and deafen items show the
//! call's state (they follow `voice_status` events) and act through the core like the voice
//! bar's buttons.

use hearth_desktop::DesktopHandle;
use hearth_desktop::ipc::AppEvent;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager as _, Runtime};

/// The tray menu's check items, kept so events can update them.
struct TrayItems<R: Runtime> {
    mute: CheckMenuItem<R>,
    deafen: CheckMenuItem<R>,
}

/// What a tray menu item does.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Mute(bool),
    Deafen(bool),
    Show,
    Quit,
}

/// The action of the item with `id`; check items have already flipped when this is asked.
fn action(id: &str, checked: impl Fn(&str) -> bool) -> Option<Action> {
    match id {
        "mute" => Some(Action::Mute(checked(id))),
        "deafen" => Some(Action::Deafen(checked(id))),
        "show" => Some(Action::Show),
        "quit" => Some(Action::Quit),
        _ => None,
    }
}

/// Puts Hearth's icon in the tray. Without a tray (a bare X server) this logs and moves on.
pub fn create<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = try_create(app) {
        tracing::warn!(%error, "no tray icon");
    }
}

fn try_create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let mute = CheckMenuItem::with_id(app, "mute", "Mute", false, false, None::<&str>)?;
    let deafen = CheckMenuItem::with_id(app, "deafen", "Deafen", false, false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Hearth", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&mute, &deafen, &separator, &show, &quit])?;
    let mut tray = TrayIconBuilder::with_id("hearth")
        .tooltip("Hearth")
        .menu(&menu)
        .on_menu_event(|app, event| {
            let items = app.state::<TrayItems<R>>();
            let checked = |id: &str| match id {
                "mute" => items.mute.is_checked().unwrap_or(false),
                _ => items.deafen.is_checked().unwrap_or(false),
            };
            match action(event.id().as_ref(), checked) {
                Some(Action::Mute(on)) => voice(app, move |d| async move { d.set_muted(on).await }),
                Some(Action::Deafen(on)) => {
                    voice(app, move |d| async move { d.set_deafened(on).await })
                }
                Some(Action::Show) => {
                    if let Some(window) = app.get_webview_window("main") {
                        let _ = window.unminimize();
                        let _ = window.show();
                        let _ = window.set_focus();
                    }
                }
                // Exits through RunEvent::Exit, which leaves the room and stops hosting.
                Some(Action::Quit) => app.exit(0),
                None => {}
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayItems { mute, deafen });
    Ok(())
}

/// Runs a voice command; outside a call the items go back to unchecked (the core refuses).
fn voice<R: Runtime, F, Fut>(app: &AppHandle<R>, command: F)
where
    F: FnOnce(DesktopHandle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), hearth_desktop::ipc::CommandError>> + Send,
{
    let Some(desktop) = app.try_state::<DesktopHandle>() else {
        return;
    };
    let desktop = desktop.inner().clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if command(desktop).await.is_err() {
            set_checks(&app, false, false);
        }
    });
}

/// Makes the mute and deafen items show the call's state.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: &AppEvent) {
    if let AppEvent::VoiceStatus { status } = event {
        let in_call = status.channel.is_some();
        set_checks(app, in_call && status.muted, in_call && status.deafened);
    }
}

fn set_checks<R: Runtime>(app: &AppHandle<R>, muted: bool, deafened: bool) {
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.mute.set_checked(muted);
        let _ = items.deafen.set_checked(deafened);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_map_to_actions_with_the_flipped_check_state() {
        let checked = |id: &str| id == "mute";
        assert_eq!(action("mute", checked), Some(Action::Mute(true)));
        assert_eq!(action("deafen", checked), Some(Action::Deafen(false)));
        assert_eq!(action("show", checked), Some(Action::Show));
        assert_eq!(action("quit", checked), Some(Action::Quit));
        assert_eq!(action("other", checked), None);
    }
}
