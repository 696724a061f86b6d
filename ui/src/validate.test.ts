import { describe, expect, it } from "vitest";
import { checkPassword, checkPort, MAX_PASSWORD_CHARS } from "./validate";
import { describeStatus, errorMessage } from "./host";

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

describe("messages", () => {
  it("shows a command error's message as it is", () => {
    expect(errorMessage({ code: "port_in_use", message: "Port 7777 is already in use." })).toBe(
      "Port 7777 is already in use.",
    );
    expect(errorMessage("invalid args")).toMatch(/invalid args/);
    expect(errorMessage(undefined)).toBe("Something went wrong.");
  });

  it("describes running and stopped servers", () => {
    expect(
      describeStatus({
        state: "running",
        address: "0.0.0.0:7777",
        port: 7777,
        lanAddress: "192.168.1.20:7777",
        passwordProtected: true,
      }),
    ).toBe("Hosting on 0.0.0.0:7777, with a password. Others can join at 192.168.1.20:7777.");
    expect(describeStatus({ state: "stopped", lastError: "The server crashed." })).toBe(
      "Not hosting. The server crashed.",
    );
  });
});
