/**
 * Segment-spec clients against a real `openpipes serve` (issue 18): `@segment/analytics-node` and
 * `@rudderstack/rudder-sdk-node` (its default gzip on), unmodified but for their host, send
 * identify + page + "Order Completed" to the serve's default-on `/v1` routes with a write key made
 * through the REST API; a Meta template destination aimed at a local stand-in receives a Purchase
 * with the hashed email, value, currency, IP and user agent.
 */
import { createHash } from 'node:crypto';
import { startTestServer, type TestServer } from '@openpipes/core/testing';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type ServeProcess, startServe, stopAll } from './helpers.js';
import { type AdminCall, adminApi } from './meta-example.js';

interface MetaEvent {
  event_name: string;
  event_id?: string;
  user_data: Record<string, unknown>;
  custom_data: Record<string, unknown>;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('openpipes serve takes Segment-spec SDKs', () => {
  let meta: TestServer;
  let serve: ServeProcess;
  let call: AdminCall;
  let sourceId: string;
  let key: string;

  beforeAll(async () => {
    meta = await startTestServer();
    serve = await startServe({ env: { OPENPIPES_EGRESS_ALLOW: meta.host } });
    call = adminApi(() => serve);
    for (const name of ['purchase', 'page_view'])
      await call('POST', '/api/event-types', { name, schema: { type: 'object' } });
    sourceId = (await call<{ id: string }>('POST', '/api/sources', { name: 'Web', slug: 'web' })).id;
    key = (await call<{ write_key: string }>('POST', `/api/sources/${sourceId}/write-key`)).write_key;
    const destination = await call<{ id: string; default_transform: string }>(
      'POST',
      '/api/event-destinations',
      { template: 'meta-capi', name: 'meta', settings: { pixel_id: '123456789012', base_url: meta.url } },
    );
    const token = await call<{ id: string }>('POST', '/api/secrets', {
      key: 'META_ACCESS_TOKEN',
      value: 'meta-token-for-tests',
    });
    await call('PUT', `/api/event-destinations/${destination.id}/secrets`, { secret_ids: [token.id] });
    await call('PUT', `/api/event-destinations/${destination.id}/toggle`, { enabled: true });
    const pipe = await call<{ id: string }>('POST', '/api/pipes', {
      name: 'web-to-meta',
      source_id: sourceId,
      destination_id: destination.id,
      transform: destination.default_transform,
    });
    await call('PUT', `/api/pipes/${pipe.id}/toggle`, { enabled: true });
  });
  afterAll(async () => {
    await stopAll();
    await meta?.close();
  });

  /** The Purchase the stand-in received from the SDK that sent `ip`, and the request that carried it. */
  const purchaseFrom = (ip: string, label: string) =>
    eventually(() => {
      for (const request of meta.requests) {
        const body = request.json as { data?: MetaEvent[]; access_token?: string } | undefined;
        const event = body?.data?.find(
          (e) => e.event_name === 'Purchase' && e.user_data.client_ip_address === ip,
        );
        if (event) return Promise.resolve({ event, request, body: body! });
      }
      return Promise.resolve(undefined);
    }, 30_000).catch((err: Error) => {
      throw new Error(`${label}: ${err.message}\n${serve.stdout()}\n${serve.stderr()}`);
    });

  /** The event types stored for `anonymousId` (identify is linked, not stored). */
  const storedTypes = async (anonymousId: string) => {
    const page = await call<{
      data: Array<{ event_type: string; event_payload: { anonymous_id?: string } }>;
    }>('GET', `/api/sources/${sourceId}/events`);
    return page.data.filter((e) => e.event_payload.anonymous_id === anonymousId).map((e) => e.event_type);
  };

  it('@segment/analytics-node, unmodified but for its host, delivers identify + page + Order Completed', async () => {
    const analytics = new Analytics({ writeKey: key, host: serve.url, flushInterval: 50 });
    const failures: unknown[] = [];
    analytics.on('error', (err) => failures.push(err));
    const context = { ip: '198.51.100.23', userAgent: 'analytics-node-serve-test/1.0' };
    analytics.identify({
      userId: 'user-2',
      anonymousId: 'anon-2',
      traits: { email: 'Jane.Doe@Shop.test' },
      context,
    });
    analytics.page({
      anonymousId: 'anon-2',
      name: 'Checkout',
      properties: { url: 'https://shop.example/checkout' },
      context,
    });
    analytics.track({
      userId: 'user-2',
      event: 'Order Completed',
      properties: { order_id: 'ord-2002', revenue: 55, currency: 'usd' },
      context,
    });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(failures).toEqual([]);

    const { event, request, body } = await purchaseFrom('198.51.100.23', "analytics-node's Purchase");
    expect(request.url).toContain('/123456789012/events');
    expect(body.access_token).toBe('meta-token-for-tests');
    expect([event.user_data.em].flat()).toEqual([sha('jane.doe@shop.test')]);
    expect(event.user_data.client_user_agent).toBe('analytics-node-serve-test/1.0');
    expect(event.custom_data).toMatchObject({ value: 55, currency: 'USD' });
    expect(await storedTypes('anon-2')).toEqual(['page_view']);
  });

  it('@rudderstack/rudder-sdk-node, unmodified but for its host (gzip on), delivers identify + page + Order Completed', async () => {
    const failures: unknown[] = [];
    // Its default path is /v1/batch and its default gzip is on: only the data plane URL changes.
    const rudder = new RudderAnalytics(key, {
      dataPlaneUrl: serve.url,
      flushInterval: 50,
      logLevel: 'error',
      errorHandler: (err) => failures.push(err),
    });
    const context = { ip: '198.51.100.41', userAgent: 'rudder-node-serve-test/1.0' };
    rudder.identify({
      userId: 'user-3',
      anonymousId: 'anon-3',
      traits: { email: 'Rudder.Fan@Shop.test' },
      context,
    });
    rudder.page({
      anonymousId: 'anon-3',
      name: 'Checkout',
      properties: { url: 'https://shop.example/checkout' },
      context,
    });
    rudder.track({
      userId: 'user-3',
      event: 'Order Completed',
      properties: { order_id: 'ord-3003', revenue: 77.5, currency: 'gbp' },
      context,
    });
    await new Promise<void>((resolve, reject) => rudder.flush((err) => (err ? reject(err) : resolve())));
    expect(failures).toEqual([]);

    const { event, body } = await purchaseFrom('198.51.100.41', "RudderStack's Purchase");
    expect(body.access_token).toBe('meta-token-for-tests');
    expect([event.user_data.em].flat()).toEqual([sha('rudder.fan@shop.test')]);
    expect(event.user_data.client_user_agent).toBe('rudder-node-serve-test/1.0');
    expect(event.custom_data).toMatchObject({ value: 77.5, currency: 'GBP' });
    expect(await storedTypes('anon-3')).toEqual(['page_view']);
  });
});
