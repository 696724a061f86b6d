import { afterEach, describe, expect, it, vi } from "vitest";
import { buildFrame, parseFrame } from "../ipc/frame";
import { i420ToRgba, FrameRouter, type Painter } from "./video";

describe("i420ToRgba", () => {
  it("converts BT.601 limited range like the shader", () => {
    const frame = (y: number, u: number, v: number) =>
      parseFrame(buildFrame(2, 2, 0, "", (Y, U, V) => (Y.fill(y), U.fill(u), V.fill(v))));
    const rgba = (y: number, u: number, v: number) => {
      const out = new Uint8ClampedArray(16);
      i420ToRgba(frame(y, u, v), out);
      return [...out.slice(0, 4)];
    };
    expect(rgba(16, 128, 128)).toEqual([0, 0, 0, 255]); // black
    expect(rgba(235, 128, 128)).toEqual([255, 255, 255, 255]); // white
    const red = rgba(81, 90, 240); // BT.601 red
    expect(red[0]).toBeGreaterThan(240);
    expect(red[1]).toBeLessThan(20);
    expect(red[2]).toBeLessThan(20);
  });

  it("writes a half-size picture with step 2", () => {
    const frame = parseFrame(
      buildFrame(4, 4, 0, "", (Y, U, V) => {
        Y.forEach((_, i) => (Y[i] = i % 4 < 2 ? 16 : 235)); // left half black, right white
        U.fill(128);
        V.fill(128);
      }),
    );
    const out = new Uint8ClampedArray(2 * 2 * 4);
    i420ToRgba(frame, out, 2);
    expect([...out]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
  });
});

describe("FrameRouter", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("draws only the newest frame per tile, once per animation frame", () => {
    const callbacks: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => callbacks.push(cb));
    const router = new FrameRouter();
    const drawn: number[] = [];
    const painter: Painter = { kind: "2d", draw: (f) => drawn.push(f.timestamp_us), dispose: () => {} };
    // attach() needs a canvas and location; inject the painter directly instead.
    (router as unknown as { tiles: Map<string, unknown> }).tiles.set("7", {
      painter,
      latest: null,
      stats: (router.stats["7"] = { received: 0, drawn: 0, errors: 0, painter: "2d" }),
    });
    for (const ts of [1, 2, 3]) router.push(buildFrame(2, 2, ts, "7"));
    router.push(buildFrame(2, 2, 9, "8")); // no tile: ignored
    router.push(new ArrayBuffer(3)); // malformed: dropped
    expect(callbacks).toHaveLength(1);
    callbacks.shift()!(0);
    expect(drawn).toEqual([3]);
    expect(router.stats["7"]).toMatchObject({ received: 3, drawn: 1 });
    router.push(buildFrame(2, 2, 4, "7"));
    callbacks.shift()!(0);
    expect(drawn).toEqual([3, 4]);
  });
});
