import { defineConfig, type ViteUserConfig } from 'vitest/config';

type TestOptions = NonNullable<ViteUserConfig['test']>;

/**
 * The test setup every package shares: tests in src/ (next to the code) and test/, forked
 * workers, 30 s per test and hook. A package's vitest.config.ts passes only what differs, with
 * the reason beside it.
 *
 * @example
 * ```ts
 * // packages/x/vitest.config.ts
 * import { packageTests } from '../../vitest.base.js';
 * export default packageTests({ testTimeout: 60_000 });
 * ```
 */
export function packageTests(overrides: TestOptions = {}) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      pool: 'forks',
      ...overrides,
    },
  });
}
