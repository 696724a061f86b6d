// A browser guest on another machine of the LAN that only watches: with no camera or
// microphone permission, Chromium hides its addresses behind `<uuid>.local` mDNS names.
// It opens the native member's camera and counts the frames its tile shows. Printed lines
// (the protocol with the Rust test): "joined", "candidates <address> …" (the addresses of
// the page's own ICE candidates), "frames <count> <width>x<height>".
// Usage: node mdns.mjs <url>
import { countTileFrames, runGuest } from "../../../../tests/browser/guest.mjs";

/** Init script: keeps the address of every ICE candidate the page gathers, and the ICE states. */
function recordLocalCandidates() {
  window.__localAddresses = [];
  window.__iceStates = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("icecandidate", (e) => e.candidate && window.__localAddresses.push(e.candidate.candidate.split(" ")[4]));
      this.addEventListener("iceconnectionstatechange", () => window.__iceStates.push(this.iceConnectionState));
    }
  };
}

const [url] = process.argv.slice(2);
await runGuest(url, "guest", { initScript: recordLocalCandidates, fakeMedia: false }, async (page) => {
  await page.getByTestId("video-toggle").click();
  await page.locator("[data-testid=open-camera][data-name=native]").click({ timeout: 15000 });
  const seen = await countTileFrames(page).catch(async (e) => {
    const ice = await page.evaluate(() => `candidates ${window.__localAddresses}, ICE states ${window.__iceStates}`);
    throw new Error(`${e.message}; ${ice}`);
  });
  console.log(`candidates ${await page.evaluate(() => window.__localAddresses.join(" "))}`);
  console.log(`frames ${seen}`);
});
