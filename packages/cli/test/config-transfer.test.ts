/**
 * Staging → production with the CLI: `config export` from one `openpipes serve`, `config import`
 * into a second, empty one; the imported configuration delivers the same way; a second import
 * changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
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

const token = 'EAAB-transfer-token-77aa';
const pixel = '445566';

describe('openpipes config export | config import', () => {
  let meta: TestServer;
  let staging: ServeProcess;
  let production: ServeProcess;
  let dir: string;

  beforeAll(async () => {
    meta = await startMetaStandIn({ token, pixelId: pixel });
    const env = { OPENPIPES_EGRESS_ALLOW: meta.host };
    [staging, production] = await Promise.all([startServe({ env }), startServe({ env })]);
    dir = tempDir('transfer');
  });
  afterAll(async () => {
    await stopAll();
    await meta.close();
  });

  const on = (server: ServeProcess, args: string[], stdin?: string): Promise<CliResult> =>
    openpipesOk(args, { env: server.env, stdin, cwd: dir });

  it('exports staging, imports into an empty production that then delivers the same way, and changes nothing the second time', async () => {
    // Staging, set up through the CLI.
    await createSourceAndEventTypeOverCli(staging.env, { name: 'purchase', schema: purchaseSchema });
    const secretIds = [
      (
        await on(
          staging,
          ['secrets', 'create', '--key', 'META_ACCESS_TOKEN', '--value-stdin', '--json'],
          token,
        )
      ).json().id,
      (
        await on(staging, ['secrets', 'create', '--key', 'META_PIXEL_ID', '--value-stdin', '--json'], pixel)
      ).json().id,
    ];
    const destination = (
      await on(staging, [
        'api',
        'POST',
        '/api/event-destinations',
        '--json',
        JSON.stringify({
          name: 'meta-capi-prod',
          send: metaExampleSend(meta.url),
          secret_ids: secretIds,
          enabled: true,
        }),
      ])
    ).json();
    const source = (await on(staging, ['api', 'GET', '/api/sources'])).json().data[0];
    await on(staging, [
      'api',
      'POST',
      '/api/pipes',
      '--json',
      JSON.stringify({
        name: 'purchase-to-meta',
        source_id: source.id,
        destination_id: destination.id,
        transform: metaExampleTransform,
        enabled: true,
      }),
    ]);

    // openpipes config export > config.json
    const exported = await on(staging, ['config', 'export']);
    writeFileSync(join(dir, 'config.json'), exported.stdout);
    expect(exported.stderr).toContain(
      'Exported 1 source, 1 event type, 2 secret names, 1 destination, 1 pipe, 0 alert channels.',
    );
    expect(exported.stdout).not.toContain(token);
    expect(exported.json()).toMatchObject({ format: 'openpipes-config', version: 1 });

    // A dry run on the empty production: the plan, and the secrets it still needs.
    const dry = await on(production, ['config', 'import', 'config.json', '--dry-run']);
    expect(dry.stdout).toContain('Plan for config.json (dry run: nothing was written)');
    expect(dry.stdout).toMatch(/create\s+event type\s+purchase/);
    expect(dry.stdout).toMatch(
      /create\s+destination\s+meta-capi-prod: kept disabled until META_ACCESS_TOKEN, META_PIXEL_ID have values/,
    );
    expect(dry.stdout).toContain('4 to create, 0 to update, 0 unchanged, 0 skipped.');
    expect(dry.stdout).toContain('META_ACCESS_TOKEN (needed by destination meta-capi-prod)');
    expect(dry.stdout).toContain(
      `printf '%s' "$VALUE" | openpipes secrets create --key META_PIXEL_ID --value-stdin`,
    );
    expect((await on(production, ['api', 'GET', '/api/pipes'])).json().data).toEqual([]);

    // The operator creates the secrets, then imports.
    await on(production, ['secrets', 'create', '--key', 'META_ACCESS_TOKEN', '--value-stdin'], token);
    await on(production, ['secrets', 'create', '--key', 'META_PIXEL_ID', '--value-stdin'], pixel);
    const applied = await on(production, ['config', 'import', 'config.json', '--json']);
    expect(applied.json()).toMatchObject({
      dry_run: false,
      summary: { create: 4, missing: 0 },
      missing_secrets: [],
    });

    // Same behaviour: an event through the imported configuration is delivered.
    const collected = await collect(production.url, purchaseEvent('ord_prod_1'));
    expect(collected.status).toBe(202);
    const delivered = await eventually(async () => {
      const page = (await on(production, ['deliveries', 'list', 'purchase-to-meta', '--json'])).json();
      return page.data[0]?.status === 'delivered' ? page.data[0] : null;
    });
    expect(delivered).toMatchObject({ event_id: 'ord_prod_1', destination: 'meta-capi-prod' });

    // Import twice changes nothing.
    const again = await on(production, ['config', 'import', 'config.json']);
    expect(again.stdout).toContain('Nothing to change: 6 unchanged.');
    const againJson = (await on(production, ['config', 'import', 'config.json', '--json'])).json();
    expect(againJson.summary).toEqual({ create: 0, update: 0, unchanged: 6, skip: 0, missing: 0 });

    // And production now exports what staging did.
    const { exported_at: _a, ...fromProduction } = (await on(production, ['config', 'export'])).json();
    const { exported_at: _b, ...fromStaging } = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(fromProduction).toEqual(fromStaging);
  });

  it('shows progress on stderr for a long import, and keeps stdout for the plan', async () => {
    const many = {
      format: 'openpipes-config',
      version: 1,
      event_types: Array.from({ length: 60 }, (_, i) => ({
        name: `custom_${i}`,
        schema: { type: 'object' },
      })),
    };
    writeFileSync(join(dir, 'many.json'), JSON.stringify(many));
    const result = await on(production, ['config', 'import', 'many.json']);
    expect(result.stderr).toContain('import: checking code and schemas 0/60');
    expect(result.stderr).toContain('import: applying 60/60');
    expect(result.stdout).toContain('60 created, 0 updated, 0 unchanged, 0 skipped.');
    expect(result.stdout).not.toContain('applying');
  });

  it('refuses a document with code that does not compile, names it, and writes nothing', async () => {
    const doc = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    doc.pipes[0].name = 'broken-pipe';
    doc.pipes[0].transform = 'function transform({ events }) { return events.map(e => ({ ; }';
    writeFileSync(join(dir, 'broken.json'), JSON.stringify(doc));
    const result = await openpipes(['config', 'import', 'broken.json'], { env: production.env, cwd: dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/COMPILE_ERROR: pipe broken-pipe: /);
    const pipes = (await on(production, ['api', 'GET', '/api/pipes'])).json();
    expect(pipes.data.map((p: { name: string }) => p.name)).toEqual(['purchase-to-meta']);
  });
});
