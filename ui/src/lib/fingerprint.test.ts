import { describe, expect, it } from "vitest";
import {
  compareFingerprints,
  fingerprintGroups,
  formatFingerprint,
  hashFingerprints,
  pageFingerprint,
  parseFingerprint,
  parseMetaFingerprint,
} from "./fingerprint";

// A fingerprint in its three spellings: the link's (lower-case hex), upper-case hex, and the
// tag's (upper-case colon pairs).
const HEX = "0123456789abcdeffedcba9876543210a1b2c3d4e5f60718293a4b5c6d7e8f90";
const UPPER = HEX.toUpperCase();
const COLONS = UPPER.match(/../g)!.join(":");
const OTHER = "f".repeat(64);

describe("parseMetaFingerprint", () => {
  it("reads 32 hex byte pairs joined by colons as 64 lower-case hex digits", () => {
    expect(COLONS).toHaveLength(95);
    expect(parseMetaFingerprint(COLONS)).toBe(HEX);
    expect(parseMetaFingerprint(COLONS.toLowerCase())).toBe(HEX);
    expect(parseMetaFingerprint(`  ${COLONS}\n`)).toBe(HEX);
  });

  it("rejects anything that is not exactly 32 pairs joined by colons", () => {
    const bad = [
      null,
      undefined,
      "",
      UPPER, // no colons
      COLONS.slice(3), // 31 pairs
      `${COLONS}:AB`, // 33 pairs
      `${COLONS}:`,
      `:${COLONS}`,
      COLONS.replace(":", "::"),
      COLONS.replace(":", "-"),
      COLONS.replace(":", " "),
      COLONS.replace("01", "0G"),
      COLONS.replace("01", "1"),
      COLONS.replace("01:23", "012:3"),
      "AB:CD",
      `<script>${COLONS}`,
    ];
    for (const content of bad) expect(parseMetaFingerprint(content), String(content)).toBeNull();
  });
});

describe("parseFingerprint", () => {
  it("accepts 64 hex digits in either case, with or without colons, normalised to lower case", () => {
    expect(parseFingerprint(HEX)).toBe(HEX);
    expect(parseFingerprint(UPPER)).toBe(HEX);
    expect(parseFingerprint(COLONS)).toBe(HEX);
    expect(parseFingerprint(COLONS.toLowerCase())).toBe(HEX);
    expect(parseFingerprint(` ${HEX} `)).toBe(HEX);
  });

  it("rejects the wrong number of digits and anything but hex digits and colons", () => {
    for (const bad of [null, undefined, "", ":", HEX.slice(1), HEX + "0", HEX.replace("a", "g"), HEX.replace("a", " "), `fp=${HEX}`, "0x" + HEX.slice(2)]) {
      expect(parseFingerprint(bad), String(bad)).toBeNull();
    }
  });
});

describe("hashFingerprints", () => {
  it("finds fp= in the hash, alone or among other parameters", () => {
    expect(hashFingerprints(`#fp=${HEX}`)).toEqual([HEX]);
    expect(hashFingerprints(`fp=${HEX}`)).toEqual([HEX]);
    expect(hashFingerprints(`#join=hearth://h:1/Den&fp=${COLONS}`)).toEqual([COLONS]);
    expect(hashFingerprints(`#fp=${HEX}&fp=${OTHER}`)).toEqual([HEX, OTHER]);
    // Escaped colons, as some tools write them.
    expect(hashFingerprints(`#fp=${COLONS.replaceAll(":", "%3A")}`)).toEqual([COLONS]);
  });

  it("is empty when the hash names no fingerprint", () => {
    for (const hash of ["", "#", "#join=hearth://h:1", "#fingerprint=" + HEX, "#xfp=" + HEX]) {
      expect(hashFingerprints(hash), hash).toEqual([]);
    }
  });
});

