// A browser guest opens the web client the server serves over HTTPS, joins the room from the
// prefilled form and chats with the native client the Rust test runs. Printed lines are the
// protocol with the test: "joined", "sent", "got: <text>". Usage: node chat.mjs <url> <shots>
import { runGuest } from "../../../../tests/browser/guest.mjs";

const [url, shots] = process.argv.slice(2);
await runGuest(url, "guest", {}, async (page) => {
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
});
