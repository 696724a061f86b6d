import { describe, expect, it } from "vitest";
import { backoffMs, chooseRoom, isFinalDisconnect, parseAddress, parseWire, roomEvents, socketUrl, TokenBucket } from "./wire";
import { levelFromSamples } from "./media";

describe("addresses", () => {
  it("takes the room from every form connect is given", () => {
    expect(parseAddress("192.168.1.20:7777/lobby")).toEqual({ host: "192.168.1.20:7777", room: "lobby" });
    expect(parseAddress("hearth://host:7777/Den%20room")).toEqual({ host: "host:7777", room: "Den room" });
    expect(parseAddress("ws://host:7777/")).toEqual({ host: "host:7777", room: null });
    expect(parseAddress("wss://host/friday?x=1")).toEqual({ host: "host", room: "friday" });
    expect(parseAddress("host:7777")).toEqual({ host: "host:7777", room: null });
    expect(parseAddress("  host:1/%E0%A4%A  ")).toEqual({ host: "host:1", room: "%E0%A4%A" });
  });

  it("connects back to the page's origin, secure when the page is", () => {
    expect(socketUrl({ protocol: "https:", host: "chat.example.org:7777" })).toBe("wss://chat.example.org:7777/");
    expect(socketUrl({ protocol: "http:", host: "192.168.1.20:7777" })).toBe("ws://192.168.1.20:7777/");
  });

  it("asks for the named room, else the server's first", () => {
    expect(chooseRoom("den", [{ name: "lobby" }])).toBe("den");
    expect(chooseRoom(null, [{ name: "lobby", members: 2 }, { name: "b" }])).toBe("lobby");
    expect(chooseRoom(null, [])).toBe("lobby");
    expect(chooseRoom(null, undefined)).toBe("lobby");
  });
});

describe("reconnect backoff", () => {
  it("doubles from one second up to thirty, spread by at most a fifth", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffMs(n, 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(backoffMs(1, 0)).toBe(800);
    expect(backoffMs(1, 1)).toBe(1200);
    expect(backoffMs(10, 1)).toBe(36000);
  });

  it("never reconnects by itself after kicked, banned or a wrong password", () => {
    expect(["kicked", "banned", "bad_password"].every(isFinalDisconnect)).toBe(true);
    expect(["flood", "heartbeat_timeout", "server_full", "shutdown"].some(isFinalDisconnect)).toBe(false);
  });
});

describe("pacing", () => {
  it("lets a burst through, then one frame per 1/rate seconds", () => {
    const bucket = new TokenBucket(20, 40, 0);
    let sent = 0;
    while (bucket.take(0) === 0) sent++;
    // One token of the burst stays in reserve for the drift between the two clocks.
    expect(sent).toBe(39);
    expect(bucket.take(0)).toBe(50);
    expect(bucket.take(49)).toBeGreaterThan(0);
    expect(bucket.take(50)).toBe(0);
    expect(bucket.take(50)).toBe(50);
  });

  it("follows the limits hello announces", () => {
    const bucket = new TokenBucket(20, 40, 0);
    bucket.setLimits(2, 3);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(500);
  });
});

describe("wire to AppEvents", () => {
  it("rejects frames that are not messages", () => {
    expect(parseWire("not json")).toBeNull();
    expect(parseWire("[1]")).toBeNull();
    expect(parseWire('{"type":3}')).toBeNull();
    expect(parseWire('{"type":"teleport","x":1}')).toEqual({ type: "teleport", x: 1 });
  });

  it("fills what the wire leaves out the way the Rust core does", () => {
    const [joined] = roomEvents({
      type: "member_joined",
      member: { id: 2, name: "Bob", operator: false, presence: "busy", status_text: "", muted: false, deafened: false, server_muted: false, speaking: false, camera: true, future_field: 1 },
    });
    expect(joined).toEqual({
      type: "member_joined",
      member: { id: 2, name: "Bob", operator: false, presence: "busy", status_text: null, voice_channel: null, muted: false, deafened: false, server_muted: false, speaking: false, camera: true },
    });
    const [history] = roomEvents({
      type: "history",
      channel: "general",
      messages: [{ id: 41, client_id: "b-0007", channel: "general", author: "Bob", text: "morning!", ts: 1767225600000 }],
      has_more: true,
    });
    expect(history).toEqual({
      type: "history",
      channel: "general",
      has_more: true,
      messages: [{ id: 41, client_id: "b-0007", channel: "general", author: "Bob", text: "morning!", reply_to: null, image: null, ts: 1767225600000, edited_ts: null, deleted: false, reactions: [] }],
    });
    const [room] = roomEvents({ type: "room_updated", room: { name: "lobby", channels: [{ id: "voice", kind: "voice", name: "Voice", topic: "" }], locked: true } });
    expect(room).toEqual({ type: "room_updated", room: { name: "lobby", channels: [{ id: "voice", kind: "voice", name: "Voice", topic: null }], locked: true } });
  });

  it("passes member_left, typing and speaking through and ignores unknown types", () => {
    expect(roomEvents({ type: "member_left", id: 3, reason: "kicked" })).toEqual([{ type: "member_left", id: 3, reason: "kicked" }]);
    expect(roomEvents({ type: "typing", channel: "@Alice", member: 1 })).toEqual([{ type: "typing", channel: "@Alice", member: 1 }]);
    expect(roomEvents({ type: "speaking", member: 2, speaking: true })).toEqual([{ type: "speaking", member: 2, speaking: true }]);
    expect(roomEvents({ type: "teleport" })).toEqual([]);
  });
});

describe("input level", () => {
  it("is 0 for silence and grows with the signal up to 1", () => {
    expect(levelFromSamples(new Float32Array(256))).toBe(0);
    const quiet = levelFromSamples(new Float32Array(256).fill(0.01));
    const loud = levelFromSamples(new Float32Array(256).fill(0.1));
    expect(quiet).toBeCloseTo(0.04);
    expect(loud).toBeGreaterThan(quiet);
    expect(levelFromSamples(new Float32Array(256).fill(0.9))).toBe(1);
  });
});
