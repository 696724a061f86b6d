// The voice gate the worklet runs per 128-sample block (gate.ts): opens in the block that is
// loud, holds 300 ms, closes to zeros, and obeys push-to-talk and muting.

import { describe, expect, it } from "vitest";
import { HANG_MS, levelFromBlock, VoiceGate, type GateReport } from "./gate";
import { levelFromSamples } from "./media";

const RATE = 48000;
const N = 128;
const BLOCK_MS = (N / RATE) * 1000;

/** A block of a 400 Hz square wave of this amplitude (RMS = amplitude), starting at sample `t`. */
function square(amplitude: number, t = 0): Float32Array {
  const b = new Float32Array(N);
  for (let i = 0; i < N; i++) b[i] = Math.floor(((t + i) * 400 * 2) / RATE) % 2 === 0 ? amplitude : -amplitude;
  return b;
}

const silence = () => new Float32Array(N);

function run(gate: VoiceGate, input: Float32Array) {
  const output = new Float32Array(N).fill(NaN);
  const report = gate.process(input, output);
  return { output, report };
}

const voice = () => new VoiceGate(RATE, { allowed: true, threshold: 0.1 });

describe("VoiceGate", () => {
  it("measures on the scale of the threshold setting: RMS × 4, clipped to 1", () => {
    expect(levelFromBlock(silence())).toBe(0);
    expect(levelFromBlock(square(0.05))).toBeCloseTo(0.2, 6);
    expect(levelFromBlock(square(0.9))).toBe(1);
    const samples = square(0.07);
    expect(levelFromSamples(samples)).toBe(levelFromBlock(samples));
  });

  it("stays closed, with zeros out, while quiet", () => {
    const gate = voice();
    for (let i = 0; i < 50; i++) {
      const { output, report } = run(gate, square(0.01, i * N)); // level 0.04 < 0.1
      expect(output.every((x) => x === 0)).toBe(true);
      expect(report?.changed).toBeUndefined();
    }
    expect(gate.isOpen).toBe(false);
  });

  it("opens in the block that is loud, and that block passes unchanged", () => {
    const gate = voice();
    for (let i = 0; i < 10; i++) run(gate, silence());
    const loud = square(0.3);
    const { output, report } = run(gate, loud);
    expect(report).toMatchObject({ open: true, changed: true });
    expect(output).toEqual(loud);
  });

  it("holds open for the hangover after the last loud block, then fades out and sends zeros", () => {
    const gate = voice();
    for (let i = 0; i < 20; i++) run(gate, square(0.3, i * N));
    let quiet = 0;
    let closedAt = -1;
    let fade: Float32Array | null = null;
    const input = square(0.01); // quiet but not silent, so the fade is visible
    for (; quiet < 400; quiet++) {
      const { output, report } = run(gate, input);
      if (report?.changed) {
        expect(report.open).toBe(false);
        closedAt = quiet;
        fade = output;
        break;
      }
      expect(output).toEqual(input);
    }
    // The smoothed level (5 ms time constant) falls below the threshold some 25 ms after a
    // loud sound stops; then 300 ms.
    const heldMs = closedAt * BLOCK_MS;
    expect(heldMs).toBeGreaterThanOrEqual(HANG_MS);
    expect(heldMs).toBeLessThan(HANG_MS + 40);
    // The closing block ramps down to zero; after it only zeros.
    expect(Math.abs(fade![0])).toBeGreaterThan(0.009);
    expect(fade![N - 1]).toBe(0);
    for (let i = 0; i < 10; i++) expect(run(gate, input).output.every((x) => x === 0)).toBe(true);
    expect(gate.isOpen).toBe(false);
  });

  it("a loud block during the hangover starts it again", () => {
    const gate = voice();
    run(gate, square(0.3));
    const holdBlocks = Math.ceil(HANG_MS / BLOCK_MS);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < holdBlocks - 20; i++) expect(run(gate, silence()).report?.changed).toBeUndefined();
      run(gate, square(0.3));
    }
    expect(gate.isOpen).toBe(true);
  });

  it("push-to-talk: open exactly while pressed, whatever the level", () => {
    const gate = new VoiceGate(RATE, { allowed: true, threshold: 0.1, pushToTalk: true });
    expect(run(gate, square(0.5)).output.every((x) => x === 0)).toBe(true);
    gate.set({ pressed: true });
    const quiet = square(0.001);
    const pressed = run(gate, quiet);
    expect(pressed.report).toMatchObject({ open: true, changed: true });
    expect(pressed.output).toEqual(quiet);
    gate.set({ pressed: false });
    expect(run(gate, silence()).report).toMatchObject({ open: false, changed: true });
    expect(run(gate, square(0.5)).output.every((x) => x === 0)).toBe(true);
  });

  it("not allowed (muted, deafened, server-muted, not in a channel) forces it closed", () => {
    const gate = voice();
    run(gate, square(0.3));
    expect(gate.isOpen).toBe(true);
    gate.set({ allowed: false });
    expect(run(gate, square(0.3)).report).toMatchObject({ open: false, changed: true });
    expect(run(gate, square(0.3)).output.every((x) => x === 0)).toBe(true);
    gate.set({ pushToTalk: true, pressed: true });
    expect(run(gate, square(0.3)).output.every((x) => x === 0)).toBe(true);
    // Allowed again while loud: open at once.
    gate.set({ allowed: true, pushToTalk: false, pressed: false });
    expect(run(gate, square(0.3)).report).toMatchObject({ open: true, changed: true });
  });

  it("reports the level about 20 times a second, as the RMS of the period", () => {
    const gate = voice();
    const levels: GateReport[] = [];
    for (let i = 0; i < Math.round(RATE / N); i++) {
      const { report } = run(gate, square(0.05, i * N));
      if (report?.level !== undefined) levels.push(report);
    }
    expect(levels.length).toBeGreaterThanOrEqual(19);
    expect(levels.length).toBeLessThanOrEqual(21);
    for (const r of levels) expect(r.level).toBeCloseTo(0.2, 6);
  });

  it("a missing input (nothing connected) is silence", () => {
    const gate = voice();
    const output = new Float32Array(N).fill(1);
    gate.process(undefined, output);
    expect(output.every((x) => x === 0)).toBe(true);
  });
});
