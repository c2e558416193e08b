// Shared helpers for the benchmarks: JSON-line output, temp dirs, a loopback sink, test events,
// the operator flow set up on an engine, collect servers in child processes, and `openpipes serve
// --demo` for the console benches.

import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { metaExampleSend, metaExampleTransform } from '@openpipes/core/testing';

/** A delivered outcome for `completeDeliveries`, as the store tests make it. */
export { deliveredOutcome } from '@openpipes/core/testing';

/** Prints one JSON line: {"bench": ..., "metric": ..., "value": ..., "unit": ..., ...extra}. */
export function report(bench, metric, value, unit, extra = {}) {
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit, ...extra }));
}

/** A temporary directory removed on exit. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A loopback HTTP sink that answers like Meta (`events_received`) at once, or with `status()` when
 * given. Counts events received.
 */
export async function startSink(status = () => 200) {
  let events = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const code = status();
      if (code === 200) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        events += body.data?.length ?? 0;
      }
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(
        code === 200 ? '{"events_received":1,"fbtrace_id":"bench"}' : '{"error":{"message":"down","code":2}}',
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received: () => events,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** A purchase as a website sends it (~216 bytes of payload). */
export function purchase(i) {
  return {
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_id: `ord_${i}`,
    event_payload: {
      order_id: `ord_${i}`,
      revenue: 129.9,
      currency: 'EUR',
      hashed_email: 'a3f1c2'.padEnd(64, '0'),
      hashed_phone: 'b7e9d4'.padEnd(64, '1'),
      fbp: 'fb.1.1714816462.1234567890',
      fbc: 'fb.1.1714816462.IwAR0abc',
      ip: '203.0.113.7',
      ua: 'Mozilla/5.0 (X11; Linux x86_64)',
    },
  };
}

/**
 * The example flow on an engine: a `web` source, a purchase event type, the Meta secrets, the
 * Meta example `send()` aimed at `sinkUrl` (batches of 500), and the Meta example transform on an
 * enabled pipe. The destination is left disabled unless `enable` is set (the PostgreSQL bench turns
 * it on once its dispatchers run).
 */
export async function setupMetaExample(pipes, sinkUrl, { enable = true } = {}) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object', required: ['order_id'] } });
  const token = await pipes.secrets.create({
    key: 'META_ACCESS_TOKEN',
    value: 'EAAB-bench-token-0123456789',
  });
  const pixel = await pipes.secrets.create({ key: 'META_PIXEL_ID', value: '123456789012' });
  const destination = await pipes.destinations.create({
    name: 'meta-capi-prod',
    send: metaExampleSend(sinkUrl),
    max_batch_size: 500,
    concurrency: 2,
  });
  await pipes.destinations.bindSecrets(destination.id, [token.id, pixel.id]);
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: destination.id,
    transform: metaExampleTransform,
  });
  await pipes.pipes.enable(pipe.id);
  if (enable) await pipes.destinations.enable(destination.id);
  return { source, destination, pipe };
}

// --- collect servers in child processes --------------------------------------------------------------

const root = join(fileURLToPath(import.meta.url), '..', '..');

/** The engine's built packages (core, store-sqlite, http and its node adapter) from `checkout`. */
export async function engineModules(checkout = root) {
  const from = (path) => import(pathToFileURL(join(checkout, 'packages', path)).href);
  return {
    ...(await from('core/dist/index.js')),
    ...(await from('store-sqlite/dist/index.js')),
    ...(await from('http/dist/index.js')),
    ...(await from('http/dist/node.js')),
  };
}

/** An ingest-only engine (no dispatcher) on the SQLite file `filename`, with `options` on top. */
export async function ingestPipes(filename, options = {}, modules = undefined) {
  const { createPipes, silentLogger, sqliteStore } = modules ?? (await engineModules());
  return createPipes({
    store: sqliteStore({ filename }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    roles: ['ingest'],
    logger: silentLogger,
    sandbox: { workers: 1 },
    ...options,
  });
}

/**
 * A `web` source, a purchase type requiring an order id, an amount named `amount` and a currency,
 * and an enabled pipe to a destination whose send() reports every event delivered.
 */
export async function setupDeliveredFlow(pipes, amount) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({
    name: 'purchase',
    schema: {
      type: 'object',
      required: ['order_id', amount, 'currency'],
      properties: {
        order_id: { type: 'string', minLength: 1 },
        [amount]: { type: 'number', minimum: 0 },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
      },
    },
  });
  const destination = await pipes.destinations.create({
    name: 'meta-capi-prod',
    send: 'async function send({ events }) { return { outcome: "delivered" }; }',
  });
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: destination.id,
  });
  await pipes.pipes.enable(pipe.id);
  return { source, destination, pipe };
}

/**
 * In the child: listens on loopback, tells the parent its port (with `extra`), answers `cpu` with
 * the CPU time this process used (all threads, so the cost per event compares even when other work
 * steals wall-clock time) and on `stop` closes the server, then `close()`, then exits.
 */
export function serveInChild(server, close, extra = {}) {
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, ...extra }));
  process.on('message', async (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (message !== 'stop') return;
    server.closeAllConnections();
    server.close();
    await close();
    process.exit(0);
  });
}

