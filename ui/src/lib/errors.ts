// Error codes (protocol and app) in words a user understands. The backend's own message is
// kept as a detail where it adds a reason.
//
// In the generated contract (bindings.ts) a code is a plain string: ipc.rs does not enumerate
// them, and a newer shell or server may send one this UI has never heard of. The codes below
// are the ones known now (docs/protocol.md's error codes, and the app's from
// crates/hearth-desktop and docs/ipc.md); `isKnownErrorCode` narrows a string to them, and an
// unknown code still gets a readable sentence (`describeError`).

import type { CommandError } from "../ipc/types";

const SENTENCES = {
  // The protocol's codes (docs/protocol.md, "Error codes").
  malformed: "Hearth sent something the server could not read. Try again; if it keeps happening, update Hearth.",
  unknown_type: "This server is older than your Hearth and does not support that yet.",
  invalid: "The server refused that request as invalid.",
  too_large: "That is too long or too big for this server.",
  unsupported_version: "This server speaks a different version of Hearth. Update Hearth or the server.",
  not_authenticated: "You are not in the room yet. Join it first.",
  already_authenticated: "You are already in this room.",
  bad_password: "The password is wrong.",
  banned: "You are banned from this room.",
  room_locked: "The room is locked: no one new can join right now.",
  room_not_found: "There is no room with that name on this server.",
  name_taken: "Someone in the room already uses that name. Pick another.",
  invalid_name:
    "Names may use letters, digits, spaces and - _ . ' only, must not start with @, and must not start or end with a space.",
  server_full: "The server is full. Try again later.",
  not_found: "That no longer exists: it may have been deleted, or the person left.",
  forbidden: "You are not allowed to do that.",
  not_in_voice: "Join a voice channel first.",
  camera_off: "That camera is off.",
  bad_image: "That image could not be sent. Use a PNG, JPEG, GIF or WebP picture.",
  flood: "You were disconnected for sending too fast.",
  kicked: "You were removed from the room by an operator.",
  heartbeat_timeout: "The connection was too quiet for too long and was closed.",
  shutdown: "The server shut down.",
  internal: "The server had a problem. Try again.",
  // The app's codes (hearth-desktop), for failures that never reach a server.
  not_in_browser: "That needs the Hearth desktop app: a browser tab cannot do it.",
  unreachable: "No Hearth server answered at that address. Check the address and that the server is running.",
  certificate_mismatch:
    "This server is not the one your link named, or the one you joined before: its certificate is different. Someone may be pretending to be the room. Ask the host for a new join link.",
  bad_address: "That address is not valid. Use host:port/room, for example 192.168.1.20:7777/lobby.",
  refused: "The server refused to let you in.",
  connection_lost: "The connection to the server was lost.",
  not_connected: "You are not connected to a room.",
  rate_limited: "Slow down a little: the server asked to wait before sending more.",
  device_unavailable: "A microphone, speaker or camera could not be opened. Check Settings.",
  voice_failed: "Voice stopped working.",
  camera_failed: "The camera stopped working.",
  camera_ended: "Your camera stopped.",
  camera_refused: "That camera could not be opened.",
  invalid_settings: "Those settings could not be saved.",
  invalid_port: "That is not a port number. Use a number from 1 to 65535.",
  port_in_use: "That port is already used by another program. Pick another port.",
  port_denied: "This computer does not allow Hearth to use that port. Use a port above 1024.",
  bind_failed: "The server on this computer could not open its port.",
  already_running: "The server on this computer is already running.",
  not_running: "The server on this computer is not running.",
  data_dir: "The server on this computer could not create its folder for chat history.",
  invalid_config: "The server on this computer could not start with those settings.",
  random_failed: "The server on this computer could not start.",
  host_failed: "The server on this computer could not start.",
  shutting_down: "Hearth is shutting down.",
} as const satisfies Record<string, string>;

/** An error code this UI has words for. */
export type KnownErrorCode = keyof typeof SENTENCES;

/** Codes whose message from the operator or backend adds to the sentence (a reason). */
const WITH_DETAIL = new Set<KnownErrorCode>([
  "kicked",
  "banned",
  "internal",
  "invalid",
  "connection_lost",
  "refused",
  "certificate_mismatch",
  "device_unavailable",
  "voice_failed",
  "camera_failed",
  "camera_ended",
  "camera_refused",
  "invalid_settings",
  "bind_failed",
  "data_dir",
  "invalid_config",
  "random_failed",
  "host_failed",
]);

export function isKnownErrorCode(code: string): code is KnownErrorCode {
  return Object.hasOwn(SENTENCES, code);
}

/** `detail` as a sentence: trimmed, capitalised, ending in a full stop (or ! or ?). */
function asSentence(detail: string): string {
  const text = detail.trim();
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** An unknown code in words: `teleport_failed` → `teleport failed`; "" when nothing is left. */
export function codeWords(code: string): string {
  return code
    .replace(/[^A-Za-z0-9]+/g, " ")
    .trim()
    .toLowerCase()
    .slice(0, 60)
    .trim();
}

/**
 * A sentence for an error code; `detail` (the backend's message) is appended where useful.
 * An unknown code shows the backend's message (the contract has it in words), or, without
 * one, the code itself in words.
 */
export function describeError(code: string, detail?: string | null): string {
  const hasDetail = typeof detail === "string" && detail.trim() !== "";
  if (!isKnownErrorCode(code)) {
    if (hasDetail) return asSentence(detail);
    const words = codeWords(typeof code === "string" ? code : "");
    return words ? `Something went wrong (${words}).` : "Something went wrong.";
  }
  const sentence = SENTENCES[code];
  if (hasDetail && WITH_DETAIL.has(code) && detail.trim() !== sentence) {
    return `${sentence} (${detail.trim()})`;
  }
  return sentence;
}

function isCommandError(e: unknown): e is CommandError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as CommandError).code === "string" &&
    typeof (e as CommandError).message === "string"
  );
}

/** Turns whatever a command rejected with into a sentence for the user. */
export function errorMessage(e: unknown): string {
  if (isCommandError(e)) return describeError(e.code, e.message);
  // Tauri itself rejects with a bare string when, for example, arguments do not deserialize.
  if (typeof e === "string" && e.length > 0) return `Something went wrong: ${e}`;
  if (e instanceof Error) return `Something went wrong: ${e.message}`;
  return "Something went wrong.";
}

export const ALL_CODES = Object.keys(SENTENCES) as KnownErrorCode[];
