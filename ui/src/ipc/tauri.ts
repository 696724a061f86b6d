// The Backend over Tauri IPC: every command is `invoke(<name>, <args>)` with the name and the
// snake_case argument object of backend.ts, and each stream is one `tauri::ipc::Channel`:
//
// - `subscribe_events { channel }`: the backend keeps the channel and sends every AppEvent
//   on it as JSON, in order, until the window closes or `unsubscribe_events` is called.
// - `subscribe_frames { channel }`: the same for video frames, sent as raw bytes
//   (`InvokeResponseBody::Raw`), which arrive here as ArrayBuffer (frame.ts has the layout).

import { Channel, invoke } from "@tauri-apps/api/core";
import { COMMANDS, type Backend, type Unsubscribe } from "./backend";
import type { AppEvent } from "./types";

type Command = (typeof COMMANDS)[number];

function command(name: Command) {
  return (args?: Record<string, unknown>) => invoke(name, args ?? {});
}

export function tauriBackend(): Backend {
  const commands = Object.fromEntries(COMMANDS.map((name) => [name, command(name)]));
  return {
    ...(commands as unknown as Omit<Backend, "kind" | "subscribe" | "subscribeFrames">),
    kind: "tauri",
    async subscribe(onEvent: (event: AppEvent) => void): Promise<Unsubscribe> {
      const channel = new Channel<AppEvent>();
      channel.onmessage = onEvent;
      await invoke("subscribe_events", { channel });
      return () => {
        channel.onmessage = () => {};
        void invoke("unsubscribe_events", { channel: channel.id }).catch(() => {});
      };
    },
    async subscribeFrames(onFrame: (frame: ArrayBuffer) => void): Promise<Unsubscribe> {
      const channel = new Channel<ArrayBuffer>();
      channel.onmessage = (data) => {
        // Raw bodies arrive as ArrayBuffer; anything else is not a frame.
        if (data instanceof ArrayBuffer) onFrame(data);
      };
      await invoke("subscribe_frames", { channel });
      return () => {
        channel.onmessage = () => {};
        void invoke("unsubscribe_frames", { channel: channel.id }).catch(() => {});
      };
    },
  };
}
