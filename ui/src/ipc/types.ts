// The IPC contract between the UI and the Rust shell (src-tauri).
//
// Every type the UI exchanges with the backend is here. These types are the contract with the
// Rust shell, which will generate them with specta later; the names (of types, fields, enum
// values and event tags) must then match exactly. Field names are snake_case, as on the wire.
//
// Wire data types (Member, ChatMessage, Channel, …) mirror the "Data types" section of
// docs/protocol.md field for field. Optional fields ("Required: no") are `?: T | null`, because
// the wire may leave them out or send null. App-level types (connection, host, LAN, settings,
// devices, voice, camera) describe the desktop app and exist only on this IPC.
//
// Video frames do not travel as AppEvents: they are binary, see frame.ts.

// ---------------------------------------------------------------------------------------------
// Wire data types (docs/protocol.md, "Data types")

/** Assigned by the server to a member for the life of one connection (u64; exact below 2^53). */
export type MemberId = number;
/** Assigned by the server to a chat message; grows with time, so it orders history. */
export type MessageId = number;

export interface ServerInfo {
  name: string;
  version: string;
}

export interface RoomSummary {
  name: string;
  members: number;
  locked: boolean;
}

export type ChannelKind = "text" | "voice";

export interface Channel {
  id: string;
  kind: ChannelKind;
  name: string;
  topic?: string | null;
}

export interface RoomInfo {
  name: string;
  channels: Channel[];
  locked: boolean;
}

export type Presence = "online" | "away" | "busy";

export type LeaveReason = "left" | "timeout" | "kicked" | "banned" | "dropped";

export interface Member {
  id: MemberId;
  name: string;
  operator: boolean;
  presence: Presence;
  status_text?: string | null;
  voice_channel?: string | null;
  muted: boolean;
  deafened: boolean;
  server_muted: boolean;
  speaking: boolean;
  camera: boolean;
}

export type ImageMime = "image/png" | "image/jpeg" | "image/gif" | "image/webp";

export interface Image {
  mime: ImageMime;
  /** Standard base64 with padding. */
  data: string;
}

export interface Reaction {
  emoji: string;
  names: string[];
}

export interface ChatMessage {
  id: MessageId;
  client_id: string;
  /** A text channel id, or `@` + the other party's name for a DM. */
  channel: string;
  author: string;
  text: string;
  reply_to?: MessageId | null;
  image?: Image | null;
  /** Milliseconds since the Unix epoch. */
  ts: number;
  edited_ts?: number | null;
  deleted?: boolean;
  reactions?: Reaction[];
}

export interface IceServer {
  urls: string[];
  username?: string | null;
  credential?: string | null;
}

export interface Limits {
  max_frame_bytes: number;
  max_text_chars: number;
  max_name_chars: number;
  max_image_bytes: number;
  rate_per_sec: number;
  rate_burst: number;
  heartbeat_timeout_ms: number;
  ping_interval_ms: number;
  history_page_max: number;
}

/** The `code` of the protocol's `error` and `disconnect` messages. */
export type ProtocolErrorCode =
  | "malformed"
  | "unknown_type"
  | "invalid"
  | "too_large"
  | "unsupported_version"
  | "not_authenticated"
  | "already_authenticated"
  | "bad_password"
  | "banned"
  | "room_locked"
  | "room_not_found"
  | "name_taken"
  | "invalid_name"
  | "server_full"
  | "not_found"
  | "forbidden"
  | "not_in_voice"
  | "camera_off"
  | "bad_image"
  | "flood"
  | "kicked"
  | "heartbeat_timeout"
  | "shutdown"
  | "internal";

/**
 * Codes the app adds for failures that never reach a server (the protocol's codes are used
 * unchanged for those that do).
 */
export type AppErrorCode =
  | "unreachable" // no server answered at the address
  | "bad_address" // the address could not be understood
  | "connection_lost" // the connection dropped and reconnecting gave up
  | "not_connected" // a room command while not in a room
  | "rate_limited" // the server asked us to slow down
  | "device_unavailable" // a microphone, speaker or camera could not be opened
  | "invalid_port"
  | "port_in_use"
  | "port_denied"
  | "host_failed"; // the embedded server could not start or stopped on its own

export type ErrorCode = ProtocolErrorCode | AppErrorCode;

// ---------------------------------------------------------------------------------------------
// App-level types

/** The connection to the room server, as the client core sees it. Reconnects are automatic. */
export type ConnectionStatus =
  | { state: "disconnected" }
  | { state: "connecting"; address: string }
  | { state: "connected"; address: string; room: string; name: string; server: ServerInfo }
  | {
      state: "reconnecting";
      address: string;
      /** 1 for the first retry. */
      attempt: number;
      /** Milliseconds from when this status was sent until the next try. */
      retry_in_ms: number;
      /** Why the connection dropped, in words. */
      message: string;
    }
  | { state: "failed"; address: string; code: ErrorCode; message: string };

