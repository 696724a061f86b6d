import { describe, expect, it } from "vitest";
import { describeIncoming, isPolite, Negotiator, type PeerConnectionLike } from "./negotiation";
import type { SignalData } from "./wire";

/**
 * A fake RTCPeerConnection with the signaling state machine of JSEP, far enough for perfect
 * negotiation: offers and answers are strings naming who made them, an offer received in
 * have-local-offer rolls the local one back implicitly (as browsers do), and an answer in any
 * state but have-local-offer fails as it would for real.
 */
class FakePc implements PeerConnectionLike {
  signalingState = "stable";
  localDescription: { type: string; sdp: string } | null = null;
  remote: { type: string; sdp: string } | null = null;
  rollbacks = 0;
  candidates: (string | null)[] = [];
  closed = false;
  private offers = 0;
  onnegotiationneeded: PeerConnectionLike["onnegotiationneeded"] = null;
  onicecandidate: PeerConnectionLike["onicecandidate"] = null;

  constructor(readonly name: string) {}

  async setLocalDescription(): Promise<void> {
    await Promise.resolve();
    if (this.signalingState === "stable") {
      this.localDescription = { type: "offer", sdp: `offer ${this.name}#${++this.offers}` };
      this.signalingState = "have-local-offer";
    } else if (this.signalingState === "have-remote-offer") {
      this.localDescription = { type: "answer", sdp: `answer ${this.name} to ${this.remote!.sdp}` };
      this.signalingState = "stable";
    } else {
      throw new Error(`InvalidStateError: setLocalDescription in ${this.signalingState}`);
    }
  }

  async setRemoteDescription(d: { type: "offer" | "answer"; sdp: string }): Promise<void> {
    await Promise.resolve();
    if (d.type === "offer") {
      if (this.signalingState === "have-local-offer") this.rollbacks++;
      else if (this.signalingState !== "stable") throw new Error(`InvalidStateError: offer in ${this.signalingState}`);
      this.signalingState = "have-remote-offer";
    } else {
      if (this.signalingState !== "have-local-offer") throw new Error(`InvalidStateError: answer in ${this.signalingState}`);
      this.signalingState = "stable";
    }
    this.remote = d;
  }

  async addIceCandidate(c?: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    if (!this.remote) throw new Error("InvalidStateError: no remote description");
    if (c && (c.sdpMid ?? null) === null && (c.sdpMLineIndex ?? null) === null) throw new TypeError("sdpMid and sdpMLineIndex are both null");
    this.candidates.push(c ? c.candidate : null);
  }

  close(): void {
    this.closed = true;
  }

  needNegotiation(): void {
    (this.onnegotiationneeded as unknown as () => void)?.();
  }

