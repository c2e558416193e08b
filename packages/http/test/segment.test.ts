/**
 * The Segment-spec tracking API end to end (issue 18): createHandler with `segment: true` on node:http
 * (port 0), a real SQLite file, identity on, and a Meta template pipe aimed at a local stand-in.
 * identify + page + "Order Completed" are posted as Segment clients post them (Basic-auth JSON
 * batch, text/plain with writeKey, gzip); the stand-in receives a Purchase with the hashed email,
 * value, currency, IP and user agent.
 */
import { gzipSync } from 'node:zlib';
import type { Pipes } from '@openpipes/core';
import { type TestServer, waitFor } from '@openpipes/core/testing';
import { adminApi } from '@openpipes/test-support/admin-api';
import {
  findMetaPurchase,
  nodeSdkCases,
  sendWithNodeSdk,
  setupSegmentToMeta,
  sha256Hex,
} from '@openpipes/test-support/segment-meta';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKey as adminKey } from './servers.js';
import { type ServedSegmentEngine, serveSegmentEngine } from './sqlite-engine.js';

describe('Segment-spec tracking API', { timeout: 60_000 }, () => {
  let served: ServedSegmentEngine;
  let pipes: Pipes;
  let meta: TestServer;
  let base: string;
  let sourceId: string;
  let key: string;

  const admin = adminApi(() => ({ url: base, token: adminKey.token }));
  const basic = (k: string) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`;

  beforeAll(async () => {
    served = await serveSegmentEngine('segment');
    ({ pipes, meta, base } = served);
    ({ sourceId, key } = await setupSegmentToMeta(admin, { metaUrl: meta.url }));
  });
  afterAll(async () => {
    await served?.stop();
  });

  it('identify + page + Order Completed (Basic JSON batch, text/plain writeKey, gzip) reach Meta as a Purchase', async () => {
    const sentAt = new Date().toISOString();
    const context = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) SegmentTest' };
    const batch = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [
          {
            type: 'identify',
            messageId: 'msg-identify-1',
            userId: 'user-1',
            anonymousId: 'anon-1',
            traits: { email: 'John_Smith@Gmail.com', phone: '+1 (650) 555-1212' },
            context,
            timestamp: sentAt,
          },
        ],
        sentAt,
      }),
    });
    expect({ status: batch.status, body: await batch.json() }).toEqual({
      status: 200,
      body: { success: true },
    });

    // analytics.js: text/plain, the write key in the body, the short form.
    const page = await fetch(`${base}/v1/p`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({
        writeKey: key,
        type: 'page',
        messageId: 'msg-page-1',
        anonymousId: 'anon-1',
        properties: { url: 'https://shop.example/thank-you' },
        context: { ...context, page: { url: 'https://shop.example/thank-you' } },
        originalTimestamp: sentAt,
        sentAt,
      }),
    });
    expect({ status: page.status, body: await page.json() }).toEqual({
      status: 200,
      body: { success: true },
    });

    // A gzipped batch (what RudderStack's SDK sends) under the source's own mount.
    const order = await fetch(`${base}/collect/web/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(
        JSON.stringify({
          batch: [
            {
              type: 'track',
              event: 'Order Completed',
              messageId: 'msg-order-1',
              userId: 'user-1',
              properties: { order_id: 'ord-1001', revenue: 129.9, total: 141.5, currency: 'eur' },
              context,
              timestamp: sentAt,
            },
          ],
        }),
      ),
    });
    expect({ status: order.status, body: await order.json() }).toEqual({
      status: 200,
      body: { success: true },
    });

    const { event: purchase } = await waitFor(
      () => findMetaPurchase(meta.requests),
      20_000,
      'a Purchase at the Meta stand-in',
    );
    expect([purchase.user_data.em].flat()).toEqual([sha256Hex('john_smith@gmail.com')]);
    expect(purchase.user_data.client_ip_address).toBe('203.0.113.7');
    expect(purchase.user_data.client_user_agent).toBe(context.userAgent);
    expect(purchase.custom_data).toMatchObject({ value: 129.9, currency: 'EUR' });

    // identify was linked, not stored as an event; page and the order were.
    const stored = await pipes.sources.events(sourceId, {});
    expect(JSON.stringify(stored)).not.toContain(key);
    expect(stored.data.map((e) => [e.event_type, e.event_id]).sort()).toEqual([
      ['page_view', 'msg-page-1'],
      ['purchase', 'msg-order-1'],
    ]);
    const order1 = stored.data.find((e) => e.event_type === 'purchase')!;
    expect(order1.event_payload).toMatchObject({
      order_id: 'ord-1001',
      value: 129.9,
      currency: 'EUR',
      user_id: 'user-1',
      segment: { event: 'Order Completed', messageId: 'msg-order-1' },
    });
  });

  it('a missing, unknown or revoked write key is a 401 and stores nothing; a bad message goes to the rejection log', async () => {
    const before = (await pipes.sources.events(sourceId, {})).data.length;
    const track = { type: 'track', event: 'Order Completed', userId: 'u', properties: { revenue: 1 } };
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: basic('opw_unknownkeyunknownkeyunknownkeyunknownkeyx') },
    ];
    for (const headers of attempts) {
      const answer = await fetch(`${base}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(track),
      });
      expect(answer.status).toBe(401);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    const other = await pipes.sources.create({ name: 'App', slug: 'app' });
    const wrongMount = await fetch(`${base}/collect/app/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(key) },
      body: JSON.stringify(track),
    });
    expect(wrongMount.status).toBe(401);
    const revoked = (await admin<{ write_key: string }>('POST', `/api/sources/${other.id}/write-key`))
      .write_key;
    await admin('DELETE', `/api/sources/${other.id}/write-keys/${revoked.slice(0, 12)}`);
    const withRevoked = await fetch(`${base}/v1/t`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ ...track, writeKey: revoked }),
    });
    expect(withRevoked.status).toBe(401);
    expect((await pipes.sources.events(sourceId, {})).data.length).toBe(before);

    const bad = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(key) },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId: 'u' },
          { type: 'launch', userId: 'u' },
        ],
      }),
    });
    expect({ status: bad.status, body: await bad.json() }).toEqual({ status: 200, body: { success: true } });
    const rejections = await waitFor(async () => {
      const page = await pipes.sources.rejections(sourceId, {});
      return page.data.length >= 2 ? page.data : undefined;
    });
    expect(rejections.map((r) => r.error.issues[0]?.path).sort()).toEqual([
      'batch[0].event',
      'batch[1].type',
    ]);
  });

  for (const { sdk, title, buyer, purchase } of nodeSdkCases) {
    it(title, async () => {
      expect(await sendWithNodeSdk(sdk, base, key, buyer)).toEqual([]);

      const { event } = await waitFor(
        () => findMetaPurchase(meta.requests, buyer.context.ip),
        20_000,
        `${sdk}'s Purchase at the Meta stand-in`,
      );
      expect([event.user_data.em].flat()).toEqual(purchase.em);
      expect(event.user_data.client_user_agent).toBe(buyer.context.userAgent);
      expect(event.custom_data).toMatchObject({ value: purchase.value, currency: purchase.currency });
      const stored = await pipes.sources.events(sourceId, {});
      expect(
        stored.data
          .filter((e) => e.event_payload.anonymous_id === buyer.anonymousId)
          .map((e) => e.event_type),
      ).toEqual(['page_view']);
    });
  }

  it("a source's segment_event_names (REST) override the defaults for that source only, and travel with config export/import", async () => {
    for (const name of ['order_placed_raw', 'landing'])
      await pipes.eventTypes.create({ name, schema: { type: 'object' } });
    const shop = await admin<{ id: string }>('POST', '/api/sources', { name: 'Shop', slug: 'shop' });
    const names = { 'Order Placed': 'purchase', 'Order Completed': 'order_placed_raw', page: 'landing' };
    const patched = await admin('PATCH', `/api/sources/${shop.id}`, { segment_event_names: names });
    expect(patched.segment_event_names).toEqual(names);
    const bad = await fetch(`${base}/api/sources/${shop.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${adminKey.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ segment_event_names: { 'Order Placed': 'not a type name' } }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');

    const shopKey = (await admin<{ write_key: string }>('POST', `/api/sources/${shop.id}/write-key`))
      .write_key;
    const messages = [
      { type: 'track', event: 'Order Placed', messageId: 'map-1', userId: 'u-map' },
      { type: 'track', event: 'Order Completed', messageId: 'map-2', userId: 'u-map' },
      { type: 'track', event: 'constructor', messageId: 'map-3', userId: 'u-map' },
      { type: 'page', messageId: 'map-4', anonymousId: 'a-map' },
    ];
    for (const k of [shopKey, key]) {
      const answer = await fetch(`${base}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(k), 'content-type': 'application/json' },
        body: JSON.stringify({
          batch: messages.map((m) => ({ ...m, messageId: `${m.messageId}-${k.slice(4, 10)}` })),
        }),
      });
      expect(answer.status).toBe(200);
    }
    const typesOf = async (id: string) =>
      (await pipes.sources.events(id, {})).data
        .filter((e) => e.event_id.startsWith('map-'))
        .map((e) => [e.event_id.split('-').slice(0, 2).join('-'), e.event_type])
        .sort();
    // The mapped source: its own names; "constructor" is no Object member, just an unknown name
    // (no event type of that name, so it is in the rejection log).
    expect(await typesOf(shop.id)).toEqual([
      ['map-1', 'purchase'],
      ['map-2', 'order_placed_raw'],
      ['map-4', 'landing'],
    ]);
    // Another source keeps the defaults: Order Completed is a purchase; "Order Placed" is unknown.
    expect(await typesOf(sourceId)).toEqual([
      ['map-2', 'purchase'],
      ['map-4', 'page_view'],
    ]);
    const rejected = await waitFor(async () => {
      const page = await pipes.sources.rejections(shop.id, {});
      return page.data.length > 0 ? page.data : undefined;
    });
    expect(JSON.stringify(rejected)).toContain('constructor');

    // Config export carries the map; importing a changed document updates it.
    const doc = await admin<{ sources: Array<{ slug: string; segment_event_names?: unknown }> }>(
      'GET',
      '/api/config/export',
    );
    const exported = doc.sources.find((s) => s.slug === 'shop')!;
    expect(exported.segment_event_names).toEqual(names);
    exported.segment_event_names = { 'Order Placed': 'purchase' };
    const imported = await admin<{ changes: unknown[] }>('POST', '/api/config/import', doc);
    expect(imported.changes).toContainEqual(
      expect.objectContaining({
        kind: 'source',
        name: 'shop',
        action: 'update',
        fields: ['segment_event_names'],
      }),
    );
    expect((await pipes.sources.get(shop.id)).segment_event_names).toEqual({ 'Order Placed': 'purchase' });
  });

  it('refuses a batch of more messages than maxEvents with 413 TOO_MANY_EVENTS, storing nothing', async () => {
    const before = (await pipes.sources.events(sourceId, {})).data.length;
    const batch = Array.from({ length: 1001 }, (_, i) => ({
      type: 'track',
      event: 'Order Completed',
      userId: 'u-many',
      messageId: `msg-many-${i}`,
    }));
    const answer = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    expect(answer.status).toBe(413);
    expect(((await answer.json()) as { error: unknown }).error).toMatchObject({
      code: 'TOO_MANY_EVENTS',
      message: '1001 messages in one request; at most 1000 are accepted',
      details: { max_events: 1000, events: 1001 },
    });
    expect((await pipes.sources.events(sourceId, {})).data.length).toBe(before);
  });

  it('takes the form label only on JSON: a real form body is a 400, another type a 415, nothing stored', async () => {
    const before = (await pipes.sources.events(sourceId, {})).data.length;
    const form = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'type=track&event=Order+Completed&userId=u',
    });
    expect(form.status).toBe(400);
    const xml = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/xml' },
      body: JSON.stringify({ type: 'track', event: 'Order Completed', userId: 'u' }),
    });
    expect(xml.status).toBe(415);
    expect((await pipes.sources.events(sourceId, {})).data.length).toBe(before);
  });
});
