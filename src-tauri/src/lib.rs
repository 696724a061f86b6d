//! Hearth's desktop shell: the Tauri window over `hearth_desktop`, the app core.
//!
//! The shell stays thin on purpose. Every command here forwards to one `DesktopHandle`
//! method, and the core's events go to the webview over `tauri::ipc::Channel`s the UI opens
//! with `subscribe_events` (docs/ipc.md). Everything the app does is in `hearth_desktop`,
//! where tests drive it without a window.

use std::path::PathBuf;

use anyhow::Context as _;
use hearth_desktop::ipc::{
    AppEvent, CommandError, DeviceList, HostConfig, HostStatus, Image, LanRoom, MemberId,
    MessageId, Presence, RecentServer, Settings,
};
use hearth_desktop::{AudioKind, CameraKind, Desktop, DesktopConfig, DesktopHandle, LanInterfaces};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Manager, RunEvent, Runtime, State};
use tokio::sync::mpsc;

mod notify;
#[cfg(target_os = "linux")]
pub mod renderer;
mod shortcut;
mod tray;

/// Joins a room (`host[:port][/room]`, `ws://…` or a `hearth://` link).
#[tauri::command(rename_all = "snake_case")]
async fn connect(
    desktop: State<'_, DesktopHandle>,
    address: String,
    name: String,
    password: Option<String>,
) -> Result<(), CommandError> {
    desktop.connect(address, name, password).await
}

/// Leaves the room.
#[tauri::command(rename_all = "snake_case")]
async fn disconnect(desktop: State<'_, DesktopHandle>) -> Result<(), CommandError> {
    desktop.disconnect().await
}

/// Servers joined before, most recent first.
#[tauri::command(rename_all = "snake_case")]
async fn recent_servers(
    desktop: State<'_, DesktopHandle>,
) -> Result<Vec<RecentServer>, CommandError> {
    desktop.recent_servers().await
}

/// Rooms hosted on the LAN, found by mDNS.
#[tauri::command(rename_all = "snake_case")]
async fn lan_rooms(desktop: State<'_, DesktopHandle>) -> Result<Vec<LanRoom>, CommandError> {
    desktop.lan_rooms().await
}

/// Posts a chat message (a text channel id, or `@name` for a DM).
#[tauri::command(rename_all = "snake_case")]
async fn send_chat(
    desktop: State<'_, DesktopHandle>,
    channel: String,
    client_id: String,
    text: String,
    reply_to: Option<MessageId>,
    image: Option<Image>,
) -> Result<(), CommandError> {
    desktop
        .send_chat(channel, client_id, text, reply_to, image)
        .await
}

/// Edits one of our messages.
#[tauri::command(rename_all = "snake_case")]
async fn edit_chat(
    desktop: State<'_, DesktopHandle>,
    id: MessageId,
    text: String,
) -> Result<(), CommandError> {
    desktop.edit_chat(id, text).await
}

/// Deletes a message.
#[tauri::command(rename_all = "snake_case")]
async fn delete_chat(desktop: State<'_, DesktopHandle>, id: MessageId) -> Result<(), CommandError> {
    desktop.delete_chat(id).await
}

/// Adds a reaction.
#[tauri::command(rename_all = "snake_case")]
async fn react_add(
    desktop: State<'_, DesktopHandle>,
    id: MessageId,
    emoji: String,
) -> Result<(), CommandError> {
    desktop.react_add(id, emoji).await
}

/// Removes our reaction.
#[tauri::command(rename_all = "snake_case")]
async fn react_remove(
    desktop: State<'_, DesktopHandle>,
    id: MessageId,
    emoji: String,
) -> Result<(), CommandError> {
    desktop.react_remove(id, emoji).await
}

/// Says we are typing.
#[tauri::command(rename_all = "snake_case")]
async fn typing(desktop: State<'_, DesktopHandle>, channel: String) -> Result<(), CommandError> {
    desktop.typing(channel).await
}

/// Asks for an older page of history.
#[tauri::command(rename_all = "snake_case")]
async fn history_get(
    desktop: State<'_, DesktopHandle>,
    channel: String,
    before: Option<MessageId>,
) -> Result<(), CommandError> {
    desktop.history_get(channel, before).await
}

