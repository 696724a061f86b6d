// WebMedia's routing of connections and signals, with the browser's media objects replaced by
// fakes (vitest runs in Node, which has no WebRTC): which member gets a connection, with which
// `camera` tag, and when `bye` is sent. The media itself is not exercised here.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultSettings } from "../defaults";
import type { AppEvent, Member } from "../types";
import { VoiceGate, type GateControl, type GateReport } from "./gate";
import { WebMedia, type MediaHost } from "./media";

class FakeTrack {
  enabled = true;
  stopped = false;
  constructor(readonly kind: string) {}
  stop() {
    this.stopped = true;
  }
  addEventListener() {}
}

class FakeStream {
  constructor(private tracks: FakeTrack[]) {}
  getTracks() {
    return this.tracks;
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
}

let pcs: FakePeer[] = [];

class FakePeer {
  signalingState = "stable";
  connectionState = "new";
  localDescription: { type: string; sdp: string } | null = null;
  added: { kind: string; how: string; direction?: string }[] = [];
  tracks: FakeTrack[] = [];
  closed = false;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((ev: unknown) => void) | null = null;
  ontrack: ((ev: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  constructor(readonly config: unknown) {
    pcs.push(this);
  }
  private needed() {
    setTimeout(() => this.onnegotiationneeded?.(), 0);
  }
  addTrack(track: FakeTrack) {
    this.added.push({ kind: track.kind, how: "addTrack" });
    this.tracks.push(track);
    this.needed();
  }
  addTransceiver(track: FakeTrack, init: { direction: string }) {
    this.added.push({ kind: track.kind, how: "addTransceiver", direction: init.direction });
    this.needed();
    return { setCodecPreferences: () => {} };
  }
  async setLocalDescription() {
    if (this.signalingState === "stable") {
      this.localDescription = { type: "offer", sdp: "offer-sdp" };
      this.signalingState = "have-local-offer";
    } else {
      this.localDescription = { type: "answer", sdp: "answer-sdp" };
      this.signalingState = "stable";
    }
  }
  async setRemoteDescription(d: { type: string }) {
    this.signalingState = d.type === "offer" ? "have-remote-offer" : "stable";
  }
  async addIceCandidate() {}
  close() {
    this.closed = true;
  }
}

const node = () => ({ gain: { value: 1 }, connect: (x: unknown) => x, disconnect: () => {} });
let gateNodes: FakeGateNode[] = [];
let destinations: { stream: FakeStream }[] = [];
class FakeAudioContext {
  state = "running";
  destination = {};
  currentTime = 0;
  sampleRate = 48000;
  audioWorklet = { modules: [] as string[], addModule: async (url: string) => void this.audioWorklet.modules.push(url) };
  createGain = node;
  createMediaStreamSource = node;
  createMediaStreamDestination() {
    const d = { ...node(), channelCount: 2, stream: new FakeStream([new FakeTrack("audio")]) };
    destinations.push(d);
    return d;
  }
  resume() {
    return Promise.resolve();
  }
}

/** The gate worklet, with the real gate run one silent block per control message. */
class FakeGateNode {
  gate = new VoiceGate(48000);
  stopped = false;
  port = {
    onmessage: null as ((e: { data: GateReport }) => void) | null,
    postMessage: (m: Partial<GateControl> | "stop") => {
      if (m === "stop") this.stopped = true;
      else {
        this.gate.set(m);
        this.block(0);
      }
    },
  };
  constructor(
    _ctx: unknown,
    readonly name: string,
  ) {
    gateNodes.push(this);
  }
  /** One 128-sample block of a constant value through the gate, reporting as the worklet does. */
  block(value: number) {
    const report = this.gate.process(new Float32Array(128).fill(value), new Float32Array(128));
    if (report) this.port.onmessage?.({ data: report });
  }
  connect = (x: unknown) => x;
  disconnect() {}
}

const member = (id: number, voice_channel: string | null): Member => ({
  id,
  name: `m${id}`,
  operator: false,
  presence: "online",
  status_text: null,
  voice_channel,
  muted: false,
  deafened: false,
  server_muted: false,
  speaking: false,
  camera: false,
});

let sent: Record<string, unknown>[];
let events: AppEvent[];
let media: WebMedia;
const settle = () => vi.advanceTimersByTimeAsync(1);

beforeEach(() => {
  vi.useFakeTimers();
  pcs = [];
  gateNodes = [];
  destinations = [];
  sent = [];
  events = [];
  vi.stubGlobal("RTCPeerConnection", FakePeer);
  vi.stubGlobal("AudioContext", FakeAudioContext);
  vi.stubGlobal("AudioWorkletNode", FakeGateNode);
  vi.stubGlobal("MediaStream", FakeStream);
  vi.stubGlobal("navigator", {
    mediaDevices: {
      getUserMedia: async (c: { audio?: unknown; video?: unknown }) => new FakeStream([new FakeTrack(c.video ? "video" : "audio")]),
    },
  });
  const host: MediaHost = {
    you: () => 5,
    send: (m) => sent.push(m),
    emit: (e) => events.push(e),
    iceServers: () => [{ urls: ["stun:stun.example.org:3478"] }],
    settings: () => defaultSettings(),
    speaking: () => [],
  };
  media = new WebMedia(host);
});

afterEach(() => {
  media.reset(true);
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("WebMedia routing", () => {
  it("voice: one connection per other member in our channel, one audio track, bye when they leave", async () => {
    await media.join("voice");
    media.syncVoice([member(5, "voice"), member(3, "voice"), member(7, "voice"), member(9, "other"), member(2, null)]);
    expect(pcs.length).toBe(2);
    expect(pcs.map((p) => p.added)).toEqual([[{ kind: "audio", how: "addTrack" }], [{ kind: "audio", how: "addTrack" }]]);
    // What the peers get is the gate's output, not the device's own track.
    expect(pcs[0].tracks[0]).toBe(destinations[0].stream.getAudioTracks()[0]);
    expect(pcs[0].config).toEqual({ iceServers: [{ urls: ["stun:stun.example.org:3478"] }] });
    await settle();
    // Both offer (perfect negotiation settles any crossing); voice signals carry no camera.
    expect(sent.filter((m) => m.type === "signal")).toEqual([
      { type: "signal", to: 3, data: { kind: "offer", sdp: "offer-sdp" } },
      { type: "signal", to: 7, data: { kind: "offer", sdp: "offer-sdp" } },
    ]);
    sent = [];
    media.syncVoice([member(5, "voice"), member(3, "voice"), member(7, "other")]);
    expect(sent).toEqual([{ type: "signal", to: 7, data: { kind: "bye" } }]);
    expect(pcs[1].closed).toBe(true);
    expect(pcs[0].closed).toBe(false);
  });

  it("voice: an offer from a member we have not connected yet is answered while in voice, ignored outside", async () => {
    await media.onSignal(3, { kind: "offer", sdp: "x" }, null);
    expect(pcs.length).toBe(0);
    await media.join("voice");
    await media.onSignal(3, { kind: "offer", sdp: "x" }, null);
    expect(pcs.length).toBe(1);
    expect(sent.filter((m) => m.type === "signal")).toEqual([{ type: "signal", to: 3, data: { kind: "answer", sdp: "answer-sdp" } }]);
  });

  it("watcher: refuses an offer for a camera it did not open, answers one it did", async () => {
    await media.onSignal(1, { kind: "offer", sdp: "x" }, 1);
    expect(pcs.length).toBe(0);
    expect(sent).toEqual([{ type: "signal", to: 1, camera: 1, data: { kind: "bye" } }]);
    sent = [];
    media.cameraOpened(1);
    await media.onSignal(1, { kind: "offer", sdp: "x" }, 1);
    expect(pcs.length).toBe(1);
    expect(pcs[0].added).toEqual([]);
    expect(sent).toEqual([{ type: "signal", to: 1, camera: 1, data: { kind: "answer", sdp: "answer-sdp" } }]);
    sent = [];
    media.cameraClosed(1);
    expect(sent).toEqual([{ type: "signal", to: 1, camera: 1, data: { kind: "bye" } }]);
    expect(pcs[0].closed).toBe(true);
  });

  it("broadcaster: offers send-only video to exactly the watchers, tagged with its own id", async () => {
    await media.cameraOn();
    expect(media.stream("")).not.toBeNull();
    expect(events.at(-1)).toEqual({ type: "camera_status", status: { on: true, opened: [], watchers: [] } });
    media.setWatchers([2, 3]);
    expect(pcs.map((p) => p.added)).toEqual([
      [{ kind: "video", how: "addTransceiver", direction: "sendonly" }],
      [{ kind: "video", how: "addTransceiver", direction: "sendonly" }],
    ]);
    await settle();
    expect(sent).toEqual([
      { type: "signal", to: 2, camera: 5, data: { kind: "offer", sdp: "offer-sdp" } },
      { type: "signal", to: 3, camera: 5, data: { kind: "offer", sdp: "offer-sdp" } },
    ]);
    sent = [];
    media.setWatchers([3]);
    expect(sent).toEqual([{ type: "signal", to: 2, camera: 5, data: { kind: "bye" } }]);
    sent = [];
    media.cameraOff();
    expect(sent).toEqual([{ type: "signal", to: 3, camera: 5, data: { kind: "bye" } }]);
    expect(media.stream("")).toBeNull();
    expect(pcs.every((p) => p.closed)).toBe(true);
  });

  it("says in words that devices need a secure page", async () => {
    vi.stubGlobal("navigator", {});
    await expect(media.join("voice")).rejects.toMatchObject({ code: "device_unavailable", message: expect.stringMatching(/https/) });
    await expect(media.cameraOn()).rejects.toMatchObject({ code: "device_unavailable" });
  });

  it("speaking follows push-to-talk, and never while muted", async () => {
    const ptt = { ...defaultSettings(), push_to_talk: true };
    (media as unknown as { host: MediaHost }).host.settings = () => ptt;
    await media.join("voice");
    media.pushToTalk(true);
    media.pushToTalk(false);
    media.setMuted(true);
    media.pushToTalk(true);
    expect(sent).toEqual([
      { type: "speaking", speaking: true },
      { type: "speaking", speaking: false },
    ]);
  });

  it("deafen silences the microphone too, and undeafen gives back the mute from before", async () => {
    await media.join("voice");
    const gate = gateNodes[0];
    media.setDeafened(true);
    expect([media.isMuted, media.isDeafened]).toEqual([false, true]);
    gate.block(0.5);
    expect(gate.gate.isOpen).toBe(false);
    media.setDeafened(false);
    gate.block(0.5);
    expect(gate.gate.isOpen).toBe(true);
    media.setMuted(true);
    media.setDeafened(true);
    media.setDeafened(false);
    expect(media.isMuted).toBe(true);
  });

  it("speaking and the meter follow the gate in the audio path, which closes while muted", async () => {
    await media.join("voice");
    expect(gateNodes.length).toBe(1);
    expect(gateNodes[0].name).toBe("hearth-voice-gate");
    const gate = gateNodes[0];
    // Loud (0.1 RMS is level 0.4, over the default threshold): open in that very block.
    gate.block(0.1);
    expect(sent).toEqual([{ type: "speaking", speaking: true }]);
    // The meter, about 20 times a second (2400 samples at 48 kHz).
    for (let i = 0; i < 40; i++) gate.block(0.1);
    expect(events.filter((e) => e.type === "input_level").at(-1)).toEqual({ type: "input_level", level: expect.closeTo(0.4, 5) });
    // Silence: held 300 ms, then closed.
    for (let i = 0; i < 100; i++) gate.block(0);
    expect(sent.length).toBe(1);
    for (let i = 0; i < 30; i++) gate.block(0);
    expect(sent).toEqual([
      { type: "speaking", speaking: true },
      { type: "speaking", speaking: false },
    ]);
    media.setMuted(true);
    gate.block(0.5);
    expect(gate.gate.isOpen).toBe(false);
    expect(sent.length).toBe(2);
    // Leaving stops the microphone and the gate.
    media.leave();
    expect(gate.stopped).toBe(true);
  });
});
