import { packageTests } from '../../vitest.base.js';

export default packageTests({
  // One file at a time: the multi-process test runs five processes on two cores and its leases
  // must not expire under a live worker because another suite is using the CPU.
  fileParallelism: false,
});
