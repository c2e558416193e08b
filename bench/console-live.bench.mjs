// The console live: the wall time from POSTing one event to /collect until its delivery shows as
// delivered in a console page that is already open, without a reload (issue 15: "within 3 s").
// `openpipes serve --demo` on a temporary SQLite file (the Meta example pipe, its send() aimed at
// the stand-in for Meta the same server answers on loopback); Debian's Chromium through
// playwright-core, signed in, on the pipe's page, then on the overview. ROUNDS times on each: one
// purchase POSTed, and the time until the page's DOM shows it (the pipe page: the row with its event
// id, its status badge "delivered"; the overview: the pipe's delivered-in-24-h count one higher),
// observed in the page by a MutationObserver and taken from the same wall clock as the POST.
//
// The pages poll (pipe page and overview intervals read from packages/console/app/src), so the time
// depends on where in the poll cycle the event lands: round i waits i/ROUNDS of the interval after
// the previous round's render, so the rounds cover the cycle evenly. Also printed: the engine's own
// part (the record's delivered_at minus the POST), and the server's CPU per poll of an open idle
// page (the serve process's CPU over WINDOW seconds with the page open, minus with about:blank,
// divided by the page's API requests). Needs a build and /usr/bin/chromium.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromiumOrSkip, loadAverage, report, serveDemo, signedInConsole, tempDir } from './lib.mjs';
import { cpuTicks, root } from './pipeline-kit.mjs';

const bench = 'console-live';
const rounds = Number(process.env.BENCH_CONSOLE_LIVE_ROUNDS ?? 20);
const windowSeconds = Number(process.env.BENCH_CONSOLE_LIVE_WINDOW ?? 30);
const chromiumPath = chromiumOrSkip(bench);

/** A poll interval as the console's source sets it (so this bench follows a change). */
function pollMs(file, pattern) {
  const source = readFileSync(join(root, 'packages/console/app/src/pages', file), 'utf8');
  const match = pattern.exec(source);
  if (!match) throw new Error(`no poll interval matching ${pattern} in ${file}: update this bench`);
  return Number(match[1]);
}
const pipePollMs = pollMs('pipe.tsx', /cursor \? undefined : ([\d_]+)/);
const overviewPollMs = pollMs('overview.tsx', /useLoad\(loadOverview, 'overview', ([\d_]+)\)/);

const db = join(tempDir('openpipes-console-live-'), 'demo.db');
const server = await serveDemo(db);
const { api } = server;
const pipe = (await api('/api/pipes')).data.find((p) => p.name === 'purchase-to-meta');

/** POSTs one purchase with `eventId` to the demo's collect endpoint. */
async function collect(eventId) {
  const answer = await fetch(`${server.url}/collect/web`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_id: eventId,
      event_payload: { order_id: eventId, revenue: 42.5, currency: 'EUR', hashed_email: 'a'.repeat(64) },
    }),
  });
  if (answer.status !== 202) throw new Error(`collect answered ${answer.status}: ${await answer.text()}`);
}

// The overview: the pipe's "Delivered 1 h / 24 h" cell's 24-hour count, or -1 before it renders.
const deliveredDay = (pipeId) => {
  const link = document.querySelector(`main table a[href$="/pipes/${pipeId}"]`);
  const cell = link?.closest('tr')?.children[3]?.textContent;
  return cell ? Number(cell.split('/')[1]) : -1;
};

/**
 * In the page: `window.benchSeen` resolves with Date.now() once the event shows (checked now and on
 * every DOM change; rejects after 60 s). `on.eventId`: the pipe page's row with this event id has
 * the "delivered" badge; `on.pipeId`: the overview's 24-hour delivered count of the pipe is above
 * `on.before` (the page's CSP allows no eval, so both checks are written here).
 */
const watch = (page, on) =>
  page.evaluate((on) => {
    const holds = () => {
      if (on.eventId) {
        return [...document.querySelectorAll('tr[data-delivery]')].some(
          (row) =>
            row.children[1]?.textContent === on.eventId &&
            row.querySelector('.badge.status-delivered') !== null,
        );
      }
      const link = document.querySelector(`main table a[href$="/pipes/${on.pipeId}"]`);
      const cell = link?.closest('tr')?.children[3]?.textContent;
      return cell !== undefined && Number(cell.split('/')[1]) > on.before;
    };
    window.benchSeen = new Promise((resolve, reject) => {
      if (holds()) return resolve(Date.now());
      const timer = setTimeout(() => reject(new Error(`not shown in 60 s: ${JSON.stringify(on)}`)), 60_000);
      const observer = new MutationObserver(() => {
        if (!holds()) return;
        resolve(Date.now());
        clearTimeout(timer);
        observer.disconnect();
      });
      observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    });
  }, on);

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]);
  return { median: at(0.5), p90: at(0.9), min: at(0), max: at(1) };
};

