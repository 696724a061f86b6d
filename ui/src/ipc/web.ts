// The Backend for a plain browser tab served by a Hearth server ("browser guests"): the page
// speaks the wire protocol (docs/protocol.md) itself over a WebSocket to the server that served
// it, and does voice and video with the browser's WebRTC and WebAudio (web/media.ts), instead
// of asking the Tauri shell. It produces the same AppEvents as the native backend, so the UI
// runs unchanged.
//
// The pure parts (wire shapes and their conversion, address parsing, backoff, pacing) are in
// web/wire.ts and perfect negotiation in web/negotiation.ts; this file holds the connection's
// state machine. Its browser dependencies (WebSocket, storage, media) are passed in, so vitest
// replays transcripts against a fake socket.

import type { Backend, Unsubscribe } from "./backend";
import { completeSettings, type UiSettings } from "./defaults";
import type { AppEvent, CommandError, DeviceList, HostStatus, Member, MemberId, RecentServer, Settings } from "./types";
import { MediaError, WebMedia, type MediaHost } from "./web/media";
import {
  backoffMs,
  chooseRoom,
  DEFAULT_LIMITS,
  isFinalDisconnect,
  parseAddress,
  parseWire,
  roomEvents,
  toMember,
  toRoom,
  toServerInfo,
  TokenBucket,
  type IceServer,
  type Limits,
  type SignalData,
  type WireMessage,
} from "./web/wire";

/** The part of the browser's WebSocket used here. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** What the browser-only parts of media need from the backend; absent in tests. */
export type MediaLike = Pick<
  WebMedia,
  | "voiceStatus"
  | "cameraStatus"
  | "syncVoice"
  | "onSignal"
  | "join"
  | "leave"
  | "voiceChannel"
  | "setMuted"
  | "setDeafened"
  | "isMuted"
  | "isDeafened"
  | "pushToTalk"
  | "setVolume"
  | "setLocalMute"
  | "setMicTest"
  | "testSound"
  | "cameraOn"
  | "cameraOff"
  | "cameraIsOn"
  | "setWatchers"
  | "cameraOpened"
  | "cameraClosed"
  | "memberLeft"
  | "stream"
  | "onStreams"
  | "reset"
>;

export interface WebOptions {
  /** The server's WebSocket address (wire.ts `socketUrl` of the page's location). */
  url: string;
  /** Opens a socket; the browser's WebSocket by default. */
  openSocket?: (url: string) => SocketLike;
  /** Where settings and recent servers are kept; localStorage by default, none in tests. */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** Media (voice, cameras); WebMedia by default. Null: voice and camera commands are refused. */
  media?: ((host: MediaHost) => MediaLike) | null;
  /** 0..1, for the reconnect jitter; Math.random by default. */
  random?: () => number;
  /** The page's path and host, to prefill the join form with the room it names. */
  page?: { protocol: string; hostname: string; port: string; pathname: string } | null;
  /**
   * The fingerprint (64 hex digits) of the certificate that served the page (its
   * `hearth-fingerprint` tag), reported with the connected status as the shell reports the one
   * it pinned; null over plain http or when the page names none.
   */
  certificate?: string | null;
}

const SETTINGS_KEY = "hearth.settings";
const RECENT_KEY = "hearth.recent";
const OPEN = 1;

type Phase = "idle" | "connecting" | "connected" | "reconnecting" | "failed";

/** What the CommandError of a refused command looks like. */
const refusal = (code: string, message: string): CommandError => ({ code, message });

const NOT_IN_BROWSER = (what: string) =>
  refusal("not_in_browser", `${what} needs the Hearth desktop app; a browser tab cannot do it.`);

/** localStorage, or null where the browser refuses it (it throws, for example, with storage disabled). */
function browserStorage(): Storage | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage : null;
  } catch {
    return null;
  }
}

/** The page's server as a hearth:// link, with the room its path names, if any. */
export function pageLink(page: { protocol: string; hostname: string; port: string; pathname: string }): string {
  const path = page.pathname.replace(/^\/+|\/+$/g, "");
  // Only a single segment that is not a file (index.html, assets/…) names a room.
  const room = path && !path.includes("/") && !path.includes(".") ? path : "";
  const port = page.port || (page.protocol === "https:" ? "443" : "80");
  return `hearth://${page.hostname}:${port}${room ? `/${room}` : ""}`;
}

