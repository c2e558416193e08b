// Shared pieces of the end-to-end benches (pipeline.bench.mjs on SQLite, postgres-pipeline.bench.mjs
// on PostgreSQL): the bare pipeline's transform, sink call, collect server and idle wait; the
// candidates as the load generator sees them (a forked bare child, `openpipes serve` set up with the
// Meta example over its API); /proc readings; the load itself; and the medians of the summary.

import { fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { askChild, stopChild } from './lib.mjs';

export const root = join(fileURLToPath(import.meta.url), '..', '..');
export const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
export const total = Number(process.env.BENCH_EVENTS ?? 50_000);
// BENCH_WARMUP=N: N events (numbered after the measured ones, 10% page views as well) posted and
// delivered before the clock and the CPU counters start, the same for every candidate: a server
// that has run for a while (its code compiled by V8's optimising tiers, its caches and pools
// filled) rather than one just started. Default 0, the cold figure earlier runs reported.
export const warmup = Number(process.env.BENCH_WARMUP ?? 0);
/** Every event a round posts, warm-up included: the divisor of bytes stored per event. */
export const posted = total + warmup;
if (warmup % 100 !== 0 || total % 100 !== 0)
  throw new Error('BENCH_EVENTS and BENCH_WARMUP are multiples of 100');
export const batch = 100;
export const connections = 4;
export const claim = 500;

export const metaTransform = async () => (await import('@openpipes/core/testing')).metaExampleTransform;

// --- the bare pipeline (in its child process) -------------------------------------------------------

/** Waits until `wake` is called or 50 ms pass; `setWake` receives the resolver. */
export function idle(setWake) {
  return new Promise((resolve) => {
    setWake(resolve);
    setTimeout(resolve, 50).unref();
  });
}

/** POSTs a batch to the sink as the Meta example would; the response as stored with the events. */
export async function postToSink(sinkUrl, data) {
  const res = await fetch(`${sinkUrl}/v19.0/123456789012/events?access_token=EAAB-bench-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data }),
  });
  return JSON.stringify({ status: res.status, body: await res.json() });
}

/**
 * The bare pipeline's collect endpoint: stores each request's events with `ingest` (answered after
 * it returns, or after its promise settles), then calls `ingested()`. Tells the parent its URL, and
 * answers its `pending` and `stop` messages with `pending()` and `stop()`.
 */
export function serveBare({ ingest, ingested, pending, stop }) {
  const answer = (res, events) => {
    ingested();
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accepted: events.length }));
  };
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const events = Array.isArray(body) ? body : [body];
      const stored = ingest(events);
      if (stored instanceof Promise) stored.then(() => answer(res, events));
      else answer(res, events);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
  process.on('message', async (message) => {
    if (message === 'pending') process.send({ pending: await pending() });
    if (message === 'stop') {
      await stop?.();
      process.exit(0);
    }
  });
}

// --- the candidates, as the load generator sees them -----------------------------------------------

/** A process's CPU ticks (utime + stime, all threads), or null when it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/**
 * Each thread's CPU time so far (ms, by thread id), from /proc: Node names no worker thread, so a
 * thread is told by its share (under `openpipes serve` the dispatch thread is the busiest after the
 * main one, whose id is the process's).
 */
export function threadCpuMs(pid) {
  const out = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ticks = cpuTicks(`${pid}/task/${tid}`);
      if (ticks !== null) out.set(tid, ticks * 10);
    }
  } catch {}
  return out;
}

/** A process's CPU time so far, resident memory and bytes written (`wchar`: all its writes, the WAL's and checkpoints' included), from /proc. */
export function procStats(pid) {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const wchar = Number(/wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  return { cpuMs: (cpuTicks(pid) ?? 0) * 10, rss, wchar };
}

/** The bare pipeline: this bench file forked with `--bare` and `args`. */
export async function startBare(script, args) {
  const child = fork(script, ['--bare', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  process.on('exit', () => child.kill('SIGKILL'));
  const { url } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`bare pipeline exited with ${code}`)));
  });
  return {
    url,
    pid: child.pid,
    backlog: () => askChild(child, 'pending', (m) => m.pending),
    stop: () => stopChild(child),
  };
}

/**
 * `openpipes serve` from `checkout` with the store options `store` (and BENCH_ENGINE_NODE_ARGS,
 * BENCH_ENGINE_ARGS), egress to the sink only; once it listens, `token()` gives its admin token and
 * the Meta example flow (purchase and page_view types, secrets, send() to the sink, transform) is
 * set up and enabled over its API.
 */
export async function startEngine({ checkout = root, store, env, token: adminToken, sink }) {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      join(checkout, 'packages/cli/bin/openpipes.js'),
      'serve',
      ...store,
      '--port',
      '0',
      '--egress-allow',
      sink.host,
      '--log-level',
      'warn',
      ...(process.env.BENCH_ENGINE_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env } : {}) },
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
  const token = adminToken();
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
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 2),
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
    // The dispatch chain's stages as GET /metrics sums them (seconds over every call, calls).
    stages: async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      const sum = (name) =>
        [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce(
          (n, m) => n + Number(m[1]),
          0,
        );
      return {
        transform_s: sum('openpipes_transform_duration_seconds_sum'),
        transforms: sum('openpipes_transform_duration_seconds_count'),
        send_s: sum('openpipes_send_duration_seconds_sum'),
        sends: sum('openpipes_send_duration_seconds_count'),
      };
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

// --- one round --------------------------------------------------------------------------------------

// The email and phone digests: 64 hex digits that grow with `n` (so the identity tables' keys arrive
// in order, as no real digests do), or with BENCH_HASHED_IDENTIFIERS=1 real SHA-256 digests (keys in
// random order, each new one on its own page of the identity tables' primary keys).
const hex = process.env.BENCH_HASHED_IDENTIFIERS
  ? (n) => createHash('sha256').update(String(n)).digest('hex')
  : (n) => n.toString(16).padStart(8, '0').repeat(8);

// The sender's event ids: `ord_<n>`, in order; or with BENCH_RANDOM_EVENT_IDS=1 in random order, as
// the UUIDs most senders make are (each then lands on its own page of the indexes keyed by it).
const eventIdOf = process.env.BENCH_RANDOM_EVENT_IDS
  ? (n) => createHash('sha256').update(`ord_${n}`).digest('hex').slice(0, 32)
  : (n) => `ord_${n}`;

/** Event number `i` of the yardstick: a purchase (or, with `type`, another type) with four identifiers. */
export const purchaseOf = (i, type = 'purchase') => ({
  event_type: type,
  event_time: new Date().toISOString(),
  event_id: eventIdOf(i),
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

/** The JSON body of one collect request: `batch` events from number `from`, every tenth a page view. */
function body(from) {
  const events = [];
  for (let i = from; i < from + batch; i++)
    events.push(purchaseOf(i, i % 10 === 9 ? 'page_view' : 'purchase'));
  return JSON.stringify(events);
}

/** Samples the server's resident memory every 100 ms; `peak()` stops and gives the highest. */
export function rssSampler(pid) {
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, procStats(pid).rss);
  }, 100);
  return {
    peak: () => {
      clearInterval(sampler);
      return peakRss;
    },
  };
}

/**
 * Posts `count` events numbered from `first` to the server's /collect/web in batches on
 * `connections` connections, then polls until every one has its final record (the sink has the
 * 90% that are purchases and nothing is pending).
 */
async function post(server, sink, pool, first, count) {
  const received = sink.received();
  const expected = count - count / 10;
  let next = first;
  const end = first + count;
  const postOne = async () => {
    while (next < end) {
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
  await Promise.all(Array.from({ length: connections }, postOne));
  const collected = performance.now();
  for (;;) {
    if (sink.received() - received >= expected && (await server.backlog()) === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { collected };
}

/** The pool a round posts on (keep-alive connections to the server). */
export async function openPool(server) {
  const { Pool } = await import('undici');
  return new Pool(server.url, { connections, keepAliveTimeout: 60_000 });
}

/** The warm-up (BENCH_WARMUP events, after the measured ones' numbers), delivered before `load`. */
export async function warmUp(server, sink, pool) {
  if (warmup > 0) await post(server, sink, pool, total, warmup);
}

/**
 * Posts the `total` measured events, then waits until every one has its final record. Gives the
 * seconds until the last collect was answered and until the end, and how many the sink should
 * have received in the round (the warm-up's included).
 */
export async function load(server, sink, started, pool) {
  const { collected } = await post(server, sink, pool, 0, total);
  const seconds = (performance.now() - started) / 1000;
  const expected = posted - posted / 10;
  return { collectSeconds: (collected - started) / 1000, seconds, expected };
}

// --- the summary ------------------------------------------------------------------------------------

/** The candidates to run: `all`, less those BENCH_KINDS leaves out. */
export const kindsFromEnv = (all) =>
  all.filter((k) => !process.env.BENCH_KINDS || process.env.BENCH_KINDS.split(',').includes(k));

export const median = (list, key) => {
  const v = list.map((x) => x[key]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
export const round2 = (x) => Math.round(x * 100) / 100;