/**
 * ROUNDS events (after one unmeasured round that aligns the phase), each waited for on the open
 * page with `expect(eventId)` (installs the watch); gives the times (ms) and the engine's part.
 */
async function measure(page, name, interval, expect) {
  const seen = [];
  const engine = [];
  // Without a reload: no navigation of the page while measuring.
  const navigations = [];
  const navigated = (frame) => frame === page.mainFrame() && navigations.push(frame.url());
  page.on('framenavigated', navigated);
  for (let round = 0; round <= rounds; round++) {
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, ((round - 1) / rounds) * interval));
    const eventId = `ord_live_${name}_${round}`;
    await expect(eventId);
    const sent = Date.now();
    await collect(eventId);
    const shown = await page.evaluate(() => window.benchSeen);
    const record = (await api(`/api/pipes/${pipe.id}/deliveries?event_id=${eventId}&limit=1`)).data[0];
    if (round === 0) continue;
    seen.push(shown - sent);
    engine.push(Date.parse(record.delivered_at) - sent);
  }
  page.off('framenavigated', navigated);
  if (navigations.length > 0) throw new Error(`the page navigated while measuring: ${navigations}`);
  return { seen: stats(seen), engine: stats(engine) };
}

/** The serve process's CPU (ms) over the window and the API requests the page made meanwhile. */
async function idleCost(page) {
  let requests = 0;
  const count = (request) => request.url().includes('/api/') && requests++;
  page.on('request', count);
  const before = cpuTicks(server.pid);
  await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
  const cpuMs = ((cpuTicks(server.pid) ?? 0) - (before ?? 0)) * 10;
  page.off('request', count);
  return { cpuMs, requests };
}

let browser;
try {
  const signedIn = await signedInConsole(server, chromiumPath);
  browser = signedIn.browser;
  const { page } = signedIn;
  await page.goto(`${server.url}/console/pipes/${pipe.id}`);
  await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
  const loadBefore = loadAverage();
  const pipePage = await measure(page, 'pipe', pipePollMs, (eventId) => watch(page, { eventId }));
  report(bench, 'pipe_page_delivered_ms', pipePage.seen.median, 'ms', {
    ...pipePage.seen,
    engine_delivered_ms: pipePage.engine,
    poll_interval_ms: pipePollMs,
    rounds,
    target_ms: 3000,
    loadavg_before: loadBefore,
    ...loadAverage(),
  });
  const pipeIdle = await idleCost(page);

  await page.goto(`${server.url}/console/`);
  await page.waitForSelector(`main table a[href$="/pipes/${pipe.id}"]`);
  const overviewBefore = loadAverage();
  const overview = await measure(page, 'overview', overviewPollMs, async (eventId) => {
    const before = await page.evaluate(deliveredDay, pipe.id);
    if (before < 0) throw new Error(`the overview shows no delivered count before ${eventId}`);
    await watch(page, { pipeId: pipe.id, before });
  });
  report(bench, 'overview_delivered_ms', overview.seen.median, 'ms', {
    ...overview.seen,
    engine_delivered_ms: overview.engine,
    poll_interval_ms: overviewPollMs,
    rounds,
    target_ms: 3000,
    loadavg_before: overviewBefore,
    ...loadAverage(),
  });
  const overviewIdle = await idleCost(page);

  await page.goto('about:blank');
  const blank = await idleCost(page);
  for (const [metric, open, interval] of [
    ['pipe_page_poll_server_cpu_ms', pipeIdle, pipePollMs],
    ['overview_poll_server_cpu_ms', overviewIdle, overviewPollMs],
  ]) {
    const polls = Math.max(1, Math.round((windowSeconds * 1000) / interval));
    report(bench, metric, (open.cpuMs - blank.cpuMs) / polls, 'ms', {
      window_s: windowSeconds,
      server_cpu_ms_page_open: open.cpuMs,
      server_cpu_ms_no_page: blank.cpuMs,
      api_requests: open.requests,
      polls,
      poll_interval_ms: interval,
      deliveries_in_store: rounds * 2 + 2,
      ...loadAverage(),
    });
  }
} finally {
  await browser?.close();
  await server.stop();
}
