/**
 * Test support for the tests that run one engine on a SQLite file behind node:http: the engine,
 * started on a fresh file in a temporary directory (quiet, one sandbox worker), servers that
 * listen on port 0 and close without waiting for idle keep-alive connections, and the profile
 * tests' engine served with every key, and the Segment tests' engine delivering to a stand-in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type PipesOptions, silentLogger } from '@openpipes/core';
import { startTestServer, type TestServer, testSecretKey } from '@openpipes/core/testing';
import { templates } from '@openpipes/destinations';
import { sqliteStore } from '@openpipes/store-sqlite';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { captureLogger, privacyKey, readKey, writeKey } from './servers.js';

export interface SqliteEngine {
  pipes: Pipes;
  /** Stops the engine, closes its store and removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * An engine on `openpipes.db` in a new temporary directory named for `tag`, started unless
 * `start: false` (its first call then migrates the store); `options` are added to (or replace)
 * the defaults: `silentLogger`, `sandbox: { workers: 1 }`.
 */
export async function startSqliteEngine(
  tag: string,
  options: Omit<PipesOptions, 'store' | 'secretKey'> = {},
  { start = true }: { start?: boolean } = {},
): Promise<SqliteEngine> {
  const dir = mkdtempSync(join(tmpdir(), `openpipes-${tag}-`));
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, 'openpipes.db') }),
    secretKey: testSecretKey,
    logger: silentLogger,
    sandbox: { workers: 1 },
    ...options,
  });
  if (start) await pipes.start();
  return {
    pipes,
    async stop() {
      await pipes.stop({ graceMs: 2000 });
      await pipes.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Listens on a free port of `host`; resolves with the port. */
export async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes `server` (if there is one), dropping its open connections first. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export interface ServedLoginEngine {
  pipes: Pipes;
  /** The handler's URL (`http://127.0.0.1:<port>`). */
  base: string;
  /** Every line the engine and the handler logged. */
  logger: ReturnType<typeof captureLogger>;
  /** Closes the server, then stops the engine. */
  stop(): Promise<void>;
}

/**
 * An engine with identity on (not started: nothing is delivered) with the `web` source and a
 * `login` event type, its handler on node:http taking the write, read and privacy keys.
 */
export async function serveLoginEngine(tag: string): Promise<ServedLoginEngine> {
  const logger = captureLogger();
  const engine = await startSqliteEngine(tag, { logger, identity: true }, { start: false });
  const { pipes } = engine;
  await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'login', schema: { type: 'object' } });
  const server = createServer(
    createNodeListener(createHandler(pipes, { apiKeys: [writeKey, readKey, privacyKey], logger })),
  );
  const base = `http://127.0.0.1:${await listen(server)}`;
  return {
    pipes,
    base,
    logger,
    async stop() {
      await closeServer(server);
      await engine.stop();
    },
  };
}

export interface ServedSegmentEngine {
  pipes: Pipes;
  /** The handler's URL (`http://<host>:<port>`). */
  base: string;
  /** The stand-in the destinations send to; the engine's egress guard lets only it through. */
  meta: TestServer;
  /** Closes the server, stops the engine, then the stand-in. */
  stop(): Promise<void>;
}

/**
 * What the Segment end-to-end tests run: a started engine with identity on (dispatcher polling
 * every 50 ms) whose egress allows only a fresh stand-in, its handler with `segment: true`, the
 * destination templates and the admin key, on node:http at a free port of `host`. The sources,
 * keys and pipes are each test's own (`setupSegmentToMeta`).
 *
 * @example
 * const served = await serveSegmentEngine('segment');
 * await setupSegmentToMeta(adminApi(() => ({ url: served.base, token: writeKey.token })), { metaUrl: served.meta.url });
 */
export async function serveSegmentEngine(tag: string, host = '127.0.0.1'): Promise<ServedSegmentEngine> {
  const meta = await startTestServer();
  const engine = await startSqliteEngine(tag, {
    egressAllow: [meta.host],
    identity: true,
    dispatcher: { pollIntervalMs: 50 },
  });
  const handler = createHandler(engine.pipes, {
    apiKeys: [writeKey],
    templates,
    segment: true,
    logger: silentLogger,
  });
  const server = createServer(createNodeListener(handler));
  const base = `http://${host}:${await listen(server, host)}`;
  return {
    pipes: engine.pipes,
    base,
    meta,
    async stop() {
      await closeServer(server);
      await engine.stop();
      await meta.close();
    },
  };
}
