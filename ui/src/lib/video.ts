// Drawing I420 video frames on a canvas, newest frame wins.
//
// Frames arrive from the backend as fast as they come (frame.ts). Each tile keeps only the
// latest frame: a new one replaces the one waiting, and one requestAnimationFrame callback
// draws every tile's latest frame. There is no queue, so a slow screen drops frames instead of
// falling behind.
//
// WebGL: the three planes are uploaded as single-channel (LUMINANCE) textures and a fragment
// shader converts BT.601 limited-range YUV to RGB. Without WebGL, a 2D canvas and a JS
// conversion are used instead.

import { parseFrame, type VideoFrame } from "../ipc/frame";

const VERTEX = `
attribute vec2 a_pos;
varying vec2 v_uv;
void main() {
  v_uv = vec2((a_pos.x + 1.0) * 0.5, (1.0 - a_pos.y) * 0.5);
  gl_Position = vec4(a_pos, 0.0, 1.0);
}`;

const FRAGMENT = `
precision mediump float;
varying vec2 v_uv;
uniform sampler2D u_y;
uniform sampler2D u_u;
uniform sampler2D u_v;
void main() {
  float y = 1.1643 * (texture2D(u_y, v_uv).r - 0.0625);
  float u = texture2D(u_u, v_uv).r - 0.5;
  float v = texture2D(u_v, v_uv).r - 0.5;
  gl_FragColor = vec4(y + 1.596 * v, y - 0.391 * u - 0.813 * v, y + 2.018 * u, 1.0);
}`;

export interface Painter {
  readonly kind: "webgl" | "2d";
  draw(frame: VideoFrame): void;
  dispose(): void;
}

function compile(gl: WebGLRenderingContext, type: number, source: string): WebGLShader {
  const shader = gl.createShader(type);
  if (!shader) throw new Error("could not create a shader");
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error(`shader: ${gl.getShaderInfoLog(shader)}`);
  }
  return shader;
}

function webglPainter(canvas: HTMLCanvasElement): Painter | null {
  // preserveDrawingBuffer keeps the last frame readable (screenshots, tests) between draws.
  const gl = canvas.getContext("webgl", { preserveDrawingBuffer: true, antialias: false, alpha: false });
  if (!gl) return null;
  try {
    const program = gl.createProgram()!;
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) return null;
    gl.useProgram(program);
    const buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const pos = gl.getAttribLocation(program, "a_pos");
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    const textures = ["u_y", "u_u", "u_v"].map((name, unit) => {
      const texture = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.uniform1i(gl.getUniformLocation(program, name), unit);
      return texture;
    });
    let size = "";
    return {
      kind: "webgl",
      draw(frame) {
        const { width: w, height: h } = frame;
        // Render at the size the tile is shown (never above the frame's own size): the shader
        // scales, and a smaller drawing buffer is less to fill and composite.
        const shown = canvas.clientWidth * (window.devicePixelRatio || 1);
        const scale = shown > 0 ? Math.min(1, shown / w) : 1;
        const cw = Math.max(2, Math.round(w * scale));
        const ch = Math.max(2, Math.round(h * scale));
        if (canvas.width !== cw || canvas.height !== ch) {
          canvas.width = cw;
          canvas.height = ch;
        }
        const planes: [Uint8Array, number, number][] = [
          [frame.y, w, h],
          [frame.u, w / 2, h / 2],
          [frame.v, w / 2, h / 2],
        ];
        const key = `${w}x${h}`;
        planes.forEach(([data, pw, ph], unit) => {
          gl.activeTexture(gl.TEXTURE0 + unit);
          gl.bindTexture(gl.TEXTURE_2D, textures[unit]);
          if (key !== size) {
            gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, pw, ph, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
          } else {
            gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, pw, ph, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
          }
        });
        size = key;
        gl.viewport(0, 0, cw, ch);
        gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      },
      dispose() {
        for (const t of textures) gl.deleteTexture(t);
        gl.deleteBuffer(buffer);
        gl.deleteProgram(program);
      },
    };
  } catch (e) {
    console.warn("WebGL video painter unavailable, using 2D canvas", e);
    return null;
  }
}

/**
 * BT.601 limited range, the same as the shader; for the 2D fallback and tests. With `step` 2
 * it writes a half-size picture ((w/2) x (h/2)), a quarter of the work, for tiles shown
 * smaller than the frame. Integer arithmetic (16.16 fixed point), one 32-bit store per pixel.
 */
