import { defineConfig } from 'vite';

// The app is served under any prefix (`<mount>/console/`), known only per request: every URL in
// the build is relative ('./'), and index.html's <base href> (filled in by the server) anchors
// them, so deep URLs such as /console/pipes/pip_1 load the same files.
export default defineConfig({
  root: 'app',
  base: './',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist/app',
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or styles (CSP `script-src 'self'`); no modulepreload polyfill either.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    // The code editor (CodeMirror) is one lazy chunk of about 600 KB (under 200 KB gzip), loaded
    // only on code pages; bench/console.bench.mjs reports both sizes.
    chunkSizeWarningLimit: 1024,
  },
});
