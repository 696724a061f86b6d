// Picks the backend:
//
// - inside the Tauri shell (window.__TAURI_INTERNALS__): the shell, tauri.ts;
// - in a page served by a Hearth server: the browser backend, web.ts, which speaks the wire
//   protocol to that server itself. The server says it served the page by putting
//   `<meta name="hearth-served" content="">` into the <head> of index.html as it sends it.
//   `content` is empty (or anything that is not a WebSocket address) to connect back to the
//   page's own origin, `wss://<host>/` on https and `ws://<host>/` on http, or a `ws://` or
//   `wss://` address to connect there instead;
// - anywhere else (npm run dev, vite preview, the Playwright tests): the mock, mock.ts.
//
// A tag in the served HTML, rather than a build flag, keeps one ui/dist for the shell, the
// tests and the server: only the server adds the tag, so nothing else can pick the browser
// backend by accident. The mock and the browser backend are loaded only when used, so they
// stay out of the code the app runs inside Tauri.

import type { Backend } from "./backend";
import { tauriBackend } from "./tauri";
import { socketUrl } from "./web/wire";

/** The `hearth-served` tag's decision: null when absent, else the WebSocket address to use. */
export function servedSocketUrl(doc: Pick<Document, "querySelector">, loc: { protocol: string; host: string }): string | null {
  const meta = doc.querySelector('meta[name="hearth-served"]');
  if (!meta) return null;
  const content = (meta.getAttribute("content") ?? "").trim();
  if (/^wss?:\/\//i.test(content)) return content;
  return socketUrl(loc);
}

/** Whether the page runs inside the Tauri shell (which always gets the shell's backend). */
export function inTauriShell(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export async function selectBackend(): Promise<Backend> {
  if (inTauriShell()) return tauriBackend();
  const url = typeof document !== "undefined" ? servedSocketUrl(document, location) : null;
  if (url) {
    const { webBackend } = await import("./web");
    const { pageFingerprint } = await import("../lib/fingerprint");
    return webBackend({ url, page: location, certificate: pageFingerprint(document, "")?.server ?? null });
  }
  const { mockBackend } = await import("./mock");
  const mock = mockBackend();
  window.__hearthMock = mock.control;
  return mock;
}

export type { Backend } from "./backend";