/** The embedded server this app can host. */
export type HostStatus =
  | { state: "off"; last_error?: string | null }
  | {
      state: "on";
      port: number;
      room_name: string;
      password_protected: boolean;
      /** `ip:port` for each LAN interface, best first. */
      lan_addresses: string[];
      /** `hearth://host:port/room` for the best LAN address. */
      join_link: string;
    };

/** What the host toggle starts the embedded server with. */
export interface HostConfig {
  /** 0 lets the system pick. */
  port: number;
  room_name: string;
  /** null or empty: no password. */
  password: string | null;
  channels: Channel[];
}

/** A room hosted on the LAN, found by mDNS. */
export interface LanRoom {
  name: string;
  address: string;
  port: number;
  member_count: number;
  needs_password: boolean;
}

/** A server this app joined before, most recent first. */
export interface RecentServer {
  /** As the user typed it, e.g. `192.168.1.20:7777/lobby`. */
  address: string;
  name: string;
  room: string;
  /** Milliseconds since the Unix epoch. */
  last_joined: number;
}

export type Theme = "light" | "dark" | "system";
export type FrameMs = 10 | 20;

export interface CameraResolution {
  width: number;
  height: number;
  fps: number;
}

export interface Settings {
  /** null: the system default device. */
  input_device: string | null;
  output_device: string | null;
  camera_device: string | null;
  push_to_talk: boolean;
  /** A KeyboardEvent.code, e.g. "Space" or "KeyV"; null when not set. */
  push_to_talk_key: string | null;
  /** Input level 0..1 above which voice activation transmits. */
  voice_activation_threshold: number;
  noise_suppression: boolean;
  frame_ms: FrameMs;
  camera_resolution: CameraResolution;
  theme: Theme;
  /** The display name last used, to prefill the join form. */
  display_name: string;
}

export interface Device {
  id: string;
  label: string;
  is_default: boolean;
}

export interface DeviceList {
  inputs: Device[];
  outputs: Device[];
  cameras: Device[];
}

/** This member's own voice state. */
export interface VoiceStatus {
  /** The voice channel joined, or null. */
  channel: string | null;
  muted: boolean;
  deafened: boolean;
  /** Microphone level 0..1, the latest known. */
  input_level: number;
  /** Members of the room speaking now. */
  speaking: MemberId[];
}

/** This member's own camera. */
export interface CameraStatus {
  on: boolean;
  /** The cameras of others this member has opened (watches). */
  opened: MemberId[];
  /** Who watches this member's camera. */
  watchers: MemberId[];
}

export type NotificationKind = "mention" | "dm" | "kicked" | "banned" | "host_stopped";

// ---------------------------------------------------------------------------------------------
// Events: backend → UI, one typed stream (subscribe in backend.ts). Tagged by `type`.

export type AppEvent =
  /** Entered a room (the protocol's `welcome`): replaces all room state. */
  | { type: "welcome"; you: MemberId; room: RoomInfo; members: Member[] }
  | { type: "room_updated"; room: RoomInfo }
  | { type: "member_joined"; member: Member }
  /** Replace the whole record. */
  | { type: "member_updated"; member: Member }
  | { type: "member_left"; id: MemberId; reason: LeaveReason }
  | { type: "chat"; message: ChatMessage }
  /** Replace the whole message (edit, delete, reactions). */
  | { type: "chat_updated"; message: ChatMessage }
  /** A page of history, newest first. */
  | { type: "history"; channel: string; messages: ChatMessage[]; has_more: boolean }
  | { type: "typing"; channel: string; member: MemberId }
  | { type: "speaking"; member: MemberId; speaking: boolean }
  | { type: "voice_status"; status: VoiceStatus }
  /** The microphone level, about 20 times a second while voice or the mic test runs. */
  | { type: "input_level"; level: number }
  | { type: "camera_status"; status: CameraStatus }
  /** A camera this member asked to watch was accepted; frames will follow. */
  | { type: "camera_opened"; member: MemberId }
  | { type: "camera_closed"; member: MemberId }
  | { type: "watchers"; watchers: MemberId[] }
  | { type: "connection"; status: ConnectionStatus }
  | { type: "host_status"; status: HostStatus }
  | { type: "lan_rooms"; rooms: LanRoom[] }
  /**
   * A request failed. `code` is stable; `message` is the server's or backend's own words (the
   * UI shows its own sentence for known codes). `client_id` ties it to a pending chat message.
   */
  | { type: "error"; code: ErrorCode; message: string; src?: string | null; client_id?: string | null }
  /** Something worth a system notification (mention, DM, kicked …). */
  | { type: "notification"; kind: NotificationKind; title: string; body: string; channel?: string | null }
  /** A deep link (hearth://host:port/room) opened the app: prefill the join form. */
  | { type: "deep_link"; url: string };

export type AppEventType = AppEvent["type"];

/** The error object every command rejects with. */
export interface CommandError {
  code: ErrorCode;
  message: string;
}