/// Sets presence and status text.
#[tauri::command(rename_all = "snake_case")]
async fn set_presence(
    desktop: State<'_, DesktopHandle>,
    presence: Presence,
    status_text: Option<String>,
) -> Result<(), CommandError> {
    desktop.set_presence(presence, status_text).await
}

/// Joins a voice channel.
#[tauri::command(rename_all = "snake_case")]
async fn voice_join(
    desktop: State<'_, DesktopHandle>,
    channel: String,
) -> Result<(), CommandError> {
    desktop.voice_join(channel).await
}

/// Leaves the voice channel.
#[tauri::command(rename_all = "snake_case")]
async fn voice_leave(desktop: State<'_, DesktopHandle>) -> Result<(), CommandError> {
    desktop.voice_leave().await
}

/// Mutes or unmutes our microphone.
#[tauri::command(rename_all = "snake_case")]
async fn set_muted(desktop: State<'_, DesktopHandle>, muted: bool) -> Result<(), CommandError> {
    desktop.set_muted(muted).await
}

/// Deafens or undeafens.
#[tauri::command(rename_all = "snake_case")]
async fn set_deafened(
    desktop: State<'_, DesktopHandle>,
    deafened: bool,
) -> Result<(), CommandError> {
    desktop.set_deafened(deafened).await
}

/// The push-to-talk key went down or up (inside the window).
#[tauri::command(rename_all = "snake_case")]
async fn push_to_talk(
    desktop: State<'_, DesktopHandle>,
    pressed: bool,
) -> Result<(), CommandError> {
    desktop.push_to_talk(pressed).await
}

/// How loud a member plays for us, 0 to 2.
#[tauri::command(rename_all = "snake_case")]
async fn set_member_volume(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
    volume: f32,
) -> Result<(), CommandError> {
    desktop.set_member_volume(member, volume).await
}

/// Silences a member for us only.
#[tauri::command(rename_all = "snake_case")]
async fn set_member_local_mute(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
    muted: bool,
) -> Result<(), CommandError> {
    desktop.set_member_local_mute(member, muted).await
}

/// Turns our camera on.
#[tauri::command(rename_all = "snake_case")]
async fn camera_on(desktop: State<'_, DesktopHandle>) -> Result<(), CommandError> {
    desktop.camera_on().await
}

/// Turns our camera off.
#[tauri::command(rename_all = "snake_case")]
async fn camera_off(desktop: State<'_, DesktopHandle>) -> Result<(), CommandError> {
    desktop.camera_off().await
}

/// Watches a member's camera.
#[tauri::command(rename_all = "snake_case")]
async fn camera_open(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
) -> Result<(), CommandError> {
    desktop.camera_open(member).await
}

/// Stops watching a member's camera.
#[tauri::command(rename_all = "snake_case")]
async fn camera_close(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
) -> Result<(), CommandError> {
    desktop.camera_close(member).await
}

/// Removes a watcher from our camera.
#[tauri::command(rename_all = "snake_case")]
async fn camera_boot(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
) -> Result<(), CommandError> {
    desktop.camera_boot(member).await
}

/// Operator: disconnects a member.
#[tauri::command(rename_all = "snake_case")]
async fn kick(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
    reason: Option<String>,
) -> Result<(), CommandError> {
    desktop.kick(member, reason).await
}

/// Operator: bans a member.
#[tauri::command(rename_all = "snake_case")]
async fn ban(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
    reason: Option<String>,
) -> Result<(), CommandError> {
    desktop.ban(member, reason).await
}

/// Operator: mutes or unmutes a member for everyone.
#[tauri::command(rename_all = "snake_case")]
async fn server_mute(
    desktop: State<'_, DesktopHandle>,
    member: MemberId,
    muted: bool,
) -> Result<(), CommandError> {
    desktop.server_mute(member, muted).await
}

/// Operator: locks or unlocks the room.
#[tauri::command(rename_all = "snake_case")]
async fn lock(desktop: State<'_, DesktopHandle>, locked: bool) -> Result<(), CommandError> {
    desktop.lock(locked).await
}

/// Starts the embedded server.
#[tauri::command(rename_all = "snake_case")]
async fn host_start(
    desktop: State<'_, DesktopHandle>,
    config: HostConfig,
) -> Result<HostStatus, CommandError> {
    desktop.host_start(config).await
}

/// Stops the embedded server; the port is closed when this returns.
#[tauri::command(rename_all = "snake_case")]
async fn host_stop(desktop: State<'_, DesktopHandle>) -> Result<HostStatus, CommandError> {
    desktop.host_stop().await
}

