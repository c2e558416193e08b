// Kept for the conformance suites that import the sandbox from here; new code imports
// `createSandbox` from './index.js' and the test hook from '@openpipes/sandbox'.
export { sandboxInternals } from '@openpipes/sandbox';
export { createSandbox } from './index.js';
