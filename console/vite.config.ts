/**
 * Vite builds the web console into console/dist: one HTML page, one script, one stylesheet, no CDN. `base: './'`
 * keeps every URL relative, so the bundle works from any path of a static host. console/server/build.ts runs this
 * build from `npm start` when the bundle is missing or stale; `npx vite build console` does it by hand.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // The console is built, not served by Vite's dev server: nothing to pre-bundle or watch.
  logLevel: 'warn',
});
