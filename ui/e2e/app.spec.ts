// Every screen of the UI in headless Chromium against the mock backend (src/ipc/mock.ts).
import { expect, test } from "@playwright/test";
import { canvasStats, join, shot, watchErrors } from "./helpers";

// The mock's test hook is window.__hearthMock (src/ipc/mock.ts, MockControl).
/* eslint-disable @typescript-eslint/no-explicit-any */

test.describe("start", () => {
  test("join form, LAN rooms, recent servers, validation and a failed join", async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto("/");
    const lan = page.getByTestId("lan-rooms");
    await expect(lan).toContainText("lan-party");
    await expect(lan).toContainText("6 people");
    await expect(lan).toContainText("study-group");
    await expect(page.getByTestId("recent-servers")).toContainText("friday");
    await shot(page, "01-start");

    // Picking a LAN room fills the address and moves focus to the name.
    await lan.getByRole("button", { name: /lan-party/ }).click();
    // The room advertises its certificate's fingerprint: the address pins it, as a join link does.
    await expect(page.getByTestId("join-address")).toHaveValue(`https://192.168.1.31:7777/lan-party#fp=${"5a".repeat(32)}`);
    await expect(page.getByTestId("join-name")).toBeFocused();

    // Validation in words.
    await page.getByTestId("join-address").fill("ftp://nope/x");
    await page.getByTestId("join-name").fill("Sam");
    await page.getByTestId("join-submit").click();
    await expect(page.getByRole("alert")).toContainText("Only hearth://, https://, ws:// and wss://");

    // A refused password is shown in plain words, and the form stays.
    await page.getByTestId("join-address").fill("192.168.1.20:7777/lobby");
    await page.getByTestId("join-password").fill("wrong");
    await page.getByTestId("join-submit").click();
    await expect(page.getByTestId("connection")).toContainText("The password is wrong.");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "failed");
    expect(errors).toEqual([]);
  });

  test("a deep link fills the form; Enter joins", async ({ page }) => {
    await page.goto("/#join=hearth://192.168.1.31:7780/study-group");
    await expect(page.getByTestId("join-address")).toHaveValue("192.168.1.31:7780/study-group");
    await expect(page.getByTestId("join-name")).toBeFocused();
    await page.keyboard.type("Sam");
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "connected");
    await expect(page.getByTestId("chat-title")).toHaveText("#general");

    // The padlock shows the certificate the connection accepts, to compare with the host's.
    await expect(page.getByTestId("connection-certificate")).toHaveCount(0);
    await page.getByTestId("connection-secure").click();
    await expect(page.getByTestId("connection-secure")).toHaveAttribute("aria-expanded", "true");
    await expect(page.getByTestId("connection-certificate")).toContainText("5F:3A:9C:0E:41:B2:7D:86:");
    await shot(page, "01b-certificate");
    await page.getByTestId("connection-secure").press("Escape");
    await expect(page.getByTestId("connection-certificate")).toHaveCount(0);
  });

  test("a deep link event from the backend fills the form too", async ({ page }) => {
    await page.goto("/");
    await page.getByTestId("join-address").waitFor();
    await page.evaluate(() => (window as any).__hearthMock.emit({ type: "deep_link", url: "hearth://10.0.0.9:9000/den" }));
    await expect(page.getByTestId("join-address")).toHaveValue("10.0.0.9:9000/den");
  });
});

