// A browser guest and a native member with cameras. The guest turns on Chromium's fake
// camera and opens the native member's test pattern; the page counts the frames its tile
// shows. Printed lines (the protocol with the Rust test): "joined", "camera on",
// "frames <count> <width>x<height>", "shot"; the test says "done" when it has decoded
// enough of the guest's camera. Usage: node video.mjs <url> <shots>
import { countTileFrames, runGuest, nextLine } from "../../../../tests/browser/guest.mjs";

const [url, shots] = process.argv.slice(2);
await runGuest(url, "guest", {}, async (page) => {
  await page.getByTestId("camera-toggle").click();
  await page.waitForFunction(() => document.querySelector("[data-testid=camera-toggle]")?.getAttribute("aria-pressed") === "true", null, { timeout: 15000 });
  console.log("camera on");

  // Turning the camera on shows the video panel (with our preview) by itself.
  await page.getByTestId("video-panel").waitFor();
  await page.locator("[data-testid=open-camera][data-name=native]").click({ timeout: 15000 });
  // Two seconds of the native member's tile (not our own preview), frame by frame as the
  // page paints them.
  const seen = await countTileFrames(page);
  console.log(`frames ${seen}`);
  await page.screenshot({ path: `${shots}/browser-guest-video.png` });
  console.log("shot");
  await nextLine();
});