/// Whether the embedded server runs, and where.
#[tauri::command(rename_all = "snake_case")]
async fn host_status(desktop: State<'_, DesktopHandle>) -> Result<HostStatus, CommandError> {
    desktop.host_status().await
}

/// The settings.
#[tauri::command(rename_all = "snake_case")]
async fn get_settings(desktop: State<'_, DesktopHandle>) -> Result<Settings, CommandError> {
    desktop.get_settings().await
}

/// Replaces the settings; returns what was stored. The push-to-talk key follows at once.
#[tauri::command(rename_all = "snake_case")]
async fn set_settings(
    desktop: State<'_, DesktopHandle>,
    changed: State<'_, SettingsChanged>,
    settings: Settings,
) -> Result<Settings, CommandError> {
    let stored = desktop.set_settings(settings).await?;
    (changed.0)(&stored);
    Ok(stored)
}

/// What the shell does when the settings change (the push-to-talk key follows them). A
/// closure, because commands cannot be generic over the runtime the way `setup` is.
struct SettingsChanged(Box<dyn Fn(&Settings) + Send + Sync>);

/// The microphones, speakers and cameras present.
#[tauri::command(rename_all = "snake_case")]
async fn list_devices(desktop: State<'_, DesktopHandle>) -> Result<DeviceList, CommandError> {
    desktop.list_devices().await
}

/// Plays a short tone on the chosen speaker.
#[tauri::command(rename_all = "snake_case")]
async fn play_test_sound(desktop: State<'_, DesktopHandle>) -> Result<(), CommandError> {
    desktop.play_test_sound().await
}

/// Sends `input_level` events outside voice while on (the settings screen's meter).
#[tauri::command(rename_all = "snake_case")]
async fn mic_test(desktop: State<'_, DesktopHandle>, on: bool) -> Result<(), CommandError> {
    desktop.mic_test(on).await
}

/// Sends every AppEvent from now on to `channel`, in order.
#[tauri::command(rename_all = "snake_case")]
async fn subscribe_events(
    events: State<'_, EventChannels>,
    channel: Channel<AppEvent>,
) -> Result<(), CommandError> {
    events.send(Subscription::Add(channel)).await
}

/// Stops sending events to the channel with this id.
#[tauri::command(rename_all = "snake_case")]
async fn unsubscribe_events(
    events: State<'_, EventChannels>,
    channel: u32,
) -> Result<(), CommandError> {
    events.send(Subscription::Remove(channel)).await
}

/// Sends every video frame from now on to `channel`, as raw bytes (docs/ipc.md).
#[tauri::command(rename_all = "snake_case")]
async fn subscribe_frames(
    events: State<'_, EventChannels>,
    channel: Channel<InvokeResponseBody>,
) -> Result<(), CommandError> {
    events.send(Subscription::AddFrames(channel)).await
}

/// Stops sending frames to the channel with this id.
#[tauri::command(rename_all = "snake_case")]
async fn unsubscribe_frames(
    events: State<'_, EventChannels>,
    channel: u32,
) -> Result<(), CommandError> {
    events.send(Subscription::RemoveFrames(channel)).await
}

enum Subscription {
    Add(Channel<AppEvent>),
    Remove(u32),
    AddFrames(Channel<InvokeResponseBody>),
    RemoveFrames(u32),
    /// An event the shell raises itself (a deep link), sent like the core's.
    Raise(Box<AppEvent>),
}

/// The webview's event channels, owned by the task that forwards the core's events.
#[derive(Clone)]
struct EventChannels(mpsc::Sender<Subscription>);

impl EventChannels {
    async fn send(&self, subscription: Subscription) -> Result<(), CommandError> {
        self.0
            .send(subscription)
            .await
            .map_err(|_| CommandError::new("shutting_down", "Hearth is shutting down."))
    }
}

