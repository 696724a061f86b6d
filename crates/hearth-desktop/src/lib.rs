//! Hearth's desktop app without its window.
//!
//! The Tauri shell (the root package) stays thin: each of its commands forwards to a
//! [`DesktopHandle`] method, and it passes the [`ipc::AppEvent`]s this crate produces to the
//! webview. What the app does — the connection to a room, chat, moderation, the embedded
//! server, settings and recent servers — is here, so tests drive exactly what the window
//! drives.
//!
//! With [`DesktopConfig::lan_discovery`] on, the core also lists the rooms hosted on the LAN
//! (mDNS, through hearth-discovery) and advertises the room it hosts.
//!
//! One task, [`Desktop`]'s, owns all of that state. Commands reach it through a
//! [`DesktopHandle`] and are answered in order; what happens afterwards (a message arriving,
//! the connection dropping) comes out as [`ipc::AppEvent`]s on one stream.
#![deny(missing_docs)]

pub mod address;
mod convert;
pub mod devices;
pub mod frame;
pub mod host;
pub mod ipc;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_client::core::{CloseReason, Command, Event};
use hearth_client::{Client, ClientHandle, ClientOptions, Trust};
use hearth_media::video::{
    CameraChoice, CameraSource, FrameSlot, I420Frame, TestPattern, VideoFormat, VideoSource,
};
use hearth_media::{CaptureConfig, FrameDuration, Silence, Sine, TransmitMode};
use hearth_peer::PeerConfig;
use hearth_video::{VideoConfig, VideoEvent, VideoHandle, VideoSession};
use hearth_voice::{AudioInput, AudioOutput, VoiceConfig, VoiceEvent, VoiceHandle, VoiceSession};
use hearth_wire::{ClientMsg, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use hearth_discovery::Interfaces as LanInterfaces;

use crate::host::{Host, HostHandle, HostSpec};
use crate::ipc::{AppEvent, CommandError, ConnectionStatus, MemberId, MessageId};
use crate::store::Store;

/// How long the first connection to a server may take before the user is told it failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands waiting for the task.
const CONTROL_QUEUE: usize = 64;
/// Encoded frames waiting for the webview. A slow webview loses frames here rather than
/// falling behind: the newest frame wins.
const FRAME_QUEUE: usize = 8;
/// How often an opened camera's slot is looked at: well above any camera's frame rate, and
/// nothing is done when the slot is empty.
const FRAME_POLL: Duration = Duration::from_millis(5);

/// Where `camera_on` gets its pictures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CameraKind {
    /// The camera chosen in the settings (nokhwa).
    #[default]
    Device,
    /// The moving test pattern with frame numbers in its pixels (tests, demos).
    TestPattern,
}

/// How often the microphone level is sent to the UI while in voice (a meter needs ~20 Hz).
const LEVEL_INTERVAL: Duration = devices::LEVEL_INTERVAL;
/// Our own camera's preview rate: enough for a small tile to look live, half the bytes of
/// sending every frame of a 30 fps camera to the webview.
const PREVIEW_FPS: u64 = 15;

/// Where voice gets and puts its sound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AudioKind {
    /// The microphone and speaker chosen in the settings (cpal).
    #[default]
    Devices,
    /// A 440 Hz tone in, nothing out (tests, machines without sound).
    Synthetic,
    /// Silence in, nothing out (tests: a microphone in a quiet room).
    Silent,
}

/// Where the app keeps its files, and how it reaches others.
#[derive(Debug, Clone, Default)]
pub struct DesktopConfig {
    /// Settings and recent servers (the OS config directory); `None` keeps them in memory.
    pub config_dir: Option<PathBuf>,
    /// The hosted server's chat history (the OS data directory); `None` keeps it in memory.
    pub data_dir: Option<PathBuf>,
    /// WebRTC settings for camera connections (tests use `PeerConfig::loopback()`).
    pub peer: PeerConfig,
    /// The camera source.
    pub camera: CameraKind,
    /// The sound devices.
    pub audio: AudioKind,
    /// Where to look for rooms on the LAN and advertise the hosted one by mDNS; `None` (the
    /// default) sends no multicast at all, which is what tests outside a network namespace
    /// need.
    pub lan_discovery: Option<LanInterfaces>,
}

/// A running app core: its handle, its event stream and its task.
pub struct Desktop {
    /// Commands to the core; cheap to clone.
    pub handle: DesktopHandle,
    /// Everything the UI should know, in order.
    pub events: mpsc::UnboundedReceiver<AppEvent>,
    /// Video frames of the cameras we watch, in the webview's binary layout (`frame.rs`).
    pub frames: mpsc::Receiver<Vec<u8>>,
    /// The core's task; it ends after [`DesktopHandle::shutdown`] or when every handle is
    /// dropped.
    pub task: JoinHandle<()>,
}

type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

enum Control {
    Connect {
        address: String,
        name: String,
        password: Option<String>,
        reply: Reply<()>,
    },
    Disconnect(Reply<()>),
    Room(Command, Reply<()>),
    VoiceJoin(String, Reply<()>),
    VoiceLeave(Reply<()>),
    SetMuted(bool, Reply<()>),
    SetDeafened(bool, Reply<()>),
    PushToTalk(bool, Reply<()>),
    MemberVolume(MemberId, f32, Reply<()>),
    MemberLocalMute(MemberId, bool, Reply<()>),
    CameraOn(Reply<()>),
    CameraOff(Reply<()>),
    CameraOpen(MemberId, Reply<()>),
    CameraClose(MemberId, Reply<()>),
    CameraBoot(MemberId, Reply<()>),
    RecentServers(Reply<Vec<ipc::RecentServer>>),
    LanRooms(Reply<Vec<ipc::LanRoom>>),
    HostStart(ipc::HostConfig, Reply<ipc::HostStatus>),
    HostStop(Reply<ipc::HostStatus>),
    HostStatus(Reply<ipc::HostStatus>),
    GetSettings(Reply<ipc::Settings>),
    ListDevices(Reply<ipc::DeviceList>),
    VoiceStats(Reply<hearth_voice::VoiceStats>),
    MicTest(bool, Reply<()>),
    PlayTestSound(Reply<()>),
    SetSettings(Box<ipc::Settings>, Reply<ipc::Settings>),
    Shutdown,
}

/// Commands to a running [`Desktop`]; each method is one command of the UI contract
/// (`ui/src/ipc/backend.ts`) and resolves once the core has accepted it. Effects arrive as
/// events.
#[derive(Clone)]
pub struct DesktopHandle {
    control: mpsc::Sender<Control>,
}

fn gone() -> CommandError {
    CommandError::new("shutting_down", "Hearth is shutting down.")
}