  gatherCandidate(candidate: string | null): void {
    (this.onicecandidate as unknown as (ev: unknown) => void)?.({ candidate: candidate === null ? null : { candidate, sdpMid: "0", sdpMLineIndex: 0 } });
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

/** Two members' negotiators joined by an in-order relay, as the server's `signal` is. */
function pair(idA: number, idB: number) {
  const pcA = new FakePc("A");
  const pcB = new FakePc("B");
  const inFlight: { to: "A" | "B"; data: SignalData }[] = [];
  const logs: string[] = [];
  const a = new Negotiator(pcA, isPolite(idA, idB), (data) => inFlight.push({ to: "B", data }), (m) => logs.push(`A: ${m}`));
  const b = new Negotiator(pcB, isPolite(idB, idA), (data) => inFlight.push({ to: "A", data }), (m) => logs.push(`B: ${m}`));
  const results: string[] = [];
  async function deliverAll() {
    await settle();
    while (inFlight.length > 0) {
      const { to, data } = inFlight.shift()!;
      results.push(`${to} ${data.kind} -> ${await (to === "A" ? a : b).receive(data)}`);
      await settle();
    }
  }
  return { pcA, pcB, a, b, inFlight, logs, results, deliverAll };
}

describe("perfect negotiation", () => {
  it("the lower member id is the polite one", () => {
    expect(isPolite(1, 2)).toBe(true);
    expect(isPolite(2, 1)).toBe(false);
  });

  it("ignores a crossing offer only on the impolite side", () => {
    const busy = { makingOffer: true, signalingState: "stable", settingRemoteAnswerPending: false };
    expect(describeIncoming("offer", { ...busy, polite: false })).toEqual({ collision: true, ignore: true });
    expect(describeIncoming("offer", { ...busy, polite: true })).toEqual({ collision: true, ignore: false });
    const waiting = { makingOffer: false, signalingState: "have-local-offer", settingRemoteAnswerPending: false };
    expect(describeIncoming("offer", { ...waiting, polite: false }).ignore).toBe(true);
    // An answer being applied leaves us ready for the next offer.
    expect(describeIncoming("offer", { ...waiting, settingRemoteAnswerPending: true, polite: false }).collision).toBe(false);
    expect(describeIncoming("offer", { makingOffer: false, signalingState: "stable", settingRemoteAnswerPending: false, polite: false }).ignore).toBe(false);
    expect(describeIncoming("answer", { ...busy, polite: false })).toEqual({ collision: false, ignore: false });
  });

  it("settles crossed offers (glare): the polite side rolls back and answers the other's", async () => {
    const { pcA, pcB, logs, results, deliverAll } = pair(1, 2);
    // Both join the voice channel at the same moment and both offer.
    pcA.needNegotiation();
    pcB.needNegotiation();
    await deliverAll();
    expect(results).toEqual(["B offer -> ignored", "A offer -> answered", "B answer -> accepted"]);
    expect(pcA.rollbacks).toBe(1);
    expect(pcB.rollbacks).toBe(0);
    expect(pcA.signalingState).toBe("stable");
    expect(pcB.signalingState).toBe("stable");
    // The connection runs on B's (the impolite side's) offer.
    expect(pcA.remote?.sdp).toBe("offer B#1");
    expect(pcB.remote?.sdp).toBe("answer A to offer B#1");
    expect(logs).toEqual([]);
  });

  it("works the same way round when the polite side has the higher id", async () => {
    const { pcA, pcB, results, deliverAll } = pair(9, 3);
    pcA.needNegotiation();
    pcB.needNegotiation();
    await deliverAll();
    expect(results).toEqual(["B offer -> answered", "A offer -> ignored", "A answer -> accepted"]);
    expect(pcB.rollbacks).toBe(1);
    expect(pcA.remote?.sdp).toBe("answer B to offer A#1");
  });

  it("trickles candidates, ends them with an empty one, and quietly drops those of an ignored offer", async () => {
    const { pcA, pcB, inFlight, logs, deliverAll } = pair(1, 2);
    pcA.needNegotiation();
    pcB.needNegotiation();
    await settle();
    // A's candidates for its own (doomed) offer reach B before anything else is settled.
    pcA.gatherCandidate("candidate:1 1 udp 2122260223 192.168.1.21 54321 typ host");
    pcA.gatherCandidate(null);
    expect(inFlight.filter((m) => m.data.kind === "candidate").map((m) => m.data)).toEqual([
      { kind: "candidate", candidate: "candidate:1 1 udp 2122260223 192.168.1.21 54321 typ host", sdp_mid: "0", sdp_mline_index: 0 },
      { kind: "candidate", candidate: "" },
    ]);
    await deliverAll();
    expect(logs).toEqual([]);
    expect(pcB.candidates).toEqual([]);
    // After the exchange, candidates apply, and the end of candidates is addIceCandidate().
    pcB.gatherCandidate("candidate:2 1 udp 1 10.0.0.2 1 typ host");
    pcB.gatherCandidate(null);
    await deliverAll();
    expect(pcA.candidates).toEqual(["candidate:2 1 udp 1 10.0.0.2 1 typ host", null]);
    // A candidate without sdp_mid or sdp_mline_index (both optional on the wire) still applies.
    inFlight.push({ to: "A", data: { kind: "candidate", candidate: "candidate:4 1 udp 1 10.0.0.4 1 typ host" } });
    await deliverAll();
    expect(pcA.candidates.at(-1)).toBe("candidate:4 1 udp 1 10.0.0.4 1 typ host");
    expect(logs).toEqual([]);
  });

  it("logs a candidate that fails outside a collision", async () => {
    const { b, logs } = pair(1, 2);
    await b.receive({ kind: "candidate", candidate: "candidate:3 1 udp 1 10.0.0.3 1 typ host" });
    expect(logs).toEqual(["B: adding an ICE candidate failed"]);
  });

  it("closes on bye and sends nothing afterwards", async () => {
    const { pcB, b, inFlight } = pair(1, 2);
    expect(await b.receive({ kind: "bye" })).toBe("bye");
    expect(pcB.closed).toBe(true);
    expect(b.isClosed).toBe(true);
    pcB.needNegotiation();
    await settle();
    expect(inFlight).toEqual([]);
  });
});
