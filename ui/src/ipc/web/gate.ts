// Voice activation and push-to-talk for the browser backend, in the audio path itself: the
// gate worklet (gate.worklet.ts) runs this on every 128-sample block between the microphone
// and the track the peers receive, so the block whose level crosses the threshold is the
// first one sent, with no decision lag, as the native capture pipeline does per 20 ms frame
// (crates/hearth-media/src/capture.rs). Pure and free of worklet globals, so vitest tests it.

/** What the main thread tells the gate (through the worklet's port). */
export interface GateControl {
  /** Whether we may transmit at all: in a voice channel, not muted, deafened or server-muted. */
  allowed: boolean;
  /** Push-to-talk instead of voice activation. */
  pushToTalk: boolean;
  /** The push-to-talk key is held. */
  pressed: boolean;
  /** Voice activation opens at this level (0..1, the scale of `levelFromBlock`). */
  threshold: number;
}

/** What the gate reports back: the input meter (about 20 a second) and every open/close. */
export interface GateReport {
  /** Input level 0..1 over the last report period, present about 20 times a second. */
  level?: number;
  /** Whether the gate passes audio now; present when it changed, and with every level. */
  open: boolean;
  /** Set when `open` changed in this block. */
  changed?: boolean;
}

/** How long voice activation keeps transmitting after the last loud block (as native). */
export const HANG_MS = 300;
/** Time constant of the level the gate compares with the threshold: short, so an onset opens the gate in its first block or two, long enough that one click of a few samples does not. */
export const SMOOTH_MS = 5;
/** How often the level is reported, for `input_level`. */
export const REPORT_MS = 50;

/** Input level 0..1 from a mean square: linear in RMS, 0.25 RMS (-12 dBFS) is full scale. */
export function levelFromMeanSquare(meanSquare: number): number {
  return Math.min(1, Math.sqrt(Math.max(0, meanSquare)) * 4);
}

function meanSquare(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return sum / Math.max(1, samples.length);
}

/** The level of one block of samples, on the scale of the threshold setting. */
export function levelFromBlock(samples: ArrayLike<number>): number {
  return levelFromMeanSquare(meanSquare(samples));
}

export class VoiceGate {
  private control: GateControl = { allowed: false, pushToTalk: false, pressed: false, threshold: 0.1 };
  private readonly hangSamples: number;
  private readonly reportSamples: number;
  private readonly smoothTau: number;
  /** Smoothed mean square the gate decides on. */
  private smoothed = 0;
  /** Samples of hangover left after the last loud block; voice activation is open while > 0. */
  private hangLeft = 0;
  private open = false;
  private reportSum = 0;
  private reportCount = 0;

  constructor(
    readonly sampleRate: number,
    control: Partial<GateControl> = {},
  ) {
    this.hangSamples = Math.round((HANG_MS * sampleRate) / 1000);
    this.reportSamples = Math.max(1, Math.round((REPORT_MS * sampleRate) / 1000));
    this.smoothTau = (SMOOTH_MS * sampleRate) / 1000;
    this.set(control);
  }

  /** Changes what the main thread decides; applies from the next block. */
  set(control: Partial<GateControl>): void {
    this.control = { ...this.control, ...control };
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** The level voice activation compares with the threshold, after the last block. */
  get level(): number {
    return levelFromMeanSquare(this.smoothed);
  }

  /**
   * One block: `input` (mono; missing when nothing is connected) to `output` (same length),
   * passed while open and zeros while closed; a block that closes the gate fades out so
   * the cut does not click. Returns what to report, or null (most blocks).
   */
  process(input: Float32Array | undefined, output: Float32Array): GateReport | null {
    const n = output.length;
    const ms = input && input.length > 0 ? meanSquare(input) : 0;
    const alpha = 1 - Math.exp(-n / this.smoothTau);
    this.smoothed += alpha * (ms - this.smoothed);
    if (this.level >= this.control.threshold) this.hangLeft = this.hangSamples;
    else this.hangLeft = Math.max(0, this.hangLeft - n);

    const c = this.control;
    const open = c.allowed && (c.pushToTalk ? c.pressed : this.hangLeft > 0);
    const was = this.open;
    this.open = open;
    if (open && input && input.length >= n) output.set(input.subarray(0, n));
    else if (was && !open && input && input.length >= n) for (let i = 0; i < n; i++) output[i] = input[i] * (1 - (i + 1) / n);
    else output.fill(0);

    this.reportSum += ms * n;
    this.reportCount += n;
    let report: GateReport | null = null;
    if (this.reportCount >= this.reportSamples) {
      report = { level: levelFromMeanSquare(this.reportSum / this.reportCount), open };
      this.reportSum = 0;
      this.reportCount = 0;
    }
    if (open !== was) {
      report ??= { open };
      report.changed = true;
    }
    return report;
  }
}
