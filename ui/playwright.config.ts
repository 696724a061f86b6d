import { defineConfig } from "@playwright/test";

// The UI against the mock backend, in Debian's chromium (never a downloaded browser). The
// built ui/dist is served by `vite preview`; run `npm run build` first.
export default defineConfig({
  testDir: "e2e",
  outputDir: "../test-output/ui/playwright",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // One worker: the machine is small and the frame-rate measurement wants the CPU to itself.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: "http://127.0.0.1:4173",
    headless: true,
    viewport: { width: 1280, height: 720 },
    launchOptions: {
      executablePath: process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium",
      // WebGL without a GPU: SwiftShader through ANGLE.
      args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
    },
  },
  webServer: {
    command: "npx vite preview --host 127.0.0.1 --port 4173 --strictPort",
    url: "http://127.0.0.1:4173",
    reuseExistingServer: false,
    timeout: 30_000,
  },
});
