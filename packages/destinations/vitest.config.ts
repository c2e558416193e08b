import { packageTests } from '../../vitest.base.js';

export default packageTests({ testTimeout: 90_000 });
