/**
 * `openpipes serve --postgres`: two processes on one PostgreSQL schema, one ingesting and one
 * dispatching (the deployment docs/deployment.md describes). Without PostgreSQL this file skips
 * with a message; under CI=true a missing PostgreSQL fails it, as in @openpipes/store-postgres.
 */
import { purchaseEvent, startTestServer, type TestServer } from '@openpipes/core/testing';
import { dropSchemas, postgresAvailable, postgresUrl, query } from '@openpipes/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, eventually, openpipes, startServe, stopAll } from './helpers.js';
import { createMetaSecretsOverCli, metaExampleConfig } from './meta-example.js';
import { startWireRecorder, type WireRecorder } from './pg-wire-recorder.js';

const available = await postgresAvailable();

describe.skipIf(!available)('openpipes serve --postgres', () => {
  const schema = `opt_cli_${process.pid}_${Date.now().toString(36)}`;
  const unnamedSchema = `${schema}_unnamed`;
  const credentials = {
    OPENPIPES_SECRET_KEY: 'pg-secret-key-0123456789abcdef',
    OPENPIPES_ADMIN_TOKEN: 'pg-admin-token-0123456789abcdef',
  };
  let meta: TestServer;

  beforeAll(async () => {
    meta = await startTestServer(() => ({ body: { events_received: 1, fbtrace_id: 'pg' } }));
  });
  afterAll(async () => {
    await stopAll();
    await meta.close();
    await dropSchemas([schema, unnamedSchema]);
  });

  it('refuses to start without a shared secret key and admin token, and says how to make them', async () => {
    const result = await openpipes([
      'serve',
      '--port',
      '0',
      '--postgres',
      postgresUrl,
      '--postgres-schema',
      schema,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('OPENPIPES_SECRET_KEY and OPENPIPES_ADMIN_TOKEN must be set');
    expect(result.stderr).toContain('openpipes keygen');
  });

  it('an ingest process and a dispatch process on one schema: an event collected by one is delivered by the other', async () => {
    const env = { ...credentials, OPENPIPES_EGRESS_ALLOW: meta.host };
    const common = { postgres: postgresUrl, env };
    const ingest = await startServe({ ...common, args: ['--postgres-schema', schema, '--roles', 'ingest'] });
    const dispatch = await startServe({
      ...common,
      args: ['--postgres-schema', schema, '--roles', 'dispatch'],
    });
    expect(ingest.stdout()).toContain(`(schema ${schema})`);
    expect(ingest.stdout()).not.toContain('pg-admin-token');

    await createMetaSecretsOverCli(ingest.env, 'EAAB-pg');
    const doc = metaExampleConfig(meta.url, { name: 'meta' });
    const imported = await openpipes(['config', 'import', '-', '--json'], {
      env: ingest.env,
      stdin: JSON.stringify(doc),
    });
    expect(imported.json()).toMatchObject({ summary: { create: 4 } });
    // The configuration is in the schema given, not the default one.
    const rows = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".entities WHERE kind = $1`,
      ['pipe'],
    );
    expect(rows[0]?.n).toBe(1);

    const response = await collect(ingest.url, purchaseEvent('ord_pg_1'));
    expect(response.status).toBe(202);
    await eventually(async () => {
      const page = (
        await openpipes(['deliveries', 'list', 'purchases', '--json'], { env: dispatch.env })
      ).json();
      return page.data[0]?.status === 'delivered';
    });
    expect(meta.requests).toHaveLength(1);
    expect(await ingest.stop()).toMatchObject({ code: 0 });
    expect(await dispatch.stop()).toMatchObject({ code: 0 });
  });

  it('--no-prepared-statements: no statement is sent named, for PgBouncer before 1.21 (named by default)', async () => {
    const recorder: WireRecorder = await startWireRecorder(postgresUrl);
    try {
      const env = { ...credentials, OPENPIPES_EGRESS_ALLOW: meta.host };
      const args = ['--postgres-schema', unnamedSchema];
      const deliverOne = async (serve: Awaited<ReturnType<typeof startServe>>, orderId: string) => {
        const response = await collect(serve.url, purchaseEvent(orderId));
        expect(response.status).toBe(202);
        await eventually(async () => {
          const page = (
            await openpipes(['deliveries', 'list', 'purchases', '--json'], { env: serve.env })
          ).json();
          return page.data.some(
            (d: { event_id: string; status: string }) => d.event_id === orderId && d.status === 'delivered',
          );
        });
      };

      // By default ingest's hot statements go named: the recorder sees them (so it can see names).
      const named = await startServe({ postgres: recorder.url, env, args });
      await createMetaSecretsOverCli(named.env, 'EAAB-pg-unnamed');
      const imported = await openpipes(['config', 'import', '-', '--json'], {
        env: named.env,
        stdin: JSON.stringify(metaExampleConfig(meta.url, { name: 'meta' })),
      });
      expect(imported.json()).toMatchObject({ summary: { create: 4 } });
      await deliverOne(named, 'ord_pg_named');
      expect(recorder.parsed.filter((name) => name !== '').length).toBeGreaterThan(0);
      expect(await named.stop()).toMatchObject({ code: 0 });

      // With the flag (the main thread's store and the dispatch thread's), every statement unnamed.
      recorder.parsed.length = 0;
      const unnamed = await startServe({
        postgres: recorder.url,
        env,
        args: [...args, '--no-prepared-statements'],
      });
      await deliverOne(unnamed, 'ord_pg_unnamed');
      expect(recorder.parsed.length).toBeGreaterThan(0);
      expect(recorder.parsed.filter((name) => name !== '')).toEqual([]);
      expect(await unnamed.stop()).toMatchObject({ code: 0 });
    } finally {
      await recorder.close();
    }
  });
});
