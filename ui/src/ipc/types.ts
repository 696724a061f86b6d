// The types of the IPC contract between the UI and the Rust shell (src-tauri), in one place.
//
// Everything the Rust side defines comes from bindings.ts, which is GENERATED from
// crates/hearth-desktop/src/ipc.rs with specta (never edit it by hand; a Rust test fails when
// it is stale), and is only re-exported here. The UI imports its IPC types from this file, so
// a change in ipc.rs reaches every use through svelte-check.
//
// Below the re-exports, marked "UI-only", are the few types the UI uses that have no Rust
// counterpart (yet): the mock backend implements them, the shell does not.
//
// Video frames do not travel as AppEvents: they are binary, see frame.ts.

import type { AppEvent as RustAppEvent } from "./bindings";

export type {
  CameraResolution,
  CameraStatus,
  Channel,
  ChannelKind,
  ChatMessage,
  CommandError,
  ConnectionStatus,
  HostConfig,
  HostStatus,
  Image,
  LeaveReason,
  Member,
  NotificationKind,
  Presence,
  Reaction,
  RecentServer,
  RoomInfo,
  ServerInfo,
  Settings,
  Theme,
  VoiceStatus,
} from "./bindings";

/** Assigned by the server to a member for the life of one connection (`MemberId`, a u64 in ipc.rs). */
export type MemberId = number;
/** Assigned by the server to a chat message; grows with time, so it orders history (`MessageId` in ipc.rs). */
export type MessageId = number;

// ---------------------------------------------------------------------------------------------
// UI-only: no counterpart in ipc.rs yet. docs/ipc.md lists the commands (`lan_rooms`,
// `list_devices`) and the `lan_rooms` event as not implemented by the shell.

/** UI-only. A room hosted on the LAN, found by mDNS (`lan_rooms`). */
export interface LanRoom {
  name: string;
  address: string;
  port: number;
  member_count: number;
  needs_password: boolean;
}

/** UI-only. An audio or video device (`list_devices`). */
export interface Device {
  id: string;
  label: string;
  is_default: boolean;
}

/** UI-only. The devices to choose from in Settings (`list_devices`). */
export interface DeviceList {
  inputs: Device[];
  outputs: Device[];
  cameras: Device[];
}

/** UI-only. Events of the contract that ipc.rs does not define yet; the shell never sends them. */
export type UiOnlyEvent =
  /** The rooms found on the LAN changed. */
  | { type: "lan_rooms"; rooms: LanRoom[] };

/** Every event the UI handles: the generated AppEvent, plus the UI-only ones. */
export type AppEvent = RustAppEvent | UiOnlyEvent;
