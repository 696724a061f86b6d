// Picks the backend: the Tauri shell when running inside it, the mock in a plain browser
// (npm run dev, Playwright). The mock is loaded only when used, so it stays out of the code
// the app runs inside Tauri.

import type { Backend } from "./backend";
import { tauriBackend } from "./tauri";

export async function selectBackend(): Promise<Backend> {
  const inTauri = typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
  if (inTauri) return tauriBackend();
  const { mockBackend } = await import("./mock");
  const mock = mockBackend();
  window.__hearthMock = mock.control;
  return mock;
}

export type { Backend } from "./backend";
