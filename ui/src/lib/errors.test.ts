import { describe, expect, it } from "vitest";
import { ALL_CODES, describeError, errorMessage } from "./errors";

describe("error wording", () => {
  it("has a plain sentence for every code", () => {
    for (const code of ALL_CODES) {
      const text = describeError(code);
      expect(text, code).toMatch(/^[A-Z].*[.!]$/);
      expect(text, code).not.toMatch(/[a-z]_[a-z]/);
    }
  });

  it("adds the reason where it helps and not elsewhere", () => {
    expect(describeError("kicked", "spamming")).toBe("You were removed from the room by an operator. (spamming)");
    expect(describeError("bad_password", "wrong password")).toBe("The password is wrong.");
    expect(describeError("name_taken", "x")).toMatch(/already uses that name/);
  });

  it("falls back for unknown codes and odd rejections", () => {
    expect(describeError("teleport_failed", "beam me up")).toBe("Something went wrong: beam me up");
    expect(errorMessage({ code: "port_in_use", message: "Port 7777 is already in use." })).toMatch(/already used/);
    expect(errorMessage("invalid args")).toMatch(/invalid args/);
    expect(errorMessage(new Error("boom"))).toBe("Something went wrong: boom");
    expect(errorMessage(undefined)).toBe("Something went wrong.");
  });
});

import { normalizeHostStatus } from "../ipc/legacy";

describe("host status from the current shell", () => {
  it("maps the old camelCase shape to the new one", () => {
    expect(
      normalizeHostStatus({ state: "running", address: "0.0.0.0:7777", port: 7777, lanAddress: "192.168.1.20:7777", passwordProtected: true }, "den"),
    ).toEqual({
      state: "on",
      port: 7777,
      room_name: "den",
      password_protected: true,
      lan_addresses: ["192.168.1.20:7777"],
      join_link: "hearth://192.168.1.20:7777/den",
    });
    expect(normalizeHostStatus({ state: "stopped", lastError: "crashed" })).toEqual({ state: "off", last_error: "crashed" });
    const fresh = { state: "off", last_error: null } as const;
    expect(normalizeHostStatus(fresh)).toBe(fresh);
  });
});