test.describe("host", () => {
  test("the toggle starts and stops the server and shows a QR code", async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto("/");
    await page.getByTestId("tab-host").click();
    const toggle = page.getByTestId("host-toggle");
    await expect(toggle).toHaveAttribute("aria-checked", "false");

    await page.getByTestId("host-port").fill("7000");
    await toggle.click();
    await expect(page.getByTestId("host-error")).toContainText("already used by another program");

    await page.getByTestId("host-port").fill("7777");
    await page.getByTestId("host-room").fill("lan-night");
    await page.getByTestId("host-room").press("Enter"); // Enter in the form starts hosting too
    await expect(toggle).toHaveAttribute("aria-checked", "true");
    await expect(page.getByTestId("host-error")).toHaveCount(0);
    await expect(page.getByTestId("join-link")).toHaveText(/^https:\/\/192\.168\.1\.20:7777\/lan-night#fp=5f3a9c0e41b27d86[0-9a-f]{48}$/);
    await expect(page.getByTestId("host-fingerprint")).toContainText("5F:3A:9C:0E:41:B2:7D:86:");
    await expect(page.getByTestId("lan-addresses")).toContainText("192.168.1.20:7777");
    const modules = await page.getByTestId("host-qr").locator("rect").count();
    expect(modules).toBeGreaterThan(100);
    await expect(page.getByTestId("connection")).toContainText("Hosting :7777");
    await shot(page, "02-host-on");

    // The own room shows up in the LAN list.
    await page.getByTestId("tab-start").click();
    await expect(page.getByTestId("lan-rooms")).toContainText("lan-night");

    await page.getByTestId("tab-host").click();
    await page.getByTestId("host-toggle").click();
    await expect(page.getByTestId("host-toggle")).toHaveAttribute("aria-checked", "false");
    await expect(page.getByTestId("host-qr")).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test("joining your own room puts it first in Recent", async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto("/");
    await page.getByTestId("tab-host").click();
    await page.getByTestId("host-port").fill("7781");
    await page.getByTestId("host-room").fill("den");
    await page.getByTestId("host-toggle").click();
    await expect(page.getByTestId("host-toggle")).toHaveAttribute("aria-checked", "true");
    await page.getByRole("button", { name: "Join my room" }).click();
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "connected");
    // No restart and no visit to the join form: the list follows the welcome.
    await page.getByTestId("tab-start").click();
    await expect(page.getByTestId("recent-servers").locator("li").first()).toContainText(":7781/den");
    expect(errors).toEqual([]);
  });
});

