/**
 * `openpipes serve` with both roles dispatches on a worker thread of its own (src/serve/
 * dispatch-thread.ts): deliveries are woken at once across the thread (the poll interval is an hour
 * here, so nothing is found by polling), `/metrics` and `/api/stats` count and show the worker's
 * work, the worker's log lines reach stderr, a stop exits 0, a thread that dies is replaced, and
 * `--no-dispatch-thread` dispatches on the main thread as before. Real SQLite files, real
 * PostgreSQL when it is there (that part skips with a message otherwise), loopback stand-ins.
 */
import { join } from 'node:path';
import { createPipes, type Logger } from '@openpipes/core';
import {
  exampleAccessToken,
  metaExampleTransform,
  purchaseEvent,
  setupMetaExample,
  startTestServer,
  type TestResponse,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import { dropSchemas, postgresAvailable, postgresUrl } from '@openpipes/store-postgres/testing';
import { createWriteTurn, sqliteStore } from '@openpipes/store-sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinDispatchThread, startDispatchThread } from '../src/serve/dispatch-thread.js';
import {
  collect,
  eventually,
  openpipes,
  type ServeProcess,
  startServe,
  stopAll,
  tempDir,
} from './helpers.js';
import { createMetaSecretsOverCli, metaExampleConfig } from './meta-example.js';

/** The dispatcher's poll interval in these tests: an hour, so only a wake-up delivers in time. */
const hourMs = '3600000';

/** Meta's answer to any token (the example's secrets are not metaLikeAnswer's). */
const accept = (): TestResponse => ({ body: { events_received: 1, fbtrace_id: 'thread' } });

let meta: TestServer;
beforeAll(async () => {
  meta = await startTestServer(accept);
});
afterEach(async () => {
  await stopAll();
  meta.handle(accept);
  meta.requests.length = 0;
});
afterAll(async () => {
  await meta.close();
});

/** Imports the Meta example (destination `meta`, pipe `purchases`) into a running server. */
async function configure(serve: ServeProcess): Promise<void> {
  await createMetaSecretsOverCli(serve.env, 'EAAB-thread');
  const imported = await openpipes(['config', 'import', '-', '--json'], {
    env: serve.env,
    stdin: JSON.stringify(metaExampleConfig(meta.url, { name: 'meta' })),
  });
  expect(imported.code).toBe(0);
}

/** Waits until the `purchases` pipe has `count` delivered records. */
function delivered(serve: ServeProcess, count: number) {
  return eventually(async () => {
    const page = (await openpipes(['deliveries', 'list', 'purchases', '--json'], { env: serve.env })).json();
    const done = page.data.filter((d: { status: string }) => d.status === 'delivered');
    return done.length === count ? done : null;
  }, 30_000);
}

const admin = (serve: ServeProcess, path: string) =>
  fetch(`${serve.url}${path}`, { headers: { authorization: `Bearer ${serve.token}` } });

describe('openpipes serve: the dispatch thread (SQLite)', () => {
  it('delivers at once across the thread, and /metrics and /api/stats show the worker’s work', async () => {
    const serve = await startServe({
      env: { OPENPIPES_EGRESS_ALLOW: meta.host },
      args: ['--poll-interval-ms', hourMs],
    });
    await configure(serve);
    expect((await collect(serve.url, purchaseEvent('ord_thread_1'))).status).toBe(202);
    await delivered(serve, 1);
    expect(meta.requests).toHaveLength(1);

    // The worker's observations reach the main thread's metrics (batched per tick, so eventually).
    await eventually(async () => {
      const text = await (await admin(serve, '/metrics')).text();
      return /openpipes_deliveries_total\{[^}]*status="delivered"[^}]*\} 1\n/.test(text) &&
        /openpipes_send_duration_seconds_count\{destination="meta"\} 1\n/.test(text)
        ? text
        : null;
    });
    // The roles the user asked for, and the worker's breakers (its lane for `meta`).
    const stats = await eventually(async () => {
      const body = (await (await admin(serve, '/api/stats')).json()) as {
        engine: { roles: string[]; breakers: Record<string, { state: string }> };
      };
      return Object.keys(body.engine.breakers).length === 1 ? body : null;
    });
    expect(stats.engine.roles).toEqual(['ingest', 'dispatch']);
    expect(Object.values(stats.engine.breakers)).toEqual([expect.objectContaining({ state: 'closed' })]);
    expect(
      (await admin(serve, '/metrics').then((r) => r.text())).match(/openpipes_sandbox_workers \d+/)?.[0],
    ).toBe('openpipes_sandbox_workers 1');

    // A second event, to the lane that now exists.
    expect((await collect(serve.url, purchaseEvent('ord_thread_2'))).status).toBe(202);
    await delivered(serve, 2);
    expect(await serve.stop('SIGTERM')).toMatchObject({ code: 0 });
    expect(serve.stderr()).toContain('"message":"stopped"');
  });

  it('writes the worker’s log lines to stderr, and exits 0 on SIGTERM with a delivery still unanswered', async () => {
    // The stand-in holds every request until the test lets it go.
    const held: Array<() => void> = [];
    meta.handle(
      () =>
        new Promise<TestResponse>((resolve) => {
          held.push(() => resolve(accept()));
        }),
    );
    const serve = await startServe({
      env: { OPENPIPES_EGRESS_ALLOW: meta.host },
      args: ['--poll-interval-ms', hourMs, '--grace-ms', '1000'],
    });
    await configure(serve);
    expect((await collect(serve.url, purchaseEvent('ord_thread_held'))).status).toBe(202);
    await eventually(async () => meta.requests.length === 1);
    const stopped = await serve.stop('SIGTERM');
    for (const release of held) release();
    expect(stopped.code).toBe(0);
    // Only the dispatcher, on the worker thread, writes this line: it went through the main logger.
    const line = serve
      .stderr()
      .split('\n')
      .find((l) => l.includes('stopped before in-flight deliveries finished'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', grace_ms: expect.any(Number) });
    expect(serve.stderr()).not.toContain('EAAB-thread');
  });

  it('--no-dispatch-thread dispatches on the main thread, still woken at once', async () => {
    const serve = await startServe({
      env: { OPENPIPES_EGRESS_ALLOW: meta.host },
      args: ['--poll-interval-ms', hourMs, '--no-dispatch-thread'],
    });
    await configure(serve);
    expect((await collect(serve.url, purchaseEvent('ord_main_thread'))).status).toBe(202);
    await delivered(serve, 1);
    const text = await (await admin(serve, '/metrics')).text();
    expect(text).toMatch(/openpipes_deliveries_total\{[^}]*status="delivered"[^}]*\} 1\n/);
    expect(await serve.stop('SIGTERM')).toMatchObject({ code: 0 });
  });
});

