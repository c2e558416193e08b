/**
 * `openpipes serve`: the engine, the collect endpoint and the admin API in one process, on a SQLite
 * file (default) or PostgreSQL. Stops gracefully: on SIGTERM or SIGINT it stops accepting
 * connections, lets requests in flight finish (an event answered 202 is already stored), lets
 * in-flight deliveries finish and be recorded within the grace period, and exits 0. Whatever was
 * not delivered yet stays in the store and is delivered after the next start.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createPipes, type Logger, type Pipes, type Role, type Store } from '@openpipes/core';
import { templates } from '@openpipes/destinations';
import { createHandler } from '@openpipes/http';
import { createNodeListener, hardenServer, type ServerLimits } from '@openpipes/http/node';
import { createWriteTurn, sqliteStore } from '@openpipes/store-sqlite';
import { CliError, exitCodes } from '../errors.js';
import { type Io, println } from '../io.js';
import { type Credentials, postgresCredentials, sqliteCredentials } from './credentials.js';
import { demoNames, demoSink, demoSinkPath, ensureDemo } from './demo.js';
import { type DispatchThread, joinDispatchThread, startDispatchThread } from './dispatch-thread.js';
import { createCliLogger, type LogFormat, type LogLevel } from './logger.js';
import { postgresStoreOptions, type ServePostgres } from './postgres-options.js';

export interface ServeSettings {
  host: string;
  /** 0 picks a free port (printed). */
  port: number;
  database: { kind: 'sqlite'; filename: string } | ServePostgres;
  /** Extra `host`, `host:port` or CIDR entries `send()` and alert channels may reach. */
  egressAllow: string[];
  publicUrl?: string;
  roles: Role[];
  /** How long a stop waits for in-flight deliveries, ms. */
  graceMs: number;
  log: { format: LogFormat; level: LogLevel };
  demo: boolean;
  /** Serve the web console under `/console/` (`--no-console` turns it off). */
  console: boolean;
  /** Link identifiers into profiles and stitch them into transforms (`--no-identity` turns it off). */
  identity: boolean;
  /**
   * Link identifiers even when the event's consent denies them (`--identity-ignore-consent`;
   * identity `respectConsent: false`). Default: denied identifiers stay out of profiles.
   */
  identityIgnoreConsent?: boolean;
  /** `GET /metrics` answers anyone (a scraper in a private network), not only API keys. */
  metricsPublic: boolean;
  /** Sandbox worker threads (default: one per core). */
  workers?: number;
  /**
   * With both roles, dispatch on a worker thread of its own (default; `--no-dispatch-thread` turns
   * it off): ingest and the admin API keep the main thread, delivery gets another core.
   */
  dispatchThread: boolean;
  /** `dispatcher.pollIntervalMs` (`--poll-interval-ms`; the engine's default where unset). */
  pollIntervalMs?: number;
  /** Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`); none by default. */
  trustedProxies: string[];
  /** Timeouts and connection caps of the HTTP server (`hardenServer`; its defaults where unset). */
  http: Pick<
    ServerLimits,
    | 'headersTimeoutMs'
    | 'requestTimeoutMs'
    | 'keepAliveTimeoutMs'
    | 'maxConnections'
    | 'maxConnectionsPerAddress'
  >;
}

