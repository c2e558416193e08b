/**
 * `openpipes serve` (options from flags or the environment) and `openpipes keygen`.
 */
import type { Role } from '@openpipes/core';
import { serverLimitDefaults } from '@openpipes/http/node';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { usage } from '../errors.js';
import { println } from '../io.js';
import { newAdminToken, newSecretKey } from '../serve/credentials.js';
import { type LogFormat, type LogLevel, logFormats, logLevels } from '../serve/logger.js';
import { runServe, type ServeSettings } from '../serve/server.js';

interface ServeOptions {
  port?: string;
  host?: string;
  db?: string;
  postgres?: string;
  postgresSchema?: string;
  /** commander's `--no-prepared-statements`: false when given. */
  preparedStatements?: boolean;
  demo?: boolean;
  egressAllow?: string[];
  publicUrl?: string;
  roles?: string;
  graceMs?: string;
  logFormat?: string;
  logLevel?: string;
  workers?: string;
  headersTimeoutMs?: string;
  requestTimeoutMs?: string;
  keepAliveTimeoutMs?: string;
  maxConnections?: string;
  maxConnectionsPerAddress?: string;
  metricsPublic?: boolean;
  trustedProxy?: string[];
  /** commander's `--no-console`: false when given. */
  console?: boolean;
  /** commander's `--no-identity`: false when given. */
  identity?: boolean;
  /** `--identity-ignore-consent`: link identifiers whatever the event's consent. */
  identityIgnoreConsent?: boolean;
  /** commander's `--no-dispatch-thread`: false when given. */
  dispatchThread?: boolean;
  pollIntervalMs?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const integer = (value: string | undefined, name: string, min: number, max: number): number | undefined => {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw usage(`${name} must be a whole number from ${min} to ${max}`);
  return n;
};

/** Flags win over the environment, which wins over the defaults. */
export function serveSettings(options: ServeOptions, env: Record<string, string | undefined>): ServeSettings {
  const postgres = options.postgres ?? (options.db ? undefined : env.OPENPIPES_POSTGRES_URL);
  if (options.db && options.postgres) throw usage('give --db or --postgres, not both');
  const roles = (options.roles ?? env.OPENPIPES_ROLES ?? 'ingest,dispatch').split(',').map((r) => r.trim());
  for (const role of roles) {
    if (role !== 'ingest' && role !== 'dispatch')
      throw usage(`unknown role ${role}; use ingest, dispatch or both`);
  }
  // JSON lines unless pretty output is asked for (a terminal no longer changes the default).
  const format = (options.logFormat ?? env.OPENPIPES_LOG_FORMAT ?? 'json') as LogFormat;
  if (!logFormats.includes(format)) throw usage('--log-format is json or pretty');
  const level = (options.logLevel ?? env.OPENPIPES_LOG_LEVEL ?? 'info') as LogLevel;
  if (!logLevels.includes(level)) throw usage(`--log-level is one of ${logLevels.join(', ')}`);
  const egressAllow = [
    ...(env.OPENPIPES_EGRESS_ALLOW ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...(options.egressAllow ?? []),
  ];
  const trustedProxies = [
    ...(env.OPENPIPES_TRUSTED_PROXIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...(options.trustedProxy ?? []),
  ];
  const publicUrl = options.publicUrl ?? env.OPENPIPES_PUBLIC_URL;
  const workers = integer(options.workers ?? env.OPENPIPES_SANDBOX_WORKERS, '--workers', 1, 64);
  const http = httpLimits(options, env);
  const pollIntervalMs = integer(
    options.pollIntervalMs ?? env.OPENPIPES_POLL_INTERVAL_MS,
    '--poll-interval-ms',
    10,
    hour,
  );
  const dispatchThread =
    options.dispatchThread !== false && !['0', 'false'].includes(env.OPENPIPES_DISPATCH_THREAD ?? '');
  return {
    host: options.host ?? env.OPENPIPES_HOST ?? '127.0.0.1',
    port: integer(options.port ?? env.PORT, '--port', 0, 65535) ?? 8787,
    database: postgres
      ? {
          kind: 'postgres',
          connectionString: postgres,
          schema: options.postgresSchema ?? env.OPENPIPES_POSTGRES_SCHEMA,
          ...(options.preparedStatements === false ||
          ['0', 'false'].includes(env.OPENPIPES_POSTGRES_PREPARED_STATEMENTS ?? '')
            ? { preparedStatements: false as const }
            : {}),
        }
      : { kind: 'sqlite', filename: options.db ?? env.OPENPIPES_DB ?? './openpipes.db' },
    egressAllow,
    ...(publicUrl ? { publicUrl } : {}),
    roles: [...new Set(roles)] as Role[],
    graceMs: integer(options.graceMs ?? env.OPENPIPES_GRACE_MS, '--grace-ms', 0, 3_600_000) ?? 25_000,
    log: { format, level },
    demo: Boolean(options.demo),
    console: options.console !== false,
    identity: options.identity !== false,
    ...(options.identityIgnoreConsent ? { identityIgnoreConsent: true } : {}),
    metricsPublic:
      Boolean(options.metricsPublic) || ['1', 'true'].includes(env.OPENPIPES_METRICS_PUBLIC ?? ''),
    ...(workers ? { workers } : {}),
    ...(pollIntervalMs ? { pollIntervalMs } : {}),
    dispatchThread,
    trustedProxies,
    http,
  };
}

const hour = 3_600_000;

type HttpLimit = keyof ServeSettings['http'];

/** Each HTTP limit: its option, its environment variable, and its range. */
const httpLimitSpecs: readonly [HttpLimit, string, string, number, number][] = [
  ['headersTimeoutMs', '--headers-timeout-ms', 'OPENPIPES_HEADERS_TIMEOUT_MS', 1, hour],
  ['requestTimeoutMs', '--request-timeout-ms', 'OPENPIPES_REQUEST_TIMEOUT_MS', 1, hour],
  ['keepAliveTimeoutMs', '--keep-alive-timeout-ms', 'OPENPIPES_KEEP_ALIVE_TIMEOUT_MS', 0, hour],
  ['maxConnections', '--max-connections', 'OPENPIPES_MAX_CONNECTIONS', 1, 1_000_000],
  [
    'maxConnectionsPerAddress',
    '--max-connections-per-address',
    'OPENPIPES_MAX_CONNECTIONS_PER_ADDRESS',
    0,
    1_000_000,
  ],
];

/** The HTTP server's timeouts and connection caps; unset ones keep hardenServer's defaults. */
function httpLimits(options: ServeOptions, env: Record<string, string | undefined>): ServeSettings['http'] {
  const limits: ServeSettings['http'] = {};
  for (const [key, flag, variable, min, max] of httpLimitSpecs) {
    limits[key] = integer(options[key] ?? env[variable], flag, min, max);
  }
  const headers = limits.headersTimeoutMs ?? serverLimitDefaults.headersTimeoutMs;
  const request = limits.requestTimeoutMs ?? serverLimitDefaults.requestTimeoutMs;
  if (headers > request) {
    throw usage(`--headers-timeout-ms (${headers}) must not exceed --request-timeout-ms (${request})`);
  }
  return limits;
}

/** The database options of `openpipes serve`. */
function storeOptions(command: Command): Command {
  return command
    .option('--db <file>', 'SQLite database file (env OPENPIPES_DB; default ./openpipes.db)')
    .option('--postgres <url>', 'PostgreSQL connection string instead of SQLite (env OPENPIPES_POSTGRES_URL)')
    .option(
      '--postgres-schema <name>',
      'the schema of the tables (env OPENPIPES_POSTGRES_SCHEMA; default openpipes)',
    )
    .option(
      '--no-prepared-statements',
      'with --postgres, send no named (server-side prepared) statements: for PgBouncer in transaction mode before 1.21, or with max_prepared_statements = 0 (its default before 1.24) (env OPENPIPES_POSTGRES_PREPARED_STATEMENTS=0)',
    );
}

export function registerServe(program: Command, ctx: CommandContext): void {
  const serve = program
    .command('serve')
    .summary('run OpenPipes: collect endpoint, admin API and delivery, in one process')
    .description(
      'Runs the engine, the collect endpoint and the admin API. SQLite by default (one file); --postgres ' +
        'for many processes on one database. On a first start without OPENPIPES_SECRET_KEY and ' +
        'OPENPIPES_ADMIN_TOKEN it generates both and keeps them beside the database (mode 0600). ' +
        'SIGTERM/SIGINT: stops accepting, finishes in-flight deliveries within the grace period, exits 0.',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free one (env PORT)', undefined)
    .option('--host <host>', 'address to listen on (env OPENPIPES_HOST)', undefined);
  storeOptions(serve)
    .option(
      '--demo',
      'set up the demo (a source, the Meta example pipe, a local stand-in for Meta) if absent',
    )
    .option('--no-console', 'do not serve the web console under /console/')
    .option(
      '--no-identity',
      'do not link identifiers into profiles (docs/identifiers.md); transforms then get profiles = {}',
    )
    .option(
      '--identity-ignore-consent',
      'link identifiers into profiles even when the event denied consent for them (docs/identifiers.md, "Consent and linking")',
    )
    .option(
      '--egress-allow <entry>',
      'host, host:port or CIDR send() may reach although private (repeatable; env OPENPIPES_EGRESS_ALLOW, comma-separated)',
      collect,
    )
    .option(
      '--public-url <url>',
      'where this server is reached from outside, for links in alerts (env OPENPIPES_PUBLIC_URL)',
    )
    .option('--roles <roles>', 'ingest, dispatch or ingest,dispatch (env OPENPIPES_ROLES)')
    .option(
      '--grace-ms <ms>',
      'how long a stop waits for in-flight deliveries (env OPENPIPES_GRACE_MS; default 25000)',
    )
    .option(
      '--log-format <format>',
      'json (pino JSON lines, the default) or pretty (env OPENPIPES_LOG_FORMAT)',
    )
    .option('--log-level <level>', 'debug, info, warn or error (env OPENPIPES_LOG_LEVEL; default info)')
    .option(
      '--metrics-public',
      'answer GET /metrics without a token, for a scraper inside a private network (env OPENPIPES_METRICS_PUBLIC=1); by default it takes the admin token or an API key',
    )
    .option(
      '--trusted-proxy <address>',
      "a proxy whose X-Forwarded-For names the client, for Segment messages without context.ip (repeatable; env OPENPIPES_TRUSTED_PROXIES, comma-separated); by default the connection's peer is the client",
      collect,
    )
    .option('--workers <n>', 'sandbox worker threads (env OPENPIPES_SANDBOX_WORKERS; default one per core)')
    .option(
      '--no-dispatch-thread',
      'with both roles, dispatch on the main thread too instead of on a worker thread of its own (env OPENPIPES_DISPATCH_THREAD=0)',
    )
    .option(
      '--poll-interval-ms <ms>',
      'how often idle dispatch lanes look for due work they were not woken for: retries, expired leases (env OPENPIPES_POLL_INTERVAL_MS; default 1000)',
    )
    .option(
      '--headers-timeout-ms <ms>',
      'time a client has to send its request headers (env OPENPIPES_HEADERS_TIMEOUT_MS; default 10000)',
    )
    .option(
      '--request-timeout-ms <ms>',
      'time a client has to send its whole request (env OPENPIPES_REQUEST_TIMEOUT_MS; default 30000)',
    )
    .option(
      '--keep-alive-timeout-ms <ms>',
      'how long an idle connection stays open (env OPENPIPES_KEEP_ALIVE_TIMEOUT_MS; default 5000)',
    )
    .option(
      '--max-connections <n>',
      'connections open at once, all clients (env OPENPIPES_MAX_CONNECTIONS; default 1024)',
    )
    .option(
      '--max-connections-per-address <n>',
      'connections open at once from one client address, 0 for no cap: use 0 behind a reverse proxy (env OPENPIPES_MAX_CONNECTIONS_PER_ADDRESS; default 64)',
    )
    .addHelpText(
      'after',
      `
Environment:
  OPENPIPES_SECRET_KEY    encrypts secret values at rest (generated beside a new SQLite database if unset)
  OPENPIPES_ADMIN_TOKEN   the admin API token (generated beside the SQLite database if unset)
  OPENPIPES_EGRESS_ALLOW  e.g. "10.0.0.5:8443,capi-proxy.internal,192.168.10.0/24"

Examples:
  openpipes serve
  openpipes serve --port 8080 --host 0.0.0.0 --db /var/lib/openpipes/openpipes.db
  OPENPIPES_SECRET_KEY=... OPENPIPES_ADMIN_TOKEN=... openpipes serve --postgres postgres://openpipes@db/openpipes`,
    )
    .action(async (options: ServeOptions) => {
      const settings = serveSettings(options, ctx.io.env);
      ctx.setExitCode(await runServe(settings, ctx.io));
    });

  program
    .command('keygen')
    .summary('print a new secret key and admin token (for --postgres deployments)')
    .description(
      'Prints export lines for a new OPENPIPES_SECRET_KEY and OPENPIPES_ADMIN_TOKEN. Give every process ' +
        'of a deployment the same values; keep them in your secret manager.',
    )
    .action(() => {
      println(ctx.io, `export OPENPIPES_SECRET_KEY=${newSecretKey()}`);
      println(ctx.io, `export OPENPIPES_ADMIN_TOKEN=${newAdminToken()}`);
    });
}
