// The one app-wide store: the reactive AppState fed by backend events, plus UI-only state
// (which screen is shown, settings being edited). Components read `app` and `ui` directly and
// call the backend through `call`, which turns a refusal into a notice.

import { inTauriShell, selectBackend, type Backend } from "../ipc";
import type { AppEvent, DeviceList, RecentServer, Settings } from "../ipc/types";
import { completeSettings, type UiSettings } from "../ipc/defaults";
import { errorMessage } from "./errors";
import { pageFingerprint, type PageFingerprint } from "./fingerprint";
import { apply, expireTyping, initialState, pushNotice } from "./state";
import { FrameRouter } from "./video";

export type View = "start" | "host" | "room" | "settings";

export const app = $state(initialState());

export const ui = $state({
  view: "start" as View,
  settings: null as UiSettings | null,
  devices: { inputs: [], outputs: [], cameras: [] } as DeviceList,
  recent: [] as RecentServer[],
  /** Updated every second so countdowns and typing expiry re-render. */
  now: Date.now(),
  /** Per-member local volume (0..2) and local mute, kept in the UI for the sliders. */
  volumes: {} as Record<number, number>,
  localMutes: {} as Record<number, boolean>,
  ready: false,
  /**
   * On a page a Hearth server served (the browser backend): its certificate's fingerprint and
   * how it compares with the one the page's link names (#fp=…). Null in the shell and the mock.
   */
  fingerprint: null as PageFingerprint | null,
  /** Whether this front end can host a room: not in a browser tab, which has no server. */
  canHost: true,
});

export const frames = new FrameRouter();

/**
 * Bumped whenever the backend's camera streams change (the browser backend shows video as
 * MediaStreams, not frames), so tiles that read it ask for their stream again.
 */
export const streams = $state({ version: 0 });

/** The MediaStream for a tile's member key, when the backend shows video that way. */
export function mediaStreamFor(member: string): MediaStream | null {
  void streams.version;
  return backendRef?.mediaStream?.(member) ?? null;
}

let backendRef: Backend | null = null;

export function backend(): Backend {
  if (!backendRef) throw new Error("the backend is not ready yet");
  return backendRef;
}

/** Runs a command; on refusal shows the error in words and resolves to undefined. */
export async function call<T>(run: (b: Backend) => Promise<T>): Promise<T | undefined> {
  try {
    return await run(backend());
  } catch (e) {
    pushNotice(app, { kind: "error", text: errorMessage(e) });
    return undefined;
  }
}

function onEvent(event: AppEvent): void {
  const before = app.connection.state;
  apply(app, event, Date.now());
  if (event.type === "connection") {
    const now = event.status.state;
    if (now === "connected" && before !== "connected" && before !== "reconnecting") ui.view = "room";
    if ((now === "disconnected" || now === "failed") && ui.view === "room") ui.view = "start";
  }
  if (event.type === "deep_link") ui.view = "start";
  // The backend records a server as recent once it welcomed us, whichever screen joined it
  // (the join form, the host's "Join my room", a reconnect), so the list follows welcomes.
  if (event.type === "welcome") void refreshRecent();
}

async function refreshRecent(): Promise<void> {
  const recent = await backendRef?.recent_servers().catch(() => undefined);
  if (recent) ui.recent = recent;
}

let themeSetting: Settings["theme"] = "system";
const prefersLight = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: light)") : null;
prefersLight?.addEventListener("change", () => applyTheme(themeSetting));

/** Sets data-theme on <html> to light or dark; "system" follows the OS and its changes. */
export function applyTheme(theme: Settings["theme"]): void {
  themeSetting = theme;
  const resolved = theme === "system" ? (prefersLight?.matches ? "light" : "dark") : theme;
  document.documentElement.dataset.theme = resolved;
}

export async function startApp(): Promise<void> {
  // The served certificate's fingerprint, for the join form; read first, so the form never
  // offers to join before a mismatch is known. The same page can be given another link that
  // differs only after the "#" (no reload), so it follows the hash.
  if (!inTauriShell()) {
    const readFingerprint = () => (ui.fingerprint = pageFingerprint(document, location.hash));
    readFingerprint();
    if (ui.fingerprint) addEventListener("hashchange", readFingerprint);
  }
  backendRef = await selectBackend();
  const b = backendRef;
  ui.canHost = b.kind !== "web";
  // Subscribe before asking for anything, so no change in between is missed.
  await b.subscribe(onEvent);
  await b.subscribeFrames((f) => frames.push(f));
  b.onMediaStreams?.(() => streams.version++);
  setInterval(() => {
    ui.now = Date.now();
    expireTyping(app, ui.now);
  }, 1000);
  // Quietly: a shell that lacks one of these still shows a working app (with defaults).
  const quiet = <T,>(p: Promise<T>) => p.catch((e) => (console.warn("startup:", e), undefined));
  const [settings, host, lan, recent, devices] = await Promise.all([
    quiet(b.get_settings()),
    quiet(b.host_status()),
    quiet(b.lan_rooms()),
    quiet(b.recent_servers()),
    quiet(b.list_devices()),
  ]);
  // Fields the backend leaves out keep their defaults.
  ui.settings = completeSettings(settings);
  applyTheme(ui.settings.theme);
  if (host) app.host = host;
  if (lan) app.lan_rooms = lan;
  if (recent) ui.recent = recent;
  if (devices) ui.devices = devices;
  // A deep link in the page URL (#join=hearth://…) prefills the join form, as the shell's
  // deep-link event does.
  const hash = new URLSearchParams(location.hash.slice(1));
  const link = hash.get("join");
  if (link) app.deep_link = link;
  ui.ready = true;
}

export async function saveSettings(next: Settings): Promise<void> {
  const saved = await call((b) => b.set_settings({ settings: $state.snapshot(next) as Settings }));
  if (saved) {
    ui.settings = completeSettings(saved);
    applyTheme(saved.theme);
  }
}

/** A client_id for chat_send: random, 1..64 characters. */
export function newClientId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return "u-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
