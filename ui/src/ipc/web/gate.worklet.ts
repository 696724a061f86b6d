// The gate as an AudioWorkletProcessor: microphone in, what the peers hear out (gate.ts does
// the work). Loaded by WebMedia with `audioWorklet.addModule` from the URL of this file built
// as its own script (`?worker&url`), so it is a same-origin asset under /assets/ and the
// page's `script-src 'self'` allows it. The main thread sends GateControl objects (or "stop")
// through the port; the processor posts GateReports back.

import { VoiceGate, type GateControl } from "./gate";

// The AudioWorkletGlobalScope, which TypeScript's DOM library does not describe.
declare const sampleRate: number;
declare function registerProcessor(name: string, processor: new (options?: unknown) => AudioWorkletProcessor): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}

class GateProcessor extends AudioWorkletProcessor {
  private readonly gate = new VoiceGate(sampleRate);
  private running = true;

  constructor(options?: unknown) {
    super(options);
    this.port.onmessage = (e: MessageEvent<Partial<GateControl> | "stop">) => {
      if (e.data === "stop") this.running = false;
      else this.gate.set(e.data);
    };
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const out = outputs[0];
    if (!out || out.length === 0) return this.running;
    const report = this.gate.process(inputs[0]?.[0], out[0]);
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    if (report) this.port.postMessage(report);
    return this.running;
  }
}

registerProcessor("hearth-voice-gate", GateProcessor);
