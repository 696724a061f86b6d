// Perfect negotiation (the W3C pattern) for one RTCPeerConnection, with the protocol's roles:
// of two members the lower id is polite (docs/protocol.md, checklist item 13). Both sides may
// offer whenever their connection needs it; when two offers cross, the impolite side ignores
// the one it receives and the polite side rolls its own back and answers.
//
// The connection is reached through the few members of RTCPeerConnection used here, so tests
// drive it with a fake one.

import type { SignalData } from "./wire";

/** The part of RTCPeerConnection this file uses. */
export interface PeerConnectionLike {
  readonly signalingState: string;
  readonly localDescription: { type: string; sdp: string } | null;
  setLocalDescription(description?: { type: "rollback" }): Promise<void>;
  setRemoteDescription(description: { type: "offer" | "answer"; sdp: string }): Promise<void>;
  addIceCandidate(candidate?: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void>;
  restartIce?(): void;
  close(): void;
  onnegotiationneeded: ((this: never, ev: Event) => unknown) | null;
  onicecandidate: ((this: never, ev: { candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } | null }) => unknown) | null;
}

/** The inputs of the collision rule, as named in the W3C example. */
export interface OfferState {
  polite: boolean;
  makingOffer: boolean;
  signalingState: string;
  settingRemoteAnswerPending: boolean;
}

/**
 * Whether an incoming description is taken or ignored. Only an offer that collides with our
 * own (we are making one, or are not stable) can be ignored, and only by the impolite side;
 * the polite side takes it, and setRemoteDescription rolls its own offer back.
 */
export function describeIncoming(kind: "offer" | "answer", s: OfferState): { collision: boolean; ignore: boolean } {
  const readyForOffer = !s.makingOffer && (s.signalingState === "stable" || s.settingRemoteAnswerPending);
  const collision = kind === "offer" && !readyForOffer;
  return { collision, ignore: collision && !s.polite };
}

/** Whether we, `you`, are the polite side towards `other`. */
export function isPolite(you: number, other: number): boolean {
  return you < other;
}

export class Negotiator {
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswerPending = false;
  private closed = false;

  constructor(
    readonly pc: PeerConnectionLike,
    readonly polite: boolean,
    private readonly send: (data: SignalData) => void,
    private readonly log: (message: string, error?: unknown) => void = () => {},
  ) {
    pc.onnegotiationneeded = () => void this.offer();
    pc.onicecandidate = (ev) => {
      if (this.closed) return;
      const c = ev.candidate;
      // A null candidate (or an empty one) is the end of candidates; the protocol sends it as "".
      if (!c || c.candidate === "") this.send({ kind: "candidate", candidate: "" });
      else this.send({ kind: "candidate", candidate: c.candidate, sdp_mid: c.sdpMid, sdp_mline_index: c.sdpMLineIndex });
    };
  }

  /** Makes and sends an offer: on negotiationneeded, and for an ICE restart. */
  async offer(): Promise<void> {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local && !this.closed) this.send({ kind: local.type as "offer", sdp: local.sdp });
    } catch (e) {
      this.log("making an offer failed", e);
    } finally {
      this.makingOffer = false;
    }
  }

  /** Repairs a failed connection: an offer with new ICE credentials. */
  restartIce(): void {
    // restartIce() marks the connection as needing negotiation, and the offer follows.
    this.pc.restartIce?.();
  }

  /** Handles one signal from the other side. Resolves to what was done, for logs and tests. */
  async receive(data: SignalData): Promise<"answered" | "accepted" | "ignored" | "candidate" | "bye"> {
    if (data.kind === "bye") {
      this.close();
      return "bye";
    }
    if (data.kind === "candidate") {
      try {
        if (data.candidate === "") await this.pc.addIceCandidate();
        else {
          // Browsers refuse a candidate naming neither its media id nor its m-line; the protocol
          // lets both be absent, and a Hearth connection's first m-line is the one meant then.
          const sdpMid = data.sdp_mid ?? null;
          const sdpMLineIndex = data.sdp_mline_index ?? (sdpMid === null ? 0 : null);
          await this.pc.addIceCandidate({ candidate: data.candidate, sdpMid, sdpMLineIndex });
        }
      } catch (e) {
        // Candidates of an offer we ignored fail to apply; that is expected, not an error.
        if (!this.ignoreOffer) this.log("adding an ICE candidate failed", e);
      }
      return "candidate";
    }
    const { ignore } = describeIncoming(data.kind, {
      polite: this.polite,
      makingOffer: this.makingOffer,
      signalingState: this.pc.signalingState,
      settingRemoteAnswerPending: this.settingRemoteAnswerPending,
    });
    this.ignoreOffer = ignore;
    if (ignore) return "ignored";
    this.settingRemoteAnswerPending = data.kind === "answer";
    try {
      await this.pc.setRemoteDescription({ type: data.kind, sdp: data.sdp });
    } finally {
      this.settingRemoteAnswerPending = false;
    }
    if (data.kind === "offer") {
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local && !this.closed) this.send({ kind: "answer", sdp: local.sdp });
      return "answered";
    }
    return "accepted";
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
