// The commands the UI sends to the backend, and the two streams it receives.
//
// Each method is one Tauri command of the same (snake_case) name, called with one object whose
// keys are the command's argument names, also snake_case (the Rust side declares its commands
// with `#[tauri::command(rename_all = "snake_case")]`). Commands resolve when the backend has
// accepted the request; its effect arrives as AppEvents (for example `send_chat` is confirmed
// by a `chat` event with the same client_id). They reject with a CommandError.
//
// The argument and result types are the ones generated from ipc.rs (bindings.ts, re-exported
// by types.ts); each method's argument names are those of its command in src-tauri/src/lib.rs.
// `lan_rooms`, `list_devices`, `play_test_sound` and `mic_test` are not registered by the shell
// yet (docs/ipc.md); their types (LanRoom, DeviceList) are the UI-only ones of types.ts.

import type {
  AppEvent,
  DeviceList,
  HostConfig,
  HostStatus,
  Image,
  LanRoom,
  MemberId,
  MessageId,
  Presence,
  RecentServer,
  Settings,
} from "./types";

export type Unsubscribe = () => void;

export interface Backend {
  /** Which implementation this is, for the about line and tests. */
  readonly kind: "tauri" | "mock" | "web";

  // Connection
  /**
   * Join a room. `address` is `host:port/room`, `ws://host:port/room` or a
   * `hearth://host:port/room` link. Progress arrives as `connection` events.
   */
  connect(args: { address: string; name: string; password: string | null }): Promise<void>;
  disconnect(): Promise<void>;
  recent_servers(): Promise<RecentServer[]>;
  /** The rooms found on the LAN now; updates arrive as `lan_rooms` events. */
  lan_rooms(): Promise<LanRoom[]>;

  // Chat
  /** `channel` is a text channel id or `@name` for a DM. `client_id` is chosen by the UI. */
  send_chat(args: {
    channel: string;
    client_id: string;
    text: string;
    reply_to: MessageId | null;
    image: Image | null;
  }): Promise<void>;
  edit_chat(args: { id: MessageId; text: string }): Promise<void>;
  delete_chat(args: { id: MessageId }): Promise<void>;
  react_add(args: { id: MessageId; emoji: string }): Promise<void>;
  react_remove(args: { id: MessageId; emoji: string }): Promise<void>;
  typing(args: { channel: string }): Promise<void>;
  /** Ask for the page before `before` (null: newest); answered by a `history` event. */
  history_get(args: { channel: string; before: MessageId | null }): Promise<void>;
  set_presence(args: { presence: Presence; status_text: string | null }): Promise<void>;

  // Voice
  voice_join(args: { channel: string }): Promise<void>;
  voice_leave(): Promise<void>;
  set_muted(args: { muted: boolean }): Promise<void>;
  set_deafened(args: { deafened: boolean }): Promise<void>;
  /** Push-to-talk key state from inside the window (the global shortcut covers the rest). */
  push_to_talk(args: { pressed: boolean }): Promise<void>;
  /** 0..2, 1 is unchanged. Local to this app. */
  set_member_volume(args: { member: MemberId; volume: number }): Promise<void>;
  /** Silence a member for oneself only. */
  set_member_local_mute(args: { member: MemberId; muted: boolean }): Promise<void>;

  // Camera
  camera_on(): Promise<void>;
  camera_off(): Promise<void>;
  camera_open(args: { member: MemberId }): Promise<void>;
  camera_close(args: { member: MemberId }): Promise<void>;
  camera_boot(args: { member: MemberId }): Promise<void>;

  // Moderation (operators)
  kick(args: { member: MemberId; reason: string | null }): Promise<void>;
  ban(args: { member: MemberId; reason: string | null }): Promise<void>;
  server_mute(args: { member: MemberId; muted: boolean }): Promise<void>;
  lock(args: { locked: boolean }): Promise<void>;

  // Hosting
  host_start(args: { config: HostConfig }): Promise<HostStatus>;
  host_stop(): Promise<HostStatus>;
  host_status(): Promise<HostStatus>;

  // Settings and devices
  get_settings(): Promise<Settings>;
  set_settings(args: { settings: Settings }): Promise<Settings>;
  list_devices(): Promise<DeviceList>;
  play_test_sound(): Promise<void>;
  /** While on, `input_level` events flow even outside a voice channel (settings meter). */
  mic_test(args: { on: boolean }): Promise<void>;

  // Streams
  /** All AppEvents, in order. */
  subscribe(onEvent: (event: AppEvent) => void): Promise<Unsubscribe>;
  /** Video frames, binary; see frame.ts for the layout. */
  subscribeFrames(onFrame: (frame: ArrayBuffer) => void): Promise<Unsubscribe>;

  // Video as MediaStreams (the browser backend, web.ts): a backend that has these shows each
  // camera as a stream instead of sending frames. Member keys are those of frames: the member
  // id in decimal, "" for one's own preview.
  /** The stream of a camera now, or null (then the tile falls back to frames). */
  mediaStream?(member: string): MediaStream | null;
  /** Calls `listener` whenever a stream appears, changes or goes. */
  onMediaStreams?(listener: () => void): Unsubscribe;
}

/** The list of command names, for checking the Rust side against (tests and the report). */
export const COMMANDS = [
  "connect",
  "disconnect",
  "recent_servers",
  "lan_rooms",
  "send_chat",
  "edit_chat",
  "delete_chat",
  "react_add",
  "react_remove",
  "typing",
  "history_get",
  "set_presence",
  "voice_join",
  "voice_leave",
  "set_muted",
  "set_deafened",
  "push_to_talk",
  "set_member_volume",
  "set_member_local_mute",
  "camera_on",
  "camera_off",
  "camera_open",
  "camera_close",
  "camera_boot",
  "kick",
  "ban",
  "server_mute",
  "lock",
  "host_start",
  "host_stop",
  "host_status",
  "get_settings",
  "set_settings",
  "list_devices",
  "play_test_sound",
  "mic_test",
] as const satisfies readonly (keyof Backend)[];