test.describe("room", () => {
  test("chat: send, edit, react, reply, delete", async ({ page }) => {
    const errors = watchErrors(page);
    await join(page);
    await shot(page, "03-room");
    const composer = page.getByTestId("composer");
    await composer.fill("hello **world**");
    await composer.press("Enter");
    const mine = page.getByTestId("message").filter({ hasText: "hello world" });
    await expect(mine).toHaveCount(1);
    const mineId = await mine.getAttribute("data-id");
    await expect(mine.locator("strong", { hasText: "world" })).toHaveCount(1);

    // Edit with the keyboard: Enter saves.
    await mine.hover();
    await mine.getByTestId("edit").click();
    await page.getByTestId("edit-box").fill("hello again");
    await page.getByTestId("edit-box").press("Enter");
    const editedId = mineId;
    const edited = page.locator(`[data-testid="message"][data-id="${editedId}"]`);
    await expect(edited).toContainText("hello again");
    await expect(edited).toContainText("(edited)");

    // React.
    await edited.hover();
    await edited.getByTestId("react").click();
    await edited.getByRole("button", { name: "React 👍" }).click();
    await expect(edited.getByTestId("reaction")).toHaveText("👍 1");
    await expect(edited.getByTestId("reaction")).toHaveAttribute("aria-pressed", "true");

    // Reply.
    await edited.hover();
    await edited.getByTestId("reply").click();
    await expect(page.getByTestId("replying")).toContainText("Replying to Sam");
    await composer.fill("a reply");
    await composer.press("Enter");
    const reply = page.getByTestId("message").filter({ hasText: "a reply" });
    await expect(reply.getByTestId("reply-quote")).toContainText("hello again");
    await shot(page, "04-chat-actions");

    // Delete, confirmed inline.
    await edited.hover();
    await edited.getByTestId("delete").click();
    await edited.getByTestId("confirm-delete").click();
    await expect(page.getByTestId("deleted")).toHaveCount(1);
    await expect(reply.getByTestId("reply-quote")).toContainText("(deleted)");
    expect(errors).toEqual([]);
  });

  test("typing indicator, unread markers, DMs and notifications", async ({ page }) => {
    await join(page);
    // The mock's Carol types every few seconds.
    await expect(page.getByTestId("typing")).toHaveText("Carol is typing…", { timeout: 15_000 });

    await page.evaluate(() => (window as any).__hearthMock.incomingChat("memes", "Dave", "new meme"));
    await expect(page.getByTestId("channel-memes").getByTestId("unread")).toHaveText("1");
    await page.getByTestId("channel-memes").click();
    await expect(page.getByTestId("channel-memes").getByTestId("unread")).toHaveCount(0);
    await expect(page.getByTestId("new-marker")).toHaveCount(1);

    // An incoming DM: a conversation with an unread badge and a notice.
    await page.evaluate(() => (window as any).__hearthMock.incomingChat("@Bob", "Bob", "psst, @Sam"));
    await expect(page.getByTestId("dm-Bob").getByTestId("unread")).toHaveText("1");
    await expect(page.getByTestId("notice").filter({ hasText: "Message from Bob" })).toHaveCount(1);
    await page.getByTestId("dm-Bob").click();
    await expect(page.getByTestId("chat-title")).toHaveText("@Bob");
    await expect(page.locator(".mention.self")).toHaveText("@Sam");
    await expect(page.locator(".message.mentioned")).toHaveCount(1);
    await page.getByTestId("composer").fill("hi Bob");
    await page.getByTestId("composer").press("Enter");
    await expect(page.getByTestId("message").filter({ hasText: "got it: hi Bob" })).toHaveCount(1);
    await shot(page, "05-dm");

    // A DM started from the member list.
    await page.getByTestId("member").filter({ hasText: "Carol" }).getByTestId("member-menu-button").click();
    await page.getByRole("menuitem", { name: "Send a direct message" }).click();
    await expect(page.getByTestId("chat-title")).toHaveText("@Carol");
  });

  test("hostile message text stays text", async ({ page }) => {
    await join(page);
    await page.evaluate(() => {
      const m = (window as any).__hearthMock;
      m.incomingChat("general", "Mallory", '<img src=x onerror="window.__pwned=1"> **<b>bold</b>**');
      m.incomingChat("general", "Mallory", "[click me](javascript:window.__pwned=2) and <script>window.__pwned=3</script>");
    });
    const evil = page.getByTestId("message").filter({ hasText: "Mallory" });
    await expect(evil).toHaveCount(2);
    await expect(evil.first()).toContainText('<img src=x onerror="window.__pwned=1">');
    await expect(evil.locator("img, script, b")).toHaveCount(0);
    await expect(page.locator('a[href^="javascript"]')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  });

  test("image paste shows a preview before sending", async ({ page }) => {
    await join(page);
    await page.getByTestId("composer").focus();
    await page.evaluate(async () => {
      const c = document.createElement("canvas");
      c.width = 40;
      c.height = 30;
      const ctx = c.getContext("2d")!;
      ctx.fillStyle = "#e85";
      ctx.fillRect(0, 0, 40, 30);
      const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), "image/png"));
      const data = new DataTransfer();
      data.items.add(new File([blob], "pasted.png", { type: "image/png" }));
      const target = document.querySelector('[data-testid="composer"]')!;
      target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    });
    await expect(page.getByTestId("image-preview")).toBeVisible();
    await expect(page.getByTestId("image-preview").locator("img")).toHaveJSProperty("complete", true);
    await shot(page, "06-image-preview");
    await page.getByTestId("composer").fill("look");
    await page.getByTestId("send").click();
    const sent = page.getByTestId("message").filter({ hasText: "look" });
    await expect(sent.locator("img")).toHaveCount(1);
    await expect(page.getByTestId("image-preview")).toHaveCount(0);
  });

  test("image drop shows a preview; a wrong file type is explained", async ({ page }) => {
    await join(page);
    const drop = async (type: string, bytes: number[]) =>
      page.evaluate(
        ([type, bytes]) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes as number[])], "dropped", { type: type as string }));
          const target = document.querySelector('[data-testid="messages"]')!;
          target.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
          target.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        },
        [type, bytes] as const,
      );
    await drop("text/html", [60, 98, 62]);
    await expect(page.getByRole("alert")).toContainText("Only PNG, JPEG, GIF and WebP pictures can be sent.");
    // A 1x1 GIF.
    await drop("image/gif", [71, 73, 70, 56, 57, 97, 1, 0, 1, 0, 0, 0, 0, 59]);
    await expect(page.getByTestId("image-preview")).toBeVisible();
    await page.getByTestId("composer").press("Escape");
    await expect(page.getByTestId("image-preview")).toHaveCount(0);
  });

  test("history pages load on scrolling up, without duplicates", async ({ page }) => {
    await join(page);
    const messages = page.getByTestId("message");
    await expect(messages).toHaveCount(30);
    const list = page.getByTestId("messages");
    for (const expected of [60, 90, 95]) {
      await list.evaluate((el) => (el.scrollTop = 0));
      await expect(messages).toHaveCount(expected);
    }
    await list.evaluate((el) => (el.scrollTop = 0));
    await expect(page.getByText("This is the beginning of #general.")).toBeVisible();
    const ids = await messages.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-id"))));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  test("operator moderation menu: server mute, kick, ban, lock", async ({ page }) => {
    await join(page);
    const members = page.getByTestId("member-list");
    const bob = members.getByTestId("member").filter({ hasText: "Bob" });
    await bob.getByTestId("member-menu-button").click();
    const menu = page.getByTestId("member-menu");
    await expect(menu).toBeVisible();
    await expect(menu.getByRole("menuitem").first()).toBeFocused();
    await shot(page, "07-moderation-menu");
    // Escape closes the menu and returns focus to its button.
    await page.keyboard.press("Escape");
    await expect(menu).toHaveCount(0);
    await expect(bob.getByTestId("member-menu-button")).toBeFocused();

    await bob.getByTestId("member-menu-button").click();
    await page.getByTestId("server-mute").click();
    await expect(bob.locator('[title="Muted by an operator"]')).toHaveCount(1);

    const dave = members.getByTestId("member").filter({ hasText: "Dave" });
    await dave.getByTestId("member-menu-button").click();
    await page.getByTestId("member-menu").getByLabel("Reason").fill("spam");
    await page.getByTestId("kick").click();
    await expect(dave).toHaveCount(0);

    const carol = members.getByTestId("member").filter({ hasText: "Carol" });
    await carol.getByTestId("member-menu-button").click();
    await page.getByTestId("ban").click();
    await expect(carol).toHaveCount(0);

    // The host cannot be kicked: the refusal is explained.
    await members.getByTestId("member").filter({ hasText: "Alice" }).getByTestId("member-menu-button").click();
    await page.getByTestId("kick").click();
    await expect(page.getByTestId("notice").last()).toContainText("You are not allowed to do that.");

    await page.getByTestId("lock-room").click();
    await expect(page.getByTestId("lock-room")).toHaveAttribute("aria-pressed", "true");
  });

  test("voice bar: join, level, mute, deafen, push to talk, member volume", async ({ page }) => {
    await join(page);
    await page.getByTestId("voice-join").click();
    await expect(page.getByTestId("voice-bar")).toContainText("Voice: Lounge");
    await expect(page.getByTestId("voice-member").filter({ hasText: "Sam" })).toHaveCount(1);
    // Speaking indicators in the channel list come and go.
    await expect(page.locator('[data-testid="voice-member"][data-speaking="true"]').first()).toBeVisible({ timeout: 10_000 });
    await expect
      .poll(async () => Number(await page.getByTestId("input-level").getAttribute("aria-valuenow")))
      .toBeGreaterThan(0);
    await shot(page, "08-voice");
    await page.getByTestId("mute").click();
    await expect(page.getByTestId("mute")).toHaveAttribute("aria-pressed", "true");
    await page.getByTestId("deafen").click();
    await expect(page.getByTestId("deafen")).toHaveAttribute("aria-pressed", "true");
    await page.getByTestId("deafen").click();
    await page.getByTestId("mute").click();
    await expect(page.getByTestId("mute")).toHaveAttribute("aria-pressed", "false");
    await page.getByTestId("mode-ptt").click();
    await expect(page.getByTestId("mode-ptt")).toHaveAttribute("aria-pressed", "true");
    await expect(page.getByTestId("voice-bar")).toContainText("Pick a push-to-talk key in Settings.");
    await page.getByTestId("mode-vad").click();

    const bob = page.getByTestId("member").filter({ hasText: "Bob" });
    await bob.getByTestId("member-menu-button").click();
    await page.getByTestId("member-volume").fill("1.5");
    await expect(page.getByTestId("member-menu")).toContainText("Volume 150%");
    await page.getByTestId("member-local-mute").check();
    await expect(page.getByTestId("member-local-mute")).toBeChecked();

    await page.getByTestId("voice-leave").click();
    await expect(page.getByTestId("voice-bar")).toContainText("Not in voice");
  });

  test("video: own preview, opened cameras render, watchers can be booted", async ({ page }) => {
    const errors = watchErrors(page);
    await join(page);
    await page.getByTestId("camera-toggle").click();
    await expect(page.getByTestId("video-panel")).toBeVisible();
    await page.getByTestId("open-camera").filter({ hasText: "Alice" }).click();
    const alice = page.locator('[data-testid="video-tile"][data-member="1"]');
    await expect(alice).toBeVisible();
    await expect
      .poll(() => page.evaluate(() => window.__hearthVideoStats?.["1"]?.drawn ?? 0))
      .toBeGreaterThan(5);
    const stats = await canvasStats(page, '[data-testid="video-tile"][data-member="1"] canvas');
    expect(stats, "the tile's canvas has pixels").not.toBeNull();
    // The synthetic pattern has many colours and is neither black nor blank.
    expect(stats!.colours).toBeGreaterThan(8);
    expect(stats!.mean).toBeGreaterThan(20);
    const preview = await canvasStats(page, '[data-testid="video-tile"][data-member=""] canvas');
    expect(preview!.colours).toBeGreaterThan(8);
    const painter = await page.evaluate(() => window.__hearthVideoStats?.["1"]?.painter);
    console.log(`video painter: ${painter}`);

    // Bob watches my camera (the mock opens it); boot him.
    const watchers = page.getByTestId("watchers");
    await expect(watchers).toContainText("Bob");
    await shot(page, "09-video");
    await watchers.getByTestId("boot").click();
    await expect(watchers).toContainText("nobody yet");

    await alice.getByTestId("close-camera").click();
    await expect(alice).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test("kicked: back to the start screen with the reason", async ({ page }) => {
    await join(page);
    await page.evaluate(() =>
      (window as any).__hearthMock.emit({
        type: "connection",
        status: { state: "failed", address: "192.168.1.20:7777/lobby", code: "kicked", message: "spamming" },
      }),
    );
    await expect(page.getByTestId("connection")).toContainText("You were removed from the room by an operator. (spamming)");
    await expect(page.getByTestId("join-address")).toBeVisible();
    await expect(page.getByTestId("tab-room")).toBeDisabled();
  });

  test("errors in plain words and the reconnect banner", async ({ page }) => {
    await join(page);
    await page.evaluate(() => (window as any).__hearthMock.error("room_locked", "room is locked"));
    await expect(page.getByTestId("notice").last()).toContainText("The room is locked");
    await page.getByTestId("notice").last().getByRole("button", { name: "Dismiss" }).click();
    // A code this UI has no words for (a newer shell or server) still reads as a sentence.
    await page.evaluate(() => (window as any).__hearthMock.error("teleport_failed", "the teleporter is out of order"));
    await expect(page.getByTestId("notice").last()).toHaveText(/The teleporter is out of order\./);
    await expect(page.getByTestId("notice").last()).not.toContainText("teleport_failed");
    await page.getByTestId("notice").last().getByRole("button", { name: "Dismiss" }).click();

    await page.evaluate(() => (window as any).__hearthMock.dropConnection(3000));
    const banner = page.getByTestId("reconnect-banner");
    await expect(banner).toContainText("Reconnecting (attempt 1)");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "reconnecting");
    await shot(page, "10-reconnecting");
    await expect(banner).toHaveCount(0, { timeout: 10_000 });
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "connected");
    await expect(page.getByTestId("chat-title")).toHaveText("#general");
  });
});

