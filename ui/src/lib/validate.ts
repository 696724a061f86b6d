// Checks on the host form, done before calling Rust so mistakes are explained right away.
// The Rust side checks again; these only make the messages quicker and friendlier.

import { hashFingerprints, parseFingerprint } from "./fingerprint";

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

export const MAX_PASSWORD_CHARS = 128;

/** A port typed by a person: whole number from 1 to 65535. */
export function checkPort(input: string): Checked<number> {
  const text = input.trim();
  if (text === "") return { ok: false, message: "Enter a port number, for example 7777." };
  if (!/^\d+$/.test(text)) {
    return { ok: false, message: `"${text}" is not a port number. Use digits only, for example 7777.` };
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    return { ok: false, message: `${text} is not a port number. Use a number from 1 to 65535.` };
  }
  return { ok: true, value: port };
}

/** An optional password: empty means anyone on the network can join. */
export function checkPassword(input: string): Checked<string | null> {
  if (input === "") return { ok: true, value: null };
  if (input.trim() !== input) {
    return {
      ok: false,
      message: "The password starts or ends with a space. Remove it so people can type it reliably.",
    };
  }
  // Count characters, not UTF-16 units, so emoji count as one.
  if ([...input].length > MAX_PASSWORD_CHARS) {
    return { ok: false, message: `The password is too long. Use at most ${MAX_PASSWORD_CHARS} characters.` };
  }
  return { ok: true, value: input };
}

export const MAX_NAME_CHARS = 32;

/** A display name as the protocol allows it (auth.name). */
export function checkName(input: string): Checked<string> {
  if (input === "") return { ok: false, message: "Enter a name others will see, for example Alice." };
  if (input.trim() !== input) return { ok: false, message: "The name starts or ends with a space. Remove it." };
  if (input.startsWith("@")) return { ok: false, message: "The name must not start with @." };
  if ([...input].length > MAX_NAME_CHARS) {
    return { ok: false, message: `The name is too long. Use at most ${MAX_NAME_CHARS} characters.` };
  }
  if (!/^[\p{L}\p{N} \-_.']+$/u.test(input)) {
    return { ok: false, message: "Names may use letters, digits, spaces and - _ . ' only." };
  }
  return { ok: true, value: input };
}

export interface ServerAddress {
  host: string;
  port: number;
  room: string;
  /** The certificate fingerprint a join link names (`#fp=`, 64 hex digits, lower case). */
  pin?: string;
  /** The address asked for TLS (`wss://`, `https://`). */
  secure?: boolean;
}

export const DEFAULT_PORT = 7777;
export const DEFAULT_ROOM = "lobby";

/**
 * A server address as typed or linked: `host[:port][/room]`, optionally with `ws://`,
 * `wss://` or `hearth://` in front. IPv6 hosts go in brackets. Port defaults to 7777 and the
 * room to "lobby".
 */
export function parseAddress(input: string): Checked<ServerAddress> {
  const whole = input.trim();
  const bad = (why: string): Checked<ServerAddress> => ({
    ok: false,
    message: `${why} Use host:port/room, for example 192.168.1.20:7777/lobby.`,
  });
  if (whole === "") return bad("Enter the server's address.");
  // A join link's fragment: the server certificate's fingerprint, which the app pins.
  const hashAt = whole.indexOf("#");
  const text = hashAt < 0 ? whole : whole.slice(0, hashAt);
  let pin: string | undefined;
  for (const written of hashAt < 0 ? [] : hashFingerprints(whole.slice(hashAt))) {
    const hex = parseFingerprint(written);
    if (!hex) {
      return { ok: false, message: "The link's certificate fingerprint (after #fp=) is damaged; ask the host for the link again." };
    }
    pin = hex;
  }
  const match = /^(?:(hearth|wss?|https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s/:[\]@?#]+)(?::(\d+))?(?:\/([^?#]*))?\/?$/i.exec(text);
  if (!match) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return bad("Only hearth://, https://, ws:// and wss:// addresses work here.");
    return bad(`"${text}" is not a server address.`);
  }
  const [, scheme, host, portText, roomText] = match;
  const secure = /^(wss|https)$/i.test(scheme ?? "");
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    const checked = checkPort(portText);
    if (!checked.ok) return { ok: false, message: checked.message };
    port = checked.value;
  }
  let room = DEFAULT_ROOM;
  if (roomText) {
    try {
      room = decodeURIComponent(roomText.replace(/\/$/, ""));
    } catch {
      return bad("The room name in the address is not valid.");
    }
  }
  const value: ServerAddress = { host, port, room };
  if (pin) value.pin = pin;
  if (secure) value.secure = true;
  return { ok: true, value };
}

/**
 * The address in the form the backend's connect takes and recent servers show; a pinned
 * address keeps its fingerprint (the app then connects over WSS and trusts only that
 * certificate).
 */
export function formatAddress(address: ServerAddress): string {
  const plain = `${address.host}:${address.port}/${encodeURIComponent(address.room)}`;
  if (address.pin) return `hearth://${plain}#fp=${address.pin}`;
  return address.secure ? `wss://${plain}` : plain;
}

/** A room or channel name for the host form. */
export function checkRoomName(input: string): Checked<string> {
  const text = input.trim();
  if (text === "") return { ok: false, message: "Enter a room name, for example lobby." };
  if (text.length > 64) return { ok: false, message: "The room name is too long. Use at most 64 characters." };
  if (!/^[\p{L}\p{N}\-_.]+$/u.test(text)) {
    return { ok: false, message: "Room names may use letters, digits and - _ . only (no spaces)." };
  }
  return { ok: true, value: text };
}

/** A comma-separated list of channel names for the host form; at least one for text. */
export function parseChannelList(input: string, what: "text" | "voice"): Checked<string[]> {
  const names = input
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (what === "text" && names.length === 0) {
    return { ok: false, message: "Add at least one text channel, for example general." };
  }
  const seen = new Set<string>();
  for (const name of names) {
    const checked = checkRoomName(name);
    if (!checked.ok) return { ok: false, message: `Channel "${name}": ${checked.message.replace("room name", "channel name").replace("Room names", "Channel names")}` };
    if (seen.has(name.toLowerCase())) return { ok: false, message: `Channel "${name}" is listed twice.` };
    seen.add(name.toLowerCase());
  }
  return { ok: true, value: names };
}
