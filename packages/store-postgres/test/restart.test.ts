/**
 * SLOW (about 20 s): PostgreSQL restarted, crashed and stopped while an engine ingests and
 * delivers. It runs on a private throwaway cluster (test/private-cluster.ts), never on the shared
 * one on 5432. What must hold afterwards: every event acknowledged as accepted was delivered (the
 * Meta stand-in saw its event_id), every delivery ends `delivered`, ingest calls during the outage
 * failed with a clear STORE_UNAVAILABLE (HTTP 503, retryable) instead of anything else, the engine
 * logged clear errors and recovered by itself (pool reconnects, LISTEN re-established).
 *
 * Skips, saying why, only when the PostgreSQL server binaries are missing and CI is not set.
 */
import {
  createPipes,
  httpStatusForCode,
  isPipesError,
  type Logger,
  type Pipes,
  type PipesError,
} from '@openpipes/core';
import {
  metaLikeAnswer,
  purchaseEvent,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresStore, postgresStore } from '../src/index.js';
import { findPostgresBin, type PrivateCluster, startPrivateCluster } from './private-cluster.js';

const inCi = !['', '0', 'false', undefined].includes(process.env.CI);
const runnable = findPostgresBin() !== undefined || inCi;
if (!runnable) {
  console.warn(
    '\n[@openpipes/store-postgres] SKIPPING the PostgreSQL restart test: no PostgreSQL server binaries ' +
      '(initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; set OPENPIPES_PG_BIN. Under CI=true it runs (and fails).\n',
  );
}

interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

