// The Tauri backend calls each command of the shell with exactly the argument names its Rust
// function declares (src-tauri/src/lib.rs, read here), and opens and closes the two streams
// as the shell expects.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Backend } from "./backend";
import { COMMANDS } from "./backend";
import shellSource from "../../../src-tauri/src/lib.rs?raw";

const invoke = vi.fn(async (..._args: unknown[]): Promise<unknown> => undefined);

vi.mock("@tauri-apps/api/core", () => {
  let nextId = 1;
  class Channel<T> {
    id = nextId++;
    onmessage: (message: T) => void = () => {};
  }
  return { Channel, invoke: (...args: unknown[]) => invoke(...args) };
});

const { tauriBackend } = await import("./tauri");

/** Each `#[tauri::command]` of the shell and its argument names (the Tauri-managed State left out). */
function rustCommands(): Map<string, string[]> {
  const commands = new Map<string, string[]>();
  const pattern = /#\[tauri::command\(rename_all = "snake_case"\)\]\s*async fn (\w+)\(([^)]*)\)/g;
  for (const [, name, params] of shellSource.matchAll(pattern)) {
    // `name: Type` at the start or after a comma (a comma inside `State<'_, X>` has no name after it).
    const args = [...params.matchAll(/(?<=^|,)\s*(\w+)\s*:(?!:)\s*(\S+)/g)]
      .filter(([, , type]) => !type.startsWith("State<"))
      .map(([, arg]) => arg);
    commands.set(name, args);
  }
  return commands;
}

type Command = (typeof COMMANDS)[number];

/** One call of every command, with the arguments the UI sends. */
const CALLS: Record<Command, (b: Backend) => Promise<unknown>> = {
  connect: (b) => b.connect({ address: "h:7777/lobby", name: "Sam", password: null }),
  disconnect: (b) => b.disconnect(),
  recent_servers: (b) => b.recent_servers(),
  lan_rooms: (b) => b.lan_rooms(),
  send_chat: (b) => b.send_chat({ channel: "general", client_id: "u-1", text: "hi", reply_to: null, image: null }),
  edit_chat: (b) => b.edit_chat({ id: 1, text: "hi" }),
  delete_chat: (b) => b.delete_chat({ id: 1 }),
  react_add: (b) => b.react_add({ id: 1, emoji: "👍" }),
  react_remove: (b) => b.react_remove({ id: 1, emoji: "👍" }),
  typing: (b) => b.typing({ channel: "general" }),
  history_get: (b) => b.history_get({ channel: "general", before: null }),
  set_presence: (b) => b.set_presence({ presence: "away", status_text: null }),
  voice_join: (b) => b.voice_join({ channel: "lounge" }),
  voice_leave: (b) => b.voice_leave(),
  set_muted: (b) => b.set_muted({ muted: true }),
  set_deafened: (b) => b.set_deafened({ deafened: true }),
  push_to_talk: (b) => b.push_to_talk({ pressed: true }),
  set_member_volume: (b) => b.set_member_volume({ member: 2, volume: 1.5 }),
  set_member_local_mute: (b) => b.set_member_local_mute({ member: 2, muted: true }),
  camera_on: (b) => b.camera_on(),
  camera_off: (b) => b.camera_off(),
  camera_open: (b) => b.camera_open({ member: 2 }),
  camera_close: (b) => b.camera_close({ member: 2 }),
  camera_boot: (b) => b.camera_boot({ member: 2 }),
  kick: (b) => b.kick({ member: 2, reason: null }),
  ban: (b) => b.ban({ member: 2, reason: "spam" }),
  server_mute: (b) => b.server_mute({ member: 2, muted: true }),
  lock: (b) => b.lock({ locked: true }),
  host_start: (b) => b.host_start({ config: { port: 0, room_name: "party", password: null, channels: [] } }),
  host_stop: (b) => b.host_stop(),
  host_status: (b) => b.host_status(),
  get_settings: (b) => b.get_settings(),
  set_settings: async (b) => b.set_settings({ settings: (await import("./defaults")).defaultSettings() }),
  list_devices: (b) => b.list_devices(),
  play_test_sound: (b) => b.play_test_sound(),
  mic_test: (b) => b.mic_test({ on: true }),
};

describe("tauri backend", () => {
  beforeEach(() => invoke.mockClear());

  it("calls every command the shell registers with the shell's argument names, and nothing more", async () => {
    const rust = rustCommands();
    expect(rust.size, "commands read from src-tauri/src/lib.rs").toBeGreaterThan(30);
    const backend = tauriBackend();
    const notInShell: string[] = [];
    for (const name of COMMANDS) {
      invoke.mockClear();
      await CALLS[name](backend);
      expect(invoke, name).toHaveBeenCalledTimes(1);
      const [called, args] = invoke.mock.calls[0] as [string, Record<string, unknown>];
      expect(called).toBe(name);
      const expected = rust.get(name);
      if (!expected) {
        notInShell.push(name);
        continue;
      }
      expect(Object.keys(args).sort(), name).toEqual([...expected].sort());
    }
    expect(notInShell).toEqual([]);
  });

  it("opens each stream with a channel and closes it by the channel's id", async () => {
    const backend = tauriBackend();
    const events: unknown[] = [];
    const stop = await backend.subscribe((e) => events.push(e));
    const [name, args] = invoke.mock.calls[0] as [string, { channel: { id: number; onmessage: (m: unknown) => void } }];
    expect(name).toBe("subscribe_events");
    const event = { type: "typing", channel: "general", member: 2 };
    args.channel.onmessage(event);
    expect(events).toEqual([event]);
    stop();
    expect(invoke).toHaveBeenLastCalledWith("unsubscribe_events", { channel: args.channel.id });
    args.channel.onmessage(event);
    expect(events).toHaveLength(1);

    const frames: ArrayBuffer[] = [];
    const stopFrames = await backend.subscribeFrames((f) => frames.push(f));
    const [frameName, frameArgs] = invoke.mock.calls.at(-1) as [string, { channel: { id: number; onmessage: (m: unknown) => void } }];
    expect(frameName).toBe("subscribe_frames");
    frameArgs.channel.onmessage(new ArrayBuffer(8));
    frameArgs.channel.onmessage("not a frame");
    expect(frames).toHaveLength(1);
    stopFrames();
    expect(invoke).toHaveBeenLastCalledWith("unsubscribe_frames", { channel: frameArgs.channel.id });
  });

  it("passes a refusal through as the CommandError it is", async () => {
    invoke.mockRejectedValueOnce({ code: "not_connected", message: "Join a room first." });
    await expect(tauriBackend().voice_join({ channel: "lounge" })).rejects.toEqual({ code: "not_connected", message: "Join a room first." });
  });
});
