/**
 * The operator flow, driven only through `openpipes` processes against a real
 * `openpipes serve` (a child process on a free port and a temporary SQLite file), with a stand-in
 * for Meta on 127.0.0.1 that the egress guard lets through because OPENPIPES_EGRESS_ALLOW says so.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  metaExampleSend,
  metaExampleTransform,
  purchaseEvent,
  purchaseSchema,
} from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliResult,
  collect,
  createSourceAndEventTypeOverCli,
  eventually,
  openpipes,
  openpipesOk,
  type ServeProcess,
  startServe,
  stopAll,
  tempDir,
} from './helpers.js';
import { startMetaStandIn, type TestServer } from './meta-example.js';

const firstToken = 'EAAB-operator-flow-token-1f2e3d';
const rotatedToken = 'EAAB-rotated-token-9a8b7c';
const pixelId = '123456789';

describe('the operator flow through the CLI', () => {
  let meta: TestServer;
  let serve: ServeProcess;
  let dir: string;
  let acceptedToken = firstToken;

  beforeAll(async () => {
    meta = await startMetaStandIn({ token: () => acceptedToken, pixelId });
    serve = await startServe({ env: { OPENPIPES_EGRESS_ALLOW: `example.internal, ${meta.host}` } });
    dir = tempDir('flow');
  });
  afterAll(async () => {
    await stopAll();
    await meta.close();
  });

  /** `openpipes ...` against the server; fails the test unless it exits 0. */
  const run = (args: string[], stdin?: string): Promise<CliResult> =>
    openpipesOk(args, { env: serve.env, stdin, cwd: dir });

  it('creates the source, event type, secrets, destination and pipe, enables them, and a collected event is delivered', async () => {
    await createSourceAndEventTypeOverCli(serve.env, { name: 'purchase', schema: purchaseSchema });

    // printf '%s' "$META_TOKEN" | openpipes secrets create --key META_ACCESS_TOKEN --value-stdin --description "..."
    const token = (
      await run(
        [
          'secrets',
          'create',
          '--key',
          'META_ACCESS_TOKEN',
          '--value-stdin',
          '--description',
          'Meta CAPI pixel token',
          '--json',
        ],
        firstToken,
      )
    ).json();
    expect(token).toMatchObject({ key: 'META_ACCESS_TOKEN', value_version: 1 });
    const pixel = await run(['secrets', 'create', '--key', 'META_PIXEL_ID', '--value-stdin'], `${pixelId}\n`);
    expect(pixel.stdout).toMatch(/^Created secret META_PIXEL_ID: sec_\w+\n$/);
    const pixelSecretId = pixel.stdout.trim().split(': ')[1]!;

    writeFileSync(
      join(dir, 'meta-capi-destination.json'),
      JSON.stringify({ name: 'meta-capi-prod', send: metaExampleSend(meta.url), max_batch_size: 1000 }),
    );
    const destination = (
      await run(['api', 'POST', '/api/event-destinations', '--file', './meta-capi-destination.json'])
    ).json();
    expect(destination).toMatchObject({ name: 'meta-capi-prod', enabled: false });

    const bound = (
      await run([
        'api',
        'PUT',
        `/api/event-destinations/${destination.id}/secrets`,
        '--json',
        JSON.stringify({ secretIds: [token.id, pixelSecretId] }),
      ])
    ).json();
    expect(bound.secret_ids).toEqual([token.id, pixelSecretId]);

    writeFileSync(
      join(dir, 'purchase-to-meta.json'),
      JSON.stringify({
        name: 'purchase-to-meta',
        source_id: (await run(['api', 'GET', '/api/sources'])).json().data[0].id,
        destination_id: destination.id,
        transform: metaExampleTransform,
      }),
    );
    const pipe = (await run(['api', 'POST', '/api/pipes', '--file', './purchase-to-meta.json'])).json();
    expect((await run(['api', 'PUT', `/api/pipes/${pipe.id}/toggle`])).json().enabled).toBe(true);
    expect(
      (await run(['api', 'PUT', `/api/event-destinations/${destination.id}/toggle`])).json().enabled,
    ).toBe(true);

    const collected = await collect(serve.url, purchaseEvent('ord_70213'));
    expect(collected.status).toBe(202);

    const deliveries = await eventually(async () => {
      const page = (await run(['api', 'GET', `/api/pipes/${pipe.id}/deliveries`])).json();
      return page.data[0]?.status === 'delivered' ? page.data : null;
    });
    const record = (await run(['api', 'GET', `/api/event-deliveries/${deliveries[0].id}`])).json();
    expect(record).toMatchObject({
      pipe_id: pipe.id,
      event_id: 'ord_70213',
      destination: 'meta-capi-prod',
      status: 'delivered',
      request: { payload: { data: [{ event_name: 'Purchase', event_id: 'ord_70213' }] } },
      response: { status: 200, body: { events_received: 1 } },
    });
    expect(JSON.stringify(record)).not.toContain(firstToken);
    expect(meta.requests).toHaveLength(1);

    // The human views of the same records.
    const listed = await run(['deliveries', 'list', 'purchase-to-meta']);
    expect(listed.stdout).toMatch(/evd_\w+\s+ord_70213\s+delivered\s+1/);
    const secrets = await run(['secrets', 'list']);
    expect(secrets.stdout).toContain('META_ACCESS_TOKEN');
    expect(secrets.stdout).not.toContain(firstToken);
  });

  it('rotates a secret with update-value, and the next delivery uses the new value', async () => {
    acceptedToken = rotatedToken;
    const rotated = await run(
      ['secrets', 'update-value', 'META_ACCESS_TOKEN', '--value-stdin'],
      rotatedToken,
    );
    expect(rotated.stdout).toMatch(/Rotated META_ACCESS_TOKEN \(sec_\w+\): value version 2/);
    await collect(serve.url, purchaseEvent('ord_70214'));
    const delivered = await eventually(async () => {
      const page = (
        await run(['deliveries', 'list', 'purchase-to-meta', '--event-id', 'ord_70214', '--json'])
      ).json();
      return page.data[0]?.status === 'delivered' ? page.data[0] : null;
    });
    expect(delivered.attempt_count).toBe(1);
  });

  it('shows versions and reverts a pipe in one command, as the docs show', async () => {
    const pipes = (await run(['api', 'GET', '/api/pipes'])).json();
    const pipeId = pipes.data[0].id;
    const versions = (await run(['api', 'GET', `/api/pipes/${pipeId}/versions`])).json();
    expect(versions.data.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const reverted = (
      await run(['api', 'POST', `/api/pipes/${pipeId}/revert`, '--json', '{"version": 1}'])
    ).json();
    expect(reverted).toMatchObject({ version: 3, enabled: false });
    const audit = await run(['audit', '--entity', pipeId]);
    expect(audit.stdout).toMatch(/admin\s+revert:1\s+pipe pip_/);
  });

  it("shows each pipe's last error with deliveries last-errors", async () => {
    // Over HTTP (a CLI process per call is slow on a busy machine).
    // biome-ignore lint/suspicious/noExplicitAny: answers are inspected field by field
    const api = async (path: string, method = 'GET'): Promise<any> =>
      (
        await fetch(`${serve.url}${path}`, { method, headers: { authorization: `Bearer ${serve.token}` } })
      ).json();
    const pipe = (await api('/api/pipes')).data[0];
    const pipeId = pipe.id;
    // The revert above left the pipe disabled: enable it again.
    expect((await api(`/api/pipes/${pipeId}/toggle`, 'PUT')).enabled).toBe(true);
    // A second pipe to the same destination: its delivery fails too.
    const twin = (await (
      await fetch(`${serve.url}/api/pipes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'purchase-to-meta-twin',
          source_id: pipe.source_id,
          destination_id: pipe.destination_id,
          transform: pipe.transform,
        }),
      })
    ).json()) as { id: string; name: string };
    expect((await api(`/api/pipes/${twin.id}/toggle`, 'PUT')).enabled).toBe(true);
    // Meta stops taking the token: the next event's delivery fails.
    acceptedToken = 'EAAB-not-this-one';
    const collected = await collect(serve.url, purchaseEvent('ord_70299'));
    expect(collected.status).toBe(202);
    const failedOf = (id: string) =>
      eventually(async () => {
        const page = await api(`/api/pipes/${id}/deliveries?event_id=ord_70299`);
        return ['failed', 'dead', 'retrying'].includes(page.data[0]?.status) ? page.data[0] : null;
      }, 60_000);
    const failed = await failedOf(pipeId);
    const twinFailed = await failedOf(twin.id);
    const last = (await run(['deliveries', 'last-errors', '--json'])).json();
    // One row per pipe, newest first, with names and ids.
    const row = (p: { id: string; name: string }, delivery: { id: string; status: string }) =>
      expect.objectContaining({
        pipe_id: p.id,
        pipe: p.name,
        destination_id: pipe.destination_id,
        destination: 'meta-capi-prod',
        delivery_id: delivery.id,
        status: delivery.status,
      });
    const newestFirst = [
      [pipe, failed],
      [twin, twinFailed],
    ].sort(([, a], [, b]) => (a.id < b.id ? 1 : -1));
    expect(last.data).toEqual(newestFirst.map(([p, d]) => row(p, d)));
    expect(last.data.find((x: { pipe_id: string }) => x.pipe_id === pipeId).error.message).toBe(
      failed.error.message,
    );
    const shown = await run(['deliveries', 'last-errors']);
    expect(shown.stdout).toContain(failed.id);
    expect(shown.stdout).toContain(failed.error.code);
    // The table names pipes, not ids.
    expect(shown.stdout).toMatch(/^purchase-to-meta\s+meta-capi-prod\s/m);
    expect(shown.stdout).toMatch(/^purchase-to-meta-twin\s+meta-capi-prod\s/m);
    expect(shown.stdout).not.toContain(pipeId);
    // Per destination: the shared destination's newest error, once.
    const [newestPipe, newestDelivery] = newestFirst[0]!;
    const byDestination = (await run(['deliveries', 'last-errors', '--by-destination', '--json'])).json();
    expect(byDestination.data).toEqual([row(newestPipe, newestDelivery)]);
    const shownByDestination = await run(['deliveries', 'last-errors', '--by-destination']);
    expect(shownByDestination.stdout).toContain(newestDelivery.id);
    expect(shownByDestination.stdout.trim().split('\n')).toHaveLength(2);
    acceptedToken = rotatedToken;
  }, 120_000);

  it('never writes a secret value to the server log', () => {
    expect(serve.stderr()).not.toContain(firstToken);
    expect(serve.stderr()).not.toContain(rotatedToken);
  });
});

describe('exit codes and errors that say what to do', () => {
  let serve: ServeProcess;

  beforeAll(async () => {
    serve = await startServe();
  });
  afterAll(() => stopAll());

  it('server unreachable: exit 3 and asks whether openpipes serve runs there', async () => {
    const result = await openpipes(['api', 'GET', '/api/pipes'], {
      env: { OPENPIPES_URL: 'http://127.0.0.1:9', OPENPIPES_TOKEN: 'x'.repeat(20) },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot reach OpenPipes at http://127.0.0.1:9');
    expect(result.stderr).toContain('is `openpipes serve` running there?');
  });

  it('no token or a wrong one: exit 4 and how to set OPENPIPES_TOKEN', async () => {
    const missing = await openpipes(['secrets', 'list'], { env: { OPENPIPES_URL: serve.url } });
    expect({ code: missing.code, stderr: missing.stderr }).toMatchObject({ code: 4 });
    expect(missing.stderr).toContain('401 UNAUTHORIZED');
    expect(missing.stderr).toContain('OPENPIPES_TOKEN is not set: export OPENPIPES_TOKEN=');
    const wrong = await openpipes(['api', 'GET', '/api/pipes'], {
      env: { OPENPIPES_URL: serve.url, OPENPIPES_TOKEN: 'not-the-token-0123456789' },
    });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain('does not accept OPENPIPES_TOKEN');
    // `api` prints the server's error answer on stdout, as curl would.
    expect(wrong.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('refused requests: exit 4 with the code, the message and each field at fault', async () => {
    const result = await openpipes(
      ['api', 'POST', '/api/sources', '--json', '{"name":"Web","slug":"Not A Slug"}'],
      {
        env: serve.env,
      },
    );
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/POST \/api\/sources failed with 400 VALIDATION_FAILED/);
    expect(result.stderr).toMatch(/- slug: slug must be lowercase/);
    const missing = await openpipes(['deliveries', 'get', 'evd_01J000000000000000000000'], {
      env: serve.env,
    });
    expect({ code: missing.code, stderr: missing.stderr }).toMatchObject({ code: 4 });
    expect(missing.stderr).toContain('404 NOT_FOUND');
  });

  it('admin body limit: serve takes the documented 2 MiB, and 16 MiB for a configuration import', async () => {
    const post = (path: string, body: unknown, bytes: number) => {
      const text = JSON.stringify(body);
      return fetch(`${serve.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
        body: `${text.slice(0, -1)}${' '.repeat(bytes - text.length)}}`,
      });
    };
    const big = await post('/api/sources', { name: 'Big', slug: 'big' }, 2 * 1024 * 1024 + 1);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { details: unknown } }).error.details).toEqual({
      max_bytes: 2 * 1024 * 1024,
    });
    const doc = { format: 'openpipes-config', version: 1 };
    expect((await post('/api/config/import?dry_run=true', doc, 3 * 1024 * 1024)).status).toBe(200);
  });

  it('usage errors: exit 2 and nothing sent', async () => {
    const both = await openpipes(['api', 'POST', '/api/sources', '--json', '{}', '--file', 'x.json'], {
      env: serve.env,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json or with --file, not both');
    const badJson = await openpipes(['api', 'POST', '/api/sources', '--json', '{"name": }'], {
      env: serve.env,
    });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/--json is not valid JSON/);
    const noStdin = await openpipes(['secrets', 'create', '--key', 'X'], { env: serve.env });
    expect(noStdin.code).toBe(2);
    expect(noStdin.stderr).toContain('pass --value-stdin');
    const unknown = await openpipes(['deploy'], { env: serve.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'deploy'");
  });

  it('keys: a write key created through the CLI works, a read key cannot write, a revoked key is refused', async () => {
    const created = (
      await openpipes(['keys', 'create', '--name', 'ci', '--scope', 'read', '--json'], { env: serve.env })
    ).json();
    expect(created.token).toMatch(/^opk_/);
    const asReader = { OPENPIPES_URL: serve.url, OPENPIPES_TOKEN: created.token };
    expect((await openpipes(['api', 'GET', '/api/sources'], { env: asReader })).code).toBe(0);
    const write = await openpipes(['api', 'POST', '/api/sources', '--json', '{"name":"A","slug":"a"}'], {
      env: asReader,
    });
    expect(write.code).toBe(4);
    expect(write.stderr).toContain('--scope write');
    const listed = await openpipes(['keys', 'list'], { env: serve.env });
    expect(listed.stdout).toMatch(/key_\w+\s+ci\s+read\s+opk_/);
    expect(listed.stdout).not.toContain(created.token);
    expect((await openpipes(['keys', 'revoke', created.id], { env: serve.env })).code).toBe(0);
    expect((await openpipes(['api', 'GET', '/api/sources'], { env: asReader })).code).toBe(4);
  });
});
