// @ts-check
// An existing Express app (a shop) that mounts OpenPipes under /openpipes: browsers post to
// /openpipes/collect/web, operators use /openpipes/api, and the shop's own checkout route sends its
// purchase server-side with pipes.ingest(), and operators open the web console at /openpipes/console/.
// Everything else stays the shop's.

import { createPipes } from '@openpipes/core';
import { createHandler } from '@openpipes/http';
import { createExpressMiddleware } from '@openpipes/http/express';
import { sqliteStore } from '@openpipes/store-sqlite';
import express from 'express';

/**
 * @param {{ filename: string, secretKey: string, apiKey: string, egressAllow?: string[], seed?: boolean }} options
 *   `egressAllow`: private hosts a destination's send() may reach (e.g. an internal proxy); public
 *   hosts need no entry. `seed: false` skips creating the web source and the purchase event type.
 */
export async function createApp(options) {
  const pipes = createPipes({
    store: sqliteStore({ filename: options.filename }),
    secretKey: options.secretKey,
    sandbox: { workers: 1 },
    egressAllow: options.egressAllow ?? [],
  });
  await pipes.start();
  // Idempotent setup: a web source and the purchase event type (pipes and destinations are added
  // over the admin API or with `openpipes config import`).
  const seed = options.seed ?? true;
  if (seed && !(await pipes.sources.findBySlug('web')))
    await pipes.sources.create({ name: 'Web', slug: 'web' });
  if (seed && !(await pipes.eventTypes.findByName('purchase'))) {
    await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object', required: ['order_id'] } });
  }

  const app = express();
  // Mount OpenPipes before any body parser: the collect endpoint reads the raw body itself.
  app.use(
    '/openpipes',
    createExpressMiddleware(
      createHandler(pipes, {
        apiKeys: [{ name: 'shop-admin', token: options.apiKey, scope: 'write' }],
        // The web console under /openpipes/console/: sign in with the shop's API key.
        console: true,
      }),
    ),
  );
  app.use(express.json());

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  // The shop's checkout: the order is confirmed here, so the purchase goes out server-side,
  // without depending on the browser.
  app.post('/checkout', async (req, res, next) => {
    try {
      const orderId = String(req.body.order_id);
      const result = await pipes.ingest('web', {
        event_type: 'purchase',
        event_time: new Date().toISOString(),
        event_id: orderId,
        event_payload: { order_id: orderId, revenue: Number(req.body.total), currency: 'EUR' },
      });
      res.status(201).json({ order_id: orderId, tracked: result.accepted === 1 });
    } catch (err) {
      next(err);
    }
  });
  return { app, pipes };
}