describe.runIf(runnable)('slow: PostgreSQL restarted mid-run (a private cluster)', () => {
  let cluster: PrivateCluster;
  let meta: TestServer;
  let pipes: Pipes;
  let store: PostgresStore;
  const logs: LogLine[] = [];
  const listenErrors: Error[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (fields: Record<string, unknown>, message?: string) =>
      logs.push({ level: 'warn', message: message ?? '', fields }),
    error: (fields: Record<string, unknown>, message?: string) =>
      logs.push({ level: 'error', message: message ?? '', fields }),
  };

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    meta = await startTestServer(metaLikeAnswer);
    store = postgresStore({
      connectionString: cluster.url,
      schema: 'restart_test',
      poolSize: 4,
      onListenError: (err) => listenErrors.push(err),
    });
    pipes = createPipes({
      store,
      secretKey: testSecretKey,
      logger,
      sandbox: { workers: 1 },
      egressAllow: [meta.host],
      // A short lease, so a batch whose outcome could not be recorded is claimed again soon.
      dispatcher: { pollIntervalMs: 200, leaseMs: 3000 },
    });
  }, 60_000);

  afterAll(async () => {
    await pipes?.stop({ graceMs: 2000 }).catch(() => {});
    await pipes?.store.close().catch(() => {});
    await meta?.close();
    await cluster?.destroy();
  });

  it('loses no accepted event across fast and immediate restarts and a stop; errors are clear 503s', async () => {
    const { pipe } = await setupMetaExample(pipes, meta, { retry: { initial_delay_ms: 50, multiplier: 1 } });
    await pipes.start();

    // A producer that ingests 5 events every 20 ms and keeps what each call answered.
    const accepted = new Set<string>();
    const failures: unknown[] = [];
    let next = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const ids = Array.from({ length: 5 }, () => `ord_pg_${next++}`);
        try {
          const result = await pipes.ingest(
            'web',
            ids.map((id) => purchaseEvent(id)),
          );
          result.results.forEach((r, i) => {
            if (r.status === 'accepted' || r.status === 'duplicate') accepted.add(ids[i]!);
          });
        } catch (err) {
          failures.push(err);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const sent = () =>
      new Set(
        meta.requests.flatMap((r) =>
          (r.json as { data: Array<{ event_id: string }> }).data.map((e) => e.event_id),
        ),
      );
    /** What the engine logged about the store being unreachable. */
    const storeErrors = () =>
      logs.filter((l) => JSON.stringify(l.fields ?? {}).includes('PostgreSQL store is unavailable'));
    /** Waits until `more` more events were accepted and Meta has seen `more` more event ids. */
    const progress = async (more: number, what: string) => {
      const acceptedBefore = accepted.size;
      const sentBefore = sent().size;
      await waitFor(() => accepted.size >= acceptedBefore + more, 30_000, `${more} accepted events ${what}`);
      await waitFor(() => sent().size >= sentBefore + more, 30_000, `${more} delivered events ${what}`);
    };

    await progress(50, 'before any restart');
    await cluster.restart('fast');
    await progress(50, "after 'pg_ctl restart -m fast'");
    await cluster.restart('immediate');
    await progress(50, "after 'pg_ctl restart -m immediate' (a crash and recovery)");
    // A real outage: ingest must fail clearly while PostgreSQL is down, then work again.
    const failedBefore = failures.length;
    const loggedBefore = storeErrors().length;
    await cluster.stop('fast');
    // The server stays down until the dispatcher, too, has met the outage and logged it: it only
    // reaches the store on its poll (200 ms), and three ingest failures can all come sooner, so
    // starting the server at once left the log asserted below to chance.
    await waitFor(
      () => failures.length >= failedBefore + 3 && storeErrors().length > loggedBefore,
      15_000,
      'ingest calls failing and the dispatcher logging the store unavailable during the outage',
    );
    await cluster.start();
    await progress(50, 'after the outage');
    producing = false;
    await producer;

    // Every ingest failure was a clear, retryable "store unavailable", answered as HTTP 503.
    expect(failures.length).toBeGreaterThanOrEqual(3);
    for (const err of failures) {
      expect(isPipesError(err)).toBe(true);
      const e = err as PipesError;
      expect({ code: e.code, retryable: e.retryable, status: httpStatusForCode(e.code) }).toEqual({
        code: 'STORE_UNAVAILABLE',
        retryable: true,
        status: 503,
      });
      expect(e.message).toMatch(/^the PostgreSQL store is unavailable \(.+\); try again/);
      expect(e.message).not.toContain(String(cluster.port));
    }

    // Nothing lost: every accepted event ends delivered, and Meta saw it.
    const final = await waitFor(
      async () => {
        const all = [];
        let cursor: string | null = null;
        do {
          const page = await pipes.deliveries.list(pipe.id, { limit: 1000, ...(cursor ? { cursor } : {}) });
          all.push(...page.data);
          cursor = page.next_cursor;
        } while (cursor);
        const delivered = new Set(all.filter((d) => d.status === 'delivered').map((d) => d.event_id));
        return [...accepted].every((id) => delivered.has(id)) && all.every((d) => d.status === 'delivered')
          ? all
          : null;
      },
      60_000,
      'every accepted event delivered',
    );
    expect(final.length).toBeGreaterThanOrEqual(accepted.size);
    const seen = sent();
    expect([...accepted].filter((id) => !seen.has(id))).toEqual([]);

    // The engine said clearly what went wrong, and went on.
    expect(storeErrors().length).toBeGreaterThan(0);
    expect(logs.filter((l) => l.message === 'dispatcher lane crashed')).toEqual([]);
    expect(listenErrors.length).toBeGreaterThan(0);
    expect(pipes.status().running).toBe(true);

    // LISTEN is back: a NOTIFY from another session reaches a subscriber of the store.
    const heard: string[][] = [];
    const unsubscribe = await store.subscribe((ids) => heard.push(ids));
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      await waitFor(
        async () => {
          await client.query('SELECT pg_notify($1, $2)', ['openpipes_restart_test', 'dst_probe']);
          return heard.some((ids) => ids.includes('dst_probe'));
        },
        15_000,
        'a NOTIFY after the restarts',
      );
    } finally {
      await client.end();
      await unsubscribe();
    }
  }, 180_000);
});
