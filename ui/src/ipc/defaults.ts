import type { Settings } from "./types";

/** Settings before the user changed anything; also used when the backend has none to give. */
export function defaultSettings(): Settings {
  return {
    input_device: null,
    output_device: null,
    camera_device: null,
    push_to_talk: false,
    push_to_talk_key: null,
    voice_activation_threshold: 0.2,
    noise_suppression: true,
    frame_ms: 20,
    camera_resolution: { width: 640, height: 480, fps: 30 },
    theme: "system",
    display_name: "",
  };
}
