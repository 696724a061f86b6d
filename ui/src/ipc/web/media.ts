// Voice and cameras for the browser backend: getUserMedia, one RTCPeerConnection per voice peer
// and per camera connection (docs/protocol.md, "Media"), and WebAudio for playback volume and
// for the voice gate (an AudioWorklet between the microphone and what the peers receive, which
// also measures the input meter; gate.ts). The backend owns the WebSocket and the room state;
// it tells this class who is where and hands it every `signal`, and this class answers with
// wire messages and AppEvents through MediaHost.
//
// Nothing here can run outside a browser, so vitest covers only its pure parts
// (negotiation.ts, gate.ts); see docs/ipc.md, "Browser backend", for what has not been tried for real.

import type { UiSettings } from "../defaults";
import type { AppEvent, CameraStatus, Member, MemberId } from "../types";
import type { GateControl, GateReport } from "./gate";
import { levelFromBlock } from "./gate";
import gateWorkletUrl from "./gate.worklet.ts?worker&url";
import { isPolite, Negotiator } from "./negotiation";
import type { IceServer, SignalData } from "./wire";

export interface MediaHost {
  /** Our member id, null outside a room. */
  you(): MemberId | null;
  /** Sends one client message (paced by the backend). */
  send(message: Record<string, unknown>): void;
  emit(event: AppEvent): void;
  iceServers(): IceServer[];
  settings(): UiSettings;
  /** Members speaking now, for voice_status. */
  speaking(): MemberId[];
}

/** A failure the backend turns into a CommandError. */
export class MediaError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Input level 0..1 from the RMS of some samples: linear, 0.25 RMS (-12 dBFS) is full scale. */
export function levelFromSamples(samples: Float32Array): number {
  return levelFromBlock(samples);
}

/** The microphone and what is made of it: the gate worklet and the gated track the peers get. */
interface Mic {
  /** The device's own stream, stopped on close. */
  raw: MediaStream;
  source: MediaStreamAudioSourceNode;
  gate: AudioWorkletNode;
  /** The gate's output, a stream with the one track every voice connection sends. */
  sent: MediaStream;
}

interface RemoteAudio {
  source: MediaStreamAudioSourceNode;
  gain: GainNode;
  element: HTMLAudioElement;
}

interface Link {
  negotiator: Negotiator;
  pc: RTCPeerConnection;
  restarted: boolean;
}

export class WebMedia {
  private ctx: AudioContext | null = null;
  private master: GainNode | null = null;
  private mic: Mic | null = null;
  private micOpening: Promise<Mic> | null = null;
  /** The gate worklet's module, added once to the AudioContext. */
  private gateLoaded: { ctx: AudioContext; done: Promise<void> } | null = null;
  /** The last control sent to the gate, as JSON, so only changes are posted. */
  private gateSent = "";
  /** Whether the gate passes audio, as it last reported. */
  private gateOpen = false;
  private micTest = false;

  private channel: string | null = null;
  private muted = false;
  private deafened = false;
  private serverMuted = false;
  private pttPressed = false;
  private transmitting = false;

  private voiceLinks = new Map<MemberId, Link>();
  private remoteAudio = new Map<MemberId, RemoteAudio>();
  private volumes = new Map<MemberId, number>();
  private localMutes = new Set<MemberId>();

  private camera: MediaStream | null = null;
  private opened = new Set<MemberId>();
  private watchers: MemberId[] = [];
  /** Our camera's connections, by watcher. */
  private outLinks = new Map<MemberId, Link>();
  /** Cameras we watch, by broadcaster. */
  private inLinks = new Map<MemberId, Link>();
  private streams = new Map<string, MediaStream>();
  private streamListeners = new Set<() => void>();

  constructor(private readonly host: MediaHost) {
    // Push-to-talk works while the tab has focus; a key held when focus leaves never reports
    // its release, so losing focus releases it.
    if (typeof window !== "undefined") window.addEventListener("blur", () => this.pttPressed && this.pushToTalk(false));
  }

  // ---- state the UI sees ----

  voiceStatus(): AppEvent {
    return {
      type: "voice_status",
      status: { channel: this.channel, muted: this.muted, deafened: this.deafened, input_level: 0, speaking: this.host.speaking() },
    };
  }

  cameraStatus(): CameraStatus {
    return { on: this.camera !== null, opened: [...this.opened], watchers: [...this.watchers] };
  }

  private emitCamera(): void {
    this.host.emit({ type: "camera_status", status: this.cameraStatus() });
  }

  // ---- audio graph ----

