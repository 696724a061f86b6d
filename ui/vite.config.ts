import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// Tauri loads the dev server from tauri.conf.json's devUrl, so the port must not drift.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    watch: { ignored: ["**/src-tauri/**"] },
  },
  preview: {
    port: 4173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK and WebView2 both handle modern JS; no need to transpile further down.
    target: "es2022",
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
