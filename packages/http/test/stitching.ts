/**
 * Test support for the identity-stitching tests that deliver to a Meta stand-in (match quality,
 * consent and linking): the stores they run on (SQLite, and PostgreSQL when it is there), an engine
 * with identity on, the real Meta template behind a backend source, and the story they tell: a
 * browser page view (fbclid, `_fbp`, IP, user agent) and a login (email) link anonymous id A to user
 * U; a backend purchase carries only U.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type PipesOptions, type Store, silentLogger } from '@openpipes/core';
import { testSecretKey } from '@openpipes/core/testing';
import { metaCapi } from '@openpipes/destinations';
import { postgresStore } from '@openpipes/store-postgres';
import { postgresAvailable, postgresUrl, query, testSchema } from '@openpipes/store-postgres/testing';
import { sqliteStore } from '@openpipes/store-sqlite';

/** The pixel the Meta destination sends to. */
export const metaPixel = '123456789012345';

/** A store to run on: a fresh one per `open()`, removed by its `cleanup()`. */
export interface Backend {
  name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

/** SQLite (a file in a new temporary directory), and PostgreSQL (a schema of its own) when it is there. */
export async function backends(tag: string): Promise<Backend[]> {
  const list: Backend[] = [
    {
      name: 'SQLite',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), `openpipes-${tag}-`));
        return {
          store: sqliteStore({ filename: join(dir, 'openpipes.db') }),
          cleanup: async () => rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
  ];
  if (await postgresAvailable()) {
    list.push({
      name: 'PostgreSQL',
      async open() {
        const schema = testSchema(tag.replaceAll('-', ''));
        return {
          store: postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 }),
          cleanup: async () => {
            await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          },
        };
      },
    });
  }
  return list;
}

/**
 * A started engine on a fresh store of `backend` (quiet, one sandbox worker, polling every 25 ms,
 * sending only to `egressAllow`); what closes it and removes the store is pushed onto `closers`.
 */
export async function startEngine(
  backend: Backend,
  closers: Array<() => Promise<void>>,
  options: { identity: PipesOptions['identity']; egressAllow: string[] },
): Promise<Pipes> {
  const { store, cleanup } = await backend.open();
  closers.push(cleanup);
  const pipes = createPipes({
    store,
    secretKey: testSecretKey,
    logger: silentLogger,
    sandbox: { workers: 1 },
    identity: options.identity,
    egressAllow: options.egressAllow,
    dispatcher: { pollIntervalMs: 25 },
  });
  closers.push(async () => {
    await pipes.stop({ graceMs: 2000 }).catch(() => {});
    await pipes.store.close();
  });
  await pipes.start();
  return pipes;
}

/**
 * The `browser` and `backend` sources, the event types `page_view`, `login` and `purchase`, and the
 * Meta template (pixel {@link metaPixel}, sending to `metaUrl`, META_ACCESS_TOKEN = `token`) as the
 * `purchases-to-meta` pipe from the backend; pipe and destination enabled. The browser's events
 * only link identities (no pipe).
 */
export async function setupMetaPurchases(pipes: Pipes, options: { metaUrl: string; token: string }) {
  await pipes.sources.create({ name: 'Browser', slug: 'browser' });
  const backendSource = await pipes.sources.create({ name: 'Backend', slug: 'backend' });
  for (const name of ['page_view', 'login', 'purchase']) {
    await pipes.eventTypes.create({ name, schema: { type: 'object' } });
  }
  const secret = await pipes.secrets.create({ key: 'META_ACCESS_TOKEN', value: options.token });
  const definition = metaCapi({ pixelId: metaPixel, baseUrl: options.metaUrl, name: 'meta-capi' });
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
  return { backendSource, destination, pipe };
}

/**
 * The story, ingested: a page view of anon-A a minute ago (`?fbclid=IwAR0<label>`, `_fbp` cookie
 * fb.1.1700000000000.4242, IP 203.0.113.7, user agent `Mozilla/5.0 (<label>)`), anon-A's login as
 * user-U with `jane@shop-<label>.test` half a minute ago, and now user-U's purchase ord-1 (42 EUR).
 * With `consent`, the page view carries `consent.page`, the login and the purchase `consent.later`.
 */
export async function ingestStory(
  pipes: Pipes,
  label: string,
  consent?: { page: Record<string, string>; later: Record<string, string> },
): Promise<void> {
  const now = Date.now();
  const at = (ms: number) => new Date(now + ms).toISOString();
  const page = consent && { consent: consent.page };
  const later = consent && { consent: consent.later };
  await pipes.ingest('browser', [
    {
      event_type: 'page_view',
      event_id: `pv-${label}`,
      event_time: at(-60_000),
      event_payload: {
        anonymous_id: 'anon-A',
        page_url: `https://shop.test/landing?fbclid=IwAR0${label}`,
        cookies: '_fbp=fb.1.1700000000000.4242',
        ip: '203.0.113.7',
        user_agent: `Mozilla/5.0 (${label})`,
        ...page,
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
        email: `jane@shop-${label}.test`,
        ...later,
      },
    },
  ]);
  await pipes.ingest('backend', [
    {
      event_type: 'purchase',
      event_id: 'ord-1',
      event_time: at(0),
      event_payload: { user_id: 'user-U', order_id: 'ord-1', value: 42, currency: 'EUR', ...later },
    },
  ]);
}
