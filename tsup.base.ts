import { readFile } from 'node:fs/promises';
import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM for Node 20, declarations, source maps, a clean dist, and
 * `?raw` imports (guest JavaScript inlined as text; see `rawTextPlugin`). A package's
 * tsup.config.ts passes only what differs: its entries, and `dts`, `splitting` or `onSuccess`
 * when it needs them.
 *
 * @example
 * ```ts
 * // packages/x/tsup.config.ts
 * import { packageBuild } from '../../tsup.base.js';
 * export default packageBuild({ entry: { index: 'src/index.ts' } });
 * ```
 */
export function packageBuild(options: Options & { entry: Record<string, string> }) {
  return defineConfig({
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    ...options,
    esbuildPlugins: [rawTextPlugin, ...(options.esbuildPlugins ?? [])],
  });
}

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * `import text from './file.js?raw'` gives the file's text as a string, as Vite (and so vitest,
 * which runs src directly) does natively. Guest code (JavaScript that runs inside the QuickJS
 * sandbox) lives in real .js files, linted and type-checked, and the build inlines it this way.
 */
const rawTextPlugin: EsbuildPlugin = {
  name: 'raw-text',
  setup(build) {
    build.onResolve({ filter: /\?raw$/ }, async (args) => {
      const resolved = await build.resolve(args.path.slice(0, -'?raw'.length), {
        kind: args.kind,
        resolveDir: args.resolveDir,
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, namespace: 'raw-text' };
    });
    build.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => {
      return { contents: await readFile(args.path, 'utf8'), loader: 'text', watchFiles: [args.path] };
    });
  },
};
