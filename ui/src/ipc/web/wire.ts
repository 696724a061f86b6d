// The pure half of the browser backend: the wire protocol's shapes (docs/protocol.md), their
// conversion into the AppEvents the UI already understands, and the small decisions the
// backend takes (where to connect, which room, how long to wait before reconnecting, how fast
// it may send). Nothing here touches the DOM, a socket or a timer, so vitest can check it all
// in Node.

import type { AppEvent, Channel, ChatMessage, Member, RoomInfo, ServerInfo } from "../types";

/** `SignalData` of the protocol: what the `signal` relay carries. */
export type SignalData =
  | { kind: "offer"; sdp: string }
  | { kind: "answer"; sdp: string }
  | { kind: "candidate"; candidate: string; sdp_mid?: string | null; sdp_mline_index?: number | null }
  | { kind: "bye" };

/** `Limits` of `hello`. */
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

/** The server's defaults, used until `hello` says otherwise. */
export const DEFAULT_LIMITS: Limits = {
  max_frame_bytes: 524288,
  max_text_chars: 4000,
  max_name_chars: 32,
  max_image_bytes: 262144,
  rate_per_sec: 20,
  rate_burst: 40,
  heartbeat_timeout_ms: 30000,
  ping_interval_ms: 10000,
  history_page_max: 100,
};

export interface IceServer {
  urls: string[];
  username?: string | null;
  credential?: string | null;
}

/**
 * A server message as it arrives: only `type` is trusted, and every field is read defensively
 * because the protocol lets servers add fields and leave optional ones out.
 */
export type WireMessage = { type: string; [field: string]: unknown };

/** Parses one text frame; null for anything that is not a JSON object with a string `type`. */
export function parseWire(text: string): WireMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" ? (value as WireMessage) : null;
}

// The UI holds the generated (ipc.rs) shapes, in which every field is present and "absent" is
// null; the wire may leave optional fields out and sends empty texts as "". These fill the gap
// the same way the Rust core does, so the UI sees the same values from either backend.

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function toMember(w: Record<string, unknown>): Member {
  return {
    id: Number(w.id),
    name: String(w.name ?? ""),
    operator: w.operator === true,
    presence: w.presence === "away" || w.presence === "busy" ? w.presence : "online",
    status_text: str(w.status_text),
    voice_channel: str(w.voice_channel),
    muted: w.muted === true,
    deafened: w.deafened === true,
    server_muted: w.server_muted === true,
    speaking: w.speaking === true,
    camera: w.camera === true,
  };
}

export function toChannel(w: Record<string, unknown>): Channel {
  return {
    id: String(w.id),
    kind: w.kind === "voice" ? "voice" : "text",
    name: String(w.name ?? w.id),
    topic: str(w.topic),
  };
}

export function toRoom(w: Record<string, unknown>): RoomInfo {
  const channels = Array.isArray(w.channels) ? w.channels : [];
  return { name: String(w.name ?? ""), channels: channels.map((c) => toChannel(c as Record<string, unknown>)), locked: w.locked === true };
}

export function toMessage(w: Record<string, unknown>): ChatMessage {
  const image = w.image as { mime?: unknown; data?: unknown } | null | undefined;
  const reactions = Array.isArray(w.reactions) ? w.reactions : [];
  return {
    id: Number(w.id),
    client_id: String(w.client_id ?? ""),
    channel: String(w.channel ?? ""),
    author: String(w.author ?? ""),
    text: typeof w.text === "string" ? w.text : "",
    reply_to: num(w.reply_to),
    image: image && typeof image.mime === "string" && typeof image.data === "string" ? { mime: image.mime, data: image.data } : null,
    ts: num(w.ts) ?? 0,
    edited_ts: num(w.edited_ts),
    deleted: w.deleted === true,
    reactions: reactions.map((r) => {
      const x = r as { emoji?: unknown; names?: unknown };
      return { emoji: String(x.emoji ?? ""), names: Array.isArray(x.names) ? x.names.map(String) : [] };
    }),
  };
}

export function toServerInfo(w: unknown): ServerInfo {
  const x = (w ?? {}) as { name?: unknown; version?: unknown };
  return { name: String(x.name ?? "Hearth"), version: String(x.version ?? "") };
}

