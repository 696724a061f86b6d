import { describe, expect, it } from "vitest";
import { checkPassword, checkPort, MAX_PASSWORD_CHARS } from "./validate";

describe("checkPort", () => {
  it("accepts whole numbers from 1 to 65535, ignoring surrounding spaces", () => {
    expect(checkPort("7777")).toEqual({ ok: true, value: 7777 });
    expect(checkPort(" 1 ")).toEqual({ ok: true, value: 1 });
    expect(checkPort("65535")).toEqual({ ok: true, value: 65535 });
  });

  it("rejects empty, out-of-range and non-numeric input with a sentence", () => {
    for (const bad of ["", "0", "65536", "-1", "80.5", "1e3", "abc", "0x50"]) {
      const result = checkPort(bad);
      expect(result.ok, bad).toBe(false);
      if (!result.ok) expect(result.message).toMatch(/port number/);
    }
  });
});

describe("checkPassword", () => {
  it("treats an empty password as none", () => {
    expect(checkPassword("")).toEqual({ ok: true, value: null });
  });

  it("keeps a normal password as typed", () => {
    expect(checkPassword("correct horse")).toEqual({ ok: true, value: "correct horse" });
  });

  it("rejects surrounding spaces and overly long passwords", () => {
    expect(checkPassword(" secret").ok).toBe(false);
    expect(checkPassword("secret ").ok).toBe(false);
    expect(checkPassword("x".repeat(MAX_PASSWORD_CHARS)).ok).toBe(true);
    expect(checkPassword("x".repeat(MAX_PASSWORD_CHARS + 1)).ok).toBe(false);
    // Emoji are one character each, however JavaScript stores them.
    expect(checkPassword("🔥".repeat(MAX_PASSWORD_CHARS)).ok).toBe(true);
  });
});

import { checkName, parseAddress, parseChannelList, formatAddress, checkRoomName } from "./validate";

describe("parseAddress", () => {
  it("keeps a join link's pin and its wish for TLS", () => {
    const hex = "ab".repeat(32);
    const link = parseAddress(`https://192.168.1.20:7777/lobby#fp=${hex.toUpperCase()}`);
    expect(link).toEqual({ ok: true, value: { host: "192.168.1.20", port: 7777, room: "lobby", pin: hex, secure: true } });
    if (link.ok) expect(formatAddress(link.value)).toBe(`hearth://192.168.1.20:7777/lobby#fp=${hex}`);
    const colons = parseAddress(`hearth://host:7777/lobby#fp=${"AB:".repeat(31)}AB`);
    expect(colons.ok && colons.value.pin).toBe(hex);
    const tls = parseAddress("wss://chat.example:443/friday");
    expect(tls.ok && formatAddress(tls.value)).toBe("wss://chat.example:443/friday");
    const damaged = parseAddress("https://host:7777/lobby#fp=abc");
    expect(damaged.ok).toBe(false);
    if (!damaged.ok) expect(damaged.message).toContain("damaged");
  });

  it("accepts the usual forms with defaults", () => {
    expect(parseAddress("192.168.1.20:7777/lobby")).toEqual({ ok: true, value: { host: "192.168.1.20", port: 7777, room: "lobby" } });
    expect(parseAddress("hearth://example.org:7780/friday")).toEqual({ ok: true, value: { host: "example.org", port: 7780, room: "friday" } });
    expect(parseAddress("ws://host/")).toEqual({ ok: true, value: { host: "host", port: 7777, room: "lobby" } });
    expect(parseAddress(" host ")).toEqual({ ok: true, value: { host: "host", port: 7777, room: "lobby" } });
    expect(parseAddress("[fe80::1]:7777/r%20oom")).toEqual({ ok: true, value: { host: "[fe80::1]", port: 7777, room: "r oom" } });
  });

  it("refuses what is not an address, with a sentence", () => {
    for (const bad of ["", "ftp://x:1/a", "host:99999/a", "a b", "javascript:alert(1)", "host:/x", "user@host"]) {
      const r = parseAddress(bad);
      expect(r.ok, bad).toBe(false);
    }
    const r = parseAddress("ftp://x/a");
    expect(!r.ok && r.message).toMatch(/hearth:\/\//);
  });

  it("formats back to host:port/room", () => {
    const r = parseAddress("hearth://h:1/a b");
    expect(r.ok && formatAddress(r.value)).toBe("h:1/a%20b");
  });
});

describe("names and channels", () => {
  it("checks display names as the protocol does", () => {
    expect(checkName("Alice O'Neil").ok).toBe(true);
    for (const bad of ["", " Al", "Al ", "@al", "a".repeat(33), "al<script>"]) expect(checkName(bad).ok, bad).toBe(false);
  });

  it("parses channel lists", () => {
    expect(parseChannelList("general, random ,", "text")).toEqual({ ok: true, value: ["general", "random"] });
    expect(parseChannelList("", "voice")).toEqual({ ok: true, value: [] });
    expect(parseChannelList("", "text").ok).toBe(false);
    expect(parseChannelList("a, A", "text").ok).toBe(false);
    expect(parseChannelList("two words", "text").ok).toBe(false);
    expect(checkRoomName("lobby").ok).toBe(true);
  });
});
