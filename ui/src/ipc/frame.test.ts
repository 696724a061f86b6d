import { describe, expect, it } from "vitest";
import { buildFrame, FRAME_HEADER_BYTES, FrameError, parseFrame } from "./frame";

function good(width = 4, height = 2, member = "12", ts = 123456789012) {
  return buildFrame(width, height, ts, member, (y, u, v) => {
    y.forEach((_, i) => (y[i] = i));
    u.fill(100);
    v.fill(200);
  });
}

function expectFrameError(buffer: ArrayBuffer, pattern: RegExp) {
  let caught: unknown;
  try {
    parseFrame(buffer);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FrameError);
  expect((caught as Error).message).toMatch(pattern);
}

describe("parseFrame", () => {
  it("reads a well-formed frame with views into the buffer", () => {
    const buffer = good();
    const frame = parseFrame(buffer);
    expect(frame).toMatchObject({ width: 4, height: 2, timestamp_us: 123456789012, member: "12" });
    expect([...frame.y]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...frame.u]).toEqual([100, 100]);
    expect([...frame.v]).toEqual([200, 200]);
    expect(frame.y.buffer).toBe(buffer);
    expect(buffer.byteLength).toBe(FRAME_HEADER_BYTES + 2 + 8 + 2 + 2);
  });

  it("reads the own preview (empty member id) and a 640x480 frame", () => {
    const frame = parseFrame(buildFrame(640, 480, 0, ""));
    expect(frame.member).toBe("");
    expect(frame.y.length).toBe(640 * 480);
    expect(frame.u.length).toBe(320 * 240);
  });

  it("is little-endian with the HFV1 magic", () => {
    const bytes = new Uint8Array(good());
    expect([...bytes.slice(0, 4)]).toEqual([0x31, 0x56, 0x46, 0x48]);
    expect([...bytes.slice(4, 8)]).toEqual([4, 0, 0, 0]);
  });

  it("refuses short buffers", () => {
    expectFrameError(new ArrayBuffer(0), /shorter than the 22-byte header/);
    expectFrameError(good().slice(0, 21), /shorter/);
    expectFrameError(good().slice(0, -1), /bytes but a 4x2 I420 frame/);
  });

  it("refuses trailing bytes", () => {
    const longer = new Uint8Array(good().byteLength + 1);
    longer.set(new Uint8Array(good()));
    expectFrameError(longer.buffer, /bytes but a 4x2/);
  });

  it("refuses lying lengths and bad fields", () => {
    const withView = (edit: (v: DataView) => void) => {
      const b = good();
      edit(new DataView(b));
      return b;
    };
    expectFrameError(withView((v) => v.setUint32(0, 0x31564648, true)), /bad magic/);
    expectFrameError(withView((v) => v.setUint16(20, 60000, true)), /member id of 60000 bytes runs past/);
    expectFrameError(withView((v) => v.setUint32(4, 0xffffffff, true)), /width 4294967295 is outside/);
    expectFrameError(withView((v) => v.setUint32(8, 0, true)), /height 0 is outside/);
    expectFrameError(withView((v) => v.setUint32(4, 3, true)), /width 3 is odd/);
    expectFrameError(withView((v) => v.setUint32(4, 400, true)), /bytes but a 400x2/);
    expectFrameError(withView((v) => v.setUint32(16, 0xffffffff, true)), /timestamp/);
    const badUtf8 = good(4, 2, "ab");
    new Uint8Array(badUtf8)[22] = 0xff;
    expectFrameError(badUtf8, /UTF-8/);
  });

  it("throws only FrameError on random garbage", () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 2000; i++) {
      const base = new Uint8Array(good(2 + 2 * (rand() % 3), 2, "7"));
      const n = rand() % 4;
      for (let k = 0; k < n; k++) base[rand() % base.length] = rand() & 255;
      const cut = rand() % 3 === 0 ? base.slice(0, rand() % (base.length + 1)) : base;
      try {
        parseFrame(cut.buffer as ArrayBuffer);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
    expect(() => parseFrame("nope" as unknown as ArrayBuffer)).toThrow(FrameError);
  });
});
