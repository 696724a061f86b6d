// A browser guest for the Rust tests: Debian's Chromium, headless, driven by playwright-core
// from ui/node_modules (the test passes its path in PLAYWRIGHT_CORE, since ES module
// resolution from this folder does not search there). Chromium's fake devices stand in
// for the microphone (a beep) and the camera (a moving pattern), and its fake permission
// prompt says yes.
import { pathToFileURL } from "node:url";

const { chromium } = await import(pathToFileURL(process.env.PLAYWRIGHT_CORE).href);

/** Problems seen on the page; the script fails if there are any. */
export const failures = [];

/**
 * Opens `url` (the served page, over HTTPS with the server's self-signed certificate,
 * which the guest accepts as a person would after comparing fingerprints) in a fresh
 * Chromium and returns the browser and the page, showing the join form. `fakeMedia: false`
 * leaves out the fake devices and their automatic permission, for a guest that only
 * watches and listens.
 */
export async function openGuest(url, { extraArgs = [], initScript, fakeMedia = true } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.HEARTH_CHROMIUM || "/usr/bin/chromium",
    // No sandbox as root, no GPU, no background connections to the (closed) internet, and
    // fake media devices with a fake permission prompt.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      ...(fakeMedia ? ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"] : []),
      // Tabs in the background must not be throttled while a test waits on them.
      "--autoplay-policy=no-user-gesture-required",
      // A test machine may have no interface but loopback; Chromium leaves loopback out of
      // ICE unless told.
      "--allow-loopback-in-peer-connection",
      ...extraArgs,
    ],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && failures.push(`console error: ${m.text()}`));
  await page.goto(url);
  const address = page.getByTestId("join-address");
  await address.waitFor();
  const prefilled = await address.inputValue();
  if (!url.endsWith(prefilled.split("/").slice(1).join("/"))) failures.push(`join form prefilled with ${prefilled}`);
  return { browser, page };
}

/** Fills the join form as `name` (with `password` when given) and submits it. */
export async function submitJoin(page, name, password) {
  await page.getByTestId("join-name").fill(name);
  if (password !== undefined) await page.getByTestId("join-password").fill(password);
  await page.getByTestId("join-submit").click();
}

/** Waits until the page says it is connected to the room. */
export async function connected(page) {
  await page.waitForFunction(
    () => document.querySelector("[data-testid=connection]")?.dataset.state === "connected",
    null,
    { timeout: 15000 },
  );
}

/** `openGuest`, then joins the room as `name` and returns once connected. */
export async function joinAsGuest(url, name, options = {}) {
  const guest = await openGuest(url, options);
  await submitJoin(guest.page, name, options.password);
  await connected(guest.page);
  return guest;
}

/** Ends the script: closes the browser and exits non-zero if anything went wrong. */
export async function finish(browser, error) {
  if (error) {
    failures.push(String(error?.stack ?? error));
    // What the guest saw, for whoever reads the failure.
    const page = browser?.contexts()[0]?.pages()[0];
    const text = await page?.evaluate(() => document.body.innerText).catch(() => null);
    if (text) failures.push(`the page showed:\n${text}`);
  }
  await browser?.close();
  process.stdin.destroy();
  if (failures.length) {
    console.error(failures.join("\n"));
    process.exit(1);
  }
}

/** Lines the Rust test sends on standard input, one promise at a time. */
const pending = [];
const waiting = [];
process.stdin.setEncoding("utf8");
let partial = "";
process.stdin.on("data", (chunk) => {
  partial += chunk;
  let at;
  while ((at = partial.indexOf("\n")) >= 0) {
    const line = partial.slice(0, at);
    partial = partial.slice(at + 1);
    const next = waiting.shift();
    if (next) next(line);
    else pending.push(line);
  }
});

/** The next line from the Rust test. */
export function nextLine() {
  if (pending.length) return Promise.resolve(pending.shift());
  return new Promise((resolve) => waiting.push(resolve));
}

/**
 * An init script that keeps every remote track the page's peer connections receive in
 * `window.__remoteTracks`, so the test can listen to and look at them as a person would.
 */
export function recordRemoteTracks() {
  window.__remoteTracks = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("track", (e) => window.__remoteTracks.push(e.track));
    }
  };
}

/**
 * Waits for a remote member's video tile (not our own preview) to play, then counts the
 * frames the page paints in it for two seconds. Returns "<frames> <width>x<height>".
 */
export async function countTileFrames(page) {
  return page.evaluate(async () => {
    const started = Date.now();
    let video;
    while (!(video = document.querySelector('[data-testid=video-tile]:not([data-member=""]) video')) || video.videoWidth === 0) {
      if (Date.now() - started > 20000) throw new Error("no playing video in a tile");
      await new Promise((r) => setTimeout(r, 50));
    }
    let frames = 0;
    const count = () => {
      frames++;
      video.requestVideoFrameCallback(count);
    };
    video.requestVideoFrameCallback(count);
    await new Promise((r) => setTimeout(r, 2000));
    return `${frames} ${video.videoWidth}x${video.videoHeight}`;
  });
}

/**
 * The whole of a test script: joins `url` as `name` (see `joinAsGuest`), runs `steps` with
 * the page, and ends the script with its verdict.
 */
export async function runGuest(url, name, options, steps) {
  let browser;
  let error;
  try {
    const guest = await joinAsGuest(url, name, options);
    browser = guest.browser;
    console.log("joined");
    await steps(guest.page);
  } catch (e) {
    error = e;
  }
  await finish(browser, error);
}
