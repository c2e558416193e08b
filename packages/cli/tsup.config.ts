import { defineConfig } from 'tsup';

export default defineConfig({
  // `index`: `main(argv)` for programs that run the CLI in-process; `cli`: what bin/openpipes.js runs.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
});
