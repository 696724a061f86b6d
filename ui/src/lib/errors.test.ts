import { describe, expect, it } from "vitest";
import { ALL_CODES, codeWords, describeError, errorMessage, isKnownErrorCode } from "./errors";

describe("error wording", () => {
  it("has a plain sentence for every code", () => {
    for (const code of ALL_CODES) {
      const text = describeError(code);
      expect(text, code).toMatch(/^[A-Z].*[.!]$/);
      expect(text, code).not.toMatch(/[a-z]_[a-z]/);
    }
  });

  it("knows the codes the Rust side sends", () => {
    // crates/hearth-desktop: CommandError and ConnectionStatus codes of its own.
    for (const code of ["bad_address", "unreachable", "refused", "not_connected", "already_running", "not_running", "port_in_use", "shutting_down", "invalid_settings", "voice_failed", "camera_refused", "certificate_mismatch"]) {
      expect(isKnownErrorCode(code), code).toBe(true);
    }
    expect(isKnownErrorCode("teleport_failed")).toBe(false);
    expect(isKnownErrorCode("toString")).toBe(false);
  });

  it("adds the reason where it helps and not elsewhere", () => {
    expect(describeError("kicked", "spamming")).toBe("You were removed from the room by an operator. (spamming)");
    expect(describeError("bad_password", "wrong password")).toBe("The password is wrong.");
    expect(describeError("name_taken", "x")).toMatch(/already uses that name/);
    expect(describeError("camera_refused", "  camera is off ")).toBe("That camera could not be opened. (camera is off)");
    // A changed certificate: what to do in words, the two fingerprints as the detail.
    expect(describeError("certificate_mismatch", "the server's certificate has fingerprint ab…, not cd…")).toMatch(
      /^This server is not the one your link named.*Ask the host for a new join link\. \(the server's certificate has fingerprint ab…, not cd…\)$/,
    );
    expect(describeError("kicked", "   ")).toBe("You were removed from the room by an operator.");
  });

  it("words an unknown code readably: the backend's message, else the code itself", () => {
    expect(describeError("teleport_failed", "The teleporter is out of order.")).toBe("The teleporter is out of order.");
    expect(describeError("teleport_failed", "beam me up")).toBe("Beam me up.");
    expect(describeError("teleport_failed", "")).toBe("Something went wrong (teleport failed).");
    expect(describeError("teleport_failed", null)).toBe("Something went wrong (teleport failed).");
    expect(describeError("Beam-Me__UP!")).toBe("Something went wrong (beam me up).");
    expect(describeError("")).toBe("Something went wrong.");
    expect(describeError("__")).toBe("Something went wrong.");
    expect(describeError("constructor")).toBe("Something went wrong (constructor).");
    expect(codeWords("x".repeat(100) + "_y")).toHaveLength(60);
  });

  it("turns command rejections into sentences", () => {
    expect(errorMessage({ code: "port_in_use", message: "Port 7777 is already in use." })).toMatch(/already used/);
    expect(errorMessage({ code: "random_failed_2", message: "Could not generate a token." })).toBe("Could not generate a token.");
    expect(errorMessage("invalid args")).toMatch(/invalid args/);
    expect(errorMessage(new Error("boom"))).toBe("Something went wrong: boom");
    expect(errorMessage(undefined)).toBe("Something went wrong.");
  });
});
