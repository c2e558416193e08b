// What one poll of the console's overview costs the server: the API requests loadOverview()
// makes (packages/console/app/src/pages/overview.tsx), sent together as the page sends them, POLLS
// times back to back against `openpipes serve --demo` on a temporary SQLite file with PIPES pipes
// (the demo's and PIPES - 1 more to the same destination) and EVENTS events delivered through each.
// Measured: the serve process's CPU per poll (its CPU over the burst, minus its idle rate, taken
// over 5 s just before with no requests) and the poll's wall time; and the same for
// `GET /api/last-errors` alone. Env: BENCH_OVERVIEW_PIPES (20), _EVENTS (500), _POLLS (300). With the overview's interval (read from its source), the share of
// one core an open overview keeps busy. Needs a build (the CLI, the console's app).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAverage, purchase, report, serveDemo, tempDir } from './lib.mjs';
import { cpuTicks, root } from './pipeline-kit.mjs';

const bench = 'overview-poll';
const pipeCount = Number(process.env.BENCH_OVERVIEW_PIPES ?? 20);
const events = Number(process.env.BENCH_OVERVIEW_EVENTS ?? 500);
const polls = Number(process.env.BENCH_OVERVIEW_POLLS ?? 300);
const overview = readFileSync(join(root, 'packages/console/app/src/pages/overview.tsx'), 'utf8');
const intervalMatch = /useLoad\(loadOverview, 'overview', ([\d_]+)\)/.exec(overview);
if (!intervalMatch) throw new Error('no overview poll interval in overview.tsx: update this bench');
const intervalMs = Number(intervalMatch[1].replaceAll('_', ''));

// loadOverview()'s requests, in its order; checked against its source so a change shows here.
const overviewPaths = [
  '/api/pipes?limit=1000',
  '/api/sources?limit=1000',
  '/api/event-destinations?limit=1000',
  '/api/backlog',
  '/api/delivery-counts?bucket=minute',
  '/api/delivery-counts?bucket=hour',
  '/api/last-errors',
];
const loader = overview.slice(overview.indexOf('async function loadOverview'));
const called = [...loader.slice(0, loader.indexOf(']);')).matchAll(/'(api\/[^']+)'/g)].map((m) => `/${m[1]}`);
const bare = overviewPaths.map((path) => path.split('?')[0]);
if (called.join() !== bare.join()) {
  throw new Error(`loadOverview() calls ${called.join(', ')}, this bench ${bare.join(', ')}: update it`);
}

const db = join(tempDir('openpipes-overview-poll-'), 'demo.db');
const server = await serveDemo(db);
const token = readFileSync(`${db}.admin-token`, 'utf8').trim();
const call = async (path, init = {}) => {
  const response = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
  if (!response.ok)
    throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
};
const post = (path, body) => call(path, { method: 'POST', body: JSON.stringify(body) });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const [demo] = (await call('/api/pipes')).data;
  for (let i = 1; i < pipeCount; i++) {
    const pipe = await post('/api/pipes', {
      name: `purchase-to-meta-${i}`,
      source_id: demo.source_id,
      destination_id: demo.destination_id,
      transform: demo.transform,
    });
    await call(`/api/pipes/${pipe.id}/toggle`, { method: 'PUT' });
  }
  for (let i = 0; i < events; i += 100) {
    const batch = Array.from({ length: Math.min(100, events - i) }, (_, j) => purchase(i + j));
    const response = await fetch(`${server.url}/collect/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    if (response.status !== 202)
      throw new Error(`collect answered ${response.status}: ${await response.text()}`);
  }
  // Wait until every delivery is final (the backlog is empty), so the workers are idle.
  for (let waited = 0; ; waited += 250) {
    const backlog = await call('/api/backlog');
    if (backlog.data.every((row) => row.count === 0)) break;
    if (waited > 300_000) throw new Error(`still a backlog after 5 min: ${JSON.stringify(backlog.data)}`);
    await sleep(250);
  }

  /** POLLS rounds of `paths` sent together; the server's CPU per round (ms, idle rate subtracted). */
  async function burst(metric, paths) {
    for (let i = 0; i < 20; i++) await Promise.all(paths.map((path) => call(path)));
    const idleStart = cpuTicks(server.pid);
    const idleFrom = performance.now();
    await sleep(5000);
    const idlePerMs = ((cpuTicks(server.pid) - idleStart) * 10) / (performance.now() - idleFrom);
    const before = cpuTicks(server.pid);
    const from = performance.now();
    const walls = [];
    for (let i = 0; i < polls; i++) {
      const start = performance.now();
      await Promise.all(paths.map((path) => call(path)));
      walls.push(performance.now() - start);
    }
    const elapsed = performance.now() - from;
    const cpuMs = (cpuTicks(server.pid) - before) * 10 - idlePerMs * elapsed;
    const perPoll = Math.round((cpuMs / polls) * 100) / 100;
    walls.sort((a, b) => a - b);
    report(bench, metric, perPoll, 'ms', {
      polls,
      requests_per_poll: paths.length,
      wall_ms_median: Math.round(walls[Math.floor(polls / 2)] * 10) / 10,
      wall_ms_p90: Math.round(walls[Math.floor(polls * 0.9)] * 10) / 10,
      idle_server_cpu_ms_per_s: Math.round(idlePerMs * 1000 * 10) / 10,
      poll_interval_ms: intervalMs,
      core_share_at_interval: Math.round((perPoll / intervalMs) * 10000) / 10000,
      pipes: pipeCount,
      deliveries: pipeCount * events,
      ...loadAverage(),
    });
  }
  await burst('overview_poll_server_cpu_ms', overviewPaths);
  await burst('last_errors_server_cpu_ms', ['/api/last-errors']);
} finally {
  await server.stop();
}
