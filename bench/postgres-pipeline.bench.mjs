// End to end on PostgreSQL, the same shape as pipeline.bench.mjs's SQLite yardstick: 50,000 events
// (10% of them page views the transform filters out) posted in batches of 100 on 4 connections to
//   engine        `openpipes serve --postgres` (one process, its defaults: console, identity, metrics
//                 and tracing on), the brief's Meta example transform and send() to a loopback sink;
//   bare_v8       the same pipeline written the obvious way in one process: node:http collect → one
//                 multi-row INSERT per request into one table (primary key and a partial index on
//                 pending rows) → claims of 500 with `FOR UPDATE SKIP LOCKED` → the same transform in
//                 plain V8 → POST to the same sink → one UPDATE marking the batch delivered (or
//                 filtered) with the response.
// Both: PostgreSQL's defaults (synchronous_commit on), every collect answered after its commit, two
// batches in flight to the sink, a pool of connections to the database. Each round runs in a fresh
// database (created before, dropped after); rounds alternate the candidates; each figure is the
// median of its rounds with the spread. The clock runs from the first collect request until every
// event has its final record.
// CPU is counted apart for the server process (all its threads, from /proc) and for PostgreSQL: the
// backends connected to the round's database (client backends and autovacuum workers, found in
// pg_stat_activity every 100 ms and read from /proc), so other work on the shared server is not
// counted; the WAL writer and checkpointer, shared by every database, are left out. bytes_per_event
// is pg_total_relation_size (heap, TOAST and indexes) of every table in the round's database once the
// work is done (no VACUUM), per event posted.
// With BENCH_BEFORE=<another checkout, built>, an engine_before candidate runs that checkout's
// `openpipes serve` in the same rounds, for before/after figures from one run.
//   npm run bench -- postgres-pipeline   (BENCH_ROUNDS=3, BENCH_EVENTS=50000, BENCH_BEFORE unset;
//                                          BENCH_KINDS=engine,bare_v8 runs only those;
//                                          OPENPIPES_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test)
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const self = fileURLToPath(import.meta.url);
process.setMaxListeners(100); // each round's child process cleans up on exit
const root = join(self, '..', '..');
const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const total = Number(process.env.BENCH_EVENTS ?? 50_000);
const batch = 100;
const connections = 4;
const claim = 500;

const metaTransform = async () => (await import('@openpipes/core/testing')).metaExampleTransform;
/** The connection string of another database on the same server. */
const databaseUrl = (name) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

// --- the bare pipeline (a child process) -----------------------------------------------------------

