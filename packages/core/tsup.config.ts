import { packageBuild } from '../../tsup.base.js';

const publicEntries = {
  index: 'src/index.ts',
  'testing/index': 'src/testing/index.ts',
  'conformance/index': 'src/conformance/index.ts',
  'store-kit/index': 'src/store-kit/index.ts',
  'identity/index': 'src/identity/index.ts',
};

export default packageBuild({
  // The outcome packer's worker thread: its own file, found beside store-kit's modules at run time.
  entry: { ...publicEntries, 'store-kit/pack-worker': 'src/store-kit/pack-worker.ts' },
  dts: { entry: publicEntries },
  splitting: true,
});
