// The types of the IPC contract between the UI and the Rust shell (src-tauri), in one place.
//
// Everything the Rust side defines comes from bindings.ts, which is GENERATED from
// crates/hearth-desktop/src/ipc.rs with specta (never edit it by hand; a Rust test fails when
// it is stale), and is only re-exported here. The UI imports its IPC types from this file, so
// a change in ipc.rs reaches every use through svelte-check.
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
  Device,
  DeviceList,
  HostConfig,
  HostStatus,
  Image,
  LanRoom,
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

/** Every event the UI handles. */
export type AppEvent = RustAppEvent;