  private audio(): AudioContext {
    if (!this.ctx) {
      this.ctx = new AudioContext();
      this.master = this.ctx.createGain();
      this.master.gain.value = this.deafened ? 0 : 1;
      this.master.connect(this.ctx.destination);
      const sink = this.host.settings().output_device;
      const withSink = this.ctx as AudioContext & { setSinkId?: (id: string) => Promise<void> };
      if (sink && withSink.setSinkId) void withSink.setSinkId(sink).catch(() => {});
    }
    // A context made before a user gesture starts suspended; every command is one.
    if (this.ctx.state === "suspended") void this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  private openMic(): Promise<Mic> {
    if (this.mic) return Promise.resolve(this.mic);
    this.micOpening ??= this.startMic().finally(() => (this.micOpening = null));
    return this.micOpening;
  }

  private async startMic(): Promise<Mic> {
    requireDevices("microphone");
    const s = this.host.settings();
    let raw: MediaStream;
    try {
      raw = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: s.input_device ? { exact: s.input_device } : undefined,
          noiseSuppression: s.noise_suppression,
          echoCancellation: true,
          autoGainControl: true,
          channelCount: 1,
        },
      });
    } catch (e) {
      throw new MediaError("device_unavailable", `The microphone could not be opened: ${(e as Error).message ?? e}`);
    }
    const ctx = this.audio();
    let gate: AudioWorkletNode;
    try {
      if (this.gateLoaded?.ctx !== ctx) this.gateLoaded = { ctx, done: ctx.audioWorklet.addModule(gateWorkletUrl) };
      await this.gateLoaded.done;
      // Mono in and out: the input is mixed down whatever the device gives.
      gate = new AudioWorkletNode(ctx, "hearth-voice-gate", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
      });
    } catch (e) {
      this.gateLoaded = null;
      raw.getTracks().forEach((t) => t.stop());
      throw new MediaError("device_unavailable", `The microphone could not be connected: ${(e as Error).message ?? e}`);
    }
    const source = ctx.createMediaStreamSource(raw);
    const out = ctx.createMediaStreamDestination();
    out.channelCount = 1;
    source.connect(gate).connect(out);
    gate.port.onmessage = (e: MessageEvent<GateReport>) => this.onGateReport(e.data);
    this.mic = { raw, source, gate, sent: out.stream };
    this.gateSent = "";
    this.gateOpen = false;
    this.applyGate();
    return this.mic;
  }

  private closeMic(): void {
    const mic = this.mic;
    if (!mic) return;
    this.mic = null;
    this.gateOpen = false;
    mic.gate.port.onmessage = null;
    mic.gate.port.postMessage("stop");
    mic.source.disconnect();
    mic.gate.disconnect();
    mic.raw.getTracks().forEach((t) => t.stop());
    mic.sent.getTracks().forEach((t) => t.stop());
  }

  /**
   * What the gate reports from the audio thread: the meter about 20 times a second, and
   * every open/close, which becomes `speaking`. With each level the current settings are
   * passed on too, so a changed threshold or push-to-talk mode applies at once.
   */
  private onGateReport(report: GateReport): void {
    if (report.level !== undefined) {
      if (this.channel !== null || this.micTest) this.host.emit({ type: "input_level", level: report.level });
      this.applyGate();
    }
    this.gateOpen = report.open;
    this.syncSpeaking();
  }

  /** Sends the gate what the main thread decides: whether we may transmit, push-to-talk, the threshold. */
  private applyGate(): void {
    if (!this.mic) return this.syncSpeaking();
    const s = this.host.settings();
    const control: GateControl = {
      allowed: this.channel !== null && !this.muted && !this.deafened && !this.serverMuted,
      pushToTalk: s.push_to_talk,
      pressed: this.pttPressed,
      threshold: s.voice_activation_threshold,
    };
    const json = JSON.stringify(control);
    if (json !== this.gateSent) {
      this.gateSent = json;
      this.mic.gate.port.postMessage(control);
    }
    this.syncSpeaking();
  }

  /** `speaking` follows the gate (which closes itself while we may not transmit). */
  private syncSpeaking(): void {
    const transmit = this.channel !== null && this.gateOpen;
    if (transmit !== this.transmitting) {
      this.transmitting = transmit;
      if (this.channel !== null) this.host.send({ type: "speaking", speaking: transmit });
    }
  }

  private playback(member: MemberId): void {
    const r = this.remoteAudio.get(member);
    if (!r) return;
    r.gain.gain.value = this.localMutes.has(member) ? 0 : (this.volumes.get(member) ?? 1);
  }

  private attachRemoteAudio(member: MemberId, stream: MediaStream): void {
    this.detachRemoteAudio(member);
    const ctx = this.audio();
    // Chrome delivers a remote WebRTC stream to WebAudio only while some media element plays
    // it, so a muted <audio> element holds it open; the sound itself goes through WebAudio.
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    void element.play().catch(() => {});
    const source = ctx.createMediaStreamSource(stream);
    const gain = ctx.createGain();
    source.connect(gain).connect(this.master!);
    this.remoteAudio.set(member, { source, gain, element });
    this.playback(member);
  }

  private detachRemoteAudio(member: MemberId): void {
    const r = this.remoteAudio.get(member);
    if (!r) return;
    r.source.disconnect();
    r.gain.disconnect();
    r.element.srcObject = null;
    this.remoteAudio.delete(member);
  }

  // ---- peer connections ----

  private newLink(other: MemberId, camera: MemberId | null, onTrack: (e: RTCTrackEvent) => void, onFailed: () => void): Link {
    const you = this.host.you() ?? 0;
    const pc = new RTCPeerConnection({ iceServers: this.host.iceServers() as RTCIceServer[] });
    const send = (data: SignalData) => {
      const message: Record<string, unknown> = { type: "signal", to: other, data };
      if (camera !== null) message.camera = camera;
      this.host.send(message);
    };
    const negotiator = new Negotiator(pc as never, isPolite(you, other), send, (m, e) => console.warn(`webrtc ${other}: ${m}`, e));
    const link: Link = { negotiator, pc, restarted: false };
    pc.ontrack = onTrack;
    pc.onconnectionstatechange = () => {
      if (pc.connectionState !== "failed" || negotiator.isClosed) return;
      // First an ICE restart; if that fails too, the connection is replaced.
      if (!link.restarted) {
        link.restarted = true;
        negotiator.restartIce();
      } else onFailed();
    };
    return link;
  }

  private closeLink(link: Link | undefined, bye: () => void): void {
    if (!link || link.negotiator.isClosed) return;
    bye();
    link.negotiator.close();
  }

  /** Called whenever the room changes: connects to exactly the members in our voice channel. */
  syncVoice(members: Member[]): void {
    const you = this.host.you();
    const me = members.find((m) => m.id === you);
    if (me) {
      const wasServerMuted = this.serverMuted;
      this.serverMuted = me.server_muted;
      if (wasServerMuted !== this.serverMuted) this.applyGate();
    }
    const wanted = new Set(
      this.channel === null || !this.mic ? [] : members.filter((m) => m.id !== you && m.voice_channel === this.channel).map((m) => m.id),
    );
    for (const [id, link] of this.voiceLinks) {
      if (!wanted.has(id)) this.dropVoice(id, link);
    }
    for (const id of wanted) if (!this.voiceLinks.has(id)) this.openVoice(id);
  }

  private openVoice(id: MemberId): Link {
    const link = this.newLink(
      id,
      null,
      (e) => this.attachRemoteAudio(id, e.streams[0] ?? new MediaStream([e.track])),
      () => {
        this.dropVoice(id, link);
        this.openVoice(id);
      },
    );
    // The gate's output, not the device's track: the gate decides what the peers hear.
    const sent = this.mic!.sent;
    const track = sent.getAudioTracks()[0];
    // One sendrecv audio transceiver on each side. addTrack rather than addTransceiver: a
    // transceiver made by addTrack is reused for the other side's audio m-line when their
    // offer is applied (after a rollback too), so the connection keeps one audio m-line, as the
    // native client expects. Adding it makes negotiation needed, so both sides may offer and
    // perfect negotiation settles the crossing.
    link.pc.addTrack(track, sent);
    this.voiceLinks.set(id, link);
    return link;
  }

  private dropVoice(id: MemberId, link: Link): void {
    this.closeLink(link, () => this.host.send({ type: "signal", to: id, data: { kind: "bye" } }));
    this.voiceLinks.delete(id);
    this.detachRemoteAudio(id);
  }

  /** A `signal` from the room. */
  async onSignal(from: MemberId, data: SignalData, camera: MemberId | null): Promise<void> {
    const you = this.host.you();
    let link: Link | undefined;
    if (camera === null) {
      link = this.voiceLinks.get(from);
      // An offer from a voice peer we have not connected yet (their member_updated may come
      // after their offer) or after they sent bye: take it if we are in voice.
      if ((!link || link.negotiator.isClosed) && data.kind === "offer" && this.channel !== null && this.mic) link = this.openVoice(from);
    } else if (camera === you) {
      link = this.outLinks.get(from);
    } else if (camera === from) {
      link = this.inLinks.get(from);
      if ((!link || link.negotiator.isClosed) && data.kind === "offer") {
        // The watcher answers only for a camera it opened, else it refuses with bye (item 14).
        if (!this.opened.has(from)) {
          this.host.send({ type: "signal", to: from, camera: from, data: { kind: "bye" } });
          return;
        }
        link = this.openWatch(from);
      }
    }
    if (!link || link.negotiator.isClosed) return;
    try {
      await link.negotiator.receive(data);
    } catch (e) {
      console.warn(`webrtc ${from}: could not apply a ${data.kind}`, e);
    }
    if (data.kind === "bye") {
      if (camera === null) {
        this.voiceLinks.delete(from);
        this.detachRemoteAudio(from);
      } else if (camera === you) this.outLinks.delete(from);
      else {
        this.inLinks.delete(from);
        this.setStream(String(from), null);
      }
    }
  }

  // ---- voice commands ----

  async join(channel: string): Promise<void> {
    await this.openMic();
    this.channel = channel;
    this.applyGate();
  }

  /** After the server confirmed (or we left): close every voice connection. */
  leave(): void {
    if (this.transmitting) this.transmitting = false;
    this.channel = null;
    this.applyGate();
    for (const [id, link] of this.voiceLinks) this.dropVoice(id, link);
    if (!this.micTest) this.closeMic();
  }

  get voiceChannel(): string | null {
    return this.channel;
  }

  // Mute and deafen are kept apart, as in the native app: deafen stops the microphone too
  // (the gate checks both), and undeafen gives back whatever mute was before it.
  setMuted(muted: boolean): void {
    this.muted = muted;
    this.applyGate();
  }

  setDeafened(deafened: boolean): void {
    this.deafened = deafened;
    if (this.master) this.master.gain.value = deafened ? 0 : 1;
    this.applyGate();
  }

  get isMuted(): boolean {
    return this.muted;
  }
  get isDeafened(): boolean {
    return this.deafened;
  }

  pushToTalk(pressed: boolean): void {
    this.pttPressed = pressed;
    this.applyGate();
  }

  setVolume(member: MemberId, volume: number): void {
    this.volumes.set(member, Math.min(2, Math.max(0, volume)));
    this.playback(member);
  }

  setLocalMute(member: MemberId, muted: boolean): void {
    if (muted) this.localMutes.add(member);
    else this.localMutes.delete(member);
    this.playback(member);
  }

  async setMicTest(on: boolean): Promise<void> {
    this.micTest = on;
    if (on) await this.openMic();
    else if (this.channel === null) this.closeMic();
  }

  /** A two-note chime through the speaker, for the settings screen. */
  async testSound(): Promise<void> {
    const ctx = this.audio();
    const t = ctx.currentTime;
    [660, 880].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, t + i * 0.5);
      gain.gain.exponentialRampToValueAtTime(0.001, t + i * 0.5 + 0.45);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + i * 0.5);
      osc.stop(t + i * 0.5 + 0.5);
    });
  }

  // ---- cameras ----

  async cameraOn(): Promise<void> {
    if (this.camera) return;
    requireDevices("camera");
    const s = this.host.settings();
    try {
      this.camera = await navigator.mediaDevices.getUserMedia({
        video: {
          deviceId: s.camera_device ? { exact: s.camera_device } : undefined,
          width: { ideal: s.camera_resolution.width },
          height: { ideal: s.camera_resolution.height },
          frameRate: { ideal: s.camera_resolution.fps },
        },
      });
    } catch (e) {
      throw new MediaError("device_unavailable", `The camera could not be opened: ${(e as Error).message ?? e}`);
    }
    // The browser or the user may stop the camera (unplugged, permission withdrawn).
    this.camera.getVideoTracks()[0]?.addEventListener("ended", () => {
      this.host.emit({ type: "error", code: "camera_ended", message: "The camera stopped.", src: null, client_id: null });
      this.cameraOff();
      this.host.send({ type: "camera", on: false });
    });
    this.setStream("", this.camera);
    this.emitCamera();
  }

  cameraOff(): void {
    for (const [id, link] of this.outLinks) this.closeOut(id, link);
    this.camera?.getTracks().forEach((t) => t.stop());
    this.camera = null;
    this.watchers = [];
    this.setStream("", null);
    this.emitCamera();
  }

  get cameraIsOn(): boolean {
    return this.camera !== null;
  }

  private closeOut(id: MemberId, link: Link): void {
    const you = this.host.you();
    this.closeLink(link, () => this.host.send({ type: "signal", to: id, camera: you, data: { kind: "bye" } }));
    this.outLinks.delete(id);
  }

  /** `watchers` (or a `camera_ring` adding one): send to exactly these members. */
  setWatchers(list: MemberId[]): void {
    this.watchers = [...list];
    for (const [id, link] of this.outLinks) if (!list.includes(id)) this.closeOut(id, link);
    if (this.camera) for (const id of list) if (!this.outLinks.has(id)) this.offerCamera(id);
  }

  private offerCamera(watcher: MemberId): void {
    const you = this.host.you() ?? 0;
    const link = this.newLink(watcher, you, () => {}, () => {
      this.closeOut(watcher, link);
      if (this.watchers.includes(watcher)) this.offerCamera(watcher);
    });
    const track = this.camera!.getVideoTracks()[0];
    const transceiver = link.pc.addTransceiver(track, { direction: "sendonly", streams: [this.camera!] });
    preferVp8(transceiver);
    this.outLinks.set(watcher, link);
  }

  private openWatch(broadcaster: MemberId): Link {
    const link = this.newLink(
      broadcaster,
      broadcaster,
      (e) => this.setStream(String(broadcaster), e.streams[0] ?? new MediaStream([e.track])),
      () => {
        // The broadcaster repairs or re-offers; the watcher only drops what it had.
        this.closeWatch(broadcaster);
      },
    );
    this.inLinks.set(broadcaster, link);
    return link;
  }

  private closeWatch(broadcaster: MemberId): void {
    const link = this.inLinks.get(broadcaster);
    this.closeLink(link, () => this.host.send({ type: "signal", to: broadcaster, camera: broadcaster, data: { kind: "bye" } }));
    this.inLinks.delete(broadcaster);
    this.setStream(String(broadcaster), null);
  }

  cameraOpened(member: MemberId): void {
    this.opened.add(member);
    this.emitCamera();
  }

  cameraClosed(member: MemberId): void {
    this.opened.delete(member);
    this.closeWatch(member);
    this.emitCamera();
  }

  /** A member left the room: drop everything we had with them. */
  memberLeft(id: MemberId): void {
    const voice = this.voiceLinks.get(id);
    if (voice) {
      voice.negotiator.close();
      this.voiceLinks.delete(id);
      this.detachRemoteAudio(id);
    }
    this.outLinks.get(id)?.negotiator.close();
    this.outLinks.delete(id);
    this.watchers = this.watchers.filter((w) => w !== id);
    if (this.opened.delete(id)) this.closeWatch(id);
  }

  // ---- streams for the video tiles ----

  private setStream(key: string, stream: MediaStream | null): void {
    if (stream) this.streams.set(key, stream);
    else if (!this.streams.delete(key)) return;
    for (const l of this.streamListeners) l();
  }

  stream(key: string): MediaStream | null {
    return this.streams.get(key) ?? null;
  }

  onStreams(listener: () => void): () => void {
    this.streamListeners.add(listener);
    return () => this.streamListeners.delete(listener);
  }

  /** The connection to the server dropped or ended: every peer connection goes with it. */
  reset(full: boolean): void {
    for (const link of [...this.voiceLinks.values(), ...this.outLinks.values(), ...this.inLinks.values()]) link.negotiator.close();
    this.voiceLinks.clear();
    this.outLinks.clear();
    this.inLinks.clear();
    for (const id of [...this.remoteAudio.keys()]) this.detachRemoteAudio(id);
    for (const key of [...this.streams.keys()]) if (key !== "") this.setStream(key, null);
    this.opened.clear();
    this.watchers = [];
    this.transmitting = false;
    if (full) {
      this.channel = null;
      if (this.camera) this.cameraOff();
      if (!this.micTest) this.closeMic();
      else this.applyGate();
    }
  }
}

/**
 * Browsers offer getUserMedia only to secure pages (https, or http://localhost); on a plain
 * http address `navigator.mediaDevices` is simply missing, which deserves words, not a TypeError.
 */
function requireDevices(what: string): void {
  if (typeof navigator === "undefined" || !navigator.mediaDevices?.getUserMedia) {
    throw new MediaError("device_unavailable", `This page cannot use a ${what}: browsers allow it only on https (or localhost) pages.`);
  }
}

/** Puts VP8 first among the codecs the transceiver offers, where the browser lets us choose. */
function preferVp8(transceiver: RTCRtpTransceiver): void {
  const caps = typeof RTCRtpSender !== "undefined" && RTCRtpSender.getCapabilities ? RTCRtpSender.getCapabilities("video") : null;
  if (!caps || !transceiver.setCodecPreferences) return;
  const vp8 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === "video/vp8");
  if (vp8.length === 0) return;
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== "video/vp8");
  try {
    transceiver.setCodecPreferences([...vp8, ...rest]);
  } catch (e) {
    console.warn("could not prefer VP8", e);
  }
}
