// The mock keeps the contract it stands in for: the events a real backend would send, in
// the order the protocol gives them.
import { afterEach, describe, expect, it } from "vitest";
import { COMMANDS } from "./backend";
import { mockBackend } from "./mock";
import type { AppEvent } from "./types";

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
});