/// Sends each of the core's events and video frames to every channel subscribed to them; a
/// channel whose webview is gone is dropped. `watch` sees every event first (the tray and
/// system notifications follow them). Ends when the core ends.
async fn forward_events(
    mut events: mpsc::UnboundedReceiver<AppEvent>,
    mut frames: mpsc::Receiver<Vec<u8>>,
    mut subscriptions: mpsc::Receiver<Subscription>,
    watch: impl Fn(&AppEvent) + Send + 'static,
) {
    let mut channels: Vec<Channel<AppEvent>> = Vec::new();
    let mut frame_channels: Vec<Channel<InvokeResponseBody>> = Vec::new();
    // A deep link can arrive before the UI has subscribed (the app was started by one); it
    // waits here for the first subscriber instead of being lost.
    let mut raised_early: Vec<AppEvent> = Vec::new();
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                watch(&event);
                channels.retain(|channel| channel.send(event.clone()).is_ok());
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                frame_channels
                    .retain(|channel| channel.send(InvokeResponseBody::Raw(frame.clone())).is_ok());
            }
            subscription = subscriptions.recv() => match subscription {
                Some(Subscription::Add(channel)) => {
                    for event in raised_early.drain(..) {
                        let _ = channel.send(event);
                    }
                    channels.push(channel);
                }
                Some(Subscription::Raise(event)) if channels.is_empty() => raised_early.push(*event),
                Some(Subscription::Raise(event)) => {
                    channels.retain(|channel| channel.send((*event).clone()).is_ok());
                }
                Some(Subscription::Remove(id)) => channels.retain(|c| c.id() != id),
                Some(Subscription::AddFrames(channel)) => frame_channels.push(channel),
                Some(Subscription::RemoveFrames(id)) => frame_channels.retain(|c| c.id() != id),
                None => break,
            },
        }
    }
}

/// The app's Tauri context, from tauri.conf.json. Generic so tests can use the mock runtime
/// with the real configuration and capabilities.
fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// LAN discovery for the app: on, on every interface, unless `HEARTH_LAN_DISCOVERY=0` (the
/// real-app tests run outside a network namespace and must not multicast).
fn lan_discovery() -> Option<LanInterfaces> {
    let off = std::env::var("HEARTH_LAN_DISCOVERY").is_ok_and(|v| v == "0");
    (!off).then_some(LanInterfaces::All)
}

/// Everything the app adds to a Tauri builder: commands and the app core, with LAN discovery
/// where `lan` says.
fn setup<R: Runtime>(builder: tauri::Builder<R>, lan: Option<LanInterfaces>) -> tauri::Builder<R> {
    builder
        .invoke_handler(tauri::generate_handler![
            connect,
            disconnect,
            recent_servers,
            lan_rooms,
            send_chat,
            edit_chat,
            delete_chat,
            react_add,
            react_remove,
            typing,
            history_get,
            set_presence,
            voice_join,
            voice_leave,
            set_muted,
            set_deafened,
            push_to_talk,
            set_member_volume,
            set_member_local_mute,
            camera_on,
            camera_off,
            camera_open,
            camera_close,
            camera_boot,
            kick,
            ban,
            server_mute,
            lock,
            host_start,
            host_stop,
            host_status,
            get_settings,
            set_settings,
            list_devices,
            play_test_sound,
            mic_test,
            subscribe_events,
            unsubscribe_events,
            subscribe_frames,
            unsubscribe_frames,
        ])
        .setup(move |app| {
            let config = DesktopConfig {
                config_dir: dir(app.path().app_config_dir(), "settings"),
                data_dir: dir(app.path().app_data_dir(), "hosted chat history")
                    .map(|d| d.join("server")),
                // For demos and the real-app tests on machines without a camera.
                camera: if std::env::var_os("HEARTH_TEST_CAMERA").is_some() {
                    CameraKind::TestPattern
                } else {
                    CameraKind::Device
                },
                // The same for sound on machines without a microphone.
                audio: if std::env::var_os("HEARTH_TEST_AUDIO").is_some() {
                    AudioKind::Synthetic
                } else {
                    AudioKind::Devices
                },
                lan_discovery: lan.clone(),
                ..DesktopConfig::default()
            };
            // The core's tasks run on Tauri's runtime, which lives as long as the app.
            let desktop = tauri::async_runtime::block_on(async { Desktop::spawn(config) });
            let (subscriptions, subscriptions_rx) = mpsc::channel(16);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(forward_events(
                desktop.events,
                desktop.frames,
                subscriptions_rx,
                move |event| {
                    notify::on_event(&handle, event);
                    tray::on_event(&handle, event);
                },
            ));
            app.manage(EventChannels(subscriptions));
            let handle = app.handle().clone();
            app.manage(SettingsChanged(Box::new(move |settings| {
                shortcut::follow_settings(&handle, settings)
            })));
            app.manage(desktop.handle);
            Ok(())
        })
}

