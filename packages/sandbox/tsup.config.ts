import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  entry: {
    index: 'src/index.ts',
    // Runs in a worker_threads Worker: its own file, found beside the package's modules at run time.
    worker: 'src/worker.ts',
  },
  dts: { entry: { index: 'src/index.ts' } },
  splitting: true,
  // The vetted modules sandboxed code may import, bundled for QuickJS into dist/modules/.
  async onSuccess() {
    // @ts-expect-error plain ESM build script without type declarations
    const { buildModuleBundles } = await import('./src/modules/build-modules.mjs');
    await buildModuleBundles('dist/modules');
  },
});
