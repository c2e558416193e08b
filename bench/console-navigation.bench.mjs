// The console in the browser with 1,000,000 delivery records in the store: the time from
// navigation to a pipe's first page of deliveries rendered, and to the overview rendered (target:
// under 300 ms each). `openpipes serve --demo` on a temporary SQLite file (its stand-in for Meta
// answers on the same server) delivers one real purchase; the server is stopped, that record is
// copied 999,999 times in one SQL statement (older ids and times spread over the 12 days before,
// every 50th failed; the store's triggers keep the per-minute rollup), and the server restarted.
// Debian's Chromium through playwright-core loads each page RUNS times (full navigations, a warm
// HTTP cache as an operator's browser has); the time is the page's own clock (performance.now(),
// from navigation start) when the first row is on screen. Needs a build and /usr/bin/chromium.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromiumOrSkip, loadAverage, report, serveDemo, signedInConsole, tempDir } from './lib.mjs';

const bench = 'console-navigation';
const records = Number(process.env.BENCH_CONSOLE_RECORDS ?? 1_000_000);
const runs = Number(process.env.BENCH_CONSOLE_RUNS ?? 15);
const chromiumPath = chromiumOrSkip(bench);
const db = join(tempDir('openpipes-console-bench-'), 'demo.db');

let server = await serveDemo(db);
const api = (path) => server.api(path);
const pipe = (await api('/api/pipes')).data.find((p) => p.name === 'purchase-to-meta');
const collected = await fetch(`${server.url}/collect/web`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_id: 'ord_bench_template',
    event_payload: {
      order_id: 'ord_bench_template',
      revenue: 42.5,
      currency: 'EUR',
      hashed_email: 'a'.repeat(64),
    },
  }),
});
if (collected.status !== 202) throw new Error(`collect answered ${collected.status}`);
for (let tries = 0; ; tries++) {
  const page = await api(`/api/pipes/${pipe.id}/deliveries?limit=1`);
  if (page.data[0]?.status === 'delivered') break;
  if (tries > 300) throw new Error('the template purchase was not delivered');
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await server.stop();

// The copies: ids that sort before the real one (ULID characters, an older time prefix), one
// event id each, created one per second before now.
const started = performance.now();
const sqlite = new Database(db);
sqlite.pragma('journal_mode = WAL');
const template = sqlite.prepare('SELECT * FROM deliveries WHERE pipe_id = ?').get(pipe.id);
const ago = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ((@records - i) + 1) || ' seconds')";
// Every column copied from the real record but these (the schema's other columns as they are).
const changed = {
  id: "'evd_01M0' || printf('%022d', i)",
  event_id: "'ord_bench_' || i",
  status: "CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'delivered' END",
  created_at: ago,
  updated_at: ago,
  delivered_at: `CASE WHEN i % 50 = 0 THEN NULL ELSE ${ago} END`,
};
const columns = Object.keys(template);
sqlite
  .prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @records - 1)
     INSERT INTO deliveries (${columns.join(', ')})
     SELECT ${columns.map((c) => changed[c] ?? `t.${c}`).join(', ')}
     FROM n, (SELECT * FROM deliveries WHERE id = @id) AS t`,
  )
  .run({ records, id: template.id });
const count = sqlite.prepare('SELECT COUNT(*) AS n FROM deliveries').get().n;
sqlite.close();
report(bench, 'fill_seconds', (performance.now() - started) / 1000, 's', {
  records: count,
  detail_bytes: Buffer.byteLength(template.detail),
  database_bytes: statSync(db).size,
});

server = await serveDemo(db);
let browser;
try {
  const signedIn = await signedInConsole(server, chromiumPath);
  browser = signedIn.browser;
  const { page } = signedIn;
  const measure = async (path, rendered) => {
    const times = [];
    // One navigation first to fill the HTTP cache; then RUNS measured ones.
    for (let run = 0; run <= runs; run++) {
      await page.goto(`${server.url}/console/${path}`);
      await page.waitForSelector(rendered, { timeout: 60_000 });
      const ms = await page.evaluate(() => performance.now());
      if (run > 0) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const at = (q) => Math.round(times[Math.min(times.length - 1, Math.floor(times.length * q))] * 10) / 10;
    return { median: at(0.5), min: at(0), p90: at(0.9), max: at(1) };
  };
  const pipePage = await measure(`pipes/${pipe.id}`, 'tr[data-delivery]');
  report(bench, 'pipe_first_page_ms', pipePage.median, 'ms', {
    ...pipePage,
    runs,
    records,
    target_ms: 300,
    ...loadAverage(),
  });
  const overview = await measure('', 'main table tbody tr');
  report(bench, 'overview_ms', overview.median, 'ms', {
    ...overview,
    runs,
    records,
    target_ms: 300,
    ...loadAverage(),
  });
} finally {
  await browser?.close();
  await server.stop();
}