/**
 * `openpipes serve`'s split by hand on a SQLite file: an ingest engine on this thread (its wake-ups
 * and configuration writes posted to the thread) and a dispatch thread that only a wake-up from it
 * can deliver in time (one-hour poll), the two sharing a write turn. `stop()` stops the thread, the
 * engine and the store.
 */
async function startSplitEngine(filename: string, host: string, logger: Logger) {
  const writeTurn = createWriteTurn();
  const store = sqliteStore({ filename, writeTurn });
  let thread: Awaited<ReturnType<typeof startDispatchThread>> | null = null;
  const pipes = createPipes({
    store,
    secretKey: testSecretKey,
    roles: ['ingest'],
    egressAllow: [host],
    sandbox: { workers: 1 },
    identity: false,
    logger,
    onDeliveriesDue: (ids) => thread?.wake(ids),
    onConfigChanged: () => thread?.configChanged(),
  });
  await pipes.start();
  const setup = await setupMetaExample(pipes, meta);
  thread = await startDispatchThread(
    {
      database: { kind: 'sqlite', filename, writeTurn },
      secretKey: testSecretKey,
      egressAllow: [host],
      identity: false,
      workers: 1,
      pollIntervalMs: Number(hourMs),
      logLevel: 'info',
      wakeFromMain: true,
    },
    logger,
  );
  const started = thread;
  return {
    pipes,
    setup,
    thread: started,
    writeTurn,
    async stop() {
      await started.stop(5000);
      await pipes.stop();
      await store.close();
    },
  };
}