impl DesktopHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.control.send(make(reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    async fn room(&self, command: Command) -> Result<(), CommandError> {
        self.ask(|reply| Control::Room(command, reply)).await
    }

    /// Joins a room: `address` is `host[:port][/room]`, optionally behind `ws://` or
    /// `hearth://`. Resolves once in the room; fails in words when the server cannot be
    /// reached or refuses. Leaves the current room first.
    pub async fn connect(
        &self,
        address: String,
        name: String,
        password: Option<String>,
    ) -> Result<(), CommandError> {
        self.ask(|reply| Control::Connect {
            address,
            name,
            password,
            reply,
        })
        .await
    }

    /// Leaves the room.
    pub async fn disconnect(&self) -> Result<(), CommandError> {
        self.ask(Control::Disconnect).await
    }

    /// Servers joined before, most recent first.
    pub async fn recent_servers(&self) -> Result<Vec<ipc::RecentServer>, CommandError> {
        self.ask(Control::RecentServers).await
    }

    /// The rooms found on the LAN now, by name (empty with discovery off); changes arrive as
    /// `lan_rooms` events.
    pub async fn lan_rooms(&self) -> Result<Vec<ipc::LanRoom>, CommandError> {
        self.ask(Control::LanRooms).await
    }

    /// Posts a message to a text channel, or to `@name` for a DM. Kept and resent across
    /// reconnects until the server acknowledges it.
    pub async fn send_chat(
        &self,
        channel: String,
        client_id: String,
        text: String,
        reply_to: Option<MessageId>,
        image: Option<ipc::Image>,
    ) -> Result<(), CommandError> {
        self.room(Command::SendChat {
            client_id,
            channel,
            text,
            reply_to,
            image: image.map(convert::image_to_wire),
        })
        .await
    }

    /// Replaces the text of one of our messages.
    pub async fn edit_chat(&self, id: MessageId, text: String) -> Result<(), CommandError> {
        self.room(Command::EditChat { id, text }).await
    }

    /// Deletes a message (ours, or anyone's for an operator).
    pub async fn delete_chat(&self, id: MessageId) -> Result<(), CommandError> {
        self.room(Command::DeleteChat { id }).await
    }

    /// Adds a reaction.
    pub async fn react_add(&self, id: MessageId, emoji: String) -> Result<(), CommandError> {
        self.room(Command::React { id, emoji }).await
    }

    /// Removes our reaction.
    pub async fn react_remove(&self, id: MessageId, emoji: String) -> Result<(), CommandError> {
        self.room(Command::Unreact { id, emoji }).await
    }

    /// Says we are typing in `channel`.
    pub async fn typing(&self, channel: String) -> Result<(), CommandError> {
        self.room(Command::Typing { channel }).await
    }

    /// Asks for the page of history before `before` (`None`: the newest).
    pub async fn history_get(
        &self,
        channel: String,
        before: Option<MessageId>,
    ) -> Result<(), CommandError> {
        self.room(Command::LoadHistory {
            channel,
            before,
            limit: None,
        })
        .await
    }

    /// Sets presence and status text.
    pub async fn set_presence(
        &self,
        presence: ipc::Presence,
        status_text: Option<String>,
    ) -> Result<(), CommandError> {
        self.room(Command::SetPresence {
            presence: convert::presence_to_wire(presence),
            status_text,
        })
        .await
    }

    /// Joins a voice channel: opens the microphone and speaker of the settings and calls
    /// everyone in the channel. Fails in words when a device cannot be opened.
    pub async fn voice_join(&self, channel: String) -> Result<(), CommandError> {
        self.ask(|reply| Control::VoiceJoin(channel, reply)).await
    }

    /// Leaves the voice channel and closes the devices.
    pub async fn voice_leave(&self) -> Result<(), CommandError> {
        self.ask(Control::VoiceLeave).await
    }

    /// Mutes or unmutes our microphone (remembered across channels and reconnects).
    pub async fn set_muted(&self, muted: bool) -> Result<(), CommandError> {
        self.ask(|reply| Control::SetMuted(muted, reply)).await
    }

    /// Deafens (no sound in, none out) or undeafens.
    pub async fn set_deafened(&self, deafened: bool) -> Result<(), CommandError> {
        self.ask(|reply| Control::SetDeafened(deafened, reply))
            .await
    }

    /// The push-to-talk key went down (true) or up; only matters with push-to-talk on.
    pub async fn push_to_talk(&self, pressed: bool) -> Result<(), CommandError> {
        self.ask(|reply| Control::PushToTalk(pressed, reply)).await
    }

    /// How loud a member plays for us: 0 to 2, 1 unchanged.
    pub async fn set_member_volume(
        &self,
        member: MemberId,
        volume: f32,
    ) -> Result<(), CommandError> {
        if !(0.0..=2.0).contains(&volume) {
            return Err(CommandError::new(
                "invalid",
                "A member's volume goes from 0 to 2 (1 is unchanged).",
            ));
        }
        self.ask(|reply| Control::MemberVolume(member, volume, reply))
            .await
    }

    /// Silences a member for us only.
    pub async fn set_member_local_mute(
        &self,
        member: MemberId,
        muted: bool,
    ) -> Result<(), CommandError> {
        self.ask(|reply| Control::MemberLocalMute(member, muted, reply))
            .await
    }

    /// Turns our camera on (the one in the settings, at their resolution): members who
    /// open it get video. Fails in words when the camera cannot be opened.
    pub async fn camera_on(&self) -> Result<(), CommandError> {
        self.ask(Control::CameraOn).await
    }

    /// Turns our camera off; every watcher's stream stops.
    pub async fn camera_off(&self) -> Result<(), CommandError> {
        self.ask(Control::CameraOff).await
    }

    /// Watches a member's camera: its frames come out of [`Desktop::frames`].
    pub async fn camera_open(&self, member: MemberId) -> Result<(), CommandError> {
        self.ask(|reply| Control::CameraOpen(member, reply)).await
    }

    /// Stops watching a member's camera.
    pub async fn camera_close(&self, member: MemberId) -> Result<(), CommandError> {
        self.ask(|reply| Control::CameraClose(member, reply)).await
    }

    /// Removes a watcher from our camera; they cannot reopen it until it is turned on again.
    pub async fn camera_boot(&self, member: MemberId) -> Result<(), CommandError> {
        self.ask(|reply| Control::CameraBoot(member, reply)).await
    }

    /// Operator: disconnects a member.
    pub async fn kick(&self, member: MemberId, reason: Option<String>) -> Result<(), CommandError> {
        self.room(Command::Raw(ClientMsg::Kick { member, reason }))
            .await
    }

    /// Operator: disconnects a member and refuses them until unbanned.
    pub async fn ban(&self, member: MemberId, reason: Option<String>) -> Result<(), CommandError> {
        self.room(Command::Raw(ClientMsg::Ban { member, reason }))
            .await
    }

    /// Operator: mutes or unmutes a member for everyone.
    pub async fn server_mute(&self, member: MemberId, muted: bool) -> Result<(), CommandError> {
        self.room(Command::Raw(ClientMsg::ServerMute { member, muted }))
            .await
    }

    /// Operator: locks or unlocks the room to newcomers.
    pub async fn lock(&self, locked: bool) -> Result<(), CommandError> {
        self.room(Command::Raw(ClientMsg::Lock { locked })).await
    }

    /// Starts the embedded server; the app then joins it like anyone else, as its operator.
    pub async fn host_start(
        &self,
        config: ipc::HostConfig,
    ) -> Result<ipc::HostStatus, CommandError> {
        self.ask(|reply| Control::HostStart(config, reply)).await
    }

    /// Stops the embedded server.
    pub async fn host_stop(&self) -> Result<ipc::HostStatus, CommandError> {
        self.ask(Control::HostStop).await
    }

    /// Whether the embedded server runs, and where.
    pub async fn host_status(&self) -> Result<ipc::HostStatus, CommandError> {
        self.ask(Control::HostStatus).await
    }

    /// The settings.
    pub async fn get_settings(&self) -> Result<ipc::Settings, CommandError> {
        self.ask(Control::GetSettings).await
    }

    /// Replaces the settings (checked, then saved); returns what was stored.
    pub async fn set_settings(
        &self,
        settings: ipc::Settings,
    ) -> Result<ipc::Settings, CommandError> {
        self.ask(|reply| Control::SetSettings(Box::new(settings), reply))
            .await
    }

    /// The microphones, speakers and cameras present, for the settings screen. Listing may
    /// take a while (it asks the sound server and the camera driver); the core goes on
    /// meanwhile.
    pub async fn list_devices(&self) -> Result<ipc::DeviceList, CommandError> {
        self.ask(Control::ListDevices).await
    }

    /// Turns the microphone test on or off: while on and outside a voice channel, the
    /// settings' microphone is open and its level comes out as `input_level` events. In a
    /// voice channel the call's own level is sent instead.
    pub async fn mic_test(&self, on: bool) -> Result<(), CommandError> {
        self.ask(|reply| Control::MicTest(on, reply)).await
    }

    /// Plays a short tone on the settings' speaker. Resolves once the speaker is open (or
    /// failed to open); the tone plays on for about a second.
    pub async fn play_test_sound(&self) -> Result<(), CommandError> {
        self.ask(Control::PlayTestSound).await
    }

    /// The running call's counters (packets sent and received, peers): diagnostics and
    /// tests, not part of the UI contract.
    pub async fn voice_stats(&self) -> Result<hearth_voice::VoiceStats, CommandError> {
        self.ask(Control::VoiceStats).await
    }

    /// Leaves the room, stops hosting and ends the task.
    pub async fn shutdown(&self) -> Result<(), CommandError> {
        self.control
            .send(Control::Shutdown)
            .await
            .map_err(|_| gone())
    }
}

/// The room we are in (or reconnecting to).
struct Connection {
    address: String,
    name: String,
    room: String,
    client: Client,
    handle: ClientHandle,
    server: Option<ipc::ServerInfo>,
    /// The camera session: our camera and the cameras we watch.
    video: VideoHandle,
    /// `None` once the session has ended (it only does when the connection goes).
    video_events: Option<mpsc::UnboundedReceiver<VideoEvent>>,
    /// Cameras we opened.
    cameras: BTreeMap<MemberId, OpenCamera>,
    camera_on: bool,
    /// Our own camera's preview, while it is on.
    preview: Option<OpenCamera>,
    watchers: Vec<MemberId>,
    /// The ICE servers the room gave us, for a voice session started later.
    ice_servers: Vec<hearth_wire::IceServer>,
    /// The voice session, while we are in a voice channel.
    voice: Option<Voice>,
    /// Members speaking now, from the room's `speaking` events.
    speaking: BTreeSet<MemberId>,
}

/// Being in a voice channel: the session that owns the devices and the calls.
struct Voice {
    channel: String,
    handle: VoiceHandle,
    events: Option<mpsc::UnboundedReceiver<VoiceEvent>>,
    level: tokio::time::Interval,
    input_level: f32,
}

/// A camera we watch: the slot the session puts its decoded frames in. Dropping it closes
/// the slot, which ends the task that hands its frames to the webview.
struct OpenCamera {
    slot: Arc<FrameSlot<I420Frame>>,
}

impl Drop for OpenCamera {
    fn drop(&mut self) {
        self.slot.close();
    }
}

struct Core {
    config: DesktopConfig,
    events: mpsc::UnboundedSender<AppEvent>,
    frames: mpsc::Sender<Vec<u8>>,
    store: Store,
    host: HostHandle,
    host_status: watch::Receiver<host::HostStatus>,
    host_room: Option<String>,
    /// The rooms on the LAN, while discovery is on.
    lan: Option<Lan>,
    connection: Option<Connection>,
    /// Our mute and deafen, kept across voice channels and connections.
    muted: bool,
    deafened: bool,
    /// The settings screen asked for the microphone test.
    mic_test_wanted: bool,
    /// The microphone test, while it runs (asked for and outside a voice channel).
    mic_test: Option<devices::MicTest>,
}

/// Browsing the LAN: the list the browser keeps, and what ends it (dropping it does too).
struct Lan {
    rooms: watch::Receiver<Vec<hearth_discovery::LanRoom>>,
    _stop: oneshot::Sender<()>,
}

impl Lan {
    /// Starts browsing; `None` (and a warning) when mDNS cannot start, as the app works
    /// without the list.
    fn start(interfaces: &LanInterfaces) -> Option<Lan> {
        let (stop, stopped) = oneshot::channel::<()>();
        let browser = hearth_discovery::Browser::start(interfaces, async move {
            let _ = stopped.await;
        })
        .inspect_err(|e| tracing::warn!(error = %e, "rooms on the LAN will not be listed"))
        .ok()?;
        Some(Lan {
            rooms: browser.subscribe(),
            _stop: stop,
        })
    }
}

/// Whether the LAN list changed (`false`: browsing ended); never, with discovery off.
async fn lan_changed(lan: &mut Option<Lan>) -> bool {
    match lan {
        Some(lan) => lan.rooms.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

impl Desktop {
    /// Starts the core (and its embedded-server task) on the current tokio runtime.
    pub fn spawn(config: DesktopConfig) -> Desktop {
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (events_tx, events) = mpsc::unbounded_channel();
        let (frames_tx, frames) = mpsc::channel(FRAME_QUEUE);
        let (host, host_task) = Host::new(config.data_dir.clone());
        tokio::spawn(host_task.with_lan(config.lan_discovery.clone()).run());
        let core = Core {
            events: events_tx,
            frames: frames_tx,
            store: Store::load(config.config_dir.clone()),
            host_status: host.subscribe(),
            host,
            host_room: None,
            lan: config.lan_discovery.as_ref().and_then(Lan::start),
            connection: None,
            muted: false,
            deafened: false,
            mic_test_wanted: false,
            mic_test: None,
            config,
        };
        let task = tokio::spawn(core.run(control_rx));
        Desktop {
            handle: DesktopHandle { control },
            events,
            frames,
            task,
        }
    }
}

/// The next item of `rx`, or never once it is gone (so a closed channel is not polled in a
/// loop).
async fn recv_or_wait<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What the connection had to say.
enum Wake {
    Client(Option<Event>),
    Video(Option<VideoEvent>),
    Voice(Option<VoiceEvent>),
    /// Time to send the microphone level.
    Level,
}

/// The voice session's next event or level tick; never, outside voice.
async fn next_voice_wake(voice: &mut Option<Voice>) -> Wake {
    match voice {
        Some(v) => tokio::select! {
            event = recv_or_wait(&mut v.events) => Wake::Voice(event),
            _ = v.level.tick() => Wake::Level,
        },
        None => std::future::pending().await,
    }
}

/// The next event of the connection or its camera session; never, without a connection.
async fn next_connection_event(connection: &mut Option<Connection>) -> Wake {
    match connection {
        Some(c) => tokio::select! {
            event = c.client.next_event() => Wake::Client(event),
            event = recv_or_wait(&mut c.video_events) => Wake::Video(event),
            wake = next_voice_wake(&mut c.voice) => wake,
        },
        None => std::future::pending().await,
    }
}

/// Hands `member`'s decoded frames (`None`: our own preview) to the webview until the slot is
/// closed. Only the newest frame is ever taken, and one the webview has no room for is
/// dropped.
async fn pump_frames(
    member: Option<MemberId>,
    slot: Arc<FrameSlot<I420Frame>>,
    frames: mpsc::Sender<Vec<u8>>,
) {
    let mut tick = tokio::time::interval(FRAME_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !slot.is_closed() {
        tick.tick().await;
        if let Some(frame) = slot.take()
            && let Err(mpsc::error::TrySendError::Closed(_)) =
                frames.try_send(frame::encode(member, &frame))
        {
            return;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Core {
    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        loop {
            tokio::select! {
                msg = control.recv() => match msg {
                    None | Some(Control::Shutdown) => break,
                    Some(msg) => self.on_control(msg).await,
                },
                wake = next_connection_event(&mut self.connection) => match wake {
                    Wake::Client(Some(event)) => self.handle_client_event(event).await,
                    // The client ended for good; its Closed event said why.
                    Wake::Client(None) => self.leave().await,
                    Wake::Video(Some(event)) => self.on_video_event(event),
                    // The camera session ends only with the connection, which is going.
                    Wake::Video(None) => {
                        if let Some(c) = &mut self.connection {
                            c.video_events = None;
                        }
                    }
                    Wake::Voice(Some(event)) => self.on_voice_event(event),
                    Wake::Voice(None) => {
                        if let Some(v) = self.connection.as_mut().and_then(|c| c.voice.as_mut()) {
                            v.events = None;
                        }
                    }
                    Wake::Level => self.send_level().await,
                },
                changed = self.host_status.changed() => {
                    if changed.is_ok() {
                        let status = self.host_status.borrow_and_update().clone();
                        self.on_host_status(status);
                    }
                }
                changed = lan_changed(&mut self.lan) => {
                    if changed {
                        let rooms = self.lan_rooms();
                        self.emit(AppEvent::LanRooms { rooms });
                    } else {
                        self.lan = None;
                    }
                }
            }
        }
        self.leave().await;
        let _ = self.host.stop().await;
    }

    fn emit(&self, event: AppEvent) {
        let _ = self.events.send(event);
    }

    fn status(&self, status: ConnectionStatus) {
        self.emit(AppEvent::Connection { status });
    }

    async fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Connect {
                address,
                name,
                password,
                reply,
            } => {
                let token = self.operator_token_for(&address).await;
                let result = self.connect(address, name, password, token).await;
                let _ = reply.send(result);
            }
            Control::Disconnect(reply) => {
                self.leave().await;
                self.status(ConnectionStatus::Disconnected);
                let _ = reply.send(Ok(()));
            }
            Control::Room(command, reply) => {
                let result = match &self.connection {
                    Some(c) => c.handle.send(command).await.map_err(|e| {
                        CommandError::new("not_connected", format!("Not in a room: {e}."))
                    }),
                    None => Err(not_connected()),
                };
                let _ = reply.send(result);
            }
            Control::VoiceJoin(channel, reply) => {
                let result = self.voice_join(channel).await;
                let _ = reply.send(result);
            }
            Control::VoiceLeave(reply) => {
                let result = self.voice_leave().await;
                let _ = reply.send(result);
            }
            Control::SetMuted(muted, reply) => {
                self.muted = muted;
                let result = self.apply_voice_state().await;
                let _ = reply.send(result);
            }
            Control::SetDeafened(deafened, reply) => {
                self.deafened = deafened;
                let result = self.apply_voice_state().await;
                let _ = reply.send(result);
            }
            Control::PushToTalk(pressed, reply) => {
                // Outside a call the key does nothing, as in any voice app.
                if let Ok(voice) = self.voice() {
                    let _ = voice.push_to_talk(pressed).await;
                }
                let _ = reply.send(Ok(()));
            }
            Control::MemberVolume(member, volume, reply) => {
                let result = match self.voice() {
                    Ok(voice) => voice
                        .set_user_volume(member, volume)
                        .await
                        .map_err(voice_error),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Control::MemberLocalMute(member, muted, reply) => {
                let result = match self.voice() {
                    Ok(voice) => voice
                        .set_user_muted(member, muted)
                        .await
                        .map_err(voice_error),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Control::CameraOn(reply) => {
                let result = self.camera_on().await;
                let _ = reply.send(result);
            }
            Control::CameraOff(reply) => {
                let result = match &mut self.connection {
                    Some(c) => {
                        c.camera_on = false;
                        c.preview = None;
                        c.video.camera_off().await.map_err(video_error)
                    }
                    None => Err(not_connected()),
                };
                self.camera_status();
                let _ = reply.send(result);
            }
            Control::CameraOpen(member, reply) => {
                let result = self.camera_open(member).await;
                let _ = reply.send(result);
            }
            Control::CameraClose(member, reply) => {
                let result = match &mut self.connection {
                    Some(c) => {
                        c.cameras.remove(&member);
                        c.video.close(member).await.map_err(video_error)
                    }
                    None => Err(not_connected()),
                };
                self.camera_status();
                let _ = reply.send(result);
            }
            Control::CameraBoot(member, reply) => {
                let result = match &self.connection {
                    Some(c) => c.video.boot(member).await.map_err(video_error),
                    None => Err(not_connected()),
                };
                let _ = reply.send(result);
            }
            Control::RecentServers(reply) => {
                let _ = reply.send(Ok(self.store.recent().to_vec()));
            }
            Control::LanRooms(reply) => {
                let _ = reply.send(Ok(self.lan_rooms()));
            }
            Control::HostStart(config, reply) => {
                let result = self.host_start(config).await;
                let _ = reply.send(result);
            }
            Control::HostStop(reply) => {
                let result = self.host.stop().await.map(|s| self.host_view(&s));
                let _ = reply.send(result.map_err(host_error));
            }
            Control::HostStatus(reply) => {
                let status = self.host.status();
                let _ = reply.send(Ok(self.host_view(&status)));
            }
            Control::GetSettings(reply) => {
                let _ = reply.send(Ok(self.store.settings().clone()));
            }
            Control::SetSettings(settings, reply) => {
                let old = self.store.settings().clone();
                let result = self.store.set_settings(*settings);
                if let Ok(new) = &result {
                    self.apply_settings(&old, new).await;
                }
                let _ = reply.send(result);
            }
            Control::ListDevices(reply) => {
                let camera = self.config.camera;
                // Off the core's task: listing waits on the sound server and the camera
                // driver.
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(Ok(devices::list(camera)));
                });
            }
            Control::VoiceStats(reply) => {
                let result = match self.voice() {
                    Ok(voice) => voice.stats().await.map_err(voice_error),
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Control::MicTest(on, reply) => {
                self.mic_test_wanted = on;
                self.update_mic_test(false);
                let _ = reply.send(Ok(()));
            }
            Control::PlayTestSound(reply) => self.play_test_sound(reply),
            Control::Shutdown => {}
        }
    }

    /// The operator token of the server we host, when `address` is that server: the host
    /// joins their own room like anyone else, as its operator. The token never leaves the
    /// app except to that server.
    async fn operator_token_for(&self, address: &str) -> Option<String> {
        let host::HostStatus::Running {
            port, lan_address, ..
        } = self.host.status()
        else {
            return None;
        };
        let parsed = address::parse(address).ok()?;
        let lan_host = lan_address
            .as_deref()
            .and_then(|a| a.rsplit_once(':').map(|(h, _)| h.to_string()));
        let local = matches!(parsed.host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
            || Some(&parsed.host) == lan_host.as_ref();
        if !local || parsed.port != port {
            return None;
        }
        self.host.operator_token().await.map(|secret| secret.0)
    }

    /// The rooms on the LAN for the UI, ours marked.
    fn lan_rooms(&self) -> Vec<ipc::LanRoom> {
        let Some(lan) = &self.lan else {
            return Vec::new();
        };
        let own = match self.host.status() {
            host::HostStatus::Running { advertised, .. } => advertised,
            host::HostStatus::Stopped { .. } => None,
        };
        lan.rooms
            .borrow()
            .iter()
            .map(|room| convert::lan_room(room, own.as_deref() == Some(room.service.as_str())))
            .collect()
    }

    /// Leaves the current room, if any, and waits for the goodbye to be sent.
    async fn leave(&mut self) {
        if let Some(connection) = self.connection.take() {
            if let Some(voice) = &connection.voice {
                let _ = voice.handle.shutdown().await;
            }
            let _ = connection.video.shutdown().await;
            let _ = connection.client.leave().await;
        }
        // Out of voice now: a microphone test the settings asked for takes over the meter.
        self.update_mic_test(false);
    }

    fn in_voice(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| c.voice.is_some())
    }

    /// Where voice and the microphone test get their sound, as the settings say.
    fn audio_io(&self, settings: &ipc::Settings) -> (AudioInput, AudioOutput) {
        match self.config.audio {
            AudioKind::Devices => (
                AudioInput::Device(settings.input_device.clone()),
                AudioOutput::Device(settings.output_device.clone()),
            ),
            AudioKind::Synthetic => (
                AudioInput::Source(Box::new(Sine::new(48_000, 440.0, 0.3))),
                AudioOutput::Discard,
            ),
            AudioKind::Silent => (
                AudioInput::Source(Box::new(Silence::new(48_000))),
                AudioOutput::Discard,
            ),
        }
    }

    /// Starts or stops the microphone test so that it runs exactly when the settings screen
    /// asks for it and no call measures the microphone already; `restart` reopens a running
    /// one (the microphone changed).
    fn update_mic_test(&mut self, restart: bool) {
        let run = self.mic_test_wanted && !self.in_voice();
        if !run || restart {
            self.mic_test = None;
        }
        if run && self.mic_test.is_none() {
            let input = match self.audio_io(self.store.settings()).0 {
                AudioInput::Device(name) => devices::MicInput::Device(name),
                AudioInput::Source(source) => devices::MicInput::Source(source),
            };
            self.mic_test = Some(devices::MicTest::start(input, self.events.clone()));
        }
    }

    /// Plays the test sound on the settings' speaker, on a blocking thread; `reply` gets
    /// whether the speaker opened.
    fn play_test_sound(&self, reply: Reply<()>) {
        let AudioOutput::Device(output) = self.audio_io(self.store.settings()).1 else {
            // Synthetic sound has no speaker: nothing to play, nothing wrong.
            let _ = reply.send(Ok(()));
            return;
        };
        let (opened_tx, opened) = oneshot::channel();
        tokio::task::spawn_blocking(move || devices::play_test_sound(output, opened_tx));
        tokio::spawn(async move {
            let result = match opened.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(CommandError::new(
                    "device_unavailable",
                    format!("The speaker could not be opened: {e}."),
                )),
                Err(_) => Err(CommandError::new(
                    "device_unavailable",
                    "The speaker could not be opened.",
                )),
            };
            let _ = reply.send(result);
        });
    }

    /// Applies changed settings to what runs now, so nothing waits for the next call or the
    /// next time the camera is turned on.
    async fn apply_settings(&mut self, old: &ipc::Settings, new: &ipc::Settings) {
        let change = SettingsChange::between(old, new);
        if change.input && self.mic_test.is_some() {
            self.update_mic_test(true);
        }
        let audio = self.config.audio;
        let (input, output) = self.audio_io(new);
        let Some(connection) = &mut self.connection else {
            return;
        };
        if let Some(voice) = &connection.voice {
            if change.capture {
                // Frame length, noise suppression and the transmit mode change inside the
                // running pipeline (CapturePipeline::reconfigure): no restart, no gap.
                let _ = voice.handle.set_capture(capture_config(new)).await;
            }
            if audio == AudioKind::Devices && (change.input || change.output) {
                // Another device is a restart of that end of the audio pipeline: a cpal
                // stream is bound to its device for life. The session keeps its calls and
                // swaps the stream in place once the new one opened (off this task, since
                // opening waits on the sound server).
                let handle = voice.handle.clone();
                let events = self.events.clone();
                let input = change.input.then_some(input);
                let output = change.output.then_some(output);
                tokio::spawn(async move {
                    if let Err(e) = handle.set_devices(input, output).await {
                        let _ = events.send(AppEvent::Error {
                            code: "device_unavailable".to_string(),
                            message: format!(
                                "Could not switch to the chosen microphone or speaker: {e}."
                            ),
                            src: Some("set_settings".to_string()),
                            client_id: None,
                        });
                    }
                });
            }
        }
        if change.camera && connection.camera_on {
            // A camera delivers the mode it was opened with: a new resolution or another
            // camera means opening it again. The session replaces the old source.
            if let Err(e) = self.camera_on().await {
                self.emit(AppEvent::Error {
                    code: e.code,
                    message: e.message,
                    src: Some("set_settings".to_string()),
                    client_id: None,
                });
            }
        }
    }

    /// The voice session, or the error a voice command gets outside a call.
    fn voice(&self) -> Result<&VoiceHandle, CommandError> {
        self.connection
            .as_ref()
            .and_then(|c| c.voice.as_ref())
            .map(|v| &v.handle)
            .ok_or_else(not_in_voice)
    }

    async fn handle_client_event(&mut self, event: Event) {
        if let Some(c) = &mut self.connection {
            match &event {
                Event::Joined { ice_servers, .. } => c.ice_servers = ice_servers.clone(),
                Event::IceServers(servers) => c.ice_servers = servers.clone(),
                Event::Speaking { member, speaking } => {
                    if *speaking {
                        c.speaking.insert(*member);
                    } else {
                        c.speaking.remove(member);
                    }
                }
                Event::MemberLeft { id, .. } => {
                    c.speaking.remove(id);
                }
                _ => {}
            }
            let _ = c.video.client_event(&event).await;
            if let Some(voice) = &c.voice {
                let _ = voice.handle.client_event(&event).await;
            }
        }
        self.on_client_event(event);
    }

    async fn voice_join(&mut self, channel: String) -> Result<(), CommandError> {
        if self.connection.is_none() {
            return Err(not_connected());
        }
        if !self.in_voice() {
            // The call measures the microphone from now on; the test would hold it twice.
            self.mic_test = None;
            let settings = self.store.settings();
            let capture = capture_config(settings);
            let (input, output) = self.audio_io(settings);
            let Some(connection) = &mut self.connection else {
                return Err(not_connected());
            };
            let session = VoiceSession::spawn(
                connection.handle.clone(),
                VoiceConfig {
                    capture,
                    peer: self.config.peer.clone(),
                    ..VoiceConfig::default()
                },
                input,
                output,
            )
            .map_err(|e| {
                CommandError::new(
                    "device_unavailable",
                    format!("The microphone or speaker could not be opened: {e}."),
                )
            })?;
            // The session starts now, after the room welcomed us: tell it what that welcome
            // said, as things stand.
            let snapshot =
                connection.handle.snapshot().await.map_err(|e| {
                    CommandError::new("not_connected", format!("Not in a room: {e}."))
                })?;
            if let (Some(you), Some(room)) = (snapshot.me, snapshot.room) {
                let joined = Event::Joined {
                    you,
                    room,
                    members: snapshot.members,
                    ice_servers: connection.ice_servers.clone(),
                    rejoin: false,
                };
                let _ = session.handle.client_event(&joined).await;
            }
            let mut level = tokio::time::interval(LEVEL_INTERVAL);
            level.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            connection.voice = Some(Voice {
                channel: channel.clone(),
                handle: session.handle,
                events: Some(session.events),
                level,
                input_level: 0.0,
            });
        }
        let Some(connection) = &mut self.connection else {
            return Err(not_connected());
        };
        if let Some(voice) = &mut connection.voice {
            voice.channel = channel.clone();
        }
        connection
            .handle
            .send(Command::VoiceJoin { channel })
            .await
            .map_err(|e| CommandError::new("not_connected", format!("Not in a room: {e}.")))?;
        self.apply_voice_state().await?;
        Ok(())
    }

    async fn voice_leave(&mut self) -> Result<(), CommandError> {
        let Some(connection) = &mut self.connection else {
            return Err(not_connected());
        };
        let _ = connection.handle.send(Command::VoiceLeave).await;
        if let Some(voice) = connection.voice.take() {
            let _ = voice.handle.shutdown().await;
        }
        self.voice_status();
        self.update_mic_test(false);
        Ok(())
    }

    /// Applies our mute and deafen to the voice session (which tells the room) or, outside
    /// voice, to the client, which remembers them for the next channel.
    async fn apply_voice_state(&mut self) -> Result<(), CommandError> {
        let (muted, deafened) = (self.muted, self.deafened);
        if let Some(connection) = &self.connection {
            match &connection.voice {
                Some(voice) => {
                    voice.handle.set_muted(muted).await.map_err(voice_error)?;
                    voice
                        .handle
                        .set_deafened(deafened)
                        .await
                        .map_err(voice_error)?;
                }
                None => {
                    let _ = connection
                        .handle
                        .send(Command::VoiceState { muted, deafened })
                        .await;
                }
            }
        }
        self.voice_status();
        Ok(())
    }

    fn on_voice_event(&mut self, event: VoiceEvent) {
        match event {
            // The room tells everyone (us included) who speaks; our own flag comes back that
            // way too.
            VoiceEvent::Speaking(_) | VoiceEvent::PeerState { .. } => {}
            VoiceEvent::Device(message) => self.emit(AppEvent::Error {
                code: "device_unavailable".to_string(),
                message,
                src: None,
                client_id: None,
            }),
        }
    }

    /// Sends the microphone level (0..1, from -60 to 0 dBFS) to the UI.
    async fn send_level(&mut self) {
        let Some(voice) = self.connection.as_mut().and_then(|c| c.voice.as_mut()) else {
            return;
        };
        if let Ok(stats) = voice.handle.stats().await {
            voice.input_level = devices::meter(stats.level_dbfs);
            let level = voice.input_level;
            self.emit(AppEvent::InputLevel { level });
        }
    }

    /// Tells the UI about our voice.
    fn voice_status(&self) {
        let (channel, input_level, speaking) = match &self.connection {
            Some(c) => (
                c.voice.as_ref().map(|v| v.channel.clone()),
                c.voice.as_ref().map_or(0.0, |v| v.input_level),
                c.speaking.iter().copied().collect(),
            ),
            None => (None, 0.0, Vec::new()),
        };
        self.emit(AppEvent::VoiceStatus {
            status: ipc::VoiceStatus {
                channel,
                muted: self.muted,
                deafened: self.deafened,
                input_level,
                speaking,
            },
        });
    }

    async fn camera_on(&mut self) -> Result<(), CommandError> {
        let Some(connection) = &mut self.connection else {
            return Err(not_connected());
        };
        let settings = self.store.settings();
        let mode = settings.camera_resolution;
        let source: Box<dyn VideoSource> = match self.config.camera {
            CameraKind::TestPattern => Box::new(
                TestPattern::new(VideoFormat {
                    width: mode.width,
                    height: mode.height,
                    fps: mode.fps,
                })
                .map_err(|e| CommandError::new("device_unavailable", e.to_string()))?,
            ),
            CameraKind::Device => {
                let index = settings
                    .camera_device
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                let camera = CameraSource::open(CameraChoice {
                    index,
                    width: mode.width,
                    height: mode.height,
                    fps: mode.fps,
                })
                .map_err(|e| {
                    CommandError::new(
                        "device_unavailable",
                        format!("The camera could not be opened: {e}."),
                    )
                })?;
                Box::new(camera)
            }
        };
        // Our own preview: a copy of the frames at the preview rate, through a newest-wins
        // slot to the webview, with an empty member id.
        let slot = Arc::new(FrameSlot::new());
        tokio::spawn(pump_frames(None, Arc::clone(&slot), self.frames.clone()));
        let source = Box::new(frame::Preview::new(
            source,
            Arc::clone(&slot),
            Duration::from_micros(1_000_000 / PREVIEW_FPS),
        ));
        let preview = OpenCamera { slot };
        connection
            .video
            .camera_on(source)
            .await
            .map_err(video_error)?;
        connection.camera_on = true;
        // Replacing an earlier preview closes its slot, which ends its pump.
        connection.preview = Some(preview);
        self.camera_status();
        Ok(())
    }

    async fn camera_open(&mut self, member: MemberId) -> Result<(), CommandError> {
        let Some(connection) = &mut self.connection else {
            return Err(not_connected());
        };
        let slot = Arc::new(FrameSlot::new());
        tokio::spawn(pump_frames(
            Some(member),
            Arc::clone(&slot),
            self.frames.clone(),
        ));
        // Replacing an entry drops the old one, whose slot closes and ends its pump.
        connection.cameras.insert(
            member,
            OpenCamera {
                slot: Arc::clone(&slot),
            },
        );
        connection
            .video
            .open(member, slot)
            .await
            .map_err(video_error)?;
        self.camera_status();
        Ok(())
    }

    fn on_video_event(&mut self, event: VideoEvent) {
        let Some(connection) = &mut self.connection else {
            return;
        };
        match event {
            VideoEvent::CameraEnded(reason) => {
                connection.camera_on = false;
                connection.preview = None;
                self.emit(AppEvent::Error {
                    code: "camera_ended".to_string(),
                    message: format!("Your camera stopped: {reason}."),
                    src: None,
                    client_id: None,
                });
            }
            VideoEvent::Watchers(watchers) => connection.watchers = watchers,
            VideoEvent::Opened(_) => {}
            VideoEvent::Closed(member) => {
                connection.cameras.remove(&member);
            }
            VideoEvent::OpenRefused { member, reason } => {
                connection.cameras.remove(&member);
                self.emit(AppEvent::Error {
                    code: "camera_refused".to_string(),
                    message: reason,
                    src: Some("camera_open".to_string()),
                    client_id: None,
                });
            }
            VideoEvent::PeerState { .. } => return,
        }
        self.camera_status();
    }

    /// Tells the UI about our camera and the cameras we watch.
    fn camera_status(&self) {
        let status = match &self.connection {
            Some(c) => ipc::CameraStatus {
                on: c.camera_on,
                opened: c.cameras.keys().copied().collect(),
                watchers: c.watchers.clone(),
            },
            None => ipc::CameraStatus {
                on: false,
                opened: Vec::new(),
                watchers: Vec::new(),
            },
        };
        self.emit(AppEvent::CameraStatus { status });
    }

    async fn connect(
        &mut self,
        address: String,
        name: String,
        password: Option<String>,
        token: Option<String>,
    ) -> Result<(), CommandError> {
        let parsed = address::parse(&address).map_err(|m| CommandError::new("bad_address", m))?;
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(CommandError::new("invalid_name", "Choose a name first."));
        }
        self.leave().await;
        self.status(ConnectionStatus::Connecting {
            address: address.clone(),
        });
        let mut options = ClientOptions::new(parsed.room.clone(), name.clone());
        // Plain ws:// ignores it.
        options.trust = parsed.tls.unwrap_or_default();
        options.core.password = password.filter(|p| !p.is_empty());
        options.core.token = token;
        // Boxed: the pair is large, and it only exists on the way out.
        let failed = |code: &str, message: String| {
            Box::new((
                CommandError::new(code, message.clone()),
                ConnectionStatus::Failed {
                    address: address.clone(),
                    code: code.to_string(),
                    message,
                },
            ))
        };
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(&parsed.url(), options))
                .await
                .map_err(|_| {
                    failed(
                        "unreachable",
                        format!("No Hearth server answered at {} in time.", parsed.link()),
                    )
                })
                .and_then(|r| {
                    r.map_err(|e| match e {
                        // The server answered and refused: say what it said.
                        hearth_client::ClientError::Fatal {
                            code: Some(code),
                            message,
                        } => failed(code.as_str(), refusal(code, &message)),
                        // The certificate is not the one the link pins.
                        hearth_client::ClientError::CertificateMismatch(mismatch) => {
                            failed("certificate_mismatch", format!("Hearth did not join {}: {mismatch}.", parsed.link()))
                        }
                        e => failed(
                            "unreachable",
                            format!("Could not reach a Hearth server at {}: {e}.", parsed.link()),
                        ),
                    })
                });
        let mut client = match connected {
            Ok(client) => client,
            Err(failure) => {
                let (error, status) = *failure;
                self.status(status);
                return Err(error);
            }
        };
        // Wait until we are in the room or it refused us, so the command can say which.
        let mut connection_events = Vec::new();
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, async {
            while let Some(event) = client.next_event().await {
                let done = match &event {
                    Event::Joined { .. } => Some(Ok(())),
                    Event::Closed(CloseReason::Fatal { code, message }) => Some(Err((
                        code.map_or("refused", ErrorCode::as_str).to_string(),
                        message.clone(),
                    ))),
                    Event::Closed(CloseReason::CertificateMismatch(mismatch)) => {
                        Some(Err(("certificate_mismatch".to_string(), mismatch.to_string())))
                    }
                    _ => None,
                };
                connection_events.push(event);
                if let Some(done) = done {
                    return done;
                }
            }
            Err((
                "connection_lost".to_string(),
                "The server closed the connection.".to_string(),
            ))
        })
        .await
        .unwrap_or_else(|_| {
            Err((
                "unreachable".to_string(),
                "The server did not let us in in time.".to_string(),
            ))
        });
        if let Err((code, message)) = outcome {
            let (error, status) = *failed(&code, message);
            self.status(status);
            let _ = client.leave().await;
            return Err(error);
        }
        let learned = client.certificate();
        let handle = client.handle();
        let video = VideoSession::spawn(
            handle.clone(),
            VideoConfig {
                peer: self.config.peer.clone(),
                ..VideoConfig::default()
            },
        );
        self.connection = Some(Connection {
            address: address.clone(),
            name: name.clone(),
            room: parsed.room.clone().unwrap_or_default(),
            client,
            handle,
            server: None,
            video: video.handle,
            video_events: Some(video.events),
            cameras: BTreeMap::new(),
            camera_on: false,
            preview: None,
            watchers: Vec::new(),
            ice_servers: Vec::new(),
            voice: None,
            speaking: BTreeSet::new(),
        });
        for event in connection_events {
            self.handle_client_event(event).await;
        }
        let room = self
            .connection
            .as_ref()
            .map(|c| c.room.clone())
            .unwrap_or_default();
        // A certificate trusted on first use is remembered with the address, so the next
        // join from the recent list accepts only that one.
        let address = match (parsed.tls, learned) {
            (Some(Trust::FirstUse), Some(fingerprint)) if !address.contains('#') => format!("{}#fp={}", address.trim(), fingerprint.hex()),
            _ => address,
        };
        self.store.joined(ipc::RecentServer {
            address,
            name,
            room,
            last_joined: now_ms(),
        });
        Ok(())
    }

    fn on_client_event(&mut self, event: Event) {
        let Some(connection) = &mut self.connection else {
            return;
        };
        match event {
            Event::Connecting { .. } | Event::TypingStopped { .. } | Event::SendAcked { .. } => {}
            Event::Connected { server, .. } => connection.server = Some(convert::server(server)),
            Event::Joined {
                you, room, members, ..
            } => {
                connection.room = room.name.clone();
                let status = ConnectionStatus::Connected {
                    address: connection.address.clone(),
                    room: room.name.clone(),
                    name: connection.name.clone(),
                    server: connection.server.clone().unwrap_or(ipc::ServerInfo {
                        name: String::new(),
                        version: String::new(),
                    }),
                    certificate: connection.client.certificate().map(|fingerprint| fingerprint.hex()),
                };
                self.emit(AppEvent::Welcome {
                    you,
                    room: convert::room(room),
                    members: members.into_iter().map(convert::member).collect(),
                });
                self.status(status);
            }
            Event::History {
                channel,
                messages,
                has_more,
            } => self.emit(AppEvent::History {
                channel,
                messages: messages.into_iter().map(convert::message).collect(),
                has_more,
            }),
            Event::Message(message) => {
                let notification = notification_for(&message, &connection.name);
                self.emit(AppEvent::Chat {
                    message: convert::message(message),
                });
                if let Some(notification) = notification {
                    self.emit(notification);
                }
            }
            Event::MessageUpdated(message) => self.emit(AppEvent::ChatUpdated {
                message: convert::message(message),
            }),
            Event::SendFailed {
                client_id,
                code,
                message,
            } => self.emit(AppEvent::Error {
                code: code.as_str().to_string(),
                message,
                src: Some("chat_send".to_string()),
                client_id: Some(client_id),
            }),
            Event::Typing { channel, member } => self.emit(AppEvent::Typing { channel, member }),
            Event::MemberJoined(member) => self.emit(AppEvent::MemberJoined {
                member: convert::member(member),
            }),
            Event::MemberUpdated(member) => self.emit(AppEvent::MemberUpdated {
                member: convert::member(member),
            }),
            Event::MemberLeft { id, reason, .. } => self.emit(AppEvent::MemberLeft {
                id,
                reason: convert::leave_reason(reason),
            }),
            Event::Speaking { member, speaking } => {
                self.emit(AppEvent::Speaking { member, speaking })
            }
            Event::RoomUpdated(room) => self.emit(AppEvent::RoomUpdated {
                room: convert::room(room),
            }),
            // The room's own records (member_updated) carry voice and camera state; the voice
            // and camera sessions report the rest.
            Event::VoiceJoined { .. }
            | Event::VoiceLeft { .. }
            | Event::Signal { .. }
            | Event::CameraRing { .. }
            | Event::IceServers(_) => {}
            Event::CameraOpened { member } => self.emit(AppEvent::CameraOpened { member }),
            Event::CameraClosed { member } => self.emit(AppEvent::CameraClosed { member }),
            Event::Watchers(watchers) => self.emit(AppEvent::Watchers { watchers }),
            Event::ServerError { code, message, src } if gone_peer(code, src.as_deref()) => {
                tracing::debug!(%message, ?src, "request about a member who just left; ignored");
            }
            Event::ServerError { code, message, src } => self.emit(AppEvent::Error {
                code: code.as_str().to_string(),
                message,
                src,
                client_id: None,
            }),
            Event::RateLimited {
                retry_after_ms,
                src,
            } => self.emit(AppEvent::Error {
                code: "rate_limited".to_string(),
                message: format!("Slow down: try again in {retry_after_ms} ms."),
                src,
                client_id: None,
            }),
            Event::NotSent { what } => self.emit(AppEvent::Error {
                code: "not_connected".to_string(),
                message: "Not in the room right now; try again once reconnected.".to_string(),
                src: Some(what.to_string()),
                client_id: None,
            }),
            Event::ServerShutdown { .. } => {}
            Event::Disconnected {
                reason,
                retry_in_ms,
            } => {
                let status = ConnectionStatus::Reconnecting {
                    address: connection.address.clone(),
                    attempt: 1,
                    retry_in_ms,
                    message: reason,
                };
                self.status(status);
            }
            Event::Closed(CloseReason::Left { .. }) => {
                self.status(ConnectionStatus::Disconnected);
            }
            // On a reconnection the server showed another certificate than the link pins:
            // the client stopped, and the user hears why rather than seeing endless retries.
            Event::Closed(CloseReason::CertificateMismatch(mismatch)) => {
                let status = ConnectionStatus::Failed {
                    address: connection.address.clone(),
                    code: "certificate_mismatch".to_string(),
                    // The UI says what to do (errors.ts); the detail names both certificates.
                    message: format!("Hearth stopped reconnecting: {mismatch}"),
                };
                self.status(status);
            }
            Event::Closed(CloseReason::Fatal { code, message }) => {
                let code = code.map_or("connection_lost", ErrorCode::as_str);
                let status = ConnectionStatus::Failed {
                    address: connection.address.clone(),
                    code: code.to_string(),
                    message: message.clone(),
                };
                let kind = match code {
                    "kicked" => Some(ipc::NotificationKind::Kicked),
                    "banned" => Some(ipc::NotificationKind::Banned),
                    _ => None,
                };
                self.status(status);
                if let Some(kind) = kind {
                    self.emit(AppEvent::Notification {
                        kind,
                        title: "Removed from the room".to_string(),
                        body: message,
                        channel: None,
                    });
                }
            }
        }
    }

    async fn host_start(
        &mut self,
        config: ipc::HostConfig,
    ) -> Result<ipc::HostStatus, CommandError> {
        let channels = config
            .channels
            .into_iter()
            .map(|c| hearth_server::config::ChannelConfig {
                id: c.id,
                kind: match c.kind {
                    ipc::ChannelKind::Text => hearth_server::config::ChannelKindConfig::Text,
                    ipc::ChannelKind::Voice => hearth_server::config::ChannelKindConfig::Voice,
                },
                name: c.name,
                topic: c.topic.unwrap_or_default(),
            })
            .collect();
        let status = self
            .host
            .start(HostSpec {
                port: u32::from(config.port),
                password: config.password,
                room_name: Some(config.room_name.clone()),
                channels,
            })
            .await
            .map_err(host_error)?;
        let room = config.room_name.trim();
        self.host_room = Some(if room.is_empty() {
            hearth_server::config::RoomConfig::default().name
        } else {
            room.to_string()
        });
        Ok(self.host_view(&status))
    }

    fn on_host_status(&mut self, status: host::HostStatus) {
        if let host::HostStatus::Stopped {
            last_error: Some(error),
        } = &status
        {
            self.emit(AppEvent::Notification {
                kind: ipc::NotificationKind::HostStopped,
                title: "Your server stopped".to_string(),
                body: error.clone(),
                channel: None,
            });
        }
        let status = self.host_view(&status);
        self.emit(AppEvent::HostStatus { status });
    }

    /// The UI's view of the host's status: where others can join.
    fn host_view(&self, status: &host::HostStatus) -> ipc::HostStatus {
        match status {
            host::HostStatus::Stopped { last_error } => ipc::HostStatus::Off {
                last_error: last_error.clone(),
            },
            host::HostStatus::Running {
                port,
                lan_address,
                password_protected,
                fingerprint,
                ..
            } => {
                let room = self.host_room.clone().unwrap_or_default();
                let lan_addresses: Vec<String> = lan_address.iter().cloned().collect();
                let best = lan_address
                    .as_deref()
                    .and_then(|a| a.rsplit_once(':').map(|(host, _)| host.to_string()))
                    .unwrap_or_else(|| "127.0.0.1".to_string());
                ipc::HostStatus::On {
                    port: *port,
                    room_name: room.clone(),
                    password_protected: *password_protected,
                    lan_addresses,
                    join_link: address::share_link(&best, *port, &room, *fingerprint),
                }
            }
        }
    }
}

/// The capture pipeline's settings from the user's.
fn capture_config(settings: &ipc::Settings) -> CaptureConfig {
    CaptureConfig {
        frame: if settings.frame_ms == 10 {
            FrameDuration::Ms10
        } else {
            FrameDuration::Ms20
        },
        noise_suppression: settings.noise_suppression,
        mode: if settings.push_to_talk {
            TransmitMode::PushToTalk
        } else {
            TransmitMode::VoiceActivation
        },
        ..CaptureConfig::default()
    }
}

/// What a change of settings means for what runs now. The push-to-talk key is not here: the
/// shell's shortcut reads it, and the core only hears `push_to_talk(pressed)`.
#[derive(Debug, Default, PartialEq, Eq)]
struct SettingsChange {
    /// The capture pipeline's settings (frame length, noise suppression, transmit mode).
    capture: bool,
    /// The microphone.
    input: bool,
    /// The speaker.
    output: bool,
    /// The camera or its mode.
    camera: bool,
}

impl SettingsChange {
    fn between(old: &ipc::Settings, new: &ipc::Settings) -> SettingsChange {
        SettingsChange {
            capture: capture_config(old) != capture_config(new),
            input: old.input_device != new.input_device,
            output: old.output_device != new.output_device,
            camera: old.camera_device != new.camera_device
                || old.camera_resolution != new.camera_resolution,
        }
    }
}

/// A server's refusal, in words for the user.
fn refusal(code: ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::BadPassword => "Wrong password for this room.".to_string(),
        ErrorCode::Banned => format!("You are banned from this room: {message}"),
        ErrorCode::RoomLocked => "The room is locked; ask an operator to unlock it.".to_string(),
        ErrorCode::RoomNotFound => format!("There is no such room on this server: {message}"),
        ErrorCode::NameTaken => "Someone in the room already uses that name.".to_string(),
        ErrorCode::ServerFull => "The server is full.".to_string(),
        _ => format!("The server refused: {message}"),
    }
}

/// Whether a refusal only says that the member a camera or call request was about has
/// left. Signals and camera requests race with a departure (an ICE candidate sent while the
/// other side hangs up), and the room tells about the departure itself, so such a refusal is
/// nothing a user must read.
fn gone_peer(code: ErrorCode, src: Option<&str>) -> bool {
    code == ErrorCode::NotFound && matches!(src, Some("signal" | "camera_close" | "camera_boot"))
}

fn not_in_voice() -> CommandError {
    CommandError::new("not_in_voice", "Join a voice channel first.")
}

fn voice_error(e: hearth_voice::VoiceError) -> CommandError {
    CommandError::new("voice_failed", format!("The voice session failed: {e}."))
}

fn not_connected() -> CommandError {
    CommandError::new("not_connected", "Join a room first.")
}

fn video_error(e: hearth_video::VideoError) -> CommandError {
    CommandError::new("camera_failed", format!("The camera session failed: {e}."))
}

fn host_error(e: host::HostError) -> CommandError {
    CommandError::new(e.code(), e.to_string())
}

/// A notification for a message others wrote that mentions `me` or is a DM to us.
fn notification_for(message: &hearth_wire::ChatMessage, me: &str) -> Option<AppEvent> {
    if message.author == me || message.deleted {
        return None;
    }
    let dm = message.channel.starts_with('@');
    let mention = message
        .text
        .to_lowercase()
        .contains(&format!("@{}", me.to_lowercase()));
    if !dm && !mention {
        return None;
    }
    let body: String = message.text.chars().take(140).collect();
    Some(AppEvent::Notification {
        kind: if dm {
            ipc::NotificationKind::Dm
        } else {
            ipc::NotificationKind::Mention
        },
        title: if dm {
            format!("{} sent you a message", message.author)
        } else {
            format!("{} mentioned you in #{}", message.author, message.channel)
        },
        body,
        channel: Some(message.channel.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_about_a_departed_peer_are_kept_from_the_user() {
        assert!(gone_peer(ErrorCode::NotFound, Some("signal")));
        assert!(gone_peer(ErrorCode::NotFound, Some("camera_close")));
        // The same code about a message or a channel is a real answer to the user.
        assert!(!gone_peer(ErrorCode::NotFound, Some("chat_edit")));
        assert!(!gone_peer(ErrorCode::NotFound, None));
        // Any other refusal of a camera request is worth reading.
        assert!(!gone_peer(ErrorCode::Forbidden, Some("camera_boot")));
    }

    #[test]
    fn a_settings_change_names_what_must_be_applied() {
        let old = ipc::Settings::default();
        let same = SettingsChange::between(&old, &old.clone());
        assert_eq!(same, SettingsChange::default());
        let cosmetic = ipc::Settings {
            theme: ipc::Theme::Dark,
            display_name: "ann".into(),
            push_to_talk_key: Some("KeyV".into()),
            ..old.clone()
        };
        assert_eq!(
            SettingsChange::between(&old, &cosmetic),
            SettingsChange::default(),
            "nothing running depends on these"
        );
        for new in [
            ipc::Settings {
                noise_suppression: !old.noise_suppression,
                ..old.clone()
            },
            ipc::Settings {
                push_to_talk: !old.push_to_talk,
                ..old.clone()
            },
            ipc::Settings {
                frame_ms: 10,
                ..old.clone()
            },
        ] {
            let change = SettingsChange::between(&old, &new);
            assert_eq!(
                change,
                SettingsChange {
                    capture: true,
                    ..SettingsChange::default()
                },
                "{new:?}"
            );
        }
        let devices = ipc::Settings {
            input_device: Some("mic".into()),
            output_device: Some("speaker".into()),
            camera_resolution: ipc::CameraResolution {
                width: 320,
                height: 240,
                fps: 30,
            },
            ..old.clone()
        };
        assert_eq!(
            SettingsChange::between(&old, &devices),
            SettingsChange {
                capture: false,
                input: true,
                output: true,
                camera: true,
            }
        );
    }

    #[test]
    fn the_capture_config_follows_the_settings() {
        let config = capture_config(&ipc::Settings {
            frame_ms: 10,
            noise_suppression: false,
            push_to_talk: true,
            ..ipc::Settings::default()
        });
        assert_eq!(config.frame, FrameDuration::Ms10);
        assert!(!config.noise_suppression);
        assert_eq!(config.mode, TransmitMode::PushToTalk);
        let config = capture_config(&ipc::Settings::default());
        assert_eq!(config.frame, FrameDuration::Ms20);
        assert!(config.noise_suppression);
        assert_eq!(config.mode, TransmitMode::VoiceActivation);
    }
}
