// An in-browser fake backend: a lively room without any server. Used by `npm run dev` in a
// plain browser and by the Playwright tests (selected when window.__TAURI_INTERNALS__ is
// absent). It speaks exactly the contract of backend.ts, with values of the types generated
// from ipc.rs (bindings.ts, through types.ts): every field present, null where Rust has None,
// error codes the Rust side uses. Only the UI-only parts of types.ts (LAN rooms, devices) are
// the mock's alone.
//
// Tests steer it through `window.__hearthMock` (see MockControl below).
//
// Mock rules worth knowing: the address host `unreachable.invalid` never answers; the password
// `wrong` is refused; the name `Alice` is taken; you join as an operator.

import type { Backend, Unsubscribe } from "./backend";
import type { KnownErrorCode } from "../lib/errors";
import { defaultSettings } from "./defaults";
import { buildFrame } from "./frame";
import type {
  AppEvent,
  CameraStatus,
  Channel,
  ChatMessage,
  CommandError,
  DeviceList,
  HostConfig,
  HostStatus,
  LanRoom,
  Member,
  MemberId,
  RecentServer,
  RoomInfo,
  Settings,
  VoiceStatus,
} from "./types";

export interface MockControl {
  /** Sends any event to the UI as if the backend had. */
  emit(event: AppEvent): void;
  /** A chat message from another member in a channel (or `@name` DM). */
  incomingChat(channel: string, author: string, text: string): void;
  /** Drops the connection; the mock reconnects after `retryMs` (default 1500). */
  dropConnection(retryMs?: number): void;
  /** Sends an error event. */
  error(code: string, message: string): void;
  /** Turns the background activity (speaking, typing, chatter) on or off. */
  setLively(on: boolean): void;
  /** Frames drawn per camera since the cameras opened, by member id ("" = own preview). */
  framesSent(): Record<string, number>;
  /** Members with a camera, for tests that open several. */
  cameraMembers(): MemberId[];
}

declare global {
  interface Window {
    __hearthMock?: MockControl;
  }
}

/** The mock server's certificate fingerprint (64 hex digits), as a real host's link names it. */
export const MOCK_CERTIFICATE = "5f3a9c0e" + "41b27d86".repeat(7);
/** As in the app: only a server on this computer is joined over plain ws://, with no certificate. */
function plainLoopback(address: string): boolean {
  return /^(ws:\/\/)?(127\.|localhost[:/]|\[::1\])/.test(address.trim());
}
const PAGE = 30;
const FPS = 30;


/** A Member with every field of the generated type; `extra` overrides. */
export function member(id: MemberId, name: string, extra: Partial<Member> = {}): Member {
  return {
    id,
    name,
    operator: false,
    presence: "online",
    status_text: null,
    voice_channel: null,
    muted: false,
    deafened: false,
    server_muted: false,
    speaking: false,
    camera: false,
    ...extra,
  };
}

/** A ChatMessage with every field of the generated type: not a reply, no image, never edited. */
export function chatMessage(
  fields: Pick<ChatMessage, "id" | "client_id" | "channel" | "author" | "text" | "ts"> & Partial<ChatMessage>,
): ChatMessage {
  return { reply_to: null, image: null, edited_ts: null, deleted: false, reactions: [], ...fields };
}

const LINES = [
  "morning!",
  "anyone up for a round later?",
  "the **new map** is great",
  "check https://example.org/patch-notes",
  "`git pull` fixed it for me",
  "brb, coffee",
  "haha _nice_",
  "who has the pizza order?",
  "voice in 5?",
  "lol",
];

