// The mock keeps the contract it stands in for: the events a real backend would send, in
// the order the protocol gives them.
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "./backend";
import { mockBackend } from "./mock";
import type { AppEvent } from "./types";
import bindings from "./bindings.ts?raw";

/** The field names of an object type in the generated bindings.ts, sorted. */
function fields(type: string): string[] {
  const start = bindings.indexOf(`export type ${type} = {`);
  expect(start, type).toBeGreaterThanOrEqual(0);
  const body = bindings.slice(start, bindings.indexOf("\n};", start));
  return [...body.matchAll(/^\t(\w+): /gm)].map(([, name]) => name).sort();
}

const keys = (value: object) => Object.keys(value).sort();

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mock backend", () => {
  let stop: (() => void) | null = null;
  afterEach(() => stop?.());

  it("implements every command", () => {
    const mock = mockBackend();
    for (const name of COMMANDS) expect(typeof mock[name], name).toBe("function");
  });

  it("joins like a server: welcome, a history page per text channel, then connected", async () => {
    const mock = mockBackend();
    const events: AppEvent[] = [];
    stop = await mock.subscribe((e) => events.push(e));
    await mock.connect({ address: "h:7777/lobby", name: "Sam", password: null });
    const types = events.map((e) => e.type).filter((t) => t !== "input_level");
    expect(types.slice(0, 5)).toEqual(["connection", "welcome", "history", "history", "voice_status"]);
    expect(types).toContain("connection");
    const last = events.filter((e) => e.type === "connection").at(-1);
    expect(last).toMatchObject({ status: { state: "connected", room: "lobby", name: "Sam" } });

    events.length = 0;
    await mock.send_chat({ channel: "general", client_id: "u-1", text: "hi", reply_to: null, image: null });
    await wait(100);
    const chat = events.find((e) => e.type === "chat");
    expect(chat).toMatchObject({ message: { client_id: "u-1", author: "Sam", text: "hi", channel: "general" } });

    events.length = 0;
    await mock.history_get({ channel: "general", before: 10 });
    await wait(200);
    const page = events.find((e) => e.type === "history");
    expect(page?.type === "history" && page.messages.every((m) => m.id < 10)).toBe(true);
    expect(page?.type === "history" && page.messages[0].id > page.messages.at(-1)!.id).toBe(true); // newest first
  });

  it("refuses like a server", async () => {
    const mock = mockBackend();
    await expect(mock.send_chat({ channel: "general", client_id: "x", text: "hi", reply_to: null, image: null })).rejects.toMatchObject({ code: "not_connected" });
    const events: AppEvent[] = [];
    stop = await mock.subscribe((e) => events.push(e));
    await mock.connect({ address: "h:1/lobby", name: "Sam", password: "wrong" });
    expect(events.at(-1)).toMatchObject({ type: "connection", status: { state: "failed", code: "bad_password" } });
    await expect(mock.host_start({ config: { port: 7000, room_name: "r", password: null, channels: [] } })).rejects.toMatchObject({ code: "port_in_use" });
  });

  it("sends values of the generated types: every field, and events ipc.rs defines or types.ts marks UI-only", async () => {
    const mock = mockBackend();
    const events: AppEvent[] = [];
    stop = await mock.subscribe((e) => events.push(e));
    await mock.connect({ address: "h:7777/lobby", name: "Sam", password: null });
    await mock.voice_join({ channel: "lounge" });
    await mock.set_presence({ presence: "away", status_text: "" });
    await mock.send_chat({ channel: "general", client_id: "u-1", text: "hi", reply_to: null, image: { mime: "image/png", data: "" } });
    await mock.host_start({ config: { port: 0, room_name: "r", password: null, channels: [] } });
    mock.control.error("teleport_failed", "The teleporter is out of order.");
    await wait(100);

    const welcome = events.find((e) => e.type === "welcome");
    if (welcome?.type !== "welcome") throw new Error("no welcome");
    for (const m of welcome.members) expect(keys(m), m.name).toEqual(fields("Member"));
    expect(keys(welcome.room)).toEqual(fields("RoomInfo"));
    for (const c of welcome.room.channels) expect(keys(c), c.id).toEqual(fields("Channel"));
    const messages = events.flatMap((e) => (e.type === "history" ? e.messages : e.type === "chat" ? [e.message] : []));
    expect(messages.length).toBeGreaterThan(30);
    for (const m of messages) expect(keys(m), m.client_id).toEqual(fields("ChatMessage"));
    for (const e of events) {
      if (e.type === "voice_status") expect(keys(e.status)).toEqual(fields("VoiceStatus"));
      if (e.type === "camera_status") expect(keys(e.status)).toEqual(fields("CameraStatus"));
      if (e.type === "member_updated") expect(keys(e.member)).toEqual(fields("Member"));
    }
    // Rust sends no empty strings where it has an Option: an empty status text is null.
    const self = events.filter((e) => e.type === "member_updated").at(-1);
    expect(self?.type === "member_updated" && self.member.status_text).toBe(null);
    expect(events.find((e) => e.type === "error")).toEqual({ type: "error", code: "teleport_failed", message: "The teleporter is out of order.", src: null, client_id: null });

    const generated = new Set([...bindings.matchAll(/\{ type: "(\w+)"/g)].map(([, tag]) => tag));
    const uiOnly = new Set(["lan_rooms"]);
    for (const e of events) expect(generated.has(e.type) || uiOnly.has(e.type), e.type).toBe(true);

    expect(keys(await mock.get_settings())).toEqual(fields("Settings"));
    for (const r of await mock.recent_servers()) expect(keys(r)).toEqual(fields("RecentServer"));
  });
});
