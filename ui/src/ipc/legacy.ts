// Compatibility with the Rust shell as it is now (src-tauri before the full IPC contract):
// it has only host_start(port, password), host_stop and host_status, answers with the old
// camelCase HostStatus ({state: "stopped"|"running", lanAddress, passwordProtected}), and
// announces changes as the global event "host-status". These adapters let the host toggle
// work against it; delete this file once the shell implements backend.ts.

import type { HostStatus } from "./types";

/** The old HostStatus shape. */
export type LegacyHostStatus =
  | { state: "stopped"; lastError: string | null }
  | { state: "running"; address: string; port: number; lanAddress: string | null; passwordProtected: boolean };

/** Accepts a HostStatus in the new or the old shape. */
export function normalizeHostStatus(raw: unknown, roomName = "lobby"): HostStatus {
  const s = raw as Partial<HostStatus> & Partial<LegacyHostStatus> & Record<string, unknown>;
  if (s?.state === "on" || s?.state === "off") return s as HostStatus;
  if (s?.state === "running") {
    const legacy = s as Extract<LegacyHostStatus, { state: "running" }>;
    const lan = legacy.lanAddress ? [legacy.lanAddress] : [];
    const where = legacy.lanAddress ?? `127.0.0.1:${legacy.port}`;
    return {
      state: "on",
      port: legacy.port,
      room_name: roomName,
      password_protected: legacy.passwordProtected,
      lan_addresses: lan,
      join_link: `hearth://${where}/${encodeURIComponent(roomName)}`,
    };
  }
  const lastError = (s?.lastError as string | null | undefined) ?? (s?.last_error as string | null | undefined) ?? null;
  return { state: "off", last_error: lastError };
}