describe('startDispatchThread', () => {
  it('replaces a dispatch thread that died, says so in the log, and delivery goes on; its write turn is free as it is terminated', async () => {
    const filename = join(tempDir('dispatch-thread'), 'openpipes.db');
    const lines: Array<{ level: string; message: string }> = [];
    const at =
      (level: string) =>
      (first: unknown, second?: unknown): void => {
        lines.push({ level, message: String(typeof first === 'string' ? first : second) });
      };
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const { pipes, setup, thread, writeTurn, stop } = await startSplitEngine(filename, meta.host, logger);
    const { pipe } = setup;
    const deliveredCount = (count: number) =>
      waitFor(async () => {
        const page = await pipes.deliveries.list(pipe.id, { status: 'delivered' });
        return page.data.length === count;
      }, 30_000);
    try {
      await pipes.ingest('web', purchaseEvent('ord_before_crash'));
      await deliveredCount(1);

      const first = thread.current();
      expect(first).not.toBeNull();
      const joined = joinDispatchThread(pipes, thread, ['ingest', 'dispatch']);
      expect(joined.status().running).toBe(true);
      // Terminated inside a write (its number in the turn, as if it had taken it): the turn is free
      // as terminate() is called, before its exit event, which cannot run while this thread waits.
      const turnState = new Int32Array(writeTurn);
      Atomics.store(turnState, 0, first!.threadId + 1);
      const ended = first!.terminate();
      // Held by no thread (a positive state is a holder's number): freed for a thread that ended.
      expect(Atomics.load(turnState, 0)).toBeLessThanOrEqual(0);
      await ended;
      // Until the new thread runs, the status (`/healthz`, `/api/stats`) says no dispatcher runs.
      expect(joined.status().running).toBe(false);
      const running = thread;
      await waitFor(
        async () => running.current() !== null && running.current() !== first && running.status() !== null,
      );
      expect(joined.status().running).toBe(true);
      expect(lines).toContainEqual({
        level: 'error',
        message: 'the dispatch thread stopped unexpectedly; starting a new one',
      });

      await pipes.ingest('web', purchaseEvent('ord_after_crash'));
      await deliveredCount(2);
      expect(meta.requests).toHaveLength(2);
    } finally {
      await stop();
    }
  });
});

describe('startDispatchThread: configuration changed on the main thread', () => {
  it('the next event after a secret rotation or a transform update uses the new value or version, even right after a dispatch', async () => {
    const filename = join(tempDir('dispatch-thread-config'), 'openpipes.db');
    const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const { pipes, setup, stop } = await startSplitEngine(filename, meta.host, quiet);
    const { pipe } = setup;
    try {
      // A rotated secret: the next delivery sends the new value, never the old one.
      const { secrets } = setup;
      await pipes.ingest('web', purchaseEvent('ord_secret_before'));
      await waitFor(() => meta.requests.length === 1, 30_000);
      expect(meta.requests[0]?.text).toContain(exampleAccessToken);
      await pipes.secrets.updateValue(secrets.token.id, 'EAAB-rotated-token-0123456789');
      await pipes.ingest('web', purchaseEvent('ord_secret_after'));
      await waitFor(() => meta.requests.length === 2, 30_000);
      expect(meta.requests[1]?.text).toContain('EAAB-rotated-token-0123456789');
      expect(meta.requests[1]?.text).not.toContain(exampleAccessToken);
      meta.requests.length = 0;

      // Each round: a delivery (the worker reads its configuration), at once a new transform,
      // at once an event: it must reach Meta through the version just saved.
      for (let round = 1; round <= 5; round++) {
        await pipes.ingest('web', purchaseEvent(`ord_cfg_${round}`));
        await waitFor(() => meta.requests.length === 2 * round - 1, 30_000);
        await pipes.pipes.update(pipe.id, {
          transform: metaExampleTransform.replace("'Purchase'", `'Purchase_v${round}'`),
        });
        await pipes.ingest('web', purchaseEvent(`ord_cfg_${round}_after`));
        await waitFor(() => meta.requests.length === 2 * round, 30_000);
        expect(meta.requests[2 * round - 1]?.text).toContain(`Purchase_v${round}`);
      }
    } finally {
      await stop();
    }
  });
});

const pgAvailable = await postgresAvailable();

describe.skipIf(!pgAvailable)('openpipes serve --postgres: the dispatch thread', () => {
  const schema = `opt_thread_${process.pid}_${Date.now().toString(36)}`;
  afterAll(async () => {
    await dropSchemas([schema]);
  });

  it('the worker is woken through LISTEN/NOTIFY: delivered at once, counted in /metrics', async () => {
    const serve = await startServe({
      postgres: postgresUrl,
      env: {
        OPENPIPES_SECRET_KEY: 'thread-secret-key-0123456789abcdef',
        OPENPIPES_ADMIN_TOKEN: 'thread-admin-token-0123456789abcdef',
        OPENPIPES_EGRESS_ALLOW: meta.host,
      },
      args: ['--postgres-schema', schema, '--poll-interval-ms', hourMs],
    });
    await configure(serve);
    expect((await collect(serve.url, purchaseEvent('ord_pg_thread'))).status).toBe(202);
    await delivered(serve, 1);
    await eventually(async () =>
      /openpipes_deliveries_total\{[^}]*status="delivered"[^}]*\} 1\n/.test(
        await (await admin(serve, '/metrics')).text(),
      ),
    );
    expect(meta.requests).toHaveLength(1);
    expect(await serve.stop('SIGTERM')).toMatchObject({ code: 0 });
  });
});
