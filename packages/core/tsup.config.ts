import { packageBuild } from '../../tsup.base.js';

const publicEntries = {
  index: 'src/index.ts',
  'testing/index': 'src/testing/index.ts',
  'conformance/index': 'src/conformance/index.ts',
  'store-kit/index': 'src/store-kit/index.ts',
};

export default packageBuild({
  entry: {
    ...publicEntries,
    // The sandbox worker runs in a worker_threads Worker; it must be its own file.
    'sandbox-worker': 'src/sandbox/worker.ts',
  },
  dts: { entry: publicEntries },
  splitting: true,
  // The vetted modules sandboxed code may import, bundled for QuickJS into dist/modules/.
  async onSuccess() {
    // @ts-expect-error plain ESM build script without type declarations
    const { buildModuleBundles } = await import('./src/modules/build-modules.mjs');
    await buildModuleBundles('dist/modules');
  },
});
