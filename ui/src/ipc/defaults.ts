import type { Settings } from "./types";

/**
 * Settings as the UI holds them: the generated Settings with `voice_activation_threshold` a
 * number. bindings.ts types it `number | null` because it is an f32 in ipc.rs (serde writes a
 * NaN as null); the shell never stores one, and refuses a null when settings are set.
 */
export type UiSettings = Settings & { voice_activation_threshold: number };

/**
 * Settings before the user changed anything; also used when the backend has none to give.
 * The same values as `Settings::default()` in crates/hearth-desktop/src/ipc.rs.
 */
export function defaultSettings(): UiSettings {
  return {
    input_device: null,
    output_device: null,
    camera_device: null,
    push_to_talk: false,
    push_to_talk_key: null,
    voice_activation_threshold: 0.1,
    noise_suppression: true,
    frame_ms: 20,
    camera_resolution: { width: 640, height: 480, fps: 30 },
    theme: "system",
    display_name: "",
  };
}

/** The backend's settings with what it left out (or sent as null where it may not) from the defaults. */
export function completeSettings(from?: Partial<Settings> | null): UiSettings {
  const defaults = defaultSettings();
  const merged = { ...defaults, ...(from ?? {}) };
  const threshold = merged.voice_activation_threshold;
  return {
    ...merged,
    voice_activation_threshold: typeof threshold === "number" && Number.isFinite(threshold) ? threshold : defaults.voice_activation_threshold,
  };
}
