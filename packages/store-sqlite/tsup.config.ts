import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  // The checkpoint thread (checkpointer.ts): its own file, found beside index.js at run time.
  entry: { index: 'src/index.ts', 'checkpoint-worker': 'src/checkpoint-worker.ts' },
  dts: { entry: { index: 'src/index.ts' } },
});
