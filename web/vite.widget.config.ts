import { defineConfig } from "vite";

// The widget: one framework-free IIFE file, dist/widget.js, that any site can load with a
// script tag. Everything (styles included) lives in that file.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: false,
    lib: {
      entry: "src/widget/main.ts",
      name: "ClawWidget",
      formats: ["iife"],
      fileName: () => "widget.js",
    },
    minify: true,
    sourcemap: false,
  },
});
