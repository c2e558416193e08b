/**
 * Consent and linking end to end, on SQLite and PostgreSQL, with the real Meta template and a Meta
 * stand-in on loopback (docs/identifiers.md, "Consent and linking"): a page view whose `ad_storage`
 * was DENIED lands with `?fbclid=` and an `_fbp` cookie; a consented login links its anonymous id to
 * a user id and an email; a consented backend purchase with only the user id leaves with the hashed
 * email but without the fbc and fbp the denied page view carried. With `respectConsent: false` the
 * same story leaves with both (as before this setting existed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type Store, silentLogger } from '@openpipes/core';
import { startTestServer, type TestServer, testSecretKey, waitFor } from '@openpipes/core/testing';
import { metaCapi } from '@openpipes/destinations';
import { postgresStore } from '@openpipes/store-postgres';
import { postgresAvailable, postgresUrl, query, testSchema } from '@openpipes/store-postgres/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';

const PIXEL = '123456789012345';
const TOKEN = 'meta-token-consent';

interface Backend {
  name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'openpipes-consent-link-'));
      return {
        store: sqliteStore({ filename: join(dir, 'openpipes.db') }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];
if (await postgresAvailable()) {
  backends.push({
    name: 'PostgreSQL',
    async open() {
      const schema = testSchema('consentlink');
      return {
        store: postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 }),
        cleanup: async () => {
          await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    },
  });
}

describe.each(backends)('consent and linking end to end ($name)', (backend) => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** The story; returns the user_data of the purchase as it reached Meta. */
  async function story(respectConsent: boolean | undefined): Promise<Record<string, unknown>> {
    const meta: TestServer = await startTestServer(() => ({
      body: { events_received: 1, messages: [], fbtrace_id: 'T1' },
    }));
    closers.push(() => meta.close());
    const { store, cleanup } = await backend.open();
    closers.push(cleanup);
    const pipes: Pipes = createPipes({
      store,
      secretKey: testSecretKey,
      logger: silentLogger,
      sandbox: { workers: 1 },
      identity: respectConsent === undefined ? true : { respectConsent },
      egressAllow: [meta.host],
      dispatcher: { pollIntervalMs: 25 },
    });
    closers.push(async () => {
      await pipes.stop({ graceMs: 2000 }).catch(() => {});
      await pipes.store.close();
    });
    await pipes.start();
    await pipes.sources.create({ name: 'Browser', slug: 'browser' });
    const backendSource = await pipes.sources.create({ name: 'Backend', slug: 'backend' });
    for (const name of ['page_view', 'login', 'purchase']) {
      await pipes.eventTypes.create({ name, schema: { type: 'object' } });
    }
    const secret = await pipes.secrets.create({ key: 'META_ACCESS_TOKEN', value: TOKEN });
    const definition = metaCapi({ pixelId: PIXEL, baseUrl: meta.url, name: 'meta-capi' });
    const destination = await pipes.destinations.create({
      ...definition.destination,
      secret_ids: [secret.id],
    });
    const pipe = await pipes.pipes.create({
      name: 'purchases-to-meta',
      source_id: backendSource.id,
      destination_id: destination.id,
      transform: definition.transform,
    });
    await pipes.pipes.enable(pipe.id);
    await pipes.destinations.enable(destination.id);

    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const granted = { ad_user_data: 'GRANTED', ad_storage: 'GRANTED', ad_personalization: 'GRANTED' };
    await pipes.ingest('browser', [
      {
        event_type: 'page_view',
        event_id: 'pv-denied',
        event_time: at(-60_000),
        event_payload: {
          anonymous_id: 'anon-A',
          page_url: 'https://shop.test/landing?fbclid=IwAR0denied',
          cookies: '_fbp=fb.1.1700000000000.4242',
          ip: '203.0.113.7',
          user_agent: 'Mozilla/5.0 (consent)',
          consent: { ad_user_data: 'GRANTED', ad_storage: 'DENIED' },
        },
      },
    ]);
    await pipes.ingest('browser', [
      {
        event_type: 'login',
        event_id: 'login-1',
        event_time: at(-30_000),
        event_payload: {
          anonymous_id: 'anon-A',
          user_id: 'user-U',
          email: 'jane@shop-consent.test',
          consent: granted,
        },
      },
    ]);
    await pipes.ingest('backend', [
      {
        event_type: 'purchase',
        event_id: 'ord-1',
        event_time: at(0),
        event_payload: { user_id: 'user-U', order_id: 'ord-1', value: 42, currency: 'EUR', consent: granted },
      },
    ]);
    const [record] = await waitFor(
      async () => {
        const { data } = await pipes.deliveries.list(pipe.id);
        return data.length === 1 && !['pending', 'retrying', 'sending'].includes(data[0]!.status) && data;
      },
      20_000,
      'the purchase at its final status',
    );
    expect([record!.status, record!.filter_reason, record!.error]).toEqual(['delivered', null, null]);
    const body = meta.requests[0]!.json as { data: Array<{ user_data: Record<string, unknown> }> };
    return body.data[0]!.user_data;
  }

  it('an fbclid and _fbp from a page view whose ad_storage was denied never reach Meta with a later consented purchase', async () => {
    const user = await story(undefined);
    // The consented login's email is stitched: linking still works, only the denied ids are out.
    expect(user.em).toBeDefined();
    expect(user.fbc).toBeUndefined();
    expect(user.fbp).toBeUndefined();
    expect(user.client_ip_address).toBe('203.0.113.7');
  }, 60_000);

  it('with respectConsent: false the denied page view’s fbc and fbp are stitched as before', async () => {
    const user = await story(false);
    expect(user.em).toBeDefined();
    expect(user.fbc).toMatch(/^fb\.1\.\d+\.IwAR0denied$/);
    expect(user.fbp).toBe('fb.1.1700000000000.4242');
  }, 60_000);
});