/// Sends every hearth:// link the app is asked to open to the UI: the one it was started
/// with, and those later starts hand over.
fn deep_links(app: &tauri::AppHandle) {
    use tauri_plugin_deep_link::DeepLinkExt as _;
    let Some(events) = app.try_state::<EventChannels>() else {
        return;
    };
    let raise = {
        let events = events.inner().clone();
        move |url: String| {
            let events = events.clone();
            tauri::async_runtime::spawn(async move {
                let _ = events
                    .send(Subscription::Raise(Box::new(AppEvent::DeepLink { url })))
                    .await;
            });
        }
    };
    let deep_link = app.deep_link();
    if let Ok(Some(urls)) = deep_link.get_current() {
        urls.into_iter().for_each(|url| raise(url.to_string()));
    }
    deep_link.on_open_url(move |event| {
        event
            .urls()
            .into_iter()
            .for_each(|url| raise(url.to_string()));
    });
}

/// A directory Tauri found for us, or `None` (and a warning) if it found none: the app then
/// keeps that data in memory only.
fn dir(found: tauri::Result<PathBuf>, what: &str) -> Option<PathBuf> {
    match found {
        Ok(dir) => Some(dir),
        Err(e) => {
            tracing::warn!(error = %e, "no directory for {what}; kept in memory only");
            None
        }
    }
}