async function bare(connectionString, sinkUrl) {
  const db = new pg.Pool({ connectionString, max: 4 });
  await db.query(`CREATE TABLE events (id bigserial PRIMARY KEY, payload jsonb NOT NULL,
      status smallint NOT NULL DEFAULT 0, response jsonb);
    CREATE INDEX events_pending ON events (id) WHERE status = 0;`);
  const ingest = async (events) => {
    const values = events.map((_, i) => `($${i + 1})`).join(',');
    await db.query(
      `INSERT INTO events (payload) VALUES ${values}`,
      events.map((e) => JSON.stringify(e)),
    );
  };
  const claimBatch = async () =>
    (
      await db.query(
        `UPDATE events SET status = 1 WHERE id IN
           (SELECT id FROM events WHERE status = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, payload`,
        [claim],
      )
    ).rows;
  const markAll = (ids, statuses, response) =>
    db.query(
      `UPDATE events SET status = m.status, response = CASE WHEN m.status = 2 THEN $3::jsonb END
       FROM unnest($1::bigint[], $2::smallint[]) AS m(id, status) WHERE events.id = m.id`,
      [ids, statuses, response],
    );

  const code = await metaTransform();
  const transform = new Function(`${code}; return transform;`)();
  let wake = null;
  const loop = async () => {
    for (;;) {
      const rows = await claimBatch();
      if (rows.length === 0) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      const data = [];
      const statuses = rows.map((r) => {
        const list = transform({ events: [r.payload], profiles: {}, secrets: {} });
        for (const o of list) data.push(o.event_payload);
        return list.length > 0 ? 2 : 3;
      });
      let response = null;
      if (data.length > 0) {
        const res = await fetch(`${sinkUrl}/v19.0/123456789012/events?access_token=EAAB-bench-token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data }),
        });
        response = JSON.stringify({ status: res.status, body: await res.json() });
      }
      await markAll(
        rows.map((r) => r.id),
        statuses,
        response,
      );
    }
  };
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const events = Array.isArray(body) ? body : [body];
      ingest(events).then(() => {
        wake?.();
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: events.length }));
      });
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
  process.on('message', async (message) => {
    if (message === 'pending') {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM events WHERE status IN (0, 1)');
      process.send({ pending: rows[0].n });
    }
    if (message === 'stop') {
      await db.end();
      process.exit(0);
    }
  });
  void loop();
  void loop();
}

// --- the candidates, as the load generator sees them -----------------------------------------------

function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
  } catch {
    return null; // gone
  }
}
function procStats(pid) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return { cpuMs: (cpuTicks(pid) ?? 0) * 10, rss };
}

async function startBare(database, sinkUrl) {
  const child = fork(self, ['--bare', databaseUrl(database), sinkUrl], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const { url: serverUrl } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`bare pipeline exited with ${code}`)));
  });
  return {
    url: serverUrl,
    pid: child.pid,
    backlog: () =>
      new Promise((resolve) => {
        const on = (m) => {
          if (m.pending === undefined) return;
          child.off('message', on);
          resolve(m.pending);
        };
        child.on('message', on);
        child.send('pending');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.send('stop');
      }),
  };
}

async function startEngine(database, sink, checkout = root) {
  const token = `opa_${randomBytes(24).toString('base64url')}`;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      join(checkout, 'packages/cli/bin/openpipes.js'),
      'serve',
      '--postgres',
      databaseUrl(database),
      '--port',
      '0',
      '--egress-allow',
      sink.host,
      '--log-level',
      'warn',
      ...(process.env.BENCH_ENGINE_ARGS ?? '').split(' ').filter(Boolean),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        OPENPIPES_SECRET_KEY: randomBytes(32).toString('base64url'),
        OPENPIPES_ADMIN_TOKEN: token,
      },
    },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const serverUrl = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`openpipes serve exited with ${code}: ${text}`)));
  });
  child.stdout.resume();
  const api = async (method, path, body) => {
    const res = await fetch(serverUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const { metaExampleSend } = await import('@openpipes/core/testing');
  const source = await api('POST', '/api/sources', { name: 'Web', slug: 'web' });
  await api('POST', '/api/event-types', {
    name: 'purchase',
    schema: { type: 'object', required: ['order_id'] },
  });
  await api('POST', '/api/event-types', { name: 'page_view', schema: { type: 'object' } });
  const token1 = await api('POST', '/api/secrets', {
    key: 'META_ACCESS_TOKEN',
    value: 'EAAB-bench-token-0123456789',
  });
  const pixel = await api('POST', '/api/secrets', { key: 'META_PIXEL_ID', value: '123456789012' });
  const destination = await api('POST', '/api/event-destinations', {
    name: 'meta-capi-prod',
    send: metaExampleSend(sink.url),
    max_batch_size: claim,
    concurrency: 2,
  });
  await api('PUT', `/api/event-destinations/${destination.id}/secrets`, { secretIds: [token1.id, pixel.id] });
  const pipe = await api('POST', '/api/pipes', {
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: destination.id,
    transform: await metaTransform(),
  });
  await api('PUT', `/api/pipes/${pipe.id}/toggle`, { enabled: true });
  await api('PUT', `/api/event-destinations/${destination.id}/toggle`, { enabled: true });
  return {
    url: serverUrl,
    pid: child.pid,
    backlog: async () => {
      const stats = await api('GET', '/api/stats');
      return stats.deliveries
        .filter((r) => ['pending', 'sending', 'retrying'].includes(r.status))
        .reduce((n, r) => n + r.count, 0);
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

function startSink() {
  let received = 0;
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received += JSON.parse(Buffer.concat(chunks).toString('utf8')).data?.length ?? 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"events_received":1,"fbtrace_id":"bench"}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        host: `127.0.0.1:${port}`,
        received: () => received,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    }),
  );
}

/**
 * PostgreSQL's CPU on behalf of one database: the backends connected to it, found every 100 ms.
 * A backend's ticks are counted from the first time it is seen after `start()` (from its own start
 * when it connects later), up to the last time it is read.
 */
function postgresCpu(admin, database) {
  const first = new Map();
  const last = new Map();
  let timer = null;
  let started = false;
  const sample = async () => {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    for (const { pid } of rows) {
      const ticks = cpuTicks(pid);
      if (ticks === null) continue;
      if (!first.has(pid)) first.set(pid, started ? 0 : ticks);
      last.set(pid, ticks);
    }
  };
  return {
    async start() {
      await sample();
      started = true;
      timer = setInterval(() => void sample().catch(() => {}), 100);
    },
    async stop() {
      clearInterval(timer);
      await sample();
      let ticks = 0;
      for (const [pid, t] of last) ticks += t - (first.get(pid) ?? 0);
      return ticks * 10;
    },
  };
}

// --- one round --------------------------------------------------------------------------------------

const hex = (n) => n.toString(16).padStart(8, '0').repeat(8);
function body(from) {
  const events = [];
  for (let i = from; i < from + batch; i++) {
    const filtered = i % 10 === 9;
    events.push({
      event_type: filtered ? 'page_view' : 'purchase',
      event_time: new Date().toISOString(),
      event_id: `ord_${i}`,
      event_payload: {
        order_id: `ord_${i}`,
        revenue: 129.9,
        currency: 'EUR',
        hashed_email: hex(i),
        hashed_phone: hex(i + 7),
        fbp: `fb.1.1714816462.${1000000 + i}`,
        fbc: `fb.1.1714816462.IwAR${i}`,
        ip: '203.0.113.7',
        ua: 'Mozilla/5.0 (X11; Linux x86_64)',
        page_url: 'https://shop.example/checkout/thank-you',
      },
    });
  }
  return JSON.stringify(events);
}

let roundNumber = 0;
async function round(admin, kind) {
  const database = `bench_pgpipe_${process.pid}_${roundNumber++}`;
  await admin.query(`CREATE DATABASE ${database}`);
  try {
    const sink = await startSink();
    const server =
      kind === 'engine'
        ? await startEngine(database, sink)
        : kind === 'engine_before'
          ? await startEngine(database, sink, process.env.BENCH_BEFORE)
          : await startBare(database, sink.url);
    const { Pool } = await import('undici');
    const pool = new Pool(server.url, { connections, keepAliveTimeout: 60_000 });
    const expected = total - total / 10;
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, procStats(server.pid).rss);
    }, 100);
    const postgres = postgresCpu(admin, database);
    await postgres.start();
    const before = procStats(server.pid);
    const started = performance.now();
    let next = 0;
    const post = async () => {
      while (next < total) {
        const from = next;
        next += batch;
        const res = await pool.request({
          path: '/collect/web',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body(from),
        });
        const text = await res.body.text();
        if (res.statusCode !== 202)
          throw new Error(`collect answered ${res.statusCode}: ${text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: connections }, post));
    const collectSeconds = (performance.now() - started) / 1000;
    for (;;) {
      if (sink.received() >= expected && (await server.backlog()) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const after = procStats(server.pid);
    const postgresCpuMs = await postgres.stop();
    await pool.close();
    await server.stop();
    sink.close();
    if (sink.received() !== expected)
      throw new Error(`${kind}: the sink got ${sink.received()} of ${expected}`);
    // What the database holds once every event has its record, per table (heap, TOAST, indexes).
    const client = new pg.Client({ connectionString: databaseUrl(database) });
    await client.connect();
    const { rows: sizes } = await client.query(
      `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    await client.end();
    const bytes = sizes.reduce((n, r) => n + Number(r.bytes), 0);
    const perTable = Object.fromEntries(
      sizes
        .filter((r) => Number(r.bytes) / total >= 10)
        .map((r) => [r.name, Math.round(Number(r.bytes) / total)]),
    );
    return {
      eventsPerSecond: total / seconds,
      collectSeconds,
      serverCpuMsPer1000: ((after.cpuMs - before.cpuMs) / total) * 1000,
      postgresCpuMsPer1000: (postgresCpuMs / total) * 1000,
      peakRssMb: Math.max(peakRss, after.rss) / 2 ** 20,
      rssAfterMb: after.rss / 2 ** 20,
      bytesPerEvent: bytes / total,
      perTable,
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

async function main() {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on('error', () => {});
  try {
    await admin.query('SELECT 1');
  } catch (err) {
    console.log(
      JSON.stringify({ bench: 'postgres-pipeline', skipped: `no PostgreSQL at ${url}: ${err.message}` }),
    );
    await admin.end().catch(() => {});
    return;
  }
  const { rows: version } = await admin.query('SHOW server_version');
  const kinds = ['engine', ...(process.env.BENCH_BEFORE ? ['engine_before'] : []), 'bare_v8'].filter(
    (k) => !process.env.BENCH_KINDS || process.env.BENCH_KINDS.split(',').includes(k),
  );
  const results = Object.fromEntries(kinds.map((k) => [k, []]));
  const loads = [];
  for (let r = 0; r < rounds; r++) {
    for (const kind of kinds) {
      const result = await round(admin, kind);
      results[kind].push(result);
      loads.push(loadavg()[0]);
      // Each round as it ends, on stderr: a long run interrupted still says what it measured.
      console.error(JSON.stringify({ round: r + 1, kind, ...result, load_average: loads.at(-1) }));
    }
  }
  await admin.end();
  const median = (list, key) => {
    const v = list.map((x) => x[key]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const spread = (list, key, digits = 0) => {
    const v = list.map((x) => Math.round(x[key] * 10 ** digits) / 10 ** digits);
    return [Math.min(...v), Math.max(...v)];
  };
  const round2 = (x) => Math.round(x * 100) / 100;
  for (const kind of kinds) {
    const list = results[kind];
    console.log(
      JSON.stringify({
        bench: 'postgres-pipeline',
        metric: `postgres_end_to_end_${kind}`,
        value: Math.round(median(list, 'eventsPerSecond')),
        unit: 'events/s',
        spread: spread(list, 'eventsPerSecond'),
        rounds: list.map((x) => Math.round(x.eventsPerSecond)),
        collect_s: round2(median(list, 'collectSeconds')),
        server_cpu_ms_per_1000_events: Math.round(median(list, 'serverCpuMsPer1000')),
        server_cpu_spread: spread(list, 'serverCpuMsPer1000'),
        postgres_cpu_ms_per_1000_events: Math.round(median(list, 'postgresCpuMsPer1000')),
        postgres_cpu_spread: spread(list, 'postgresCpuMsPer1000'),
        peak_rss_mb: Math.round(median(list, 'peakRssMb')),
        rss_after_mb: Math.round(median(list, 'rssAfterMb')),
        bytes_per_event: Math.round(median(list, 'bytesPerEvent')),
        bytes_per_event_by_table: list[list.length - 1].perTable,
        events: total,
        filtered: total / 10,
        postgres: version[0].server_version,
        cores: cpus().length,
      }),
    );
  }
  const ratio = (a, b) =>
    round2(median(results[a], 'eventsPerSecond') / median(results[b], 'eventsPerSecond'));
  if (kinds.includes('engine') && kinds.includes('bare_v8'))
    console.log(
      JSON.stringify({
        bench: 'postgres-pipeline',
        metric: 'postgres_engine_to_bare_v8',
        value: ratio('engine', 'bare_v8'),
        unit: 'x',
        target: 0.3,
        ...(process.env.BENCH_BEFORE ? { engine_before_to_bare_v8: ratio('engine_before', 'bare_v8') } : {}),
        load_average: [round2(Math.min(...loads)), round2(Math.max(...loads))],
      }),
    );
}

if (process.argv[2] === '--bare') {
  await bare(process.argv[3], process.argv[4]);
} else {
  await main();
}
