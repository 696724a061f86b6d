// Transcripts against the browser backend: server frames in through a fake WebSocket, and the
// client frames and AppEvents that must come out. The frames are the protocol's own examples
// (docs/protocol.md, "Worked example") where one fits.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Backend } from "./backend";
import { servedSocketUrl } from "./index";
import type { AppEvent } from "./types";
import { pageLink, webBackend, type SocketLike } from "./web";

class FakeSocket implements SocketLike {
  readyState = 1;
  sent: Record<string, unknown>[] = [];
  closedWith: number | null = null;
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }
  /** A frame from the server. */
  server(message: Record<string, unknown> | string) {
    this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }
  /** The server closes the connection. */
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** Client frames sent since the last call. */
  take(): Record<string, unknown>[] {
    const out = this.sent;
    this.sent = [];
    return out;
  }
}

const LIMITS = { max_frame_bytes: 524288, max_text_chars: 4000, max_name_chars: 32, max_image_bytes: 262144, rate_per_sec: 20, rate_burst: 40, heartbeat_timeout_ms: 30000, ping_interval_ms: 10000, history_page_max: 100 };
const hello = (password_required = false) => ({ type: "hello", protocol: 1, server: { name: "Hearth", version: "0.1.0" }, rooms: [{ name: "lobby", members: 1, locked: false }], password_required, limits: LIMITS });
const ROOM = { name: "lobby", channels: [{ id: "general", kind: "text", name: "general", topic: "" }, { id: "voice", kind: "voice", name: "Voice", topic: "" }], locked: false };
const wireMember = (id: number, name: string) => ({ id, name, operator: false, presence: "online", status_text: "", muted: false, deafened: false, server_muted: false, speaking: false, camera: false });
const welcome = { type: "welcome", you: 2, room: ROOM, members: [wireMember(1, "Alice"), wireMember(2, "Bob")], ice_servers: [] };

let sockets: FakeSocket[];
let events: AppEvent[];
let backend: Backend;

async function start() {
  backend = webBackend({
    url: "wss://chat.example.org:7777/",
    openSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    storage: null,
    media: null,
    random: () => 0.5,
    page: null,
    certificate: "ab".repeat(32),
  });
  await backend.subscribe((e) => events.push(e));
}

const last = () => sockets[sockets.length - 1];
const takeEvents = () => events.splice(0);
const connection = (e: AppEvent[]) => e.filter((x) => x.type === "connection").map((x) => (x as { status: unknown }).status);

/** connect → hello → auth → welcome → history, as Bob on the worked example's server. */
async function enter() {
  await backend.connect({ address: "chat.example.org:7777/lobby", name: "Bob", password: null });
  last().server(hello());
  expect(last().take()).toEqual([{ type: "auth", protocol: 1, room: "lobby", name: "Bob" }]);
  last().server(welcome);
  last().server({ type: "history", channel: "general", messages: [], has_more: false });
}

/** The connection drops and comes back after the first backoff; nothing is sent again. */
async function reconnectAndExpectNoResend() {
  last().drop(1006);
  await vi.advanceTimersByTimeAsync(1000);
  last().server(hello());
  last().take();
  last().server(welcome);
  expect(last().take()).toEqual([]);
}

