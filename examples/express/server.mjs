// @ts-check
// Runs the Express example. `node server.mjs` serves on PORT (default 3000); `--smoke` serves on a
// free loopback port, checks the mounted routes and the shop's own, and exits (CI runs this).
// Settings from the environment: OPENPIPES_API_KEY (the shop's admin key), OPENPIPES_SECRET_KEY,
// OPENPIPES_EGRESS_ALLOW (private hosts send() may reach, comma-separated), and OPENPIPES_SEED=false
// to start without the web source and purchase event type (to set them up in the console instead).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hardenServer } from '@openpipes/http/node';
import { createApp } from './app.mjs';

const smoke = process.argv.includes('--smoke');
const dir = smoke ? mkdtempSync(join(tmpdir(), 'openpipes-express-')) : '.';
const apiKey = process.env.OPENPIPES_API_KEY ?? 'example-admin-key-change-me';
const { app, pipes } = await createApp({
  filename: join(dir, 'shop-openpipes.db'),
  secretKey: process.env.OPENPIPES_SECRET_KEY ?? 'example-secret-key-change-me-0123',
  apiKey,
  egressAllow: (process.env.OPENPIPES_EGRESS_ALLOW ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean),
  seed: process.env.OPENPIPES_SEED !== 'false',
});
// Timeouts and connection caps (docs/security.md): a client that holds connections open without
// sending cannot starve the shop or OpenPipes. Hardened before listen() so its checks run every second.
const server = hardenServer(createServer(app));
server.listen(smoke ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const address = server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

if (!smoke) {
  console.log(
    `Shop on ${base}; OpenPipes under ${base}/openpipes (collect: POST ${base}/openpipes/collect/web)`,
  );
  console.log(`The console: ${base}/openpipes/console/ (sign in with OPENPIPES_API_KEY)`);
} else {
  try {
    const json = { 'content-type': 'application/json' };
    // A browser beacon through the mounted collect endpoint...
    const collected = await fetch(`${base}/openpipes/collect/web`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        event_type: 'purchase',
        event_time: Date.now(),
        event_payload: { order_id: 'web_1' },
      }),
    });
    if (collected.status !== 202) throw new Error(`collect answered ${collected.status}`);
    // ...the shop's own route sending server-side...
    const checkout = await fetch(`${base}/checkout`, {
      method: 'POST',
      headers: json,
      body: '{"order_id":"ord_1","total":42}',
    });
    if (!(/** @type {{ tracked: boolean }} */ (await checkout.json()).tracked))
      throw new Error('checkout did not track the purchase');
    // ...the admin API with the shop's key, and the shop's routes untouched.
    const sources = await fetch(`${base}/openpipes/api/sources`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const page = /** @type {{ data: Array<{ slug: string }> }} */ (await sources.json());
    if (page.data[0]?.slug !== 'web') throw new Error('admin API did not list the source');
    if ((await fetch(`${base}/health`)).status !== 200) throw new Error('the host route is gone');
    const consolePage = await fetch(`${base}/openpipes/console/`);
    if (consolePage.status !== 200) throw new Error(`the console answered ${consolePage.status}`);
    console.log('express example: collect 202, checkout tracked, admin API, console and host routes answer');
  } finally {
    server.closeAllConnections();
    server.close();
    await pipes.stop({ graceMs: 1000 });
    await pipes.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
