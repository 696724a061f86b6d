// A browser guest in a real Chromium (Debian's, headless, driven by playwright-core from
// ui/node_modules): opens the web client the server serves, joins the room from the
// prefilled form and chats with the native client the Rust test runs. Printed lines are the
// protocol with the test: "joined", "sent", "got: <text>". Usage: node chat.mjs <url> <shots>
import { pathToFileURL } from "node:url";

// playwright-core lives in ui/node_modules, which ES module resolution from this folder
// does not search; the test names the file.
const { chromium } = await import(pathToFileURL(process.env.PLAYWRIGHT_CORE).href);

const [url, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.HEARTH_CHROMIUM || "/usr/bin/chromium",
  // The flags the machine's notes require: no sandbox as root, no GPU, and no background
  // connections to the (closed) internet.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && failures.push(`console error: ${m.text()}`));
  await page.goto(url);
  // The web backend fills the form with the page's own server and room.
  const address = page.getByTestId("join-address");
  await address.waitFor();
  const prefilled = await address.inputValue();
  if (!url.endsWith(prefilled.split("/").slice(1).join("/"))) failures.push(`join form prefilled with ${prefilled}`);
  await page.getByTestId("join-name").fill("guest");
  await page.getByTestId("join-submit").click();
  await page.waitForFunction(() => document.querySelector("[data-testid=connection]")?.dataset.state === "connected", null, { timeout: 15000 });
  console.log("joined");
  await page.getByTestId("composer").fill("hello from the <b>browser</b>");
  await page.getByTestId("composer").press("Enter");
  console.log("sent");
  // The native client answers; the page shows its text as text.
  const handle = await page.waitForFunction(
    () => [...document.querySelectorAll("[data-testid=message-text]")].map((m) => m.textContent).find((t) => t.includes("native")),
    null,
    { timeout: 15000 },
  );
  console.log(`got: ${await handle.jsonValue()}`);
  await page.screenshot({ path: `${shots}/browser-guest-chat.png` });
} catch (e) {
  failures.push(String(e));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
