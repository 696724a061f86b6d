// Frame-rate measurement: four mock cameras at 640x480, 30 fps, each drawn in its own tile.
// Prints each tile's rendered frames per second (issue 5's target: at least 25 each). The
// figure depends on the machine, so only "renders nothing" fails the test.
import { expect, test } from "@playwright/test";
import { join, shot } from "./helpers";

const SECONDS = 5;

// WebGL is what the app uses; the 2D canvas is its fallback (`?video2d` forces it).
for (const [painter, path] of [
  ["webgl", "/"],
  ["2d", "/?video2d"],
] as const) {
test(`four 640x480@30 camera tiles, ${painter}: rendered frames per second`, async ({ page }) => {
  await join(page, "Sam", path);
  await page.evaluate(() => (window as any).__hearthMock.setLively(false));
  await page.getByTestId("video-toggle").click();
  for (const name of ["Alice", "Bob", "Carol", "Dave"]) {
    await page.getByTestId("open-camera").filter({ hasText: name }).click();
  }
  await expect(page.getByTestId("video-tile")).toHaveCount(4);
  // Warm up: shaders compiled, textures allocated.
  await page.waitForTimeout(1000);
  const sample = () =>
    page.evaluate(() => {
      const stats = window.__hearthVideoStats ?? {};
      return {
        at: performance.now(),
        tiles: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, { drawn: v.drawn, received: v.received, painter: v.painter }])),
      };
    });
  const before = await sample();
  await page.waitForTimeout(SECONDS * 1000);
  const after = await sample();
  const elapsed = (after.at - before.at) / 1000;
  const lines: string[] = [];
  for (const [member, end] of Object.entries(after.tiles)) {
    const start = before.tiles[member] ?? { drawn: 0, received: 0 };
    const drawn = (end.drawn - start.drawn) / elapsed;
    const received = (end.received - start.received) / elapsed;
    lines.push(`tile member ${member}: ${drawn.toFixed(1)} fps drawn, ${received.toFixed(1)} fps received (${end.painter})`);
    expect(end.drawn - start.drawn, `tile ${member} rendered no frames`).toBeGreaterThan(0);
  }
  console.log(`video tiles (${painter}) over ${elapsed.toFixed(1)} s:\n  ${lines.join("\n  ")}`);
  expect(lines).toHaveLength(4);
  expect(Object.values(after.tiles).every((t) => t.painter === painter)).toBe(true);
  await shot(page, `17-four-cameras-${painter}`);
});
}