export function i420ToRgba(frame: VideoFrame, out: Uint8ClampedArray, step: 1 | 2 = 1): void {
  const { width: w, height: h, y, u, v } = frame;
  const cw = w / 2;
  const ow = w / step;
  const oh = h / step;
  const px = new Uint32Array(out.buffer, out.byteOffset, ow * oh);
  const clamp = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);
  for (let oy = 0; oy < oh; oy++) {
    const row = oy * step;
    const yRow = row * w;
    const cRow = (row >> 1) * cw;
    const oRow = oy * ow;
    for (let ox = 0; ox < ow; ox++) {
      const col = ox * step;
      const Y = 76309 * (y[yRow + col] - 16); // 1.1643 * 65536
      const c = cRow + (col >> 1);
      const U = u[c] - 128;
      const V = v[c] - 128;
      const r = clamp((Y + 104597 * V + 32768) >> 16); // 1.596
      const g = clamp((Y - 25624 * U - 53281 * V + 32768) >> 16); // 0.391, 0.813
      const b = clamp((Y + 132252 * U + 32768) >> 16); // 2.018
      px[oRow + ox] = 0xff000000 | (b << 16) | (g << 8) | r; // little-endian RGBA
    }
  }
}

function canvas2dPainter(canvas: HTMLCanvasElement): Painter {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  let image: ImageData | null = null;
  return {
    kind: "2d",
    draw(frame) {
      // Convert at half size when the tile is shown at half the frame's width or less.
      const shown = canvas.clientWidth * (window.devicePixelRatio || 1);
      const step: 1 | 2 = shown > 0 && shown <= frame.width / 2 && frame.width % 4 === 0 && frame.height % 4 === 0 ? 2 : 1;
      const ow = frame.width / step;
      const oh = frame.height / step;
      if (canvas.width !== ow || canvas.height !== oh || !image) {
        canvas.width = ow;
        canvas.height = oh;
        image = ctx.createImageData(ow, oh);
      }
      i420ToRgba(frame, image.data, step);
      ctx.putImageData(image, 0, 0);
    },
    dispose() {},
  };
}

export function createPainter(canvas: HTMLCanvasElement, prefer2d = false): Painter {
  return (!prefer2d && webglPainter(canvas)) || canvas2dPainter(canvas);
}

/** Per-tile statistics, read by the frame-rate measurement. */
export interface TileStats {
  received: number;
  drawn: number;
  errors: number;
  painter: "webgl" | "2d" | "video" | "";
}

declare global {
  interface Window {
    __hearthVideoStats?: Record<string, TileStats>;
  }
}

/**
 * Routes frames to tiles by member key and draws each tile's newest frame on the next
 * animation frame.
 */
export class FrameRouter {
  private tiles = new Map<string, { painter: Painter; latest: VideoFrame | null; stats: TileStats }>();
  private scheduled = false;
  readonly stats: Record<string, TileStats> = {};
  private badFrames = 0;

  constructor() {
    if (typeof window !== "undefined") window.__hearthVideoStats = this.stats;
  }

  /** Handles one binary frame; malformed ones are counted and dropped. */
  push(buffer: ArrayBuffer): void {
    let frame: VideoFrame;
    try {
      frame = parseFrame(buffer);
    } catch (e) {
      if (this.badFrames++ < 5) console.warn("dropping a video frame:", (e as Error).message);
      return;
    }
    const tile = this.tiles.get(frame.member);
    if (!tile) return;
    tile.stats.received++;
    tile.latest = frame; // newest frame wins
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.drawAll());
    }
  }

  /** Draws each tile's latest frame, once per animation frame. */
  private drawAll(): void {
    this.scheduled = false;
    for (const tile of this.tiles.values()) {
      const latest = tile.latest;
      tile.latest = null;
      if (!latest) continue;
      try {
        tile.painter.draw(latest);
        tile.stats.drawn++;
      } catch (e) {
        tile.stats.errors++;
        if (tile.stats.errors < 3) console.warn("drawing a video frame failed", e);
      }
    }
  }

  /**
   * Counts the frames a <video> element shows (a MediaStream from the browser backend) in the
   * same stats the canvas tiles fill, using requestVideoFrameCallback where the browser has it.
   */
  attachVideo(member: string, video: HTMLVideoElement): () => void {
    const stats: TileStats = { received: 0, drawn: 0, errors: 0, painter: "video" };
    this.stats[member] = stats;
    let stopped = false;
    const rvfc = (video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number }).requestVideoFrameCallback;
    const onFrame = () => {
      if (stopped) return;
      stats.received++;
      stats.drawn++;
      rvfc?.call(video, onFrame);
    };
    rvfc?.call(video, onFrame);
    return () => {
      stopped = true;
      if (this.stats[member] === stats) delete this.stats[member];
    };
  }

  attach(member: string, canvas: HTMLCanvasElement): () => void {
    const painter = createPainter(canvas, new URLSearchParams(location.search).has("video2d"));
    const stats: TileStats = { received: 0, drawn: 0, errors: 0, painter: painter.kind };
    this.stats[member] = stats;
    const tile: { painter: Painter; latest: VideoFrame | null; stats: TileStats } = { painter, latest: null, stats };
    this.tiles.set(member, tile);
    return () => {
      if (this.tiles.get(member) === tile) {
        this.tiles.delete(member);
        delete this.stats[member];
      }
      painter.dispose();
    };
  }
}
