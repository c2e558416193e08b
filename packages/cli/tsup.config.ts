import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  // `index`: `main(argv)` for programs that run the CLI in-process; `cli`: what bin/openpipes.js runs;
  // `dispatch-worker`: the dispatch thread of `openpipes serve` (a worker_threads Worker, found beside them).
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', 'dispatch-worker': 'src/serve/dispatch-worker.ts' },
  dts: { entry: { index: 'src/index.ts' } },
  splitting: true,
});