/// Runs the app until its window is closed.
pub fn run() -> anyhow::Result<()> {
    // The plugins that talk to the desktop (D-Bus, the tray, global keys) are added here
    // rather than in `setup`, so the mock-runtime tests, which run many apps in one process,
    // stay out of the user's session.
    let builder = tauri::Builder::default()
        // First, as its documentation asks: a second start hands its arguments (a hearth://
        // link, via the deep-link plugin) to this instance and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(shortcut::plugin());
    let app = setup(builder, lan_discovery())
        .build(context())
        .context("could not create the Hearth window")?;
    app.run(|app, event| {
        if let RunEvent::Ready = event {
            deep_links(app);
            tray::create(app);
            if let Some(desktop) = app.try_state::<DesktopHandle>() {
                let desktop = desktop.inner().clone();
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    if let Ok(settings) = desktop.get_settings().await {
                        shortcut::follow_settings(&app, &settings);
                    }
                });
            }
        }
        // Leave the room and give a hosted server's clients their shutdown notice before the
        // process ends; the runtime would otherwise drop the server mid-write. No core means
        // setup never ran, so there is nothing to stop.
        if let (RunEvent::Exit, Some(desktop)) = (event, app.try_state::<DesktopHandle>()) {
            let desktop = desktop.inner().clone();
            let _ = tauri::async_runtime::block_on(async {
                let _ = desktop.host_stop().await;
                desktop.shutdown().await
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::time::Duration;

    use serde_json::{Value, json};
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
    use tauri::utils::config::AppDirectoriesOverride;
    use tauri::webview::InvokeRequest;
    use tauri::{App, WebviewWindow};

    use super::*;

    /// The real app (config, capabilities, commands) on the mock runtime, with its data
    /// directories in `dir` instead of the user's.
    fn app(dir: &std::path::Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
        let mut context = context::<MockRuntime>();
        context.config_mut().app.app_directories_override =
            Some(AppDirectoriesOverride::Root(dir.to_path_buf()));
        // No LAN discovery: these tests run on the machine's own network.
        let mut app = setup(mock_builder(), None)
            .build(context)
            .expect("build app");
        // Tauri runs setup (config windows, then ours, which starts the host task) on the
        // first turn of the event loop, not in build(). The deprecation warns against calling
        // this in a loop; one call is exactly what is needed here.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let window = app
            .get_webview_window("main")
            .expect("the config's main window");
        (app, window)
    }

    fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                // The origin the ACL expects from the bundled UI on Linux and macOS.
                url: if cfg!(windows) {
                    "http://tauri.localhost"
                } else {
                    "tauri://localhost"
                }
                .parse()
                .unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().expect("json response"))
    }

    fn host_config(port: u16, password: Option<&str>) -> Value {
        json!({"config": {"port": port, "room_name": "party", "password": password, "channels": []}})
    }

    fn connects(port: u16) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
    }

    /// The command names the UI calls (`COMMANDS` in ui/src/ipc/backend.ts).
    fn ui_commands() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/src/ipc/backend.ts");
        let text = std::fs::read_to_string(path).expect("read backend.ts");
        let start = text
            .find("export const COMMANDS = [")
            .expect("COMMANDS in backend.ts");
        let end = start + text[start..].find("]").expect("end of COMMANDS");
        text[start..end]
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// Every command the UI calls is registered; the test fails when either side changes
    /// without the other.
    #[test]
    fn the_shell_registers_every_command_the_ui_calls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = app(dir.path());
        let commands = ui_commands();
        assert!(commands.len() > 30, "read {commands:?}");
        let missing: Vec<&str> = commands
            .iter()
            .filter(|name| {
                // Calling with no arguments: a registered command answers (or complains about
                // its arguments); an unknown one says it was not found.
                let answer = invoke(&window, name, json!({}));
                answer.is_err_and(|e| e.to_string().contains("not found"))
            })
            .map(String::as_str)
            .collect();
        assert_eq!(
            missing,
            Vec::<&str>::new(),
            "commands the UI calls that the shell does not register"
        );
    }

    #[test]
    fn start_and_stop_through_the_commands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = app(dir.path());

        assert_eq!(
            invoke(&window, "host_status", json!({})),
            Ok(json!({"state": "off", "last_error": null}))
        );
        assert_eq!(
            invoke(&window, "lan_rooms", json!({})),
            Ok(json!([])),
            "discovery off lists nothing"
        );

        let started =
            invoke(&window, "host_start", host_config(0, Some("open sesame"))).expect("host_start");
        assert_eq!(started["state"], "on", "{started}");
        assert_eq!(started["password_protected"], true, "{started}");
        assert_eq!(started["room_name"], "party", "{started}");
        let port = started["port"].as_u64().expect("port") as u16;
        assert_ne!(port, 0);
        assert!(
            started["join_link"]
                .as_str()
                .and_then(|l| l.split_once("#fp="))
                .is_some_and(|(l, pin)| l.starts_with("https://")
                    && l.ends_with(&format!(":{port}/party"))
                    && pin.len() == 64),
            "{started}"
        );
        assert!(
            connects(port),
            "nothing accepts connections on the reported port {port}"
        );
        assert!(
            dir.path().join("server").is_dir(),
            "the data dir follows the app's data dir"
        );

        // The host joins their own room through the same command as anyone.
        invoke(
            &window,
            "connect",
            json!({"address": format!("127.0.0.1:{port}/party"), "name": "hostess", "password": "open sesame"}),
        )
        .expect("connect to our own server");
        let settings = invoke(&window, "get_settings", json!({})).expect("get_settings");
        assert_eq!(settings["display_name"], "hostess", "{settings}");
        let recent = invoke(&window, "recent_servers", json!({})).expect("recent_servers");
        assert_eq!(
            recent[0]["address"],
            format!("127.0.0.1:{port}/party"),
            "{recent}"
        );
        invoke(
            &window,
            "send_chat",
            json!({"channel": "general", "client_id": "c-1", "text": "hello", "reply_to": null, "image": null}),
        )
        .expect("send_chat");
        let bad = invoke(
            &window,
            "connect",
            json!({"address": "ftp://x", "name": "a", "password": null}),
        )
        .expect_err("a bad address");
        assert_eq!(bad["code"], "bad_address", "{bad}");

        let again = invoke(&window, "host_start", host_config(0, None)).expect_err("second start");
        assert_eq!(again["code"], "already_running", "{again}");
        assert!(again["message"].as_str().is_some_and(|m| !m.is_empty()));

        let stopped = invoke(&window, "host_stop", json!({})).expect("host_stop");
        assert_eq!(stopped, json!({"state": "off", "last_error": null}));
        assert!(
            !connects(port),
            "port {port} still accepts connections after stop"
        );

        let idle = invoke(&window, "host_stop", json!({})).expect_err("stop while stopped");
        assert_eq!(idle["code"], "not_running", "{idle}");
    }

    #[test]
    fn a_busy_port_is_an_error_object_in_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = app(dir.path());
        let taken = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();

        let err = invoke(&window, "host_start", host_config(port, None)).expect_err("busy port");
        assert_eq!(err["code"], "port_in_use", "{err}");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.contains(&port.to_string())),
            "{err}"
        );
    }
}
