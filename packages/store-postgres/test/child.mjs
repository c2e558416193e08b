// One OpenPipes process for the multi-process tests and the benchmark, running from the BUILT
// packages (`npm run build` first). Configured by environment:
//   OP_MODE         dispatch | ingest | migrate
//   OP_URL          PostgreSQL connection string
//   OP_SCHEMA       the schema all processes share
//   OP_NAME         application_name (shows in pg_stat_activity)
//   OP_SECRET_KEY   the engine's secret key (same in every process)
//   OP_SINK_HOST    host:port of the loopback sink (dispatch: egress allow-list)
//   OP_LEASE_MS     dispatch: lease length
//   OP_POLL_MS      dispatch: poll tick (LISTEN/NOTIFY wakes it earlier)
//   OP_EVENTS, OP_BATCH, OP_OFFSET, OP_CONCURRENCY   ingest: how many events, per call, first order
//                   number, calls in flight
// It prints JSON lines on stdout: {"ready":...} once running, {"done":...} when finished.
// dispatch runs until SIGTERM (graceful stop) or SIGKILL. migrate waits for "go" on stdin.
import { createPipes, silentLogger } from '@openpipes/core';
import { purchaseEvent } from '@openpipes/core/testing';
import pg from 'pg';
import { postgresStore } from '../dist/index.js';

const env = process.env;
const mode = env.OP_MODE;
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

if (mode === 'migrate') {
  // Warm the connection first, so both processes hit migrate() at the same moment on "go".
  const pool = new pg.Pool({ connectionString: env.OP_URL, max: 2, application_name: env.OP_NAME });
  const { rows } = await pool.query('SELECT to_regclass($1) IS NULL AS empty', [
    `${env.OP_SCHEMA}.openpipes_migrations`,
  ]);
  say({ ready: true, empty: rows[0].empty });
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const store = postgresStore({ pool, schema: env.OP_SCHEMA });
  await store.migrate();
  await store.close();
  await pool.end();
  say({ done: true });
  process.exit(0);
}

const store = postgresStore({
  connectionString: env.OP_URL,
  schema: env.OP_SCHEMA,
  applicationName: env.OP_NAME,
  poolSize: 4,
});
const pipes = createPipes({
  store,
  secretKey: env.OP_SECRET_KEY,
  logger: silentLogger,
  roles: [mode === 'ingest' ? 'ingest' : 'dispatch'],
  sandbox: { workers: 1 },
  egressAllow: env.OP_SINK_HOST ? [env.OP_SINK_HOST] : [],
  dispatcher: {
    leaseMs: Number(env.OP_LEASE_MS ?? 120_000),
    pollIntervalMs: Number(env.OP_POLL_MS ?? 1000),
  },
});

if (mode === 'dispatch') {
  await pipes.start();
  say({ ready: true, owner: pipes.status().owner, pid: process.pid });
  process.on('SIGTERM', async () => {
    await pipes.stop({ graceMs: 10_000 });
    await pipes.store.close();
    say({ done: true });
    process.exit(0);
  });
} else if (mode === 'ingest') {
  await pipes.start();
  say({ ready: true, pid: process.pid });
  const total = Number(env.OP_EVENTS);
  const batch = Number(env.OP_BATCH ?? 250);
  const offset = Number(env.OP_OFFSET ?? 0);
  const concurrency = Number(env.OP_CONCURRENCY ?? 2);
  const started = performance.now();
  let next = 0;
  let accepted = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const from = next;
        next = Math.min(total, next + batch);
        const events = [];
        for (let i = from; i < next; i++) events.push(purchaseEvent(`ord_${offset + i}`));
        const result = await pipes.ingest('web', events);
        accepted += result.accepted;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pipes.stop();
  await pipes.store.close();
  say({ done: true, accepted, seconds });
  process.exit(0);
} else {
  throw new Error(`unknown OP_MODE ${mode}`);
}
