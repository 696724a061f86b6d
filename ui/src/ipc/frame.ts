/**
 * Video frames from the backend: one binary message (ArrayBuffer) per frame.
 *
 * Layout, all integers little-endian, no padding:
 *
 * | offset     | size  | field                                                    |
 * |------------|-------|----------------------------------------------------------|
 * | 0          | u32   | magic 0x48465631 ("HFV1" read as a big-endian number)    |
 * | 4          | u32   | width in pixels, even, 2..=4096                          |
 * | 8          | u32   | height in pixels, even, 2..=4096                         |
 * | 12         | u64   | timestamp in microseconds (capture time)                 |
 * | 20         | u16   | n = byte length of the member id                         |
 * | 22         | n     | member id as UTF-8 decimal digits; empty = own preview   |
 * | 22+n       | w*h   | Y plane, tightly packed rows                             |
 * | …          | w*h/4 | U plane, (w/2)*(h/2)                                     |
 * | …          | w*h/4 | V plane, (w/2)*(h/2)                                     |
 *
 * The buffer ends after the V plane; trailing bytes are refused. Planes are views into the
 * buffer, never copies.
 */

export const FRAME_MAGIC = 0x48465631;
export const FRAME_HEADER_BYTES = 22;
export const MAX_FRAME_SIDE = 4096;

export interface VideoFrame {
  width: number;
  height: number;
  /** Microseconds; a JS number is exact up to 2^53 µs (285 years). */
  timestamp_us: number;
  /** The broadcaster's MemberId as a decimal string; "" for one's own preview. */
  member: string;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses one frame. Throws FrameError (only) when the buffer is not a valid frame. */
export function parseFrame(buffer: ArrayBuffer): VideoFrame {
  if (!(buffer instanceof ArrayBuffer)) throw new FrameError("frame is not an ArrayBuffer");
  const total = buffer.byteLength;
  if (total < FRAME_HEADER_BYTES) {
    throw new FrameError(`frame is ${total} bytes, shorter than the ${FRAME_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(buffer);
  const magic = view.getUint32(0, true);
  if (magic !== FRAME_MAGIC) {
    throw new FrameError(`bad magic 0x${magic.toString(16).padStart(8, "0")}, expected 0x48465631`);
  }
  const width = view.getUint32(4, true);
  const height = view.getUint32(8, true);
  for (const [name, side] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (side === 0 || side > MAX_FRAME_SIDE) {
      throw new FrameError(`${name} ${side} is outside 2..${MAX_FRAME_SIDE}`);
    }
    if (side % 2 !== 0) throw new FrameError(`${name} ${side} is odd; I420 needs even sides`);
  }
  const low = view.getUint32(12, true);
  const high = view.getUint32(16, true);
  if (high >= 0x200000) throw new FrameError("timestamp is larger than 2^53 microseconds");
  const timestamp_us = high * 0x100000000 + low;
  const idLength = view.getUint16(20, true);
  const planes = FRAME_HEADER_BYTES + idLength;
  if (planes > total) {
    throw new FrameError(`member id of ${idLength} bytes runs past the end of a ${total}-byte frame`);
  }
  let member: string;
  try {
    member = utf8.decode(new Uint8Array(buffer, FRAME_HEADER_BYTES, idLength));
  } catch {
    throw new FrameError("member id is not valid UTF-8");
  }
  const ySize = width * height;
  const cSize = (width / 2) * (height / 2);
  const expected = planes + ySize + 2 * cSize;
  if (total !== expected) {
    throw new FrameError(
      `frame is ${total} bytes but a ${width}x${height} I420 frame with this header is ${expected}`,
    );
  }
  return {
    width,
    height,
    timestamp_us,
    member,
    y: new Uint8Array(buffer, planes, ySize),
    u: new Uint8Array(buffer, planes + ySize, cSize),
    v: new Uint8Array(buffer, planes + ySize + cSize, cSize),
  };
}

const utf8Encoder = new TextEncoder();

/**
 * Builds a frame buffer with empty planes for `fill` to write into. Used by the mock and the
 * tests; the Rust side writes the same layout.
 */
export function buildFrame(
  width: number,
  height: number,
  timestamp_us: number,
  member: string,
  fill?: (y: Uint8Array, u: Uint8Array, v: Uint8Array) => void,
): ArrayBuffer {
  const id = utf8Encoder.encode(member);
  const ySize = width * height;
  const cSize = (width / 2) * (height / 2);
  const buffer = new ArrayBuffer(FRAME_HEADER_BYTES + id.length + ySize + 2 * cSize);
  const view = new DataView(buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, width, true);
  view.setUint32(8, height, true);
  view.setUint32(12, timestamp_us % 0x100000000, true);
  view.setUint32(16, Math.floor(timestamp_us / 0x100000000), true);
  view.setUint16(20, id.length, true);
  new Uint8Array(buffer, FRAME_HEADER_BYTES, id.length).set(id);
  const planes = FRAME_HEADER_BYTES + id.length;
  if (fill) {
    fill(
      new Uint8Array(buffer, planes, ySize),
      new Uint8Array(buffer, planes + ySize, cSize),
      new Uint8Array(buffer, planes + ySize + cSize, cSize),
    );
  }
  return buffer;
}
