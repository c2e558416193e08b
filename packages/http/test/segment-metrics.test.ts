/**
 * `openpipes_events_rejected_total` for the Segment-spec routes (issue 18): a message that maps to no
 * event is refused before ingest, so the route counts it (reason `invalid_message`); a message ingest
 * refuses is counted by the engine (`unknown_event_type`, `validation_failed`), the same as at
 * /collect. Real engine, SQLite file, node:http on port 0, the exposition read strictly.
 */
import { createServer, type Server } from 'node:http';
import { type Pipes, silentLogger } from '@openpipes/core';
import { waitFor } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { parsePrometheusText } from './prometheus-text.js';
import { readKey } from './servers.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

describe('openpipes_events_rejected_total on the /v1 routes and /collect', { timeout: 60_000 }, () => {
  let engine: SqliteEngine;
  let pipes: Pipes;
  let server: Server;
  let base: string;
  let sourceId: string;
  let key: string;

  beforeAll(async () => {
    engine = await startSqliteEngine('segment-metrics');
    pipes = engine.pipes;
    const handler = createHandler(pipes, {
      apiKeys: [readKey],
      segment: true,
      metrics: {},
      logger: silentLogger,
    });
    server = createServer(createNodeListener(handler));
    base = `http://127.0.0.1:${await listen(server)}`;
    await pipes.eventTypes.create({
      name: 'purchase',
      schema: { type: 'object', required: ['order_id'] },
    });
    sourceId = (await pipes.sources.create({ name: 'Web', slug: 'web' })).id;
    key = (await pipes.writeKeys.create(sourceId)).write_key;
  });
  afterAll(async () => {
    await closeServer(server);
    await engine?.stop();
  });

  const scrape = async () => {
    const answer = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${readKey.token}` } });
    expect(answer.status).toBe(200);
    return parsePrometheusText(await answer.text());
  };

  it('counts unmappable messages, and messages and events ingest refuses, by source and reason', async () => {
    const batch = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId: 'u' }, // no event: invalid_message
          { type: 'launch', userId: 'u' }, // no such type: invalid_message
          { type: 'track', event: 'Order Completed' }, // no userId nor anonymousId: invalid_message
          { type: 'track', event: 'Game Won', userId: 'u' }, // unknown_event_type at ingest
          { type: 'track', event: 'Order Completed', userId: 'u', properties: {} }, // no order_id: validation_failed
          { type: 'track', event: 'Order Completed', userId: 'u', properties: { order_id: 'o-1' } },
        ],
      }),
    });
    expect({ status: batch.status, body: await batch.json() }).toEqual({
      status: 200,
      body: { success: true },
    });
    const collected = await fetch(`${base}/collect/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        [{}, { order_id: 'o-2' }].map((payload, i) => ({
          event_id: `c-${i}`,
          event_type: 'purchase',
          event_time: new Date().toISOString(),
          event_payload: payload,
        })),
      ),
    });
    expect(collected.status).toBeLessThan(300);

    const m = await scrape();
    expect(m.value('openpipes_events_rejected_total', { source: 'web', reason: 'invalid_message' })).toBe(3);
    expect(m.value('openpipes_events_rejected_total', { source: 'web', reason: 'unknown_event_type' })).toBe(
      1,
    );
    expect(m.value('openpipes_events_rejected_total', { source: 'web', reason: 'validation_failed' })).toBe(
      2,
    );
    expect(m.value('openpipes_events_ingested_total', { source: 'web' })).toBe(2);
    // Every refused message is also in the rejection log, where the operator reads why.
    await waitFor(async () => {
      const page = await pipes.sources.rejections(sourceId, { limit: 50 });
      return page.data.length >= 6 ? true : undefined;
    });
  });
});
