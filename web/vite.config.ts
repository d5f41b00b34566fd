import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { VitePWA } from "vite-plugin-pwa";

// In development, the API and the hub are the real vigor binary's
// (`cargo run -p vigor -- serve`), proxied so that the app is same-origin.
const vigor = process.env.VIGOR_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: "script",
      includeAssets: ["icon.svg"],
      manifest: {
        name: "Vigor",
        short_name: "Vigor",
        description: "Train, track and compete with your people.",
        theme_color: "#e4572e",
        background_color: "#f4f5f7",
        display: "standalone",
        start_url: "/",
        icons: [
          { src: "/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any maskable" },
        ],
      },
      workbox: {
        // The shell offline; the API and the hub never from the cache.
        navigateFallback: "/index.html",
        navigateFallbackDenylist: [/^\/v1\//, /^\/docs/, /^\/metrics/, /^\/healthz/, /^\/readyz/, /^\/\.well-known\//, /^\/callback/],
        globPatterns: ["**/*.{js,css,html,svg,png,webmanifest}"],
      },
    }),
  ],
  server: {
    proxy: {
      "/v1/ws": { target: vigor.replace(/^http/, "ws"), ws: true },
      "/v1": vigor,
      "/.well-known": vigor,
    },
  },
  build: { sourcemap: false, chunkSizeWarningLimit: 600 },
  test: {
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
  },
});
