import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// The two builds below run side by side into one directory, so neither may clean it: it is
// emptied once here, when the config is loaded.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });

const browser = { platform: 'browser', target: 'es2018', sourcemap: true, clean: false } as const;

export default defineConfig([
  // For bundlers: `import { init, track } from '@openpipes/browser'`.
  { ...browser, entry: { index: 'src/index.ts' }, format: ['esm'], dts: true },
  // For a <script> tag: dist/openpipes.js, minified, the global `openpipes` (served at <mount>/openpipes.js).
  {
    ...browser,
    entry: { openpipes: 'src/index.ts' },
    format: ['iife'],
    globalName: 'openpipes',
    minify: true,
    // No map beside it: the server serves this one file, and a `sourceMappingURL` would 404.
    sourcemap: false,
    outExtension: () => ({ js: '.js' }),
  },
]);
