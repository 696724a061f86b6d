import { afterEach, describe, expect, it } from "vitest";
import { render } from "svelte/server";
import StartView from "./StartView.svelte";
import { ui } from "../lib/app.svelte";
import { formatFingerprint } from "../lib/fingerprint";

// The join form rendered to HTML (svelte/server): enough to see what the fingerprint block
// shows and whether the join button is enabled, without a browser.

const HEX = "0123456789abcdeffedcba9876543210a1b2c3d4e5f60718293a4b5c6d7e8f90";
const OTHER = "f".repeat(64);

/** The HTML's text (tags and Svelte's markers dropped), with spaces collapsed. */
const text = (html: string) => html.replace(/<[^>]*>/g, "").replace(/\s+/g, " ");
/** The opening tag of the element with the given data-testid. */
const tag = (html: string, testid: string) => html.match(new RegExp(`<[^>]*data-testid="${testid}"[^>]*>`))?.[0] ?? "";
/** The text inside the element with the given data-testid (no nested element of its kind). */
const inner = (html: string, testid: string, element: string) =>
  text(html.match(new RegExp(`data-testid="${testid}"[^>]*>([\\s\\S]*?)</${element}>`))?.[1] ?? "");

describe("StartView's server fingerprint", () => {
  afterEach(() => {
    ui.fingerprint = null;
  });

  it("is absent without a served fingerprint (the shell, the mock)", () => {
    const html = render(StartView).body;
    expect(html).not.toContain("server-fingerprint");
    expect(tag(html, "join-submit")).not.toContain("disabled");
  });

  it("shows the colon form and asks to compare it, with no status when the link names none", () => {
    ui.fingerprint = { server: HEX, status: "unknown", link: null };
    const html = render(StartView).body;
    expect(inner(html, "server-fingerprint-value", "code")).toBe(formatFingerprint(HEX));
    expect(text(html)).toContain("Compare this with the host's screen");
    expect(html).not.toContain("fingerprint-status");
    expect(tag(html, "join-submit")).not.toContain("disabled");
  });

  it("says so when the link's fingerprint matches", () => {
    ui.fingerprint = { server: HEX, status: "match", link: HEX };
    const html = render(StartView).body;
    expect(tag(html, "fingerprint-status")).toContain('data-state="match"');
    expect(tag(html, "join-submit")).not.toContain("disabled");
  });

  it("warns and disables joining when it does not", () => {
    ui.fingerprint = { server: HEX, status: "mismatch", link: OTHER };
    const html = render(StartView).body;
    expect(tag(html, "fingerprint-status")).toContain('data-state="mismatch"');
    expect(tag(html, "fingerprint-status")).toContain('role="alert"');
    expect(text(html)).toContain("not the certificate your join link names");
    expect(text(html)).toContain("intercepting");
    expect(inner(html, "fingerprint-link-value", "code")).toBe(formatFingerprint(OTHER));
    expect(tag(html, "join-submit")).toContain("disabled");

    ui.fingerprint = { server: HEX, status: "mismatch", link: null };
    const damaged = render(StartView).body;
    expect(tag(damaged, "fingerprint-status")).toContain('data-state="mismatch"');
    expect(text(damaged)).toContain("join link is damaged");
    expect(tag(damaged, "join-submit")).toContain("disabled");
  });
});
