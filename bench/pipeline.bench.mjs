// End to end on SQLite, the yardstick of docs/deployment.md ("Throughput"): 50,000 events (10% of them
// page views the transform filters out) posted in batches of 100 on 4 connections to
//   engine        `openpipes serve` on a SQLite file with its defaults (console, identity, metrics and
//                 tracing on), the brief's Meta example transform and send() to a loopback sink;
//   bare_v8       the same pipeline written the obvious way in one process: node:http collect →
//                 better-sqlite3 (one table, primary key and a partial index on pending rows) → claim
//                 500 → the same transform in plain V8 → POST to the same sink → mark each event
//                 delivered (or filtered) with the response, in one transaction per batch;
//   bare_sandbox  bare_v8 with the transform run by @openpipes/sandbox instead of plain V8, so the
//                 engine's own overhead and the sandbox's cost show apart.
// All three: WAL with synchronous=NORMAL, every collect answered after its commit, two batches in
// flight to the sink. Each round starts on a fresh file; rounds alternate the three; each figure is
// the median of its rounds with the spread. The clock runs from the first collect request until
// every event has its final record. CPU is the server process's (all its threads, from /proc), RSS is
// its resident memory: peak under load and once the work is done; db_bytes_per_event is the database
// file and its WAL at the end, per event posted.
// With BENCH_BEFORE=<another checkout, built>, an engine_before candidate runs that checkout's
// `openpipes serve` in the same rounds, for before/after figures from one run.
//   npm run bench -- pipeline        (BENCH_ROUNDS=3, BENCH_EVENTS=50000, BENCH_BEFORE unset;
//                                     BENCH_KINDS=engine,bare_v8 runs only those;
//                                     BENCH_ENGINE_ARGS='--no-identity' adds serve options)
import { fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './lib.mjs';

const self = fileURLToPath(import.meta.url);
process.setMaxListeners(100); // each round's temp dir and child process clean up on exit
const root = join(self, '..', '..');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const total = Number(process.env.BENCH_EVENTS ?? 50_000);
const batch = 100;
const connections = 4;
const claim = 500;

const metaTransform = async () => (await import('@openpipes/core/testing')).metaExampleTransform;

// --- the bare pipeline (a child process) -----------------------------------------------------------

async function bare(filename, sinkUrl, mode) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, response TEXT);
    CREATE INDEX events_pending ON events (id) WHERE status = 0;`);
  const insert = db.prepare('INSERT INTO events (payload) VALUES (?)');
  const ingest = db.transaction((events) => {
    for (const e of events) insert.run(JSON.stringify(e));
  });
  const pick = db.prepare('SELECT id, payload FROM events WHERE status = 0 ORDER BY id LIMIT ?');
  const take = db.prepare('UPDATE events SET status = 1 WHERE id = ?');
  const claimBatch = db.transaction(() => {
    const rows = pick.all(claim);
    for (const r of rows) take.run(r.id);
    return rows;
  });
  const mark = db.prepare('UPDATE events SET status = ?, response = ? WHERE id = ?');
  const markAll = db.transaction((rows, delivered, response) => {
    for (const r of rows) mark.run(delivered.has(r.id) ? 2 : 3, delivered.has(r.id) ? response : null, r.id);
  });
  const pending = db.prepare('SELECT count(*) AS n FROM events WHERE status IN (0, 1)');

  const code = await metaTransform();
  let run;
  let sandbox;
  if (mode === 'v8') {
    const transform = new Function(`${code}; return transform;`)();
    run = async (events) => events.map((e) => transform({ events: [e], profiles: {}, secrets: {} }));
  } else {
    const { createSandbox } = await import('@openpipes/sandbox');
    sandbox = createSandbox();
    const ref = { kind: 'transform', owner: 'bare', version: 1, code };
    run = async (events) => {
      const out = await sandbox.transform({ code: ref, events, profiles: undefined, secrets: {} });
      return out.results.map((r) => (r.ok ? r.outputs : []));
    };
  }

  let wake = null;
  const loop = async () => {
    for (;;) {
      const rows = claimBatch();
      if (rows.length === 0) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50).unref();
        });
        continue;
      }
      const events = rows.map((r) => JSON.parse(r.payload));
      const outputs = await run(events);
      const delivered = new Set();
      const data = [];
      outputs.forEach((list, i) => {
        if (list.length > 0) delivered.add(rows[i].id);
        for (const o of list) data.push(o.event_payload);
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
      markAll(rows, delivered, response);
    }
  };
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const events = Array.isArray(body) ? body : [body];
      ingest(events);
      wake?.();
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: events.length }));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
  process.on('message', (message) => {
    if (message === 'pending') process.send({ pending: pending.get().n });
    if (message === 'stop') process.exit(0);
  });
  void loop();
  void loop();
}

// --- the candidates, as the load generator sees them -----------------------------------------------

function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return { cpuMs: ticks * 10, rss };
}

async function startBare(dir, sinkUrl, mode) {
  const child = fork(self, ['--bare', join(dir, `bare-${mode}.db`), sinkUrl, mode], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const { url } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`bare pipeline exited with ${code}`)));
  });
  return {
    url,
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

async function startEngine(dir, sink, checkout = root) {
  const db = join(dir, 'engine.db');
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      join(checkout, 'packages/cli/bin/openpipes.js'),
      'serve',
      '--db',
      db,
      '--port',
      '0',
      '--egress-allow',
      sink.host,
      '--log-level',
      'warn',
      ...(process.env.BENCH_ENGINE_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const url = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`openpipes serve exited with ${code}: ${text}`)));
  });
  child.stdout.resume();
  const token = readFileSync(`${db}.admin-token`, 'utf8').trim();
  const api = async (method, path, body) => {
    const res = await fetch(url + path, {
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
    url,
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

async function round(kind) {
  const dir = tempDir(`openpipes-bench-pipeline-${kind}-`);
  const sink = await startSink();
  const server =
    kind === 'engine'
      ? await startEngine(dir, sink)
      : kind === 'engine_before'
        ? await startEngine(dir, sink, process.env.BENCH_BEFORE)
        : await startBare(dir, sink.url, kind.slice(5));
  const { Pool } = await import('undici');
  const pool = new Pool(server.url, { connections, keepAliveTimeout: 60_000 });
  const expected = total - total / 10;
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, procStats(server.pid).rss);
  }, 100);
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
  // Poll until every event has its final record (the sink has them all, and nothing is pending).
  for (;;) {
    if (sink.received() >= expected && (await server.backlog()) === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = procStats(server.pid);
  // What the database holds once every event has its record: the file and its WAL (checkpoints
  // move pages between them), per event.
  const bytes = readdirSync(dir)
    .filter((f) => /\.db(-wal)?$/.test(f))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  await pool.close();
  await server.stop();
  sink.close();
  if (sink.received() !== expected)
    throw new Error(`${kind}: the sink got ${sink.received()} of ${expected}`);
  return {
    eventsPerSecond: total / seconds,
    collectSeconds,
    cpuMsPer1000: ((after.cpuMs - before.cpuMs) / total) * 1000,
    peakRssMb: Math.max(peakRss, after.rss) / 2 ** 20,
    rssAfterMb: after.rss / 2 ** 20,
    bytesPerEvent: bytes / total,
  };
}

async function main() {
  const kinds = [
    'engine',
    ...(process.env.BENCH_BEFORE ? ['engine_before'] : []),
    'bare_v8',
    'bare_sandbox',
  ].filter((k) => !process.env.BENCH_KINDS || process.env.BENCH_KINDS.split(',').includes(k));
  const results = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const kind of kinds) results[kind].push(await round(kind));
  const median = (list, key) => {
    const v = list.map((x) => x[key]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const round2 = (x) => Math.round(x * 100) / 100;
  for (const kind of kinds) {
    const list = results[kind];
    const rates = list.map((x) => Math.round(x.eventsPerSecond));
    console.log(
      JSON.stringify({
        bench: 'pipeline',
        metric: `sqlite_end_to_end_${kind}`,
        value: Math.round(median(list, 'eventsPerSecond')),
        unit: 'events/s',
        spread: [Math.min(...rates), Math.max(...rates)],
        rounds: rates,
        collect_s: round2(median(list, 'collectSeconds')),
        cpu_ms_per_1000_events: round2(median(list, 'cpuMsPer1000')),
        peak_rss_mb: Math.round(median(list, 'peakRssMb')),
        rss_after_mb: Math.round(median(list, 'rssAfterMb')),
        db_bytes_per_event: Math.round(median(list, 'bytesPerEvent')),
        events: total,
        filtered: total / 10,
      }),
    );
  }
  if (!kinds.includes('bare_v8') || !kinds.includes('bare_sandbox')) return;
  const ratio = (a, b) =>
    round2(median(results[a], 'eventsPerSecond') / median(results[b], 'eventsPerSecond'));
  console.log(
    JSON.stringify({
      bench: 'pipeline',
      metric: 'sqlite_engine_to_bare_v8',
      value: ratio('engine', 'bare_v8'),
      unit: 'x',
      target: 0.5,
      engine_to_bare_sandbox: ratio('engine', 'bare_sandbox'),
      bare_sandbox_to_bare_v8: ratio('bare_sandbox', 'bare_v8'),
      ...(process.env.BENCH_BEFORE ? { engine_before_to_bare_v8: ratio('engine_before', 'bare_v8') } : {}),
      load_average: round2(loadavg()[0]),
    }),
  );
}

if (process.argv[2] === '--bare') {
  await bare(process.argv[3], process.argv[4], process.argv[5]);
} else {
  await main();
}
