/**
 * The README's five-minute walkthrough, run as written: the shell block between the
 * `walkthrough:start` and `walkthrough:end` markers, against a demo server (what `npm start` runs)
 * and a second `openpipes serve`. Only the ports (8787, 8788: free ones here) and the working
 * directory (a temporary one, holding copies of docs/operator-flow) differ.
 */
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startServe, stopAll, tempDir } from './helpers.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../../..');

describe('README', () => {
  afterAll(() => stopAll());

  it('the five-minute walkthrough runs as written and ends with a delivered event and an unchanged config', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /<!-- walkthrough:start -->\n```sh\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(
      readme,
    )?.[1];
    expect(block).toBeDefined();

    const dir = tempDir('readme');
    const demo = await startServe({ database: join(dir, '.openpipes', 'demo.db'), args: ['--demo'] });
    const demoPort = new URL(demo.url).port;
    const server = await startServe({
      database: join(dir, '.openpipes', 'walkthrough.db'),
      args: ['--egress-allow', `127.0.0.1:${demoPort}`],
    });
    cpSync(join(root, 'docs', 'operator-flow'), join(dir, 'docs', 'operator-flow'), { recursive: true });
    const destinationFile = join(dir, 'docs', 'operator-flow', 'meta-capi-destination.json');
    writeFileSync(
      destinationFile,
      readFileSync(destinationFile, 'utf8').replaceAll('127.0.0.1:8787', `127.0.0.1:${demoPort}`),
    );

    const script = block!
      .replaceAll('$PWD/node_modules/.bin', join(root, 'node_modules', '.bin'))
      .replaceAll('http://127.0.0.1:8788', server.url);
    const { stdout, stderr } = await run('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd: dir,
      env: { ...process.env, OPENPIPES_URL: '', OPENPIPES_TOKEN: '' },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toMatch(/evd_\w+\s+ord_70213\s+delivered\s+1/);
    expect(stdout).toContain('"status": "delivered"');
    expect(stdout).toMatch(/admin\s+revert:1\s+pipe pip_/);
    expect(stdout).toContain('Nothing to change: 6 unchanged.');
    expect(stderr).toContain(
      'Exported 1 source, 1 event type, 2 secret names, 1 destination, 1 pipe, 0 alert channels.',
    );
    expect(stdout + stderr).not.toContain('EAAB-example-token');
    expect(demo.stderr()).toContain('demo sink received events');
  });
});