/**
 * The AppEvents that a room message stands for, one to one where the wire and the UI agree.
 * Messages that need the backend's state (hello, welcome, ping, signal, camera_ring, errors,
 * disconnect…) are handled by the backend itself and give [] here, as do unknown types, which
 * the protocol says to ignore.
 */
export function roomEvents(m: WireMessage): AppEvent[] {
  const o = m as Record<string, unknown>;
  const rec = (v: unknown) => (v ?? {}) as Record<string, unknown>;
  switch (m.type) {
    case "member_joined":
      return [{ type: "member_joined", member: toMember(rec(o.member)) }];
    case "member_updated":
      return [{ type: "member_updated", member: toMember(rec(o.member)) }];
    case "member_left": {
      const reason = ["left", "timeout", "kicked", "banned", "dropped"].includes(o.reason as string) ? (o.reason as "left") : "left";
      return [{ type: "member_left", id: Number(o.id), reason }];
    }
    case "room_updated":
      return [{ type: "room_updated", room: toRoom(rec(o.room)) }];
    case "chat":
      return [{ type: "chat", message: toMessage(rec(o.message)) }];
    case "chat_updated":
      return [{ type: "chat_updated", message: toMessage(rec(o.message)) }];
    case "history": {
      const messages = Array.isArray(o.messages) ? o.messages : [];
      return [{ type: "history", channel: String(o.channel), messages: messages.map((x) => toMessage(rec(x))), has_more: o.has_more === true }];
    }
    case "typing":
      return [{ type: "typing", channel: String(o.channel), member: Number(o.member) }];
    case "speaking":
      return [{ type: "speaking", member: Number(o.member), speaking: o.speaking === true }];
    default:
      return [];
  }
}

/** What `connect` was given, taken apart: an optional host and the room (null: the server's default). */
export interface ParsedAddress {
  host: string | null;
  room: string | null;
}

/**
 * Reads `host:port/room`, `ws://host:port/room`, `hearth://host:port/room`, `/room` or just
 * `room`-less forms. The host only matters for telling the user where they are: a browser page
 * always talks to the server that served it.
 */
export function parseAddress(address: string): ParsedAddress {
  let rest = address.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  const slash = rest.indexOf("/");
  const host = slash === -1 ? rest : rest.slice(0, slash);
  let path = slash === -1 ? "" : rest.slice(slash + 1);
  path = path.split(/[?#]/)[0].replace(/\/+$/, "");
  let room: string | null = null;
  if (path !== "") {
    try {
      room = decodeURIComponent(path);
    } catch {
      room = path;
    }
  }
  return { host: host === "" ? null : host, room };
}

/** The WebSocket address of the server that served the page: wss on https, ws otherwise. */
export function socketUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/`;
}

/** The room to ask for: the one named in the address, else the server's first, else "lobby". */
export function chooseRoom(asked: string | null, offered: unknown): string {
  if (asked) return asked;
  const rooms = Array.isArray(offered) ? offered : [];
  const first = rooms[0] as { name?: unknown } | undefined;
  return typeof first?.name === "string" ? first.name : "lobby";
}

/**
 * Milliseconds before reconnect attempt `attempt` (1 for the first): 1 s doubling up to 30 s,
 * spread by up to ±20 % (`random` in 0..1) so a room full of browsers that lost the same
 * server does not knock on it in step.
 */
export function backoffMs(attempt: number, random: number = Math.random()): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * Math.min(1, Math.max(0, random))));
}

/** Disconnect codes after which the protocol says not to reconnect by oneself (checklist 15). */
export function isFinalDisconnect(code: string): boolean {
  return code === "kicked" || code === "banned" || code === "bad_password";
}

/**
 * A token bucket mirroring the server's (`rate_per_sec`, `rate_burst`), so the client paces
 * itself instead of having frames dropped: `take(now)` answers 0 when a frame may go now, else
 * the milliseconds to wait. The client keeps one token in reserve for slack between the two
 * clocks.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private ratePerSec: number,
    private burst: number,
    now: number,
  ) {
    this.tokens = Math.max(1, burst - 1);
    this.last = now;
  }

  setLimits(ratePerSec: number, burst: number): void {
    this.ratePerSec = Math.max(1, ratePerSec);
    this.burst = Math.max(1, burst);
    this.tokens = Math.min(this.tokens, this.capacity());
  }

  private capacity(): number {
    return Math.max(1, this.burst - 1);
  }

  take(now: number): number {
    this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec);
  }
}
