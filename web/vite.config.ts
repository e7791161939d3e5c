import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API serves dist/ at its own origin under a strict CSP: no inline scripts, so Vite's
// module preload polyfill (an inline script in some setups) is off and assets stay external.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8000" } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
