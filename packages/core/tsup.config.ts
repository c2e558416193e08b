import { packageBuild } from '../../tsup.base.js';

const publicEntries = {
  index: 'src/index.ts',
  'testing/index': 'src/testing/index.ts',
  'conformance/index': 'src/conformance/index.ts',
  'store-kit/index': 'src/store-kit/index.ts',
  'identity/index': 'src/identity/index.ts',
};

export default packageBuild({
  entry: publicEntries,
  splitting: true,
});
