import { expect, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join as joinPath } from "node:path";

/** Screenshots go to test-output/ui/ at the repository root (git-ignored). */
export const SHOTS = joinPath(process.cwd(), "..", "test-output", "ui");
mkdirSync(SHOTS, { recursive: true });

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: joinPath(SHOTS, `${name}.png`) });
}

/** Fails the test on any uncaught page error. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

export async function join(page: Page, name = "Sam", path = "/"): Promise<void> {
  await page.goto(path);
  await page.getByTestId("join-address").fill("192.168.1.20:7777/lobby");
  await page.getByTestId("join-name").fill(name);
  await page.getByTestId("join-submit").click();
  await expect(page.getByTestId("chat-title")).toHaveText("#general");
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "connected");
}

/** Statistics of a canvas: distinct colours sampled and mean brightness. */
export async function canvasStats(page: Page, selector: string) {
  return page.evaluate((sel) => {
    const source = document.querySelector(sel) as HTMLCanvasElement | null;
    if (!source) return null;
    const c = document.createElement("canvas");
    c.width = 64;
    c.height = 48;
    const ctx = c.getContext("2d")!;
    ctx.drawImage(source, 0, 0, 64, 48);
    const data = ctx.getImageData(0, 0, 64, 48).data;
    const colours = new Set<string>();
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
      colours.add(`${data[i] >> 4},${data[i + 1] >> 4},${data[i + 2] >> 4}`);
      sum += data[i] + data[i + 1] + data[i + 2];
    }
    return { colours: colours.size, mean: sum / (data.length / 4) / 3 };
  }, selector);
}