/** Runs the server until a signal stops it; resolves with the exit code. */
export async function runServe(settings: ServeSettings, io: Io): Promise<number> {
  const logger = createCliLogger({ ...settings.log, write: (line) => io.stderr.write(line) });

  // Credentials first: nothing is created if they are wrong.
  const { credentials, store, databaseLabel, writeTurn } = await openStore(settings, io);
  for (const warning of credentials.warnings) logger.warn(warning);

  // Listen before the engine exists: the demo's stand-in is this very server, and with --port 0
  // its address is known only now. Requests in the meantime are told to retry.
  let serve: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server = createServer((req, res) => {
    if (serve) return serve(req, res);
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(
      JSON.stringify({
        error: { code: 'ENGINE_STOPPED', message: 'OpenPipes is starting; retry in a moment' },
      }),
    );
  });
  // Before listen(): the timeout checks start with it.
  hardenServer(server, { ...settings.http, logger });
  await listen(server, settings.host, settings.port);
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(settings.host)}:${port}`;
  const loopback = `${sinkHost(settings.host)}:${port}`;
  const sinkBase = `http://${loopback}${demoSinkPath}`;

  let pipes: Pipes;
  let thread: DispatchThread | null;
  try {
    ({ pipes, thread } = await startEngines(
      settings,
      { store, writeTurn },
      credentials.secretKey.value,
      loopback,
      logger,
    ));
  } catch (err) {
    server.close();
    await store.close().catch(() => {});
    throw new CliError(
      `the engine did not start: ${(err as Error).message}`,
      exitCodes.failure,
      databaseHint(settings),
    );
  }

  let demo: { pipeId: string; created: boolean } | null = null;
  if (settings.demo) demo = await ensureDemo(pipes, sinkBase, logger);

  // From the first signal on, /readyz answers 503 so that load balancers stop sending traffic.
  let draining = false;
  const handler = createHandler(pipes, {
    apiKeys: [{ name: 'admin', token: credentials.adminToken.value, scope: 'privacy' }],
    templates,
    logger,
    metrics: { public: settings.metricsPublic },
    probes: { draining: () => draining },
    console: settings.console,
    // Segment-spec clients (analytics.js, @segment/analytics-node) at /v1/...: docs/segment.md.
    segment: true,
    // The browser tag at /openpipes.js: docs/browser-tag.md.
    browserTag: true,
    trustedProxies: settings.trustedProxies,
  });
  const sink = demoSink(logger);
  const listener = createNodeListener(handler, {
    fallback: (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (settings.demo && (path === demoSinkPath || path.startsWith(`${demoSinkPath}/`)))
        return sink(req, res);
      answerRoot(req, res, path, settings.console);
    },
  });
  serve = (req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      logger.debug('http', {
        method: req.method,
        path: (req.url ?? '/').split('?')[0],
        status: res.statusCode,
        ms: Date.now() - started,
      });
    });
    listener(req, res);
  };

  logger.info('listening', { url, database: databaseLabel, roles: settings.roles.join(',') });
  printBanner(io, { settings, url, databaseLabel, credentials, demo });

  const exitCode = await untilSignal(logger, async (signal) => {
    draining = true;
    logger.info('stopping: no new connections; finishing in-flight deliveries', {
      signal,
      grace_ms: settings.graceMs,
    });
    const deadline = Date.now() + settings.graceMs;
    const closed = new Promise<void>((done) => server.close(() => done()));
    server.closeIdleConnections();
    // Requests in flight get a moment to be answered (an accepted event is stored before its 202).
    await Promise.race([closed, sleep(Math.min(5000, settings.graceMs))]);
    server.closeAllConnections();
    const graceMs = Math.max(0, deadline - Date.now());
    // The dispatch thread closes its own store before it ends.
    await Promise.all([pipes.stop({ graceMs }), thread?.stop(graceMs)]);
    // The engine leaves the store open: this server made it, so it closes it.
    await store.close();
    logger.info('stopped');
  });
  return exitCode;
}

/** The store the settings name, and the credentials it is served with (checked before it is opened). */
async function openStore(
  settings: ServeSettings,
  io: Io,
): Promise<{ credentials: Credentials; store: Store; databaseLabel: string; writeTurn?: SharedArrayBuffer }> {
  if (settings.database.kind === 'sqlite') {
    const filename = resolve(settings.database.filename);
    mkdirSync(dirname(filename), { recursive: true });
    const existed = existsSync(filename) && statSync(filename).size > 0;
    const credentials = sqliteCredentials(io.env, filename, existed);
    // Shared with the dispatch thread's store: the two threads take turns to write without
    // sleeping in SQLite's busy handler. This store's thread checkpoints the log for both, so that
    // neither stops for it (the dispatch thread's store is `background-elsewhere`).
    const writeTurn = createWriteTurn();
    return {
      credentials,
      store: sqliteStore({ filename, writeTurn, checkpoints: 'background' }),
      databaseLabel: `SQLite ${filename}`,
      writeTurn,
    };
  }
  const credentials = postgresCredentials(io.env);
  const { postgresStore } = await import('@openpipes/store-postgres');
  const store = postgresStore(postgresStoreOptions(settings.database, 'openpipes-serve'));
  const databaseLabel = `PostgreSQL ${redactUrl(settings.database.connectionString)} (schema ${settings.database.schema ?? 'openpipes'})`;
  return { credentials, store, databaseLabel };
}

