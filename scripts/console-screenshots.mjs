// `npm run screenshots`: the README's pictures of the console. Starts `openpipes serve --demo` on a
// temporary SQLite file (the same harness as the browser tests: the real server, Debian's Chromium
// through playwright-core), fills it with sample data (purchases delivered to the demo's stand-in
// for Meta, a second pipe whose send() fails, two refused events), and writes
// docs/screenshots/overview.png and docs/screenshots/record.png. Only this script writes them: the
// test run leaves a clean clone clean. Everything stays on 127.0.0.1.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'docs', 'screenshots');
const chromiumPath = process.env.OPENPIPES_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set OPENPIPES_CHROMIUM)`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'openpipes-screenshots-'));
const db = join(dir, 'demo.db');
const serve = spawn(
  process.execPath,
  [
    join(root, 'packages/cli/bin/openpipes.js'),
    'serve',
    '--demo',
    '--port',
    '0',
    '--db',
    db,
    '--workers',
    '1',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OPENPIPES_LOG_LEVEL: 'error' } },
);
let browser;
try {
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    serve.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /OpenPipes is listening on (http:\/\/\S+)/.exec(stdout);
      if (match && stdout.includes('Stop with Ctrl-C')) resolve(match[1]);
    });
    serve.once('exit', (code) => reject(new Error(`openpipes serve exited with ${code}:\n${stdout}`)));
  });
  const token = readFileSync(`${db}.admin-token`, 'utf8').trim();
  const call = async (method, path, body) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  // A second platform whose token expired: its pipe needs attention, so it heads the overview.
  const sources = await call('GET', '/api/sources');
  const failing = await call('POST', '/api/event-destinations', {
    name: 'tiktok-events-api',
    // One event a request; every third order fails, as an expired token would for part of the traffic.
    max_batch_size: 1,
    send: `async function send({ events }) {
  if (Number(events[0].event_payload.order_id.slice(-1)) % 3 === 0) {
    throw new Error('TikTok answered 401: access token expired');
  }
  return { code: 0, message: 'OK' };
}`,
  });
  const tiktok = await call('POST', '/api/pipes', {
    name: 'purchase-to-tiktok',
    source_id: sources.data[0].id,
    destination_id: failing.id,
  });
  await call('PUT', `/api/event-destinations/${failing.id}/toggle`, { enabled: true });
  await call('PUT', `/api/pipes/${tiktok.id}/toggle`, { enabled: true });

  const collect = (event) =>
    fetch(`${url}/collect/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
  for (let i = 1; i <= 24; i++) {
    const orderId = `ord_${10400 + i}`;
    await collect({
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_id: orderId,
      event_payload: {
        order_id: orderId,
        revenue: Math.round((20 + ((i * 37) % 180)) * 100) / 100,
        currency: 'EUR',
        hashed_email: (i.toString(16) + 'a'.repeat(64)).slice(0, 64),
        ip: `203.0.113.${i}`,
        ua: 'Mozilla/5.0 (X11; Linux x86_64)',
      },
    });
  }
  await collect({ event_type: 'purchase', event_time: new Date().toISOString(), event_payload: {} });

  // Wait until every purchase reached the stand-in for Meta.
  const pipes = await call('GET', '/api/pipes');
  const meta = pipes.data.find((p) => p.name === 'purchase-to-meta');
  let latest;
  for (let tries = 0; ; tries++) {
    const page = await call('GET', `/api/pipes/${meta.id}/deliveries?status=delivered&limit=50`);
    if (page.data.length >= 24) {
      latest = page.data[0];
      break;
    }
    if (tries > 600) throw new Error('the sample purchases were not delivered within a minute');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await page.goto(`${url}/console/`);
  await page.getByLabel('API key or admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('row').filter({ hasText: 'purchase-to-meta' }).getByText('24 / 24').waitFor();
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, 'overview.png') });
  await page.goto(`${url}/console/deliveries/${latest.id}`);
  await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
  await page.screenshot({ path: join(out, 'record.png'), fullPage: true });
  console.log(
    `wrote ${join('docs', 'screenshots', 'overview.png')} and ${join('docs', 'screenshots', 'record.png')}`,
  );
} finally {
  await browser?.close();
  serve.kill('SIGTERM');
  await new Promise((resolve) => (serve.exitCode === null ? serve.once('exit', resolve) : resolve()));
  rmSync(dir, { recursive: true, force: true });
}
