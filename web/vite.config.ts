import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console: a single-page app under dist/console/. The API base URL is not baked in:
// the app reads /config.json at start (written by the local gateway or at deploy time).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist/console",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    // `npm run dev` against `make dev`: proxy the API and the WebSocket to the gateway.
    proxy: {
      "/api": "http://127.0.0.1:3000",
      "/config.json": "http://127.0.0.1:3000",
      "/ws": { target: "ws://127.0.0.1:3000", ws: true },
    },
  },
  test: { include: ["src/**/*.test.ts"] },
} as import("vite").UserConfig);