/** What the server answers outside the engine's routes: an index at `/`, 405 or 404 elsewhere. */
function answerRoot(req: IncomingMessage, res: ServerResponse, path: string, withConsole: boolean): void {
  const index = path === '/';
  const readable = req.method === 'GET' || req.method === 'HEAD';
  const status = !index ? 404 : readable ? 200 : 405;
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(status === 405 ? { allow: 'GET' } : {}),
  });
  res.end(
    JSON.stringify(
      status === 200
        ? {
            name: 'OpenPipes',
            ...(withConsole ? { console: '/console/' } : {}),
            api: '/api',
            openapi: '/openapi.json',
            health: '/healthz',
            liveness: '/livez',
            readiness: '/readyz',
            metrics: '/metrics',
            collect: '/collect/<slug>',
          }
        : status === 405
          ? {
              error: {
                code: 'METHOD_NOT_ALLOWED',
                message: `${req.method} is not allowed on /; use GET`,
              },
            }
          : { error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${path.slice(0, 200)}` } },
    ),
  );
}

/**
 * The engine (started), and with both roles its dispatch thread: then the main thread's engine has
 * the ingest role only and the one returned as `pipes` joins the thread's observations and state in.
 */
async function startEngines(
  settings: ServeSettings,
  { store, writeTurn }: { store: Store; writeTurn?: SharedArrayBuffer | undefined },
  secretKey: string,
  loopback: string,
  logger: Logger,
): Promise<{ pipes: Pipes; thread: DispatchThread | null }> {
  // Both roles: the dispatcher runs on a worker thread of its own (dispatch-thread.ts), the main
  // thread keeps ingest and the admin API (send tests and previews use its one sandbox worker).
  const split =
    settings.dispatchThread && settings.roles.includes('ingest') && settings.roles.includes('dispatch');
  const egressAllow = [...settings.egressAllow, ...(settings.demo ? [loopback] : [])];
  const identity =
    settings.identity && settings.identityIgnoreConsent
      ? { respectConsent: false as const }
      : settings.identity;
  let thread: DispatchThread | null = null;
  const engine = createPipes({
    store,
    secretKey,
    egressAllow,
    publicBaseUrl: settings.publicUrl,
    roles: split ? ['ingest'] : settings.roles,
    logger,
    identity,
    ...(split
      ? {
          sandbox: { workers: 1 },
          onDeliveriesDue: (ids: string[]) => thread?.wake(ids),
          onConfigChanged: () => thread?.configChanged(),
        }
      : settings.workers
        ? { sandbox: { workers: settings.workers } }
        : {}),
    ...(settings.pollIntervalMs ? { dispatcher: { pollIntervalMs: settings.pollIntervalMs } } : {}),
  });
  try {
    // Migrated by the main thread before the worker opens the database.
    await engine.start();
    if (!split) return { pipes: engine, thread: null };
    thread = await startDispatchThread(
      {
        database:
          settings.database.kind === 'sqlite'
            ? {
                kind: 'sqlite',
                filename: resolve(settings.database.filename),
                ...(writeTurn ? { writeTurn } : {}),
              }
            : settings.database,
        secretKey,
        egressAllow,
        ...(settings.publicUrl ? { publicBaseUrl: settings.publicUrl } : {}),
        identity,
        ...(settings.workers ? { workers: settings.workers } : {}),
        ...(settings.pollIntervalMs ? { pollIntervalMs: settings.pollIntervalMs } : {}),
        logLevel: settings.log.level,
        wakeFromMain: !store.subscribe,
      },
      logger,
    );
    return { pipes: joinDispatchThread(engine, thread, settings.roles), thread };
  } catch (err) {
    await engine.stop({ graceMs: 0 }).catch(() => {});
    throw err;
  }
}

/** Waits for SIGTERM or SIGINT, runs the stop, resolves 0 (or 1 if it failed). A second signal exits at once. */
function untilSignal(logger: Logger, stop: (signal: string) => Promise<void>): Promise<number> {
  return new Promise((resolveCode) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn('second signal: exiting now; deliveries in flight will be retried after the next start', {
          signal,
        });
        process.exit(exitCodes.failure);
      }
      stopping = true;
      stop(signal).then(
        () => resolveCode(exitCodes.ok),
        (err: unknown) => {
          logger.error('stopping failed', { error: String(err) });
          resolveCode(exitCodes.failure);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function listen(server: ReturnType<typeof createServer>, host: string, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new CliError(
            `port ${port} on ${host} is already in use (is another openpipes serve running?)`,
            exitCodes.failure,
            `stop it, or pass another port: openpipes serve --port ${port === 0 ? 8788 : port + 1}`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new CliError(
            `not allowed to listen on ${host}:${port}`,
            exitCodes.failure,
            'use a port above 1024',
          ),
        );
      } else {
        reject(new CliError(`cannot listen on ${host}:${port}: ${err.message}`, exitCodes.failure));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
}

const wildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';

/** The host to print in URLs: a wildcard address is reached through loopback. */
function urlHost(host: string): string {
  if (wildcard(host)) return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Where the server reaches itself (the demo sink). */
function sinkHost(host: string): string {
  if (wildcard(host) || host === 'localhost') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function redactUrl(connectionString: string): string {
  try {
    const parsed = new URL(connectionString);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(connection string)';
  }
}

function databaseHint(settings: ServeSettings): string | undefined {
  if (settings.database.kind === 'postgres') {
    return 'check that PostgreSQL is reachable at --postgres / OPENPIPES_POSTGRES_URL and that the role may create the schema';
  }
  return `check that ${settings.database.filename} is a writable OpenPipes SQLite file and that OPENPIPES_SECRET_KEY (if set) is its key`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Quotes a path for a POSIX shell. */
const shellQuote = (value: string) =>
  /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;

function printBanner(
  io: Io,
  input: {
    settings: ServeSettings;
    url: string;
    databaseLabel: string;
    credentials: Credentials;
    demo: { pipeId: string; created: boolean } | null;
  },
): void {
  const { url, credentials, demo } = input;
  const out = (line = '') => println(io, line);
  out(`OpenPipes is listening on ${url}`);
  out(`  database    ${input.databaseLabel}`);
  if (input.settings.console)
    out(`  console     ${url}/console/  (sign in with the admin token or an API key)`);
  out(`  admin API   ${url}/api  (reference: ${url}/openapi.json)`);
  out(`  collect     ${url}/collect/<source slug>`);
  out(
    `  metrics     ${url}/metrics  (${input.settings.metricsPublic ? 'public' : 'admin token or an API key'}); probes ${url}/livez, ${url}/readyz`,
  );
  out();
  const generated = [credentials.secretKey, credentials.adminToken].filter((c) => c.source === 'generated');
  if (generated.length > 0) {
    out('First start: generated, and stored beside the database with mode 0600:');
    if (credentials.secretKey.source === 'generated') {
      out(
        `  ${credentials.secretKey.file}   the secret key: encrypts secret values at rest; back it up with the database`,
      );
    }
    if (credentials.adminToken.source === 'generated') {
      out(`  ${credentials.adminToken.file}  the admin token for the API and the CLI`);
    }
    out();
  }
  const tokenExport = credentials.adminToken.file
    ? `export OPENPIPES_TOKEN="$(cat ${shellQuote(credentials.adminToken.file)})"`
    : 'export OPENPIPES_TOKEN=<the OPENPIPES_ADMIN_TOKEN this server was started with>';
  out('Use the CLI from another shell:');
  out(`  export OPENPIPES_URL=${url}`);
  out(`  ${tokenExport}`);
  out('  npx openpipes api GET /api/pipes');
  if (!demo) {
    out();
    out('Stop with Ctrl-C (or SIGTERM): in-flight deliveries finish first.');
    return;
  }
  const orderId = `ord_${Math.floor(10000 + Math.random() * 89999)}`;
  const event = {
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_id: orderId,
    event_payload: {
      order_id: orderId,
      revenue: 129.9,
      currency: 'EUR',
      hashed_email: 'a'.repeat(64),
      fbp: 'fb.1.1714816462.1234567890',
      ip: '203.0.113.7',
      ua: 'Mozilla/5.0',
    },
  };
  const auth = credentials.adminToken.file
    ? `"authorization: Bearer $(cat ${shellQuote(credentials.adminToken.file)})"`
    : '"authorization: Bearer $OPENPIPES_ADMIN_TOKEN"';
  out();
  out(
    `Demo ${demo.created ? 'set up' : 'ready (reused)'}: source "${demoNames.source}" -> pipe "${demoNames.pipe}" ` +
      `(the Meta example transform) -> destination "${demoNames.destination}" (the example send(), aimed at a ` +
      `local stand-in for Meta at ${url}${demoSinkPath}). Nothing leaves this machine.`,
  );
  out();
  out(`Collect URL: ${url}/collect/${demoNames.source}`);
  out();
  out('1. Send a purchase:');
  out(
    `curl -sS -X POST ${url}/collect/${demoNames.source} -H 'content-type: application/json' --data '${JSON.stringify(event)}'`,
  );
  out();
  out("2. See that event's delivery records (JSON, with their status):");
  out(`curl -sS '${url}/api/pipes/${demo.pipeId}/deliveries?event_id=${orderId}' -H ${auth}`);
  out();
  out('Stop with Ctrl-C: in-flight deliveries finish first; the demo is kept for the next start.');
}
