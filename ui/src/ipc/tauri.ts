// The Backend over Tauri IPC: every command is `invoke(<name>, <args>)` with the name and the
// snake_case argument object of backend.ts, and each stream is one `tauri::ipc::Channel`:
//
// - `subscribe_events { channel }`: the backend keeps the channel and sends every AppEvent
//   on it as JSON, in order, until the window closes or `unsubscribe_events` is called.
// - `subscribe_frames { channel }`: the same for video frames, sent as raw bytes
//   (`InvokeResponseBody::Raw`), which arrive here as ArrayBuffer (frame.ts has the layout).

import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { COMMANDS, type Backend, type Unsubscribe } from "./backend";
import { normalizeHostStatus } from "./legacy";
import type { AppEvent, HostConfig, HostStatus } from "./types";

type Command = (typeof COMMANDS)[number];

function command(name: Command) {
  return (args?: Record<string, unknown>) => invoke(name, args ?? {});
}

export function tauriBackend(): Backend {
  const commands = Object.fromEntries(COMMANDS.map((name) => [name, command(name)]));
  // The room name of the last host_start, for describing an old-shape HostStatus.
  let roomName = "lobby";
  return {
    ...(commands as unknown as Omit<Backend, "kind" | "subscribe" | "subscribeFrames">),
    kind: "tauri",
    // The host commands also pass `port` and `password` at the top level, which is what the
    // current shell's host_start takes, and accept its old HostStatus shape (legacy.ts).
    async host_start({ config }: { config: HostConfig }): Promise<HostStatus> {
      roomName = config.room_name;
      const raw = await invoke("host_start", { config, port: config.port, password: config.password });
      return normalizeHostStatus(raw, roomName);
    },
    async host_stop(): Promise<HostStatus> {
      return normalizeHostStatus(await invoke("host_stop"), roomName);
    },
    async host_status(): Promise<HostStatus> {
      return normalizeHostStatus(await invoke("host_status"), roomName);
    },
    async subscribe(onEvent: (event: AppEvent) => void): Promise<Unsubscribe> {
      const channel = new Channel<AppEvent>();
      channel.onmessage = onEvent;
      try {
        await invoke("subscribe_events", { channel });
      } catch (e) {
        // The current shell has no event stream yet, only the global "host-status" event.
        console.warn("subscribe_events is not available; listening for host-status only", e);
        return listen("host-status", (event) =>
          onEvent({ type: "host_status", status: normalizeHostStatus(event.payload, roomName) }),
        );
      }
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
      try {
        await invoke("subscribe_frames", { channel });
      } catch (e) {
        console.warn("subscribe_frames is not available; no video", e);
        return () => {};
      }
      return () => {
        channel.onmessage = () => {};
        void invoke("unsubscribe_frames", { channel: channel.id }).catch(() => {});
      };
    },
  };
}
