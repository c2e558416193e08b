/**
 * `openpipes destinations send-test` and `openpipes reconcile` against a real `openpipes serve`
 * (SQLite) and a stand-in for Meta on 127.0.0.1: a dry run prints the recorded request, redacted,
 * and sends nothing; a purchase delivered for real shows in the reconciliation.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { purchaseEvent } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliResult,
  collect,
  eventually,
  openpipes,
  openpipesOk,
  type ServeProcess,
  startServe,
  stopAll,
  tempDir,
} from './helpers.js';
import { setupMetaExampleOverApi, startMetaStandIn, type TestServer } from './meta-example.js';

const token = 'EAAB-cli-send-test-token-2e9d71';

describe('openpipes destinations send-test and reconcile', () => {
  let meta: TestServer;
  let serve: ServeProcess;
  let dir: string;

  const run = (args: string[]): Promise<CliResult> => openpipesOk(args, { env: serve.env, cwd: dir });
  const api = async (method: string, path: string, body?: unknown) =>
    (await run(['api', method, path, '--json', JSON.stringify(body)])).json();

  beforeAll(async () => {
    dir = tempDir('send-test');
    meta = await startMetaStandIn();
    serve = await startServe({ env: { OPENPIPES_EGRESS_ALLOW: meta.host } });
    // The admin API through `openpipes api`, as an operator's script would.
    await setupMetaExampleOverApi(api, { metaUrl: meta.url, token, pixelId: '123456789' });
    writeFileSync(join(dir, 'events.json'), JSON.stringify([purchaseEvent('ord_cli_dry')]));
  });
  afterAll(async () => {
    await stopAll();
    await meta?.close();
  });

  /** `openpipes destinations send-test` of the Meta destination, by name, with the pipe's transform. */
  const sendTest = [
    'destinations',
    'send-test',
    'meta-capi-prod',
    '--events',
    'events.json',
    '--pipe',
    'purchase-to-meta',
  ];

  it('dry-runs send() by name: prints the request, redacted, with its synthetic answer; sends nothing', async () => {
    const printed = await run(sendTest);
    expect(printed.stderr).toContain('synthetic 200');
    expect(printed.stdout).toContain(`request 1: POST ${meta.url}`);
    expect(printed.stdout).toContain('[secret:META_ACCESS_TOKEN]');
    expect(printed.stdout).toContain('answer (synthetic): 200 {}');
    expect(printed.stdout + printed.stderr).not.toContain(token);
    const json = (await run([...sendTest, '--json'])).json();
    expect(json.synthetic).toBe(true);
    expect(json.requests).toHaveLength(1);
    expect(meta.requests).toHaveLength(0);

    const refused = await openpipes([...sendTest, '--test'], { env: serve.env, cwd: dir });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('has no test mode');
    expect((await openpipes(['destinations', 'send-test', 'meta-capi-prod'], { env: serve.env })).code).toBe(
      2,
    );
  });

  it('says a pipe whose send() declares no identifiers is not measured', async () => {
    const text = (await run(['pipes', 'match-quality', 'purchase-to-meta'])).stdout;
    expect(text).toContain('not measured');
    const json = (
      await run(['pipes', 'match-quality', 'purchase-to-meta', '--window', '7d', '--json'])
    ).json();
    expect(json).toMatchObject({ measured: false, window: '7d', delivered: 0, identifiers: [] });
  });

  it('reconciles purchases after one is delivered', async () => {
    const collected = await collect(serve.url, purchaseEvent('ord_cli_reconcile'));
    expect(collected.status).toBe(202);
    const result = await eventually(async () => {
      const json = (await run(['reconcile', 'purchase', '--json'])).json();
      return json.destinations[0]?.delivered === 1 ? json : null;
    });
    expect(result.collected).toBe(1);
    expect(result.destinations[0]).toMatchObject({
      name: 'meta-capi-prod',
      expected: 1,
      missing: 0,
      pending: 0,
    });
    const table = await run(['reconcile', 'purchase']);
    expect(table.stdout).toContain('1 purchase events collected');
    expect(table.stdout).toMatch(/meta-capi-prod\s+1\s+1\s+0\s+0\s+0\s+0/);
  });
});