describe("formatFingerprint and fingerprintGroups", () => {
  it("shows upper-case colon pairs", () => {
    expect(formatFingerprint(HEX)).toBe(COLONS);
    expect(formatFingerprint(UPPER)).toBe(COLONS);
  });

  it("cuts the colon form into groups that join back into it", () => {
    const groups = fingerprintGroups(HEX);
    expect(groups).toEqual([
      "01:23:45:67:89:AB:CD:EF:",
      "FE:DC:BA:98:76:54:32:10:",
      "A1:B2:C3:D4:E5:F6:07:18:",
      "29:3A:4B:5C:6D:7E:8F:90",
    ]);
    expect(groups.join("")).toBe(COLONS);
    expect(fingerprintGroups(HEX, 16)).toHaveLength(2);
    expect(fingerprintGroups(HEX, 16).join("")).toBe(COLONS);
    expect(fingerprintGroups(HEX, 5).join("")).toBe(COLONS);
    expect(fingerprintGroups(HEX, 32)).toEqual([COLONS]);
    expect(fingerprintGroups(HEX, 0).join("")).toBe(COLONS);
  });
});

describe("compareFingerprints", () => {
  it("is unknown when the link names no fingerprint", () => {
    expect(compareFingerprints(HEX, null)).toBe("unknown");
    expect(compareFingerprints(HEX, undefined)).toBe("unknown");
  });

  it("matches the same fingerprint whatever its case and colons", () => {
    for (const link of [HEX, UPPER, COLONS, COLONS.toLowerCase(), ` ${HEX}`]) {
      expect(compareFingerprints(HEX, link), link).toBe("match");
    }
  });

  it("is a mismatch for another fingerprint, and for a link value that is not one", () => {
    expect(compareFingerprints(HEX, OTHER)).toBe("mismatch");
    expect(compareFingerprints(HEX, HEX.slice(0, 63) + "1")).toBe("mismatch");
    // A damaged link must not pass, even when what is left is a prefix of the right one.
    for (const broken of ["", HEX.slice(0, 40), HEX + "00", HEX.replace("a", "z")]) {
      expect(compareFingerprints(HEX, broken), broken).toBe("mismatch");
    }
  });
});

describe("pageFingerprint", () => {
  // A document with the given tags (null leaves a tag out).
  const doc = (served: string | null, fingerprint: string | null) => ({
    querySelector: (sel: string) => {
      const content = sel === 'meta[name="hearth-served"]' ? served : sel === 'meta[name="hearth-fingerprint"]' ? fingerprint : null;
      return content === null ? null : ({ getAttribute: (name: string) => (name === "content" ? content : null) } as unknown as Element);
    },
  });

  it("is null unless the page was served with a valid fingerprint tag", () => {
    expect(pageFingerprint(doc(null, null), `#fp=${HEX}`)).toBeNull();
    // Only the server adds the tags: a fingerprint tag without the served tag is ignored.
    expect(pageFingerprint(doc(null, COLONS), `#fp=${HEX}`)).toBeNull();
    expect(pageFingerprint(doc("", null), `#fp=${HEX}`)).toBeNull();
    expect(pageFingerprint(doc("", "not a fingerprint"), `#fp=${HEX}`)).toBeNull();
    expect(pageFingerprint(doc("", UPPER), "")).toBeNull();
  });

  it("shows the served fingerprint and compares it with the link's", () => {
    expect(pageFingerprint(doc("", COLONS), "")).toEqual({ server: HEX, status: "unknown", link: null });
    expect(pageFingerprint(doc("", COLONS), `#fp=${UPPER}`)).toEqual({ server: HEX, status: "match", link: HEX });
    expect(pageFingerprint(doc("", COLONS), `#fp=${COLONS}`)).toEqual({ server: HEX, status: "match", link: HEX });
    expect(pageFingerprint(doc("", COLONS), `#fp=${OTHER}`)).toEqual({ server: HEX, status: "mismatch", link: OTHER });
    expect(pageFingerprint(doc("", COLONS), "#fp=abc")).toEqual({ server: HEX, status: "mismatch", link: null });
    expect(pageFingerprint(doc("", COLONS), "#fp=")).toEqual({ server: HEX, status: "mismatch", link: null });
  });

  it("matches a hash naming several fingerprints only when all of them match", () => {
    expect(pageFingerprint(doc("", COLONS), `#fp=${HEX}&fp=${COLONS}`)?.status).toBe("match");
    expect(pageFingerprint(doc("", COLONS), `#fp=${HEX}&fp=${OTHER}`)).toEqual({ server: HEX, status: "mismatch", link: OTHER });
  });
});