test.describe("settings and layout", () => {
  test("settings: devices, live level, test sound, push-to-talk key, theme", async ({ page }) => {
    await page.goto("/");
    await page.getByTestId("tab-settings").click();
    await expect(page.getByTestId("input-device")).toContainText("USB headset microphone");
    await page.getByTestId("input-device").selectOption("mic-usb");
    await expect(page.getByText("Saved.")).toBeVisible();
    await expect
      .poll(async () => Number(await page.getByTestId("settings-level").getAttribute("aria-valuenow")))
      .toBeGreaterThan(0);
    await page.getByTestId("test-sound").click();
    await page.getByTestId("ptt-capture").click();
    await page.keyboard.press("KeyV");
    await expect(page.getByTestId("ptt-capture")).toHaveText("KeyV");
    await page.getByTestId("noise-suppression").uncheck();
    await page.getByTestId("frame-ms").selectOption("10");
    await page.getByTestId("camera-resolution").selectOption("1280x720@30");

    await page.getByTestId("theme-dark").check();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
    const darkBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await shot(page, "11-settings-dark");
    await page.getByTestId("theme-light").check();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    const lightBg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(lightBg).not.toBe(darkBg);
    await shot(page, "12-settings-light");

    // Settings survive leaving the screen.
    await page.getByTestId("tab-start").click();
    await page.getByTestId("tab-settings").click();
    await expect(page.getByTestId("ptt-capture")).toHaveText("KeyV");
    await expect(page.getByTestId("frame-ms")).toHaveValue("10");
  });

  test("the room in light theme", async ({ page }) => {
    await page.emulateMedia({ colorScheme: "light" });
    await join(page);
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    await shot(page, "13-room-light");
  });

  test("800x600: no horizontal scroll, member list becomes a drawer", async ({ page }) => {
    await page.setViewportSize({ width: 800, height: 600 });
    await page.goto("/");
    await shot(page, "14-start-800x600");
    await join(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expect(page.getByTestId("member-list")).toBeHidden();
    await shot(page, "15-room-800x600");
    await page.getByTestId("members-toggle").click();
    await expect(page.getByTestId("member-list")).toBeVisible();
    await shot(page, "16-members-drawer-800x600");
    await page.getByRole("button", { name: "Close member list" }).click();
    await expect(page.getByTestId("member-list")).toBeHidden();
    await page.getByTestId("members-toggle").click();
    await page.getByTestId("presence").focus();
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("member-list")).toBeHidden();
    await expect(page.getByTestId("composer")).toBeVisible();
  });

  test("keyboard: tab order on the start screen and a visible focus ring", async ({ page }) => {
    await page.goto("/");
    await page.getByTestId("join-address").waitFor();
    const order: string[] = [];
    for (let i = 0; i < 9; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? document.activeElement?.tagName ?? ""));
    }
    const address = order.indexOf("join-address");
    expect(address).toBeGreaterThan(-1);
    expect(order.slice(address, address + 4)).toEqual(["join-address", "join-name", "join-password", "join-submit"]);
    await page.getByTestId("join-address").focus();
    const outline = await page.getByTestId("join-address").evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe("none");
  });

  test("keyboard in the room: channels with Enter, message actions on focus, Escape cancels a reply", async ({ page }) => {
    await join(page);
    await page.getByTestId("channel-memes").focus();
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("chat-title")).toHaveText("#memes");
    // The composer has focus after switching; Shift+Tab walks back into the last message's actions.
    await expect(page.getByTestId("composer")).toBeFocused();
    const last = page.getByTestId("message").last();
    await last.getByTestId("reply").focus();
    await expect(last.getByTestId("reply")).toBeVisible();
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("replying")).toBeVisible();
    await expect(page.getByTestId("composer")).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("replying")).toHaveCount(0);
  });
});
