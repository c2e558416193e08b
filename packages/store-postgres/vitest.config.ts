import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One file at a time: the multi-process test runs five processes on two cores and its leases
    // must not expire under a live worker because another suite is using the CPU.
    fileParallelism: false,
  },
});
