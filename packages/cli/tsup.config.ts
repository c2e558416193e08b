import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  // `index`: `main(argv)` for programs that run the CLI in-process; `cli`: what bin/openpipes.js runs.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  dts: { entry: { index: 'src/index.ts' } },
  splitting: true,
});
