/**
 * Test fixtures: a real engine on a SQLite file (or on the test PostgreSQL, in a schema of its own),
 * and the handler served by each adapter on a real server at 127.0.0.1, port 0, under the prefix
 * `/openpipes`. Every server is set up as the docs recommend: hardened with `hardenServer` (Fastify:
 * in its `serverFactory`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Logger, type Pipes } from '@openpipes/core';
import { startTestServer, type TestServer, testSecretKey } from '@openpipes/core/testing';
import { postgresStore } from '@openpipes/store-postgres';
import { postgresUrl, query, testSchema } from '@openpipes/store-postgres/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import BetterSqlite from 'better-sqlite3';
import express from 'express';
import Fastify from 'fastify';
import { createExpressMiddleware } from '../src/express.js';
import { createFastifyPlugin } from '../src/fastify.js';
import { createHandler, type HandlerOptions } from '../src/index.js';
import { createNodeListener, hardenServer, type ServerLimits } from '../src/node.js';

export type AdapterName = 'node' | 'express' | 'fastify';
export const adapters: AdapterName[] = ['node', 'express', 'fastify'];

/** The stores a fixture can run on. */
export type StoreName = 'sqlite' | 'postgres';

export const prefix = '/openpipes';
export const writeKey = { name: 'ops', token: 'op_write_0123456789abcdef', scope: 'write' as const };
export const readKey = { name: 'dashboard', token: 'op_read_0123456789abcdef', scope: 'read' as const };
/** Personal-data operations (profiles, export, erasure) need this scope (docs/security.md). */
export const privacyKey = { name: 'dpo', token: 'op_privacy_0123456789abcdef', scope: 'privacy' as const };

/** Every log line anything wrote (engine and HTTP), to prove no secret value reaches a log. */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export interface Fixture {
  /** `http://127.0.0.1:<port>/openpipes` */
  base: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  pipes: Pipes;
  meta: TestServer;
  logger: ReturnType<typeof captureLogger>;
  store: StoreName;
  /** The node:http server the adapter listens on. */
  server: Server;
  /** Events and deliveries stored so far, read from the database itself (not through the engine). */
  stored(): Promise<{ events: number; deliveries: number }>;
  close(): Promise<void>;
}

/** Where a fixture keeps its data, and how to count rows behind the engine's back. */
interface Database {
  store: Parameters<typeof createPipes>[0]['store'];
  count(table: string): Promise<number>;
  drop(): Promise<void>;
}

function openDatabase(store: StoreName): Database {
  if (store === 'postgres') {
    const schema = testSchema('http');
    return {
      store: postgresStore({ connectionString: postgresUrl, schema, poolSize: 4 }),
      count: async (table) =>
        Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}"."${table}"`))[0]!.n),
      drop: async () => {
        await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-http-'));
  const filename = join(dir, 'openpipes.db');
  let reader: BetterSqlite.Database | null = null;
  return {
    store: sqliteStore({ filename }),
    count: async (table) => {
      reader ??= new BetterSqlite(filename, { readonly: true, fileMustExist: true });
      return (reader.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    },
    drop: async () => {
      reader?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts an engine (on SQLite unless `store` says otherwise), a Meta stand-in, and the handler on
 * the given adapter, on a server hardened with `limits` (timeouts are checked every 50 ms, so tests
 * that lower them need not wait long).
 */
export async function startFixture(
  adapter: AdapterName,
  extra: HandlerOptions = {},
  { store = 'sqlite', limits = {} }: { store?: StoreName; limits?: ServerLimits } = {},
): Promise<Fixture> {
  const database = openDatabase(store);
  const meta = await startTestServer();
  const logger = captureLogger();
  const pipes = createPipes({
    store: database.store,
    secretKey: testSecretKey,
    logger,
    sandbox: { workers: 1 },
    egressAllow: [meta.host],
    dispatcher: { pollIntervalMs: 50 },
  });
  await pipes.start();
  const handler = createHandler(pipes, { apiKeys: [writeKey, readKey, privacyKey], logger, ...extra });
  const serverLimits: ServerLimits = { timeoutCheckIntervalMs: 50, logger, ...limits };

  let server: Server;
  let closeServer: () => Promise<void>;
  if (adapter === 'fastify') {
    // Fastify answers malformed requests itself; the rest of the hardening is the same.
    const app = Fastify({
      serverFactory: (listener) =>
        hardenServer(createServer(listener), { ...serverLimits, answerClientErrors: false }),
    });
    app.get('/host-route', async () => ({ host: true }));
    await app.register(createFastifyPlugin(handler), { prefix });
    await app.listen({ host: '127.0.0.1', port: 0 });
    server = app.server;
    closeServer = () => app.close();
  } else {
    let listener: Parameters<typeof createServer>[1];
    if (adapter === 'express') {
      const app = express();
      app.get('/host-route', (_req, res) => {
        res.json({ host: true });
      });
      app.use(prefix, createExpressMiddleware(handler));
      listener = app;
    } else {
      listener = createNodeListener(handler, {
        basePath: prefix,
        fallback: (_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ host: true }));
        },
      });
    }
    server = hardenServer(createServer(listener), serverLimits);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closeServer = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  }
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    base: `${origin}${prefix}`,
    origin,
    pipes,
    meta,
    logger,
    store,
    server,
    stored: async () => ({
      events: await database.count('events'),
      deliveries: await database.count('deliveries'),
    }),
    async close() {
      await closeServer();
      await pipes.stop({ graceMs: 2000 });
      await pipes.store.close();
      await meta.close();
      await database.drop();
    },
  };
}
