import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'conformance/index': 'src/conformance/index.ts',
    // The sandbox worker runs in a worker_threads Worker; it must be its own file.
    'sandbox-worker': 'src/sandbox/worker.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: {
    entry: {
      index: 'src/index.ts',
      'testing/index': 'src/testing/index.ts',
      'conformance/index': 'src/conformance/index.ts',
    },
  },
  sourcemap: true,
  clean: true,
  splitting: true,
  // The vetted modules sandboxed code may import, bundled for QuickJS into dist/modules/.
  async onSuccess() {
    // @ts-expect-error plain ESM build script without type declarations
    const { buildModuleBundles } = await import('./src/modules/build-modules.mjs');
    await buildModuleBundles('dist/modules');
  },
});