/** In the parent: `script` forked with `args`, once it listens (`label` names it in errors). */
export async function startChildServer(script, args, label) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
  });
  return {
    first,
    url: `http://127.0.0.1:${first.port}`,
    cpuMicros: () => askChild(child, 'cpu', (m) => (m.cpu ? m.cpu.user + m.cpu.system : undefined)),
    stop: () => stopChild(child),
  };
}

/** Sends `message` to a forked child; its first answer for which `pick` is defined, picked. */
export function askChild(child, message, pick) {
  return new Promise((resolve) => {
    const on = (m) => {
      const value = pick(m);
      if (value === undefined) return;
      child.off('message', on);
      resolve(value);
    };
    child.on('message', on);
    child.send(message);
  });
}

/** Asks a forked child to `stop`; settles when it has exited. */
export function stopChild(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.send('stop');
  });
}

/**
 * Posts to `server` on `connections` keep-alive connections for `warmupMs`, then again for
 * `measureMs`, measured: `request()` gives each request's path, headers, body, the status expected
 * (`label` names it in errors) and how many events it carries. Gives events and requests per second,
 * the server's CPU microseconds per event and the latency median and 99th percentile (ms).
 */
export async function measureLoad(server, { connections, warmupMs, measureMs, request }) {
  const { Pool } = await import('undici');
  const pool = new Pool(server.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const run = async (ms) => {
    const until = Date.now() + ms;
    let events = 0;
    let requests = 0;
    const latencies = [];
    const worker = async () => {
      while (Date.now() < until) {
        const { path, headers, body, expected, label, size } = request();
        const started = performance.now();
        const res = await pool.request({ path, method: 'POST', headers, body });
        const text = await res.body.text();
        if (res.statusCode !== expected)
          throw new Error(`${label} answered ${res.statusCode}: ${text.slice(0, 300)}`);
        latencies.push(performance.now() - started);
        events += size;
        requests++;
      }
    };
    const cpuBefore = await server.cpuMicros();
    const started = performance.now();
    await Promise.all(Array.from({ length: connections }, worker));
    const seconds = (performance.now() - started) / 1000;
    const cpu = (await server.cpuMicros()) - cpuBefore;
    latencies.sort((a, b) => a - b);
    return {
      eventsPerSecond: events / seconds,
      cpuMicrosPerEvent: cpu / events,
      requestsPerSecond: requests / seconds,
      p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    };
  };
  await run(warmupMs);
  const result = await run(measureMs);
  await pool.close();
  return result;
}

// --- `openpipes serve --demo` (the console benches) -----------------------------------------------

/**
 * Starts `openpipes serve --demo` on the SQLite file `db` (the Meta example pipe, its stand-in for
 * Meta answering on the same server); resolves once it listens with its URL, pid, admin token,
 * `api(path)` and `stop()`.
 */
export async function serveDemo(db) {
  const bin = join(root, 'packages', 'cli', 'bin', 'openpipes.js');
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--demo', '--port', '0', '--db', db, '--workers', '1', '--log-level', 'error'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /OpenPipes is listening on (http:\/\/\S+)/.exec(out);
      if (match && out.includes('Stop with Ctrl-C')) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`openpipes serve exited with ${code}:\n${out}`)));
  });
  const token = readFileSync(`${db}.admin-token`, 'utf8').trim();
  return {
    url,
    pid: child.pid,
    /** The demo's admin token (written next to `db`). */
    token,
    /** GET `path` of the admin API with the admin token; the JSON answer. */
    async api(path) {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
      return response.json();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Debian's Chromium (or OPENPIPES_CHROMIUM); without it, prints that `bench` is skipped and exits. */
export function chromiumOrSkip(bench) {
  const path = process.env.OPENPIPES_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return path;
  console.log(JSON.stringify({ bench, skipped: `no Chromium at ${path} (apt-get install -y chromium)` }));
  process.exit(0);
}

/**
 * Headless Chromium at `chromiumPath` (playwright-core) with one page signed in to the console of
 * `server` (a `serveDemo`) with its admin token, on the overview; close `browser` when done.
 */
export async function signedInConsole(server, chromiumPath) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/console/`);
    await page.getByLabel('API key or admin token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    return { browser, page };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** The load average now: {loadavg_1m, loadavg_5m}. */
export function loadAverage() {
  const [one, five] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return { loadavg_1m: one, loadavg_5m: five };
}

/**
 * A schema of its own on the test PostgreSQL (OPENPIPES_TEST_POSTGRES_URL) for bench `bench`:
 * `{ url, schema, admin, close }` (`admin` a one-connection pool; `close()` drops the schema and
 * ends it; an interrupt drops it too), or null after a "skipped" line when PostgreSQL is not there.
 */
export async function benchSchema(bench, tag) {
  const { default: pg } = await import('pg');
  const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  admin.on('error', () => {});
  try {
    await admin.query('SELECT 1');
  } catch (err) {
    console.log(
      JSON.stringify({ bench, store: 'postgres', skipped: `no PostgreSQL at ${url}: ${err.message}` }),
    );
    await admin.end().catch(() => {});
    return null;
  }
  const schema = `bench_${tag}_${process.pid}`;
  const drop = () => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  process.on('SIGINT', () => drop().then(() => process.exit(130)));
  return {
    url,
    schema,
    admin,
    close: async () => {
      await drop();
      await admin.end();
    },
  };
}
