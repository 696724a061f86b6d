// The UI's state and how each AppEvent changes it. Plain data and plain functions: `apply`
// mutates the state it is given (in the app, a Svelte $state proxy, so the mutation is what
// makes the screen update) and is unit-tested without a browser.

import type {
  AppEvent,
  CameraStatus,
  ChatMessage,
  ConnectionStatus,
  HostStatus,
  LanRoom,
  Member,
  MemberId,
  MessageId,
  NotificationKind,
  RoomInfo,
  VoiceStatus,
} from "../ipc/types";

/** Receivers expire a typing indicator this long after the last `typing` (protocol). */
export const TYPING_TTL_MS = 6000;
/** Notices shown at most; older ones are dropped. */
const MAX_NOTICES = 5;

export interface Conversation {
  /** Oldest first, unique ids. */
  messages: ChatMessage[];
  /** Whether older messages exist on the server (unknown: true until a page says otherwise). */
  has_more: boolean;
  /** A history_get is in flight. */
  loading: boolean;
  /** Messages that arrived while the conversation was not shown. */
  unread: number;
  /** The first message that arrived unread, for the "new" marker; cleared on the next visit. */
  first_unread: MessageId | null;
}

export interface Notice {
  id: number;
  kind: "error" | NotificationKind;
  /** The error's code: a plain string in the contract, worded by lib/errors.ts. */
  code?: string;
  text: string;
  channel?: string | null;
}

export interface Pending {
  client_id: string;
  channel: string;
  text: string;
  /** Set when the server refused it. */
  error: string | null;
}

/** Our voice state with the microphone level a number 0..1 (see `level`). */
export type VoiceState = VoiceStatus & { input_level: number };

/**
 * A microphone level for the meters: 0..1. The generated types have it `number | null`
 * (an f32 in ipc.rs, which serde writes as null when it is not a number); null and NaN are 0.
 */
export function level(value: number | null): number {
  return typeof value === "number" && Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : 0;
}

export interface AppState {
  connection: ConnectionStatus;
  /** When the connection status arrived (for reconnect countdowns). */
  connection_since: number;
  host: HostStatus;
  lan_rooms: LanRoom[];
  you: MemberId | null;
  room: RoomInfo | null;
  /** In the order they joined. */
  members: Member[];
  conversations: Record<string, Conversation>;
  /** The conversation shown: a text channel id or `@name`. */
  current: string | null;
  /** channel → member → time (ms) the indicator expires. */
  typing: Record<string, Record<MemberId, number>>;
  voice: VoiceState;
  camera: CameraStatus;
  pending: Pending[];
  notices: Notice[];
  /** Set by a deep link; the start screen copies it into its form. */
  deep_link: string | null;
}

export function initialState(): AppState {
  return {
    connection: { state: "disconnected" },
    connection_since: 0,
    host: { state: "off", last_error: null },
    lan_rooms: [],
    you: null,
    room: null,
    members: [],
    conversations: {},
    current: null,
    typing: {},
    voice: { channel: null, muted: false, deafened: false, input_level: 0, speaking: [] },
    camera: { on: false, opened: [], watchers: [] },
    pending: [],
    notices: [],
    deep_link: null,
  };
}

let noticeId = 0;

export function pushNotice(state: AppState, notice: Omit<Notice, "id">): void {
  state.notices.push({ ...notice, id: ++noticeId });
  if (state.notices.length > MAX_NOTICES) state.notices.splice(0, state.notices.length - MAX_NOTICES);
}

export function dismissNotice(state: AppState, id: number): void {
  const index = state.notices.findIndex((n) => n.id === id);
  if (index >= 0) state.notices.splice(index, 1);
}

export function me(state: AppState): Member | undefined {
  return state.members.find((m) => m.id === state.you);
}

export function memberById(state: AppState, id: MemberId): Member | undefined {
  return state.members.find((m) => m.id === id);
}

function conversation(state: AppState, channel: string): Conversation {
  let found = state.conversations[channel];
  if (!found) {
    found = { messages: [], has_more: true, loading: false, unread: 0, first_unread: null };
    state.conversations[channel] = found;
  }
  return found;
}