export function webBackend(options: WebOptions): Backend {
  const openSocket = options.openSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
  const storage = options.storage === undefined ? browserStorage() : options.storage;
  const random = options.random ?? Math.random;

  const listeners = new Set<(e: AppEvent) => void>();
  const emit = (event: AppEvent) => {
    // Like IPC, the UI never shares objects with the backend.
    const copy = structuredClone(event);
    for (const l of listeners) l(copy);
  };

  // ---- stored things ----
  const load = <T,>(key: string): T | null => {
    try {
      const text = storage?.getItem(key);
      return text ? (JSON.parse(text) as T) : null;
    } catch {
      return null;
    }
  };
  const save = (key: string, value: unknown) => {
    try {
      storage?.setItem(key, JSON.stringify(value));
    } catch {
      // A full or disabled storage only loses the convenience.
    }
  };
  let settings: UiSettings = completeSettings(load<Partial<Settings>>(SETTINGS_KEY));

  // ---- connection state ----
  let phase: Phase = "idle";
  let intent: { address: string; name: string; password: string | null; room: string | null } | null = null;
  let socket: SocketLike | null = null;
  /** Bumped for every socket, so events of an abandoned one are ignored. */
  let generation = 0;
  let everWelcomed = false;
  let welcomed = false;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let livenessTimer: ReturnType<typeof setInterval> | null = null;
  let lastHeard = 0;
  let pingNonce = 0;
  let pingSentAt = 0;
  /** Why the server said it would close (disconnect or shutdown), until the close comes. */
  let closing: { code: string; message: string } | null = null;
  let limits: Limits = { ...DEFAULT_LIMITS };
  let server = toServerInfo(null);
  let iceServers: IceServer[] = [];

  // Room state, kept for media (who is in our voice channel) and for voice_status.
  let you: MemberId | null = null;
  let myName = "";
  const members = new Map<MemberId, Member>();
  /** chat_send messages not yet acknowledged by their `chat`, by client_id (checklist 5). */
  const pendingChats = new Map<string, Record<string, unknown>>();

  // ---- pacing (checklist 10) ----
  const bucket = new TokenBucket(limits.rate_per_sec, limits.rate_burst, Date.now());
  let queue: Record<string, unknown>[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;

  function rawSend(message: Record<string, unknown>): void {
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(message));
  }

  function flush(): void {
    flushTimer = null;
    while (queue.length > 0) {
      const wait = bucket.take(Date.now());
      if (wait > 0) {
        flushTimer = setTimeout(flush, wait);
        return;
      }
      rawSend(queue.shift()!);
    }
  }

  /** Sends a message within the server's rate; `pong` is free and goes at once. */
  function send(message: Record<string, unknown>): void {
    if (!socket) return;
    queue.push(message);
    if (!flushTimer) flush();
  }

  // ---- media ----
  const mediaHost: MediaHost = {
    you: () => you,
    send,
    emit,
    iceServers: () => iceServers,
    settings: () => settings,
    speaking: () => [...members.values()].filter((m) => m.speaking).map((m) => m.id),
  };
  const media: MediaLike | null =
    options.media === null ? null : (options.media ?? ((host: MediaHost) => new WebMedia(host)))(mediaHost);

  /** Tells the room our mute and deafen (when connected) and the UI the new voice status. */
  function voiceStateChanged(m: { isMuted: boolean; isDeafened: boolean }): void {
    if (phase === "connected") send({ type: "voice_state", muted: m.isMuted, deafened: m.isDeafened });
    emit(voiceStatus());
  }

  function voiceStatus(): AppEvent {
    return media
      ? media.voiceStatus()
      : { type: "voice_status", status: { channel: null, muted: false, deafened: false, input_level: 0, speaking: mediaHost.speaking() } };
  }

  // ---- lifecycle ----

  function stopTimers(): void {
    if (retryTimer) clearTimeout(retryTimer);
    if (livenessTimer) clearInterval(livenessTimer);
    if (flushTimer) clearTimeout(flushTimer);
    retryTimer = livenessTimer = flushTimer = null;
  }

  function abandonSocket(code = 1000): void {
    generation++;
    const s = socket;
    socket = null;
    queue = [];
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(code);
      } catch {
        // Already closed.
      }
    }
  }

  function clearRoom(): void {
    you = null;
    members.clear();
    welcomed = false;
  }

  function open(): void {
    abandonSocket();
    const mine = ++generation;
    welcomed = false;
    closing = null;
    let s: SocketLike;
    try {
      s = openSocket(options.url);
    } catch (e) {
      dropped(`Could not open a connection to ${options.url}: ${(e as Error).message}`);
      return;
    }
    socket = s;
    lastHeard = Date.now();
    s.onmessage = (ev) => {
      if (mine !== generation) return;
      lastHeard = Date.now();
      if (typeof ev.data !== "string") return;
      const message = parseWire(ev.data);
      // The protocol asks clients to skip what they cannot read rather than drop the connection.
      if (!message) return console.warn("hearth: skipping a server frame that is not a message");
      handle(message);
    };
    s.onclose = (ev) => {
      if (mine !== generation) return;
      socket = null;
      queue = [];
      dropped(ev.reason ? `The connection closed: ${ev.reason}` : "The connection to the server was lost.");
    };
    s.onerror = () => {};
    if (livenessTimer) clearInterval(livenessTimer);
    livenessTimer = setInterval(checkLiveness, 1000);
  }

  /**
   * The server answers pings and sends its own after `ping_interval_ms` of our silence; when it
   * has said nothing for a whole heartbeat timeout the connection is dead even if the browser
   * has not noticed, so the socket is dropped and the reconnect begins.
   */
  function checkLiveness(): void {
    if (!socket || phase !== "connected") return;
    const quiet = Date.now() - lastHeard;
    if (quiet > limits.heartbeat_timeout_ms) {
      abandonSocket(4000);
      dropped("The server stopped answering.");
    } else if (quiet > limits.ping_interval_ms && Date.now() - pingSentAt > limits.ping_interval_ms) {
      pingSentAt = Date.now();
      send({ type: "ping", nonce: ++pingNonce });
    }
  }

  /** The socket is gone: give up, or try again later. */
  function dropped(message: string): void {
    if (livenessTimer) clearInterval(livenessTimer);
    livenessTimer = null;
    const why = closing;
    closing = null;
    const wasIn = welcomed;
    clearRoom();
    if (!intent) return;
    const address = intent.address;
    media?.reset(false);
    if (why && isFinalDisconnect(why.code)) return fail(why.code, why.message);
    if (!everWelcomed) {
      // The first try never got in: nothing to come back to.
      return fail(why?.code ?? "unreachable", why?.message ?? `No Hearth server answered at ${options.url}.`);
    }
    attempt++;
    const delay = backoffMs(attempt, random());
    phase = "reconnecting";
    emit({
      type: "connection",
      status: { state: "reconnecting", address, attempt, retry_in_ms: delay, message: why?.message ?? (wasIn ? message : "Could not reach the server again yet.") },
    });
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (intent) open();
    }, delay);
  }

  function fail(code: string, message: string): void {
    const address = intent?.address ?? "";
    intent = null;
    phase = "failed";
    stopTimers();
    abandonSocket();
    clearRoom();
    pendingChats.clear();
    media?.reset(true);
    emit({ type: "connection", status: { state: "failed", address, code, message } });
  }

  function rememberRecent(): void {
    if (!intent) return;
    const address = intent.address;
    const list = (load<RecentServer[]>(RECENT_KEY) ?? []).filter((r) => r.address !== address);
    list.unshift({ address, name: myName, room: intent.room ?? "", last_joined: Date.now() });
    save(RECENT_KEY, list.slice(0, 10));
  }

  // ---- server messages ----

  function handle(m: WireMessage): void {
    const o = m as Record<string, unknown>;
    switch (m.type) {
      case "hello": {
        limits = { ...DEFAULT_LIMITS, ...((o.limits as Partial<Limits>) ?? {}) };
        bucket.setLimits(limits.rate_per_sec, limits.rate_burst);
        server = toServerInfo(o.server);
        if (!intent) return;
        const room = chooseRoom(intent.room, o.rooms);
        intent.room = room;
        const auth: Record<string, unknown> = { type: "auth", protocol: 1, room, name: intent.name };
        if (intent.password) auth.password = intent.password;
        rawSend(auth);
        return;
      }
      case "welcome": {
        you = Number(o.you);
        const room = toRoom((o.room ?? {}) as Record<string, unknown>);
        const list = (Array.isArray(o.members) ? o.members : []).map((x) => toMember(x as Record<string, unknown>));
        members.clear();
        for (const x of list) members.set(x.id, x);
        myName = members.get(you)?.name ?? intent?.name ?? "";
        iceServers = Array.isArray(o.ice_servers) ? (o.ice_servers as IceServer[]) : [];
        welcomed = true;
        everWelcomed = true;
        attempt = 0;
        phase = "connected";
        emit({ type: "welcome", you, room, members: list });
        media?.syncVoice(list);
        emit(voiceStatus());
        emit({ type: "camera_status", status: media?.cameraStatus() ?? { on: false, opened: [], watchers: [] } });
        emit({ type: "connection", status: { state: "connected", address: intent!.address, room: room.name, name: myName, server, certificate: options.certificate ?? null } });
        rememberRecent();
        // After a reconnect: what we were doing carries on (messages not yet acknowledged are
        // resent under the same client_id, which the server stores once).
        for (const chat of pendingChats.values()) send(chat);
        if (media?.voiceChannel) send({ type: "voice_join", channel: media.voiceChannel });
        if (media && (media.isMuted || media.isDeafened)) send({ type: "voice_state", muted: media.isMuted, deafened: media.isDeafened });
        if (media?.cameraIsOn) send({ type: "camera", on: true });
        return;
      }
      case "ping": {
        // Answered at once and outside the pacing: pong is free (Rate limiting).
        const pong: Record<string, unknown> = { type: "pong" };
        if (o.nonce !== undefined && o.nonce !== null) pong.nonce = o.nonce;
        rawSend(pong);
        return;
      }
      case "pong":
        return;
      case "error": {
        const code = String(o.code ?? "internal");
        const message = String(o.message ?? code);
        const src = typeof o.src === "string" ? o.src : null;
        const client_id = typeof o.client_id === "string" ? o.client_id : null;
        if (!welcomed && (src === "auth" || src === null)) {
          // Coming back after a drop the server has not noticed yet, our old connection still
          // holds the name until the server's heartbeat timeout: wait and try again.
          if (everWelcomed && code === "name_taken") {
            closing = { code, message: "Waiting for the server to let go of the previous connection." };
            abandonSocket();
            return dropped(message);
          }
          // Otherwise a refused auth ends this attempt: the user fixes the name or password and
          // joins again (bad_password and banned are followed by disconnect anyway).
          return fail(code, message);
        }
        if (client_id) pendingChats.delete(client_id);
        if (src === "voice_join" && media) {
          media.leave();
          emit(voiceStatus());
        }
        emit({ type: "error", code, message, src, client_id });
        return;
      }
      case "rate_limit": {
        const wait = Number(o.retry_after_ms) || 50;
        const src = typeof o.src === "string" ? o.src : null;
        if (src === "chat_send") {
          // rate_limit carries no client_id: every unacknowledged message goes again.
          setTimeout(() => {
            for (const chat of pendingChats.values()) send(chat);
          }, wait);
        } else if (src !== "typing" && src !== "pong") {
          emit({ type: "error", code: "rate_limited", message: `The server dropped a ${src ?? "message"} and asked to wait ${wait} ms.`, src, client_id: null });
        }
        return;
      }
      case "disconnect":
        closing = { code: String(o.code ?? "connection_lost"), message: String(o.message ?? "") };
        if (closing.code === "kicked" || closing.code === "banned") {
          emit({
            type: "notification",
            kind: closing.code,
            title: closing.code === "kicked" ? "You were kicked" : "You were banned",
            body: closing.message,
            channel: null,
          });
        }
        return;
      case "shutdown":
        closing = { code: "shutdown", message: String(o.message ?? "The server is shutting down.") };
        return;
      case "ice_servers":
        iceServers = Array.isArray(o.servers) ? (o.servers as IceServer[]) : [];
        return;
      case "camera_ring": {
        const watcher = Number(o.watcher);
        const current = media?.cameraStatus().watchers ?? [];
        if (!current.includes(watcher)) media?.setWatchers([...current, watcher]);
        return;
      }
      case "watchers": {
        const list = (Array.isArray(o.watchers) ? o.watchers : []).map(Number);
        media?.setWatchers(list);
        emit({ type: "watchers", watchers: list });
        return;
      }
      case "camera_opened":
        media?.cameraOpened(Number(o.member));
        emit({ type: "camera_opened", member: Number(o.member) });
        return;
      case "camera_closed":
        media?.cameraClosed(Number(o.member));
        emit({ type: "camera_closed", member: Number(o.member) });
        return;
      case "signal": {
        const camera = typeof o.camera === "number" ? o.camera : null;
        if (media) void media.onSignal(Number(o.from), o.data as SignalData, camera);
        return;
      }
    }
    for (const event of roomEvents(m)) apply(event);
  }

  /** Keeps our copy of the room up to date, tells media, and passes the event on. */
  function apply(event: AppEvent): void {
    switch (event.type) {
      case "member_joined":
      case "member_updated": {
        const before = members.get(event.member.id);
        members.set(event.member.id, event.member);
        emit(event);
        media?.syncVoice([...members.values()]);
        if (event.member.id === you && before && (before.voice_channel !== event.member.voice_channel || before.muted !== event.member.muted)) emit(voiceStatus());
        return;
      }
      case "member_left":
        members.delete(event.id);
        media?.memberLeft(event.id);
        emit(event);
        media?.syncVoice([...members.values()]);
        return;
      case "speaking": {
        const m = members.get(event.member);
        if (m) m.speaking = event.speaking;
        emit(event);
        return;
      }
      case "chat": {
        const msg = event.message;
        const mine = msg.author === myName;
        if (mine) pendingChats.delete(msg.client_id);
        emit(event);
        if (!mine && msg.channel.startsWith("@")) {
          emit({ type: "notification", kind: "dm", title: `Message from ${msg.author}`, body: msg.text, channel: msg.channel });
        } else if (!mine && myName && msg.text.toLowerCase().includes("@" + myName.toLowerCase())) {
          emit({ type: "notification", kind: "mention", title: `${msg.author} mentioned you in #${msg.channel}`, body: msg.text, channel: msg.channel });
        }
        return;
      }
      default:
        emit(event);
    }
  }

  // ---- commands ----

  function requireRoom(): void {
    if (phase !== "connected" || !socket) throw refusal("not_connected", "You are not connected to a room.");
  }

  function requireMedia(): MediaLike {
    if (!media) throw refusal("device_unavailable", "This browser offers no microphone or camera access here.");
    return media;
  }

  /** Runs a media step, turning its failure into a CommandError. */
  async function mediaStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      if (e instanceof MediaError) throw refusal(e.code, e.message);
      throw refusal("device_unavailable", String((e as Error)?.message ?? e));
    }
  }

  /** Sends a request that needs the room; its answer arrives as events. */
  const request = (message: Record<string, unknown>) => {
    requireRoom();
    send(message);
  };

  /** Leaves optional fields out when null, as the protocol's "Required: no" allows. */
  const withOptional = (message: Record<string, unknown>, optional: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(optional)) if (v !== null && v !== undefined && v !== "") message[k] = v;
    return message;
  };

  const backend: Backend = {
    kind: "web",

    async connect({ address, name, password }) {
      stopTimers();
      abandonSocket();
      clearRoom();
      media?.reset(true);
      pendingChats.clear();
      intent = { address, name, password, room: parseAddress(address).room };
      everWelcomed = false;
      attempt = 0;
      phase = "connecting";
      settings = { ...settings, display_name: name };
      save(SETTINGS_KEY, settings);
      emit({ type: "connection", status: { state: "connecting", address } });
      open();
    },
    async disconnect() {
      intent = null;
      phase = "idle";
      stopTimers();
      abandonSocket(1000);
      clearRoom();
      pendingChats.clear();
      media?.reset(true);
      emit({ type: "connection", status: { state: "disconnected" } });
    },
    async recent_servers() {
      return load<RecentServer[]>(RECENT_KEY) ?? [];
    },
    async lan_rooms() {
      // A browser cannot browse mDNS; the list is simply empty.
      return [];
    },

    async send_chat({ channel, client_id, text, reply_to, image }) {
      requireRoom();
      const message = withOptional({ type: "chat_send", channel, client_id, text }, { reply_to, image });
      pendingChats.set(client_id, message);
      send(message);
    },
    async edit_chat({ id, text }) {
      request({ type: "chat_edit", id, text });
    },
    async delete_chat({ id }) {
      request({ type: "chat_delete", id });
    },
    async react_add({ id, emoji }) {
      request({ type: "react_add", id, emoji });
    },
    async react_remove({ id, emoji }) {
      request({ type: "react_remove", id, emoji });
    },
    async typing({ channel }) {
      request({ type: "typing", channel });
    },
    async history_get({ channel, before }) {
      request(withOptional({ type: "history_get", channel }, { before }));
    },
    async set_presence({ presence, status_text }) {
      request(withOptional({ type: "set_presence", presence }, { status_text }));
    },

    async voice_join({ channel }) {
      requireRoom();
      const m = requireMedia();
      await mediaStep(() => m.join(channel));
      send({ type: "voice_join", channel });
      emit(voiceStatus());
    },
    async voice_leave() {
      requireRoom();
      const m = requireMedia();
      if (m.voiceChannel === null) throw refusal("not_in_voice", "You are not in a voice channel.");
      m.leave();
      send({ type: "voice_leave" });
      emit(voiceStatus());
    },
    async set_muted({ muted }) {
      const m = requireMedia();
      m.setMuted(muted);
      voiceStateChanged(m);
    },
    async set_deafened({ deafened }) {
      const m = requireMedia();
      m.setDeafened(deafened);
      voiceStateChanged(m);
    },
    async push_to_talk({ pressed }) {
      media?.pushToTalk(pressed);
    },
    async set_member_volume({ member, volume }) {
      media?.setVolume(member, volume);
    },
    async set_member_local_mute({ member, muted }) {
      media?.setLocalMute(member, muted);
    },

    async camera_on() {
      requireRoom();
      const m = requireMedia();
      await mediaStep(() => m.cameraOn());
      send({ type: "camera", on: true });
    },
    async camera_off() {
      const m = requireMedia();
      m.cameraOff();
      if (phase === "connected") send({ type: "camera", on: false });
    },
    async camera_open({ member }) {
      request({ type: "camera_open", member });
    },
    async camera_close({ member }) {
      request({ type: "camera_close", member });
    },
    async camera_boot({ member }) {
      request({ type: "camera_boot", member });
    },

    // Moderation: sent as asked; the server refuses non-operators with `forbidden`, which
    // arrives as an `error` event carrying the server's code and message.
    async kick({ member, reason }) {
      request(withOptional({ type: "kick", member }, { reason }));
    },
    async ban({ member, reason }) {
      request(withOptional({ type: "ban", member }, { reason }));
    },
    async server_mute({ member, muted }) {
      request({ type: "server_mute", member, muted });
    },
    async lock({ locked }) {
      request({ type: "lock", locked });
    },

    // A browser tab cannot host a server: the status is always off, and starting refuses.
    async host_start() {
      throw NOT_IN_BROWSER("Hosting a room");
    },
    async host_stop(): Promise<HostStatus> {
      return { state: "off", last_error: null };
    },
    async host_status(): Promise<HostStatus> {
      return { state: "off", last_error: null };
    },

    async get_settings() {
      return structuredClone(settings);
    },
    async set_settings({ settings: next }) {
      settings = completeSettings(next);
      save(SETTINGS_KEY, settings);
      return structuredClone(settings);
    },
    async list_devices(): Promise<DeviceList> {
      const list: DeviceList = { inputs: [], outputs: [], cameras: [] };
      if (typeof navigator === "undefined" || !navigator.mediaDevices?.enumerateDevices) return list;
      const devices = await navigator.mediaDevices.enumerateDevices().catch(() => [] as MediaDeviceInfo[]);
      const counts = { audioinput: 0, audiooutput: 0, videoinput: 0 };
      for (const d of devices) {
        if (!(d.kind in counts) || !d.deviceId) continue;
        const n = ++counts[d.kind];
        // Browsers hide labels until the page has been allowed a device once.
        const fallback = { audioinput: "Microphone", audiooutput: "Speaker", videoinput: "Camera" }[d.kind];
        const device = { id: d.deviceId, label: d.label || `${fallback} ${n}`, is_default: d.deviceId === "default" };
        (d.kind === "audioinput" ? list.inputs : d.kind === "audiooutput" ? list.outputs : list.cameras).push(device);
      }
      return list;
    },
    async play_test_sound() {
      const m = requireMedia();
      await mediaStep(() => m.testSound());
    },
    async mic_test({ on }) {
      const m = requireMedia();
      await mediaStep(() => m.setMicTest(on));
    },

    async subscribe(onEvent): Promise<Unsubscribe> {
      const first = listeners.size === 0;
      listeners.add(onEvent);
      // The join form is prefilled with the page's own server, and the room when the page's
      // path names one (https://host:port/<room>), as the shell offers a hearth:// link: the
      // browser can only ever join the server that served it.
      const page = options.page;
      if (first && page) emit({ type: "deep_link", url: pageLink(page) });
      return () => listeners.delete(onEvent);
    },
    async subscribeFrames(): Promise<Unsubscribe> {
      // Video reaches the tiles as MediaStreams (mediaStream below), never as frames.
      return () => {};
    },
    mediaStream(member: string): MediaStream | null {
      return media?.stream(member) ?? null;
    },
    onMediaStreams(listener: () => void): Unsubscribe {
      return media ? media.onStreams(listener) : () => {};
    },
  };
  return backend;
}
