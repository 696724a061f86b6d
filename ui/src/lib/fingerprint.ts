// The server certificate's fingerprint on a page a Hearth server served (browser guests).
//
// A hosted room serves a self-signed certificate, so no certificate authority vouches for it:
// the join link does, and the host's screen. The server puts the SHA-256 fingerprint of its
// certificate into the page it serves,
//   <meta name="hearth-fingerprint" content="AB:CD:…:EF">   (32 upper-case byte pairs, colons)
// and a join link names the one the host expects,
//   https://192.168.1.20:7777/lobby#fp=abcd…ef            (64 hex digits, colons optional)
// The join form shows the first and says whether it matches the second.
//
// Fingerprints are kept as 64 lower-case hex digits (the link's form, hearth-wire's
// `Fingerprint::hex`) and shown as upper-case colon pairs (its `Display`, and what browsers
// show in their certificate viewer). Everything here is pure; the page's document and hash
// are passed in.

/** How the page's certificate compares with the one the join link names. */
export type FingerprintStatus = "match" | "mismatch" | "unknown";

/** What the join form shows on a served page. */
export interface PageFingerprint {
  /** The served certificate's fingerprint, 64 lower-case hex digits. */
  server: string;
  /** "unknown" when the page's link names no fingerprint. */
  status: FingerprintStatus;
  /**
   * The fingerprint the link names (64 lower-case hex digits), or null when it names none,
   * or names something that is not a fingerprint (then status is "mismatch").
   */
  link: string | null;
}

/** Byte pairs per line when the fingerprint is shown: 4 lines of 8, or 2 of 16 when it fits. */
export const PAIRS_PER_GROUP = 8;

/**
 * The `hearth-fingerprint` tag's content as 64 lower-case hex digits, or null unless it is
 * exactly 32 hex byte pairs joined by colons (either case; surrounding spaces are ignored).
 */
export function parseMetaFingerprint(content: string | null | undefined): string | null {
  const text = (content ?? "").trim();
  if (!/^[0-9a-f]{2}(?::[0-9a-f]{2}){31}$/i.test(text)) return null;
  return text.replaceAll(":", "").toLowerCase();
}

/**
 * A fingerprint as a link or a person writes it, as 64 lower-case hex digits, or null.
 * Accepts what hearth-wire's `Fingerprint::from_str` does: 64 hex digits in either case,
 * colons anywhere (so both the bare and the colon form), surrounding spaces.
 */
export function parseFingerprint(text: string | null | undefined): string | null {
  const digits = (text ?? "").trim().replaceAll(":", "");
  return /^[0-9a-f]{64}$/i.test(digits) ? digits.toLowerCase() : null;
}

/**
 * The `fp=` values of a URL hash (`#fp=…`, also among other parameters: `#join=…&fp=…`), as
 * written; an empty list when the hash has none.
 */
export function hashFingerprints(hash: string): string[] {
  return new URLSearchParams(hash.replace(/^#/, "")).getAll("fp");
}

/** The colon form, upper case: "AB:CD:…:EF". Expects what the parsers return. */
export function formatFingerprint(hex: string): string {
  return (hex.toUpperCase().match(/[0-9A-F]{2}/g) ?? []).join(":");
}

/**
 * The colon form cut into groups of `perGroup` pairs for display on separate lines. Every
 * group but the last keeps its trailing colon, so the groups joined with nothing are exactly
 * `formatFingerprint(hex)` (what a copy of the text gives).
 */
export function fingerprintGroups(hex: string, perGroup = PAIRS_PER_GROUP): string[] {
  const pairs = formatFingerprint(hex).split(":");
  const size = Math.max(1, Math.floor(perGroup));
  const groups: string[] = [];
  for (let i = 0; i < pairs.length; i += size) {
    const last = i + size >= pairs.length;
    groups.push(pairs.slice(i, i + size).join(":") + (last ? "" : ":"));
  }
  return groups;
}

/**
 * Compares the served certificate's fingerprint (as `parseMetaFingerprint` returns it) with
 * the one a link names, as written: "unknown" when the link names none (null, undefined),
 * "match" when they are the same fingerprint (case and colons aside), and "mismatch"
 * otherwise, including a link value that is not a fingerprint at all: a broken or altered
 * link must not pass.
 */
export function compareFingerprints(server: string, link: string | null | undefined): FingerprintStatus {
  if (link === null || link === undefined) return "unknown";
  const wanted = parseFingerprint(link);
  const have = parseFingerprint(server);
  return wanted !== null && have !== null && wanted === have ? "match" : "mismatch";
}

/**
 * What the join form shows on a page a Hearth server served: null unless the page carries
 * both the `hearth-served` tag (the one that picks the browser backend) and a valid
 * `hearth-fingerprint` tag. A hash naming several fingerprints matches only when all of them do.
 */
export function pageFingerprint(doc: Pick<Document, "querySelector">, hash: string): PageFingerprint | null {
  if (!doc.querySelector('meta[name="hearth-served"]')) return null;
  const server = parseMetaFingerprint(doc.querySelector('meta[name="hearth-fingerprint"]')?.getAttribute("content"));
  if (!server) return null;
  const named = hashFingerprints(hash);
  if (named.length === 0) return { server, status: "unknown", link: null };
  const statuses = named.map((value) => compareFingerprints(server, value));
  const status = statuses.every((s) => s === "match") ? "match" : "mismatch";
  // The one to show next to the warning: the first that differs, when it is a fingerprint.
  const shown = named[statuses.findIndex((s) => s !== "match")] ?? named[0];
  return { server, status, link: parseFingerprint(shown) };
}
