// A browser guest in a room with a password, next to a native operator: the guest is
// refused with a wrong password and joins with the right one; a page on another origin
// cannot open the room's socket; the guest cannot make itself operator; it trades direct
// messages and pictures with the native member.
//
// Printed lines (the protocol with the Rust test): "refused: <what the page says>",
// "joined", "tabs: <the screens offered>", "elsewhere: <what the socket did>", "token: <error code>",
// "kick: <error code>", "menu: <the menu's items>", "dm: <text>", "dm sent",
// "picture sent", "picture: <width>x<height>", "shot". The test writes a line when the
// native member has sent what the next step waits for.
// Usage: node features.mjs <url> <password> <picture file> <shots>
import { connected, finish, nextLine, openGuest, submitJoin } from "../../../../tests/browser/guest.mjs";

const [url, password, picture, shots] = process.argv.slice(2);
let browser;
let error;
try {
  const guest = await openGuest(url);
  browser = guest.browser;
  const page = guest.page;

  // A wrong password: the page says so and keeps the form.
  await submitJoin(page, "guest", "not the password");
  const refusal = page.getByText("The password is wrong.", { exact: false });
  await refusal.waitFor({ timeout: 15000 });
  console.log(`refused: ${await refusal.textContent()}`);
  await submitJoin(page, "guest", password);
  await connected(page);
  console.log("joined");
  // A browser tab cannot host a room, so it offers no Host screen.
  const tabs = await page.getByRole("navigation", { name: "Screens" }).getByRole("button").allTextContents();
  console.log(`tabs: ${tabs.map((t) => t.trim()).join(", ")}`);

  // A page from another origin (a site the guest visits meanwhile) tries the room's socket
  // with the guest's own browser: the server refuses the handshake.
  const socketUrl = url.replace(/^https:/, "wss:").replace(/\/[^/]*$/, "/");
  const elsewhere = await browser.contexts()[0].newPage();
  await elsewhere.route("http://elsewhere.test/**", (route) => route.fulfill({ contentType: "text/html", body: "<title>elsewhere</title>" }));
  await elsewhere.goto("http://elsewhere.test/");
  const outcome = await elsewhere.evaluate(
    (socketUrl) =>
      new Promise((resolve) => {
        const socket = new WebSocket(socketUrl);
        socket.onmessage = (e) => resolve(`message ${e.data}`);
        socket.onclose = (e) => resolve(`closed ${e.code}`);
        setTimeout(() => resolve("no answer"), 10000);
      }),
    socketUrl,
  );
  console.log(`elsewhere: ${outcome}`);
  await elsewhere.close();

  // The guest's own page, scripted by a curious guest: a guessed operator token is refused,
  // and without one, moderation is forbidden.
  const [token, kick] = await page.evaluate(
    async ({ socketUrl, password }) => {
      const session = (auth) =>
        new Promise((resolve, reject) => {
          const socket = new WebSocket(socketUrl);
          const replies = [];
          socket.onmessage = (e) => {
            const message = JSON.parse(e.data);
            replies.push(message);
            if (message.type === "hello") socket.send(JSON.stringify({ type: "auth", protocol: 1, room: "lobby", ...auth }));
            resolve({ socket, replies, next: (type) => waitFor(replies, type) });
          };
          socket.onerror = () => reject(new Error("socket error"));
        });
      const waitFor = async (replies, type) => {
        for (let i = 0; i < 100; i++) {
          const found = replies.find((m) => m.type === type);
          if (found) return found;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`no ${type} in ${JSON.stringify(replies)}`);
      };
      const guessing = await session({ name: "guesser", password, token: "letmein" });
      const refused = await guessing.next("error");
      guessing.socket.close();
      const plain = await session({ name: "curious", password });
      const welcome = await plain.next("welcome");
      const native = welcome.members.find((m) => m.name === "native");
      plain.socket.send(JSON.stringify({ type: "kick", member: native.id, reason: "mine now" }));
      const forbidden = await plain.next("error");
      plain.socket.close();
      return [refused.code, forbidden.code];
    },
    { socketUrl, password },
  );
  console.log(`token: ${token}`);
  console.log(`kick: ${kick}`);

  // The member menu offers a guest no moderation.
  await page.getByTestId("member").filter({ hasText: "native" }).getByTestId("member-menu-button").click();
  const items = await page.getByTestId("member-menu").getByRole("menuitem").allTextContents();
  console.log(`menu: ${items.map((t) => t.trim()).join(", ")}`);
  await page.keyboard.press("Escape");

  // A direct message from the native member appears under its name; the guest answers.
  await nextLine();
  await page.getByTestId("dm-native").click();
  const dm = page.getByTestId("message-text").filter({ hasText: "psst" });
  console.log(`dm: ${await dm.textContent()}`);
  await page.getByTestId("composer").fill("psst back");
  await page.getByTestId("composer").press("Enter");
  console.log("dm sent");

  // A picture to the text channel, from a file as a person would attach one; then the
  // native member's picture shows.
  await page.locator("[data-testid^=channel-]").first().click();
  await page.locator("input[type=file]").setInputFiles(picture);
  await page.getByTestId("image-preview").waitFor();
  await page.getByTestId("composer").fill("a picture");
  await page.getByTestId("composer").press("Enter");
  console.log("picture sent");
  await nextLine();
  const shown = page.getByAltText("Picture from native");
  await shown.waitFor();
  const size = await shown.evaluate(async (img) => {
    await img.decode();
    return `${img.naturalWidth}x${img.naturalHeight}`;
  });
  console.log(`picture: ${size}`);
  await page.screenshot({ path: `${shots}/browser-guest-features.png` });
  console.log("shot");
} catch (e) {
  error = e;
}
await finish(browser, error);
