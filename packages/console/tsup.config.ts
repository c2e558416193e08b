import { packageBuild } from '../../tsup.base.js';

// The Node side only: where the built app is. The app itself is built by `vite build` into
// dist/app (vite.config.ts), after this (tsup empties dist first).
export default packageBuild({ entry: { index: 'src/index.ts' } });
