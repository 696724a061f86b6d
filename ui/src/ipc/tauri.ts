// The Backend over Tauri IPC: every command is `invoke(<name>, <args>)` with the name and the
// snake_case argument object of backend.ts, exactly as src-tauri declares them
// (`#[tauri::command(rename_all = "snake_case")]`), and each stream is one
// `tauri::ipc::Channel`:
//
// - `subscribe_events { channel }`: the backend keeps the channel and sends every AppEvent
//   on it as JSON, in order, until the window closes or `unsubscribe_events { channel: id }`.
// - `subscribe_frames { channel }`: the same for video frames, sent as raw bytes
//   (`InvokeResponseBody::Raw`), which arrive here as ArrayBuffer (frame.ts has the layout).
//
// The types are the generated ones (bindings.ts through types.ts); nothing is converted.

import { Channel, invoke } from "@tauri-apps/api/core";
import { COMMANDS, type Backend, type Unsubscribe } from "./backend";
import type { AppEvent } from "./types";

type Command = (typeof COMMANDS)[number];

function command(name: Command) {
  return (args?: Record<string, unknown>) => invoke(name, args ?? {});
}

/**
 * Opens one stream: hands a new Channel to `subscribe`, and on unsubscribe stops listening and
 * asks the shell to drop it with `unsubscribe` and the channel's id.
 */
async function stream<T>(
  subscribe: "subscribe_events" | "subscribe_frames",
  unsubscribe: "unsubscribe_events" | "unsubscribe_frames",
  onMessage: (message: T) => void,
): Promise<Unsubscribe> {
  const channel = new Channel<T>();
  channel.onmessage = onMessage;
  await invoke(subscribe, { channel });
  return () => {
    channel.onmessage = () => {};
    void invoke(unsubscribe, { channel: channel.id }).catch(() => {});
  };
}

export function tauriBackend(): Backend {
  const commands = Object.fromEntries(COMMANDS.map((name) => [name, command(name)]));
  return {
    ...(commands as unknown as Omit<Backend, "kind" | "subscribe" | "subscribeFrames">),
    kind: "tauri",
    subscribe(onEvent: (event: AppEvent) => void): Promise<Unsubscribe> {
      return stream<AppEvent>("subscribe_events", "unsubscribe_events", onEvent);
    },
    subscribeFrames(onFrame: (frame: ArrayBuffer) => void): Promise<Unsubscribe> {
      return stream<unknown>("subscribe_frames", "unsubscribe_frames", (data) => {
        // Raw bodies arrive as ArrayBuffer; anything else is not a frame.
        if (data instanceof ArrayBuffer) onFrame(data);
      });
    },
  };
}