beforeEach(async () => {
  vi.useFakeTimers();
  sockets = [];
  events = [];
  await start();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("browser backend transcripts", () => {
  it("enters a room and does a chat round trip", async () => {
    await enter();
    expect(sockets.map((s) => s.url)).toEqual(["wss://chat.example.org:7777/"]);
    const entered = takeEvents();
    expect(entered.map((e) => e.type)).toEqual(["connection", "welcome", "voice_status", "camera_status", "connection", "history"]);
    expect(connection(entered)).toEqual([
      { state: "connecting", address: "chat.example.org:7777/lobby" },
      { state: "connected", address: "chat.example.org:7777/lobby", room: "lobby", name: "Bob", server: { name: "Hearth", version: "0.1.0" }, certificate: "ab".repeat(32) },
    ]);
    const w = entered[1] as Extract<AppEvent, { type: "welcome" }>;
    expect(w.you).toBe(2);
    expect(w.members.map((m) => [m.name, m.status_text, m.voice_channel])).toEqual([["Alice", null, null], ["Bob", null, null]]);
    expect(w.room.channels[0].topic).toBeNull();

    await backend.send_chat({ channel: "general", client_id: "b-7f3a9c01", text: "hi Alice", reply_to: null, image: null });
    expect(last().take()).toEqual([{ type: "chat_send", channel: "general", client_id: "b-7f3a9c01", text: "hi Alice" }]);
    const chat = { id: 1, client_id: "b-7f3a9c01", channel: "general", author: "Bob", text: "hi Alice", ts: 1767225600000, deleted: false, reactions: [] };
    last().server({ type: "chat", message: chat });
    expect(takeEvents()).toEqual([{ type: "chat", message: { ...chat, reply_to: null, image: null, edited_ts: null } }]);

    await backend.edit_chat({ id: 1, text: "hi Alice!" });
    await backend.react_add({ id: 1, emoji: "👋" });
    await backend.send_chat({ channel: "@Alice", client_id: "b-2", text: "psst", reply_to: 1, image: { mime: "image/png", data: "iVBORw0KGgo=" } });
    await backend.history_get({ channel: "general", before: 41 });
    await backend.history_get({ channel: "@Alice", before: null });
    await backend.typing({ channel: "general" });
    await backend.set_presence({ presence: "away", status_text: null });
    expect(last().take()).toEqual([
      { type: "chat_edit", id: 1, text: "hi Alice!" },
      { type: "react_add", id: 1, emoji: "👋" },
      { type: "chat_send", channel: "@Alice", client_id: "b-2", text: "psst", reply_to: 1, image: { mime: "image/png", data: "iVBORw0KGgo=" } },
      { type: "history_get", channel: "general", before: 41 },
      { type: "history_get", channel: "@Alice" },
      { type: "typing", channel: "general" },
      { type: "set_presence", presence: "away" },
    ]);
  });

  it("answers ping with pong at once, and ignores unknown and unreadable frames", async () => {
    await enter();
    takeEvents();
    last().server({ type: "ping", nonce: 12 });
    last().server({ type: "ping" });
    last().server({ type: "teleport", to: 1 });
    last().server("not json");
    expect(last().take()).toEqual([{ type: "pong", nonce: 12 }, { type: "pong" }]);
    expect(takeEvents()).toEqual([]);
  });

  it("a refused password fails the join and never reconnects", async () => {
    await backend.connect({ address: "chat.example.org:7777/lobby", name: "Bob", password: "hunter3" });
    last().server(hello(true));
    expect(last().take()).toEqual([{ type: "auth", protocol: 1, room: "lobby", name: "Bob", password: "hunter3" }]);
    last().server({ type: "error", code: "bad_password", message: "wrong password", src: "auth" });
    last().server({ type: "disconnect", code: "bad_password", message: "wrong password" });
    last().drop(1008);
    expect(connection(takeEvents())).toEqual([
      { state: "connecting", address: "chat.example.org:7777/lobby" },
      { state: "failed", address: "chat.example.org:7777/lobby", code: "bad_password", message: "wrong password" },
    ]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sockets.length).toBe(1);
    expect(takeEvents()).toEqual([]);
  });

  it("an unreachable server on the first try fails instead of retrying", async () => {
    await backend.connect({ address: "chat.example.org:7777/lobby", name: "Bob", password: null });
    last().drop(1006);
    const status = connection(takeEvents())[1] as { state: string; code: string };
    expect(status.state).toBe("failed");
    expect(status.code).toBe("unreachable");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.length).toBe(1);
  });

  it("reconnects with backoff after the connection drops, and resends unacknowledged chat", async () => {
    await enter();
    await backend.send_chat({ channel: "general", client_id: "b-9", text: "are you there?", reply_to: null, image: null });
    last().take();
    takeEvents();
    last().drop(1006);
    expect(connection(takeEvents())).toEqual([
      { state: "reconnecting", address: "chat.example.org:7777/lobby", attempt: 1, retry_in_ms: 1000, message: "The connection to the server was lost." },
    ]);
    await vi.advanceTimersByTimeAsync(999);
    expect(sockets.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets.length).toBe(2);
    // The second try fails too: the wait doubles.
    last().drop(1006);
    expect(connection(takeEvents())).toEqual([
      { state: "reconnecting", address: "chat.example.org:7777/lobby", attempt: 2, retry_in_ms: 2000, message: "Could not reach the server again yet." },
    ]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sockets.length).toBe(3);
    last().server(hello());
    expect(last().take()).toEqual([{ type: "auth", protocol: 1, room: "lobby", name: "Bob" }]);
    last().server({ ...welcome, you: 5, members: [wireMember(1, "Alice"), wireMember(5, "Bob")] });
    expect(connection(takeEvents()).map((s) => (s as { state: string }).state)).toEqual(["connected"]);
    expect(last().take()).toEqual([{ type: "chat_send", channel: "general", client_id: "b-9", text: "are you there?" }]);
    // Acknowledged now: a later drop and reconnect sends nothing again.
    last().server({ type: "chat", message: { id: 7, client_id: "b-9", channel: "general", author: "Bob", text: "are you there?", ts: 1, deleted: false, reactions: [] } });
    await reconnectAndExpectNoResend();
  });

  it("coming back while the server still holds our old name waits and tries again", async () => {
    await enter();
    takeEvents();
    last().drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    last().server(hello());
    last().take();
    last().server({ type: "error", code: "name_taken", message: "name taken", src: "auth" });
    expect(connection(takeEvents())).toEqual([
      { state: "reconnecting", address: "chat.example.org:7777/lobby", attempt: 1, retry_in_ms: 1000, message: "The connection to the server was lost." },
      { state: "reconnecting", address: "chat.example.org:7777/lobby", attempt: 2, retry_in_ms: 2000, message: "Waiting for the server to let go of the previous connection." },
    ]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sockets.length).toBe(3);
    // On a first join the same refusal is the user's to fix.
    await backend.connect({ address: "chat.example.org:7777/lobby", name: "Alice", password: null });
    last().server(hello());
    last().server({ type: "error", code: "name_taken", message: "name taken", src: "auth" });
    expect(connection(takeEvents()).at(-1)).toEqual({ state: "failed", address: "chat.example.org:7777/lobby", code: "name_taken", message: "name taken" });
  });

  it("after shutdown it shows the server's words and tries again", async () => {
    await enter();
    takeEvents();
    last().server({ type: "shutdown", message: "the server is shutting down" });
    last().drop(1001);
    const [status] = connection(takeEvents()) as { state: string; message: string }[];
    expect(status.state).toBe("reconnecting");
    expect(status.message).toBe("the server is shutting down");
  });

  it("kicked: a notification, then failed, with no reconnect", async () => {
    await enter();
    takeEvents();
    last().server({ type: "disconnect", code: "kicked", message: "spamming the channel" });
    last().drop(1008);
    expect(takeEvents()).toEqual([
      { type: "notification", kind: "kicked", title: "You were kicked", body: "spamming the channel", channel: null },
      { type: "connection", status: { state: "failed", address: "chat.example.org:7777/lobby", code: "kicked", message: "spamming the channel" } },
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.length).toBe(1);
  });

  it("sends moderation as asked and shows the server's refusal", async () => {
    await enter();
    takeEvents();
    await backend.kick({ member: 1, reason: "spamming the channel" });
    await backend.ban({ member: 1, reason: null });
    await backend.server_mute({ member: 1, muted: true });
    await backend.lock({ locked: true });
    expect(last().take()).toEqual([
      { type: "kick", member: 1, reason: "spamming the channel" },
      { type: "ban", member: 1 },
      { type: "server_mute", member: 1, muted: true },
      { type: "lock", locked: true },
    ]);
    last().server({ type: "error", code: "forbidden", message: "only operators may kick", src: "kick" });
    expect(takeEvents()).toEqual([{ type: "error", code: "forbidden", message: "only operators may kick", src: "kick", client_id: null }]);
  });

  it("rate_limit on chat_send resends pending messages after the wait; on others it is shown", async () => {
    await enter();
    await backend.send_chat({ channel: "general", client_id: "b-1", text: "one", reply_to: null, image: null });
    last().take();
    takeEvents();
    last().server({ type: "rate_limit", retry_after_ms: 50, src: "chat_send" });
    await vi.advanceTimersByTimeAsync(49);
    expect(last().take()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(last().take()).toEqual([{ type: "chat_send", channel: "general", client_id: "b-1", text: "one" }]);
    expect(takeEvents()).toEqual([]);
    last().server({ type: "rate_limit", retry_after_ms: 50, src: "react_add" });
    const [e] = takeEvents() as Extract<AppEvent, { type: "error" }>[];
    expect([e.type, e.code, e.src]).toEqual(["error", "rate_limited", "react_add"]);
  });

  it("an error for a chat message carries its client_id and ends its resending", async () => {
    await enter();
    await backend.send_chat({ channel: "general", client_id: "a-0002", text: "x".repeat(4001), reply_to: null, image: null });
    last().take();
    takeEvents();
    last().server({ type: "error", code: "too_large", message: "text is longer than 4000 characters", src: "chat_send", client_id: "a-0002" });
    expect(takeEvents()).toEqual([{ type: "error", code: "too_large", message: "text is longer than 4000 characters", src: "chat_send", client_id: "a-0002" }]);
    await reconnectAndExpectNoResend();
  });

  it("paces a burst to the server's rate instead of being dropped", async () => {
    await enter();
    last().take();
    for (let i = 0; i < 45; i++) await backend.typing({ channel: "general" });
    expect(last().take().length).toBe(39);
    await vi.advanceTimersByTimeAsync(50);
    expect(last().take().length).toBe(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(last().take().length).toBe(5);
  });

  it("keeps the room up to date and notifies DMs and mentions", async () => {
    await enter();
    takeEvents();
    last().server({ type: "member_joined", member: wireMember(3, "Carol") });
    last().server({ type: "member_left", id: 3, reason: "kicked" });
    last().server({ type: "speaking", member: 1, speaking: true });
    last().server({ type: "chat", message: { id: 2, client_id: "a-1", channel: "@Alice", author: "Alice", text: "psst", ts: 1 } });
    last().server({ type: "chat", message: { id: 3, client_id: "a-2", channel: "general", author: "Alice", text: "hey @bob", ts: 2 } });
    expect(takeEvents().map((e) => (e.type === "notification" ? `notification ${e.kind}` : e.type))).toEqual([
      "member_joined",
      "member_left",
      "speaking",
      "chat",
      "notification dm",
      "chat",
      "notification mention",
    ]);
  });

  it("refuses room commands before joining and what a browser cannot do", async () => {
    await expect(backend.send_chat({ channel: "general", client_id: "x", text: "hi", reply_to: null, image: null })).rejects.toMatchObject({ code: "not_connected" });
    await expect(backend.kick({ member: 1, reason: null })).rejects.toMatchObject({ code: "not_connected" });
    await expect(backend.host_start({ config: { port: 0, room_name: "x", password: null, channels: [] } })).rejects.toMatchObject({ code: "not_in_browser" });
    await expect(backend.host_status()).resolves.toEqual({ state: "off", last_error: null });
    await expect(backend.lan_rooms()).resolves.toEqual([]);
    await enter();
    // Without media (no getUserMedia here) voice is refused in words, not thrown as a TypeError.
    await expect(backend.voice_join({ channel: "voice" })).rejects.toMatchObject({ code: "device_unavailable" });
  });

  it("disconnect closes the socket with 1000 and says so", async () => {
    await enter();
    takeEvents();
    await backend.disconnect();
    expect(sockets[0].closedWith).toBe(1000);
    expect(takeEvents()).toEqual([{ type: "connection", status: { state: "disconnected" } }]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.length).toBe(1);
  });

  it("drops a server that has gone silent for a heartbeat timeout, and reconnects", async () => {
    await enter();
    takeEvents();
    await vi.advanceTimersByTimeAsync(12_000);
    // After ping_interval_ms of silence the client probes the server itself.
    expect(last().take()).toEqual([{ type: "ping", nonce: 1 }]);
    await vi.advanceTimersByTimeAsync(20_000);
    const [status] = connection(takeEvents()) as { state: string; message: string }[];
    expect(status).toMatchObject({ state: "reconnecting", message: "The server stopped answering." });
  });
});

describe("selectBackend's contract with the server", () => {
  const doc = (content: string | null) => ({
    querySelector: (sel: string) =>
      content === null || sel !== 'meta[name="hearth-served"]' ? null : ({ getAttribute: () => content } as unknown as Element),
  });
  it("uses the browser backend only when the page carries the hearth-served tag", () => {
    expect(servedSocketUrl(doc(null), { protocol: "http:", host: "127.0.0.1:4173" })).toBeNull();
    expect(servedSocketUrl(doc(""), { protocol: "https:", host: "chat.example.org:7777" })).toBe("wss://chat.example.org:7777/");
    expect(servedSocketUrl(doc("1"), { protocol: "http:", host: "192.168.1.20:7777" })).toBe("ws://192.168.1.20:7777/");
    expect(servedSocketUrl(doc("wss://other.example.org:9000/"), { protocol: "https:", host: "x" })).toBe("wss://other.example.org:9000/");
  });

  it("prefills the join form with the page's own server and the room its path names", () => {
    expect(pageLink({ protocol: "https:", hostname: "chat.example.org", port: "7777", pathname: "/Den" })).toBe("hearth://chat.example.org:7777/Den");
    expect(pageLink({ protocol: "https:", hostname: "chat.example.org", port: "", pathname: "/" })).toBe("hearth://chat.example.org:443");
    expect(pageLink({ protocol: "http:", hostname: "[::1]", port: "", pathname: "/index.html" })).toBe("hearth://[::1]:80");
    expect(pageLink({ protocol: "http:", hostname: "h", port: "1", pathname: "/a/b" })).toBe("hearth://h:1");
  });
});
