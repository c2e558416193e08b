// The built package, installed the way npm lays it out: its package.json and dist/ under
// node_modules/@openpipes/sandbox of an empty project, with only its declared dependencies beside
// it. A separate Node process imports it by name, which must find dist/worker.js and the vetted
// module bundles (dist/modules/) from there: a worker starts and runs a transform that imports one.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const project = mkdtempSync(join(tmpdir(), 'openpipes-sandbox-installed-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The folder of an installed dependency: up from its resolved entry to its own package.json. */
function dependencyDir(name: string): string {
  const require = createRequire(join(packageDir, 'package.json'));
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === name)
      return dir;
  }
  throw new Error(`no package.json found for ${name}`);
}

describe('the built package, installed', () => {
  it('starts a worker from its own dist and runs a transform that imports a vetted module', async () => {
    const installed = join(project, 'node_modules', '@openpipes', 'sandbox');
    mkdirSync(installed, { recursive: true });
    cpSync(join(packageDir, 'package.json'), join(installed, 'package.json'));
    cpSync(join(packageDir, 'dist'), join(installed, 'dist'), { recursive: true });
    for (const name of Object.keys(manifest.dependencies)) {
      const link = join(project, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(dependencyDir(name), link, 'dir');
    }
    const script = join(project, 'main.mjs');
    writeFileSync(
      script,
      `import { createSandbox } from '@openpipes/sandbox';
const sandbox = createSandbox({ workers: 1 });
const code = "import { chunk } from 'lodash-es';\\nfunction transform({ events }) { return events.map((e) => ({ ...e, event_payload: { pairs: chunk([1, 2, 3, 4], 2) } })); }";
const run = await sandbox.transform({
  code: { kind: 'transform', owner: 'pip_installed', version: 1, code },
  events: [{ event_type: 'purchase', event_time: '2026-01-01T00:00:00Z', event_payload: {} }],
  profiles: undefined,
  secrets: {},
});
await sandbox.close();
console.log(JSON.stringify(run.results));
`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: project });
    expect(JSON.parse(stdout)).toEqual([
      {
        ok: true,
        outputs: [
          {
            event_type: 'purchase',
            event_time: '2026-01-01T00:00:00Z',
            event_payload: {
              pairs: [
                [1, 2],
                [3, 4],
              ],
            },
          },
        ],
      },
    ]);
  });
});
