import { describe, expect, it } from "vitest";
import { completeSettings, defaultSettings } from "./defaults";

describe("settings from the backend", () => {
  it("keeps what the backend sent and fills what it left out", () => {
    const s = completeSettings({ frame_ms: 10, theme: "dark" });
    expect(s).toEqual({ ...defaultSettings(), frame_ms: 10, theme: "dark" });
    expect(completeSettings(undefined)).toEqual(defaultSettings());
  });

  it("makes the threshold a number (bindings.ts types the f32 `number | null`)", () => {
    expect(completeSettings({ voice_activation_threshold: 0.4 }).voice_activation_threshold).toBe(0.4);
    expect(completeSettings({ voice_activation_threshold: null }).voice_activation_threshold).toBe(0.1);
    expect(completeSettings({ voice_activation_threshold: Number.NaN }).voice_activation_threshold).toBe(0.1);
  });
});
