// The studio's build: `npm run build:studio` writes pipelines/studio/static/, which is
// committed and shipped in the Function package (docs/studio.md). The output must be
// the same bytes for the same sources: a test rebuilds it and compares.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/studio/",
  publicDir: false,
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../pipelines/studio/static", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 800,
  },
  test: {
    root: here,
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
});
