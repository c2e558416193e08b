// Bundles the vetted npm modules that sandboxed code may import into CommonJS strings QuickJS can
// evaluate, one file per module under dist/modules/, plus manifest.json (name, version, exports).
// The worker reads a file only when user code first imports that module. Run by tsup's onSuccess.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/** name user code imports -> the package (or subpath) bundled for it. */
export const vettedModules = {
  'lodash-es': { pkg: 'lodash-es', entry: 'lodash-es' },
  lodash: { pkg: 'lodash-es', entry: 'lodash-es' },
  'date-fns': { pkg: 'date-fns', entry: 'date-fns' },
  zod: { pkg: 'zod', entry: 'zod' },
  uuid: { pkg: 'uuid', entry: 'uuid' },
  ulid: { pkg: 'ulid', entry: 'ulid' },
  'libphonenumber-js': { pkg: 'libphonenumber-js', entry: 'libphonenumber-js/min' },
};

async function packageVersion(pkg) {
  // Walk up from the resolved entry to the package's own package.json.
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      if (json.name === pkg) return json.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export async function buildModuleBundles(outDir) {
  await mkdir(outDir, { recursive: true });
  const manifest = {};
  const built = new Map();
  for (const [name, { pkg, entry }] of Object.entries(vettedModules)) {
    const file = `${pkg.replace(/[^a-z0-9]+/gi, '_')}.cjs.js`;
    if (!built.has(entry)) {
      await build({
        stdin: { contents: `export * from '${entry}';`, resolveDir: process.cwd(), loader: 'js' },
        bundle: true,
        format: 'cjs',
        platform: 'browser',
        target: 'es2020',
        minify: true,
        legalComments: 'none',
        outfile: join(outDir, file),
        logLevel: 'warning',
      });
      const mod = await import(entry);
      built.set(
        entry,
        Object.keys(mod).filter((k) => k !== 'default'),
      );
    }
    manifest[name] = { package: pkg, version: await packageVersion(pkg), file, exports: built.get(entry) };
  }
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