export function mockBackend(): Backend & { control: MockControl } {
  const listeners = new Set<(e: AppEvent) => void>();
  const frameListeners = new Set<(f: ArrayBuffer) => void>();
  let settings: Settings = defaultSettings();
  let host: HostStatus = { state: "off", last_error: null };
  let recent: RecentServer[] = [
    { address: "192.168.1.20:7777/lobby", name: "Sam", room: "lobby", last_joined: Date.now() - 86_400_000 },
    { address: "games.example.org:7777/friday", name: "Sam", room: "friday", last_joined: Date.now() - 7 * 86_400_000 },
  ];
  const lanRooms: LanRoom[] = [
    { name: "lan-party", room: "lan-party", address: "192.168.1.31", port: 7777, member_count: 6, needs_password: false, fingerprint: "5a".repeat(32), own: false },
    { name: "study-group", room: "study-group", address: "192.168.1.44", port: 7780, member_count: 2, needs_password: true, fingerprint: null, own: false },
  ];

  // Room state, present while "connected".
  let connected = false;
  let address = "";
  let myName = "";
  let you: MemberId = 0;
  let nextMemberId = 10;
  let nextMessageId = 1;
  let room: RoomInfo = { name: "lobby", channels: [], locked: false };
  let members: Member[] = [];
  const messages = new Map<string, ChatMessage[]>();
  let voice: VoiceStatus = { channel: null, muted: false, deafened: false, input_level: 0, speaking: [] };
  let camera: CameraStatus = { on: false, opened: [], watchers: [] };
  let micTest = false;
  let lively = true;
  const timers: ReturnType<typeof setInterval>[] = [];
  const sent: Record<string, number> = {};

  const emit = (event: AppEvent) => {
    // Structured clone mimics IPC: the UI never shares objects with the backend.
    const copy = structuredClone(event);
    for (const l of listeners) l(copy);
  };
  const later = (ms: number, f: () => void) => setTimeout(f, ms);
  const fail = (code: KnownErrorCode, message: string) => Promise.reject({ code, message } satisfies CommandError);
  const requireRoom = () => {
    if (!connected) throw { code: "not_connected", message: "Join a room first." } satisfies CommandError;
  };
  const byId = (id: MemberId) => members.find((m) => m.id === id);
  const update = (m: Member) => emit({ type: "member_updated", member: m });
  const self = () => byId(you)!;

  function channels(): Channel[] {
    return [
      { id: "general", kind: "text", name: "general", topic: "Anything goes" },
      // Rust sends an empty topic as null.
      { id: "memes", kind: "text", name: "memes", topic: null },
      { id: "lounge", kind: "voice", name: "Lounge", topic: null },
      { id: "gaming", kind: "voice", name: "Gaming", topic: null },
    ];
  }

  function seedHistory() {
    messages.clear();
    const start = Date.now() - 3 * 3600_000;
    const authors = ["Alice", "Bob", "Carol", "Dave"];
    const general: ChatMessage[] = [];
    for (let i = 0; i < 95; i++) {
      general.push(
        chatMessage({
          id: nextMessageId++,
          client_id: `seed-${i}`,
          channel: "general",
          author: authors[i % authors.length],
          text: `${LINES[i % LINES.length]} (#${i + 1})`,
          ts: start + i * 60_000,
          reactions: i % 7 === 0 ? [{ emoji: "👍", names: ["Bob"] }] : [],
        }),
      );
    }
    messages.set("general", general);
    messages.set("memes", [
      chatMessage({ id: nextMessageId++, client_id: "seed-m", channel: "memes", author: "Dave", text: "no memes yet", ts: start }),
    ]);
  }

  function page(channel: string, before: number | null) {
    const all = (messages.get(channel) ?? []).filter((m) => before === null || m.id < before);
    const slice = all.slice(Math.max(0, all.length - PAGE)).reverse();
    emit({ type: "history", channel, messages: slice, has_more: all.length > PAGE });
  }

  function store(message: ChatMessage) {
    const list = messages.get(message.channel) ?? [];
    list.push(message);
    messages.set(message.channel, list);
  }

  function find(id: number): ChatMessage | undefined {
    for (const list of messages.values()) {
      const m = list.find((x) => x.id === id);
      if (m) return m;
    }
    return undefined;
  }

  function incomingChat(channel: string, author: string, text: string) {
    const message = chatMessage({ id: nextMessageId++, client_id: `mock-${nextMessageId}`, channel, author, text, ts: Date.now() });
    store(message);
    emit({ type: "chat", message });
    if (channel.startsWith("@")) {
      emit({ type: "notification", kind: "dm", title: `Message from ${author}`, body: text, channel });
    } else if (text.toLowerCase().includes("@" + myName.toLowerCase())) {
      emit({ type: "notification", kind: "mention", title: `${author} mentioned you in #${channel}`, body: text, channel });
    }
  }

  function enterRoom(name: string) {
    you = nextMemberId++;
    myName = name;
    room = { name: address.split("/")[1] || "lobby", channels: channels(), locked: false };
    members = [
      member(1, "Alice", { operator: true, voice_channel: "lounge", camera: true }),
      member(2, "Bob", { voice_channel: "lounge", camera: true, presence: "away", status_text: "back in 5" }),
      member(3, "Carol", { camera: true }),
      member(4, "Dave", { presence: "busy", camera: true, voice_channel: "gaming" }),
      member(you, name, { operator: true }),
    ];
    seedHistory();
    connected = true;
    emit({ type: "welcome", you, room, members });
    for (const c of room.channels) if (c.kind === "text") page(c.id, null);
    emit({ type: "voice_status", status: voice });
    emit({ type: "camera_status", status: camera });
    emit({ type: "connection", status: { state: "connected", address, room: room.name, name, server: { name: "Mock server", version: "0.1.0" }, certificate: plainLoopback(address) ? null : MOCK_CERTIFICATE } });
  }

  function leaveRoom() {
    connected = false;
    voice = { ...voice, channel: null, speaking: [] };
    camera = { on: false, opened: [], watchers: [] };
  }

  // Background life: speaking in voice, Carol typing, an occasional message, input level.
  let tick = 0;
  timers.push(
    setInterval(() => {
      if (!connected || !lively) return;
      tick++;
      for (const m of members) {
        if (m.id === you || !m.voice_channel || m.muted) continue;
        const speaking = (tick + m.id * 3) % 8 < 3;
        if (speaking !== m.speaking) {
          m.speaking = speaking;
          emit({ type: "speaking", member: m.id, speaking });
        }
      }
      if (tick % 10 === 0) emit({ type: "typing", channel: "general", member: 3 });
      if (tick % 60 === 59) incomingChat("general", "Carol", LINES[tick % LINES.length]);
    }, 500),
  );
  timers.push(
    setInterval(() => {
      const active = micTest || (connected && voice.channel !== null && !voice.muted);
      if (!active) return;
      const t = performance.now() / 1000;
      const level = Math.max(0, Math.min(1, 0.35 + 0.3 * Math.sin(t * 3) + 0.15 * Math.sin(t * 11)));
      voice.input_level = level;
      emit({ type: "input_level", level });
    }, 50),
  );

  // Synthetic cameras: 640x480 I420 with a moving diagonal pattern and a bouncing block,
  // tinted per member so tiles differ.
  const W = 640;
  const H = 480;
  const started = performance.now();
  function makeFrame(memberKey: string, n: number): ArrayBuffer {
    const seed = memberKey === "" ? 0 : Number(memberKey);
    return buildFrame(W, H, Math.round((performance.now() - started) * 1000), memberKey, (y, u, v) => {
      const shift = (n * 256 / RING) & 255;
      for (let row = 0; row < H; row++) {
        const base = row * W;
        const r = (row + shift) & 255;
        for (let col = 0; col < W; col++) y[base + col] = ((col + r) & 255) >> 1 | 64;
      }
      const phase = n / RING;
      const bx = Math.round((W - 80) * (0.5 + 0.5 * Math.sin(2 * Math.PI * phase)));
      const by = Math.round((H - 80) * (0.5 + 0.5 * Math.cos(2 * Math.PI * phase)));
      for (let row = by; row < by + 80; row++) y.fill(235, row * W + bx, row * W + bx + 80);
      u.fill(96 + ((seed * 37) & 63));
      v.fill(96 + ((seed * 71) & 127));
    });
  }
  // Frames are made once per camera for a loop of RING frames and then reused (only the
  // timestamp is rewritten), so the mock itself costs little CPU and the frame-rate
  // measurement measures drawing.
  const RING = 30;
  const rings = new Map<string, ArrayBuffer[]>();
  let frameNo = 0;
  function frameFor(key: string): ArrayBuffer {
    let ring = rings.get(key);
    if (!ring) rings.set(key, (ring = []));
    const slot = frameNo % RING;
    if (!ring[slot]) ring[slot] = makeFrame(key, slot);
    const frame = ring[slot];
    const view = new DataView(frame);
    const us = Math.round((performance.now() - started) * 1000);
    view.setUint32(12, us % 0x100000000, true);
    view.setUint32(16, Math.floor(us / 0x100000000), true);
    return frame;
  }
  timers.push(
    setInterval(() => {
      if (frameListeners.size === 0) return;
      frameNo++;
      const sources = [...camera.opened.map(String)];
      if (camera.on) sources.push("");
      for (const key of sources) {
        const frame = frameFor(key);
        sent[key] = (sent[key] ?? 0) + 1;
        for (const l of frameListeners) l(frame);
      }
    }, 1000 / FPS),
  );

  const control: MockControl = {
    emit,
    incomingChat,
    dropConnection(retryMs = 1500) {
      if (!connected) return;
      leaveRoom();
      emit({ type: "connection", status: { state: "reconnecting", address, attempt: 1, retry_in_ms: retryMs, message: "The connection to the server was lost." } });
      later(retryMs, () => {
        emit({ type: "connection", status: { state: "connecting", address } });
        later(200, () => enterRoom(myName));
      });
    },
    error(code, message) {
      emit({ type: "error", code, message, src: null, client_id: null });
    },
    setLively(on) {
      lively = on;
    },
    framesSent: () => ({ ...sent }),
    cameraMembers: () => members.filter((m) => m.camera && m.id !== you).map((m) => m.id),
  };

  const backend: Backend & { control: MockControl } = {
    kind: "mock",
    control,
    async connect({ address: a, name, password }) {
      address = a;
      emit({ type: "connection", status: { state: "connecting", address } });
      await new Promise<void>((r) => later(250, () => r()));
      const fails = (code: KnownErrorCode, message: string) =>
        emit({ type: "connection", status: { state: "failed", address, code, message } });
      if (a.includes("unreachable.invalid")) return fails("unreachable", `Could not reach a Hearth server at hearth://${a}: connection refused.`);
      if (password === "wrong") return fails("bad_password", "Wrong password for this room.");
      if (name.toLowerCase() === "alice") return fails("name_taken", "Someone in the room already uses that name.");
      recent = [{ address: a, name, room: a.split("/")[1] || "lobby", last_joined: Date.now() }, ...recent.filter((r) => r.address !== a)];
      settings.display_name = name;
      enterRoom(name);
    },
    async disconnect() {
      leaveRoom();
      emit({ type: "connection", status: { state: "disconnected" } });
    },
    async recent_servers() {
      return structuredClone(recent);
    },
    async lan_rooms() {
      const rooms = [...lanRooms];
      if (host.state === "on") rooms.unshift({ name: host.room_name, room: host.room_name, address: "192.168.1.20", port: host.port, member_count: 1, needs_password: host.password_protected, fingerprint: null, own: true });
      return structuredClone(rooms);
    },
    async send_chat({ channel, client_id, text, reply_to, image }) {
      requireRoom();
      if (text.length > 4000) return fail("too_large", "text is longer than 4000 characters");
      if (text.trim() === "" && !image) return fail("invalid", "empty message");
      later(60, () => {
        const message = chatMessage({ id: nextMessageId++, client_id, channel, author: myName, text, reply_to, image, ts: Date.now() });
        store(message);
        emit({ type: "chat", message });
        if (channel.startsWith("@")) {
          const other = channel.slice(1);
          later(800, () => incomingChat(channel, other, `got it: ${text.slice(0, 40)}`));
        }
      });
    },
    async edit_chat({ id, text }) {
      requireRoom();
      const m = find(id);
      if (!m || m.deleted) return fail("not_found", "no such message");
      if (m.author !== myName) return fail("forbidden", "not the author");
      m.text = text;
      m.edited_ts = Date.now();
      emit({ type: "chat_updated", message: m });
    },
    async delete_chat({ id }) {
      requireRoom();
      const m = find(id);
      if (!m) return fail("not_found", "no such message");
      Object.assign(m, { deleted: true, text: "", image: null, reactions: [] });
      emit({ type: "chat_updated", message: m });
    },
    async react_add({ id, emoji }) {
      requireRoom();
      const m = find(id);
      if (!m || m.deleted) return fail("not_found", "no such message");
      const reactions = (m.reactions ??= []);
      let r = reactions.find((x) => x.emoji === emoji);
      if (!r) reactions.push((r = { emoji, names: [] }));
      if (!r.names.includes(myName)) r.names.push(myName);
      emit({ type: "chat_updated", message: m });
    },
    async react_remove({ id, emoji }) {
      requireRoom();
      const m = find(id);
      if (!m || m.deleted) return fail("not_found", "no such message");
      m.reactions = (m.reactions ?? [])
        .map((r) => (r.emoji === emoji ? { ...r, names: r.names.filter((n) => n !== myName) } : r))
        .filter((r) => r.names.length > 0);
      emit({ type: "chat_updated", message: m });
    },
    async typing() {
      requireRoom();
    },
    async history_get({ channel, before }) {
      requireRoom();
      later(150, () => page(channel, before));
    },
    async set_presence({ presence, status_text }) {
      requireRoom();
      // Rust sends an empty status text as null.
      Object.assign(self(), { presence, status_text: status_text || null });
      update(self());
    },
    async voice_join({ channel }) {
      requireRoom();
      voice = { ...voice, channel };
      self().voice_channel = channel;
      update(self());
      emit({ type: "voice_status", status: voice });
    },
    async voice_leave() {
      requireRoom();
      if (!voice.channel) return fail("not_in_voice", "not in a voice channel");
      voice = { ...voice, channel: null };
      Object.assign(self(), { voice_channel: null, speaking: false });
      update(self());
      emit({ type: "voice_status", status: voice });
    },
    async set_muted({ muted }) {
      voice = { ...voice, muted: muted || voice.deafened };
      if (connected) {
        Object.assign(self(), { muted: voice.muted });
        update(self());
      }
      emit({ type: "voice_status", status: voice });
    },
    async set_deafened({ deafened }) {
      voice = { ...voice, deafened, muted: deafened ? true : voice.muted };
      if (connected) {
        Object.assign(self(), { muted: voice.muted, deafened });
        update(self());
      }
      emit({ type: "voice_status", status: voice });
    },
    async push_to_talk({ pressed }) {
      if (!connected || !voice.channel) return;
      self().speaking = pressed && !voice.muted;
      emit({ type: "speaking", member: you, speaking: self().speaking });
    },
    async set_member_volume() {},
    async set_member_local_mute() {},
    async camera_on() {
      requireRoom();
      camera = { ...camera, on: true };
      self().camera = true;
      update(self());
      emit({ type: "camera_status", status: camera });
      // Bob opens it a moment later.
      later(600, () => {
        if (!camera.on || camera.watchers.includes(2)) return;
        camera = { ...camera, watchers: [...camera.watchers, 2] };
        emit({ type: "watchers", watchers: camera.watchers });
      });
    },
    async camera_off() {
      camera = { ...camera, on: false, watchers: [] };
      if (connected) {
        self().camera = false;
        update(self());
      }
      emit({ type: "camera_status", status: camera });
      emit({ type: "watchers", watchers: [] });
    },
    async camera_open({ member: id }) {
      requireRoom();
      const m = byId(id);
      if (!m) return fail("not_found", "no such member");
      if (id === you) return fail("invalid", "that is you");
      if (!m.camera) return fail("camera_off", "camera is off");
      if (!camera.opened.includes(id)) camera = { ...camera, opened: [...camera.opened, id] };
      emit({ type: "camera_opened", member: id });
    },
    async camera_close({ member: id }) {
      if (!camera.opened.includes(id)) return fail("not_found", "not watching");
      camera = { ...camera, opened: camera.opened.filter((m) => m !== id) };
      emit({ type: "camera_closed", member: id });
    },
    async camera_boot({ member: id }) {
      if (!camera.watchers.includes(id)) return fail("not_found", "not watching");
      camera = { ...camera, watchers: camera.watchers.filter((m) => m !== id) };
      emit({ type: "watchers", watchers: camera.watchers });
    },
    async kick({ member: id }) {
      requireRoom();
      if (!byId(id)) return fail("not_found", "no such member");
      if (byId(id)!.name === "Alice") return fail("forbidden", "the host cannot be kicked");
      members = members.filter((m) => m.id !== id);
      emit({ type: "member_left", id, reason: "kicked" });
    },
    async ban({ member: id }) {
      requireRoom();
      if (!byId(id)) return fail("not_found", "no such member");
      members = members.filter((m) => m.id !== id);
      emit({ type: "member_left", id, reason: "banned" });
    },
    async server_mute({ member: id, muted }) {
      requireRoom();
      const m = byId(id);
      if (!m) return fail("not_found", "no such member");
      Object.assign(m, { server_muted: muted, speaking: false });
      update(m);
    },
    async lock({ locked }) {
      requireRoom();
      room = { ...room, locked };
      emit({ type: "room_updated", room });
    },
    async host_start({ config }: { config: HostConfig }) {
      if (host.state === "on") return fail("already_running", `The server is already running on port ${host.port}. Stop it before starting it again.`);
      if (config.port === 7000) return fail("port_in_use", "Port 7000 is already in use by another program.");
      const port = config.port || 7777;
      host = {
        state: "on",
        port,
        room_name: config.room_name,
        password_protected: !!config.password,
        lan_addresses: [`192.168.1.20:${port}`, `10.0.0.5:${port}`],
        join_link: `https://192.168.1.20:${port}/${encodeURIComponent(config.room_name)}#fp=${MOCK_CERTIFICATE}`,
      };
      emit({ type: "host_status", status: host });
      emit({ type: "lan_rooms", rooms: await backend.lan_rooms() });
      return structuredClone(host);
    },
    async host_stop() {
      host = { state: "off", last_error: null };
      emit({ type: "host_status", status: host });
      emit({ type: "lan_rooms", rooms: await backend.lan_rooms() });
      return structuredClone(host);
    },
    async host_status() {
      return structuredClone(host);
    },
    async get_settings() {
      return structuredClone(settings);
    },
    async set_settings({ settings: next }) {
      settings = structuredClone(next);
      return structuredClone(settings);
    },
    async list_devices(): Promise<DeviceList> {
      return {
        inputs: [
          { id: "mic-default", label: "Built-in microphone", is_default: true },
          { id: "mic-usb", label: "USB headset microphone", is_default: false },
        ],
        outputs: [
          { id: "out-default", label: "Built-in speakers", is_default: true },
          { id: "out-usb", label: "USB headset", is_default: false },
        ],
        cameras: [{ id: "cam-synthetic", label: "Synthetic camera (640x480)", is_default: true }],
      };
    },
    async play_test_sound() {},
    async mic_test({ on }) {
      micTest = on;
    },
    async subscribe(onEvent): Promise<Unsubscribe> {
      listeners.add(onEvent);
      return () => listeners.delete(onEvent);
    },
    async subscribeFrames(onFrame): Promise<Unsubscribe> {
      frameListeners.add(onFrame);
      return () => frameListeners.delete(onFrame);
    },
  };
  return backend;
}
