/**
 * The first start of `openpipes serve`: credentials generated beside the database with mode 0600
 * and printed as export lines; reused afterwards; and the demo a new user starts with `npm start`,
 * whose printed curl lines are run as printed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, openpipes, startServe, stopAll, tempDir } from './helpers.js';

const run = promisify(execFile);
const hasCurl = existsSync('/usr/bin/curl') || existsSync('/bin/curl') || existsSync('/usr/local/bin/curl');

describe('openpipes serve, first start', () => {
  afterEach(() => stopAll());

  it('generates a secret key and an admin token beside the database with mode 0600, prints how to use them, and reuses them', async () => {
    const dir = tempDir('first');
    const database = join(dir, 'data', 'openpipes.db');
    const serve = await startServe({ database });
    for (const file of [`${database}.secret-key`, `${database}.admin-token`]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    const token = readFileSync(`${database}.admin-token`, 'utf8').trim();
    expect(token).toMatch(/^opa_[\w-]{43}$/);
    expect(readFileSync(`${database}.secret-key`, 'utf8').trim()).toMatch(/^[\w-]{43}$/);
    const banner = serve.stdout();
    expect(banner).toContain('First start: generated, and stored beside the database with mode 0600:');
    expect(banner).toContain(`export OPENPIPES_URL=${serve.url}`);
    expect(banner).toContain(`export OPENPIPES_TOKEN="$(cat ${database}.admin-token)"`);
    // Secret values never appear in the output or the log: only the file they are in.
    expect(banner + serve.stderr()).not.toContain(token);

    // The printed export line works as printed.
    const { stdout } = await run('bash', [
      '-c',
      `export OPENPIPES_URL=${serve.url}; export OPENPIPES_TOKEN="$(cat ${database}.admin-token)"; node ${JSON.stringify(
        join(import.meta.dirname, '../bin/openpipes.js'),
      )} api GET /healthz`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'ok', running: true });

    expect(await serve.stop()).toMatchObject({ code: 0 });
    const again = await startServe({ database });
    expect(again.token).toBe(token);
    expect(again.stdout()).not.toContain('First start');
  });

  it('refuses to start an existing database whose secret key is gone, and says how to fix it', async () => {
    const dir = tempDir('lost');
    const database = join(dir, 'openpipes.db');
    const first = await startServe({ database });
    await first.stop();
    rmSync(`${database}.secret-key`);
    const result = await openpipes(['serve', '--port', '0', '--db', database]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('exists, but its secret key is neither in OPENPIPES_SECRET_KEY nor in');
    expect(result.stderr).toContain(
      'hint: set OPENPIPES_SECRET_KEY to the key this database was created with',
    );
    expect(existsSync(`${database}.secret-key`)).toBe(false);
  });

  it('takes the key and token from the environment instead, and writes no files', async () => {
    const dir = tempDir('env');
    const database = join(dir, 'openpipes.db');
    const serve = await startServe({
      database,
      env: {
        OPENPIPES_SECRET_KEY: 'env-secret-key-0123456789abcdef',
        OPENPIPES_ADMIN_TOKEN: 'env-admin-token-0123456789',
      },
    });
    expect(existsSync(`${database}.secret-key`)).toBe(false);
    expect(existsSync(`${database}.admin-token`)).toBe(false);
    expect((await openpipes(['api', 'GET', '/api/pipes'], { env: serve.env })).code).toBe(0);
  });

  it('warns when a credential file can be read by others', async () => {
    const dir = tempDir('mode');
    mkdirSync(dir, { recursive: true });
    const database = join(dir, 'openpipes.db');
    writeFileSync(`${database}.admin-token`, 'opa_a-token-someone-wrote-by-hand\n', { mode: 0o644 });
    const serve = await startServe({ database });
    expect(serve.stderr()).toContain('can be read by other users (mode 644); run chmod 600');
  });
});

describe('openpipes serve --demo (what npm start runs)', () => {
  afterEach(() => stopAll());

  it.skipIf(!hasCurl)(
    'sets up the demo on an empty database; the printed curl lines send an event and show it delivered; a restart reuses it',
    async () => {
      const dir = tempDir('demo');
      const database = join(dir, '.openpipes', 'demo.db');
      const serve = await startServe({ database, args: ['--demo'], cwd: dir });
      const banner = serve.stdout();
      expect(banner).toContain(`Collect URL: ${serve.url}/collect/web`);
      const lines = banner.split('\n');
      const send = lines[lines.findIndex((l) => l.startsWith('1. Send a purchase')) + 1]!;
      const show = lines[lines.findIndex((l) => l.startsWith("2. See that event's delivery records")) + 1]!;
      expect(send).toMatch(/^curl -sS -X POST /);
      expect(show).toMatch(/^curl -sS '.*\/deliveries\?event_id=ord_\d+' -H "authorization: Bearer \$\(cat /);

      const sent = JSON.parse((await run('bash', ['-c', send], { cwd: dir })).stdout);
      expect(sent).toMatchObject({ accepted: 1 });
      const records = await eventually(async () => {
        const page = JSON.parse((await run('bash', ['-c', show], { cwd: dir })).stdout);
        return page.data?.[0]?.status === 'delivered' ? page.data : null;
      });
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        destination: 'meta-capi-demo',
        event_id: sent.results[0].event_id,
        response: { status: 200, body: { events_received: 1 } },
      });
      expect(records[0].request.url).toBe(`${serve.url}/demo-sink/v19.0/[secret:META_PIXEL_ID]/events`);
      const pipeId = records[0].pipe_id;
      await serve.stop();

      const again = await startServe({ database, args: ['--demo'], cwd: dir });
      expect(again.stdout()).toContain('Demo ready (reused)');
      expect(again.stdout()).toContain(`/api/pipes/${pipeId}/deliveries`);
      // The new port is the stand-in's new address: an event sent now is delivered too.
      const next = again.stdout().split('\n');
      const sendAgain = next[next.findIndex((l) => l.startsWith('1. Send a purchase')) + 1]!;
      const showAgain =
        next[next.findIndex((l) => l.startsWith("2. See that event's delivery records")) + 1]!;
      await run('bash', ['-c', sendAgain], { cwd: dir });
      await eventually(async () => {
        const page = JSON.parse((await run('bash', ['-c', showAgain], { cwd: dir })).stdout);
        return page.data?.[0]?.status === 'delivered';
      });
      const pipes = JSON.parse((await openpipes(['api', 'GET', '/api/pipes'], { env: again.env })).stdout);
      expect(pipes.data).toHaveLength(1);
    },
  );
});