/** Inserts or replaces messages by id, keeping the list sorted oldest first. */
export function mergeMessages(list: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const byId = new Map<MessageId, ChatMessage>();
  for (const m of list) byId.set(m.id, m);
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

function upsertMember(state: AppState, member: Member): void {
  const index = state.members.findIndex((m) => m.id === member.id);
  if (index >= 0) state.members[index] = member;
  else state.members.push(member);
}

function setSpeaking(state: AppState, id: MemberId, speaking: boolean): void {
  const list = state.voice.speaking.filter((m) => m !== id);
  if (speaking) list.push(id);
  state.voice.speaking = list;
}

/** Whether `text` mentions `name` as `@name` (case-insensitive, whole name). */
export function mentions(text: string, name: string): boolean {
  if (!name) return false;
  const lower = text.toLowerCase();
  const needle = "@" + name.toLowerCase();
  let at = lower.indexOf(needle);
  while (at >= 0) {
    const after = lower.charAt(at + needle.length);
    if (!/[\p{L}\p{N}_\-.']/u.test(after)) return true;
    at = lower.indexOf(needle, at + 1);
  }
  return false;
}

/** Applies one event. `now` is the time in milliseconds (passed in so tests control it). */
export function apply(state: AppState, event: AppEvent, now: number): void {
  switch (event.type) {
    case "welcome": {
      state.you = event.you;
      state.room = event.room;
      state.members = [...event.members];
      state.typing = {};
      state.voice.speaking = event.members.filter((m) => m.speaking).map((m) => m.id);
      // Keep conversations across a reconnect (history pages merge by id), but not unread
      // counts for channels that no longer exist.
      const ids = new Set(event.room.channels.filter((c) => c.kind === "text").map((c) => c.id));
      for (const key of Object.keys(state.conversations)) {
        if (!key.startsWith("@") && !ids.has(key)) delete state.conversations[key];
      }
      for (const id of ids) conversation(state, id);
      if (state.current === null || (!state.current.startsWith("@") && !ids.has(state.current))) {
        state.current = event.room.channels.find((c) => c.kind === "text")?.id ?? null;
      }
      break;
    }
    case "room_updated":
      state.room = event.room;
      break;
    case "member_joined":
    case "member_updated":
      upsertMember(state, event.member);
      setSpeaking(state, event.member.id, event.member.speaking);
      break;
    case "member_left": {
      state.members = state.members.filter((m) => m.id !== event.id);
      setSpeaking(state, event.id, false);
      for (const channel of Object.values(state.typing)) delete channel[event.id];
      state.camera.opened = state.camera.opened.filter((m) => m !== event.id);
      state.camera.watchers = state.camera.watchers.filter((m) => m !== event.id);
      break;
    }
    case "chat": {
      const message = event.message;
      const conv = conversation(state, message.channel);
      const isNew = !conv.messages.some((m) => m.id === message.id);
      conv.messages = mergeMessages(conv.messages, [message]);
      const self = me(state);
      const mine = self !== undefined && message.author === self.name;
      if (mine) {
        state.pending = state.pending.filter((p) => p.client_id !== message.client_id);
      } else if (isNew && state.current !== message.channel) {
        conv.unread += 1;
        if (conv.first_unread === null) conv.first_unread = message.id;
      }
      // A message ends its author's typing indicator.
      const author = state.members.find((m) => m.name === message.author);
      if (author && state.typing[message.channel]) delete state.typing[message.channel][author.id];
      break;
    }
    case "chat_updated": {
      const conv = conversation(state, event.message.channel);
      // Only replace what we have: an update to a message outside the loaded pages is for
      // history not shown yet, and the page that brings it will carry the new state.
      if (conv.messages.some((m) => m.id === event.message.id)) {
        conv.messages = mergeMessages(conv.messages, [event.message]);
      }
      break;
    }
    case "history": {
      const conv = conversation(state, event.channel);
      conv.messages = mergeMessages(conv.messages, event.messages);
      conv.loading = false;
      // A page older than what we hold tells whether more exist; a newest page (after a
      // reconnect) must not reset the answer we already have for older ones.
      const oldest = conv.messages[0]?.id;
      const pageOldest = event.messages.length
        ? Math.min(...event.messages.map((m) => m.id))
        : undefined;
      if (pageOldest === undefined || oldest === undefined || pageOldest <= oldest) {
        conv.has_more = event.has_more;
      }
      break;
    }
    case "typing": {
      if (event.member === state.you) break;
      const channel = (state.typing[event.channel] ??= {});
      channel[event.member] = now + TYPING_TTL_MS;
      break;
    }
    case "speaking": {
      setSpeaking(state, event.member, event.speaking);
      const member = memberById(state, event.member);
      if (member) member.speaking = event.speaking;
      break;
    }
    case "voice_status":
      state.voice = { ...event.status, input_level: level(event.status.input_level) };
      break;
    case "input_level":
      state.voice.input_level = level(event.level);
      break;
    case "camera_status":
      state.camera = { ...event.status };
      break;
    case "camera_opened":
      if (!state.camera.opened.includes(event.member)) state.camera.opened.push(event.member);
      break;
    case "camera_closed":
      state.camera.opened = state.camera.opened.filter((m) => m !== event.member);
      break;
    case "watchers":
      state.camera.watchers = [...event.watchers];
      break;
    case "connection":
      state.connection = event.status;
      state.connection_since = now;
      if (event.status.state === "disconnected" || event.status.state === "failed") {
        state.you = null;
        state.room = null;
        state.members = [];
        state.typing = {};
        state.conversations = {};
        state.current = null;
        state.pending = [];
        state.voice = { channel: null, muted: state.voice.muted, deafened: state.voice.deafened, input_level: 0, speaking: [] };
        state.camera = { on: false, opened: [], watchers: [] };
      }
      break;
    case "host_status":
      state.host = event.status;
      break;
    case "lan_rooms":
      state.lan_rooms = [...event.rooms];
      break;
    case "error": {
      if (event.client_id) {
        const pending = state.pending.find((p) => p.client_id === event.client_id);
        if (pending) pending.error = event.message;
      }
      pushNotice(state, { kind: "error", code: event.code, text: event.message });
      break;
    }
    case "notification":
      pushNotice(state, { kind: event.kind, text: `${event.title}: ${event.body}`, channel: event.channel });
      break;
    case "deep_link":
      state.deep_link = event.url;
      break;
    default: {
      // Unknown event types (a newer backend) are ignored, as the protocol asks of clients.
      const unknown: never = event;
      void unknown;
    }
  }
}

/** Shows a conversation: clears its unread count (the "new" marker stays until the next visit). */
export function selectConversation(state: AppState, channel: string): void {
  const previous = state.current ? state.conversations[state.current] : undefined;
  if (previous && state.current !== channel) previous.first_unread = null;
  state.current = channel;
  const conv = conversation(state, channel);
  conv.unread = 0;
}

/** Marks that a history page was asked for; returns the `before` id to ask with, or null if none is needed. */
export function startHistoryLoad(state: AppState, channel: string): { before: MessageId | null } | null {
  const conv = conversation(state, channel);
  if (conv.loading || !conv.has_more) return null;
  conv.loading = true;
  return { before: conv.messages[0]?.id ?? null };
}

/** Names of members typing in `channel` now, sorted. */
export function typingNames(state: AppState, channel: string, now: number): string[] {
  const entries = state.typing[channel];
  if (!entries) return [];
  const names: string[] = [];
  for (const [id, expires] of Object.entries(entries)) {
    if (expires > now) {
      const member = memberById(state, Number(id));
      if (member) names.push(member.name);
    }
  }
  return names.sort();
}

/** Drops expired typing entries; returns whether anything changed. */
export function expireTyping(state: AppState, now: number): boolean {
  let changed = false;
  for (const channel of Object.values(state.typing)) {
    for (const [id, expires] of Object.entries(channel)) {
      if (expires <= now) {
        delete channel[Number(id)];
        changed = true;
      }
    }
  }
  return changed;
}

/** Adds a message the user sent to the pending list until its `chat` comes back. */
export function addPending(state: AppState, pending: Omit<Pending, "error">): void {
  state.pending.push({ ...pending, error: null });
}

/** Total unread across direct messages and channels, for the window title. */
export function totalUnread(state: AppState): number {
  return Object.values(state.conversations).reduce((sum, c) => sum + c.unread, 0);
}

/** The DM conversations, by other party's name. */
export function dmChannels(state: AppState): string[] {
  return Object.keys(state.conversations)
    .filter((k) => k.startsWith("@"))
    .sort();
}

/** "Bob is typing…", "Bob and Carol are typing…", "Several people are typing…". */
export function typingLine(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return "Several people are typing…";
}
