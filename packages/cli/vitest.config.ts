import { packageTests } from '../../vitest.base.js';

export default packageTests({
  // Every test spawns real `openpipes` processes and servers: one file at a time on small machines.
  fileParallelism: false,
  testTimeout: 60_000,
  hookTimeout: 60_000,
});
