/**
 * The dispatch thread's entry (a `node:worker_threads` Worker started by dispatch-thread.ts; built
 * by tsup as dist/dispatch-worker.js). It opens its own store on the main thread's database (its
 * own SQLite connection on the same file, or its own PostgreSQL pool), runs an engine with the
 * `dispatch` role only, and hands everything the main thread shows back to it: log lines (written
 * by the main thread's logger, which scrubs them), engine observations (for `GET /metrics`) and
 * the circuit breakers (for `/api/stats` and `/api/backlog`), batched per tick.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createPipes, type EngineObserver, type Store } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import { createOutbox, forwardingLogger } from './dispatch-outbox.js';
import {
  type DispatchStatus,
  type DispatchThreadConfig,
  type FromWorker,
  type ObserverMethod,
  observerMethods,
  type ToWorker,
} from './dispatch-protocol.js';
import { postgresStoreOptions } from './postgres-options.js';

if (!parentPort) throw new Error('dispatch-worker.js runs as a worker thread of openpipes serve');
const port: MessagePort = parentPort;
const config = workerData as DispatchThreadConfig;

const post = (message: FromWorker) => port.postMessage(message);

async function openStore(database: DispatchThreadConfig['database']): Promise<Store> {
  if (database.kind === 'sqlite')
    return sqliteStore({
      filename: database.filename,
      // The main thread's store runs the checkpoint thread (server.ts).
      checkpoints: 'background-elsewhere',
      ...(database.writeTurn ? { writeTurn: database.writeTurn } : {}),
    });
  const { postgresStore } = await import('@openpipes/store-postgres');
  return postgresStore(postgresStoreOptions(database, 'openpipes-serve-dispatch'));
}

/**
 * The store the engine gets: its `subscribe()` also hears the main thread (`wake` messages when
 * `wakeFromMain`, SQLite; the store's own wake-ups otherwise, PostgreSQL), so the dispatcher wakes
 * its lanes at once as it does in one thread.
 */
function withMainThreadWakeUps(store: Store, listeners: Set<(ids: string[]) => void>, own: boolean): Store {
  return {
    ...store,
    async subscribe(listener) {
      listeners.add(listener);
      const unsubscribe = own && store.subscribe ? await store.subscribe(listener) : null;
      return async () => {
        listeners.delete(listener);
        await unsubscribe?.();
      };
    },
  };
}

async function main(): Promise<void> {
  let status: (() => DispatchStatus) | null = null;
  const outbox = createOutbox(() => status?.() ?? null, post);
  const logger = forwardingLogger(config.logLevel, (entry) => outbox.log(entry));
  const store = await openStore(config.database);
  const wakeListeners = new Set<(ids: string[]) => void>();
  const pipes = createPipes({
    store: withMainThreadWakeUps(store, wakeListeners, !config.wakeFromMain),
    secretKey: config.secretKey,
    egressAllow: config.egressAllow,
    ...(config.publicBaseUrl ? { publicBaseUrl: config.publicBaseUrl } : {}),
    roles: ['dispatch'],
    logger,
    identity: config.identity,
    ...(config.workers ? { sandbox: { workers: config.workers } } : {}),
    ...(config.pollIntervalMs ? { dispatcher: { pollIntervalMs: config.pollIntervalMs } } : {}),
  });
  const observer: EngineObserver = {};
  for (const method of observerMethods) {
    (observer as Record<ObserverMethod, (o: unknown) => void>)[method] = (o) => outbox.observe(method, o);
  }
  pipes.observe(observer);
  try {
    await pipes.start();
  } catch (err) {
    outbox.flush();
    await pipes.stop({ graceMs: 0 }).catch(() => {});
    await store.close().catch(() => {});
    post({ type: 'failed', message: (err as Error).message ?? String(err) });
    port.close();
    return;
  }
  status = () => {
    const s = pipes.status();
    return { owner: s.owner, breakers: s.breakers };
  };
  // Breakers also change with time (open → half-open): look once a second.
  const statusTicker = setInterval(outbox.schedule, 1000);
  statusTicker.unref();
  post({ type: 'ready', status: status() });

  let stopping = false;
  port.on('message', (message: ToWorker) => {
    if (message.type === 'wake') {
      for (const listener of wakeListeners) listener(message.ids);
    } else if (message.type === 'config') {
      pipes.configChanged();
    } else if (message.type === 'stats') {
      const withStats = pipes.sandbox as { stats?: () => Promise<unknown> };
      const read = withStats.stats ? withStats.stats() : Promise.resolve(null);
      read.then(
        (stats) => post({ type: 'stats', id: message.id, stats: stats as never }),
        () => post({ type: 'stats', id: message.id, stats: null }),
      );
    } else if (message.type === 'stop' && !stopping) {
      stopping = true;
      clearInterval(statusTicker);
      void (async () => {
        try {
          await pipes.stop({ graceMs: message.graceMs });
        } catch (err) {
          logger.error('stopping the dispatcher failed', { error: String(err) });
        }
        await store.close().catch((err) => logger.error('closing the store failed', { error: String(err) }));
        outbox.flush();
        post({ type: 'stopped' });
      })();
    }
  });
}

void main().catch((err: unknown) => {
  post({ type: 'failed', message: (err as Error)?.message ?? String(err) });
  port.close();
});
