/**
 * Test support for the Segment-spec tests that deliver to Meta: `@openpipes/http`'s (createHandler
 * with `segment: true`) and `@openpipes/cli`'s (`openpipes serve`). One set-up over the admin API
 * (event types, the `web` source and its write key, the `meta-capi` template destination aimed at a
 * stand-in, its token, the pipe), the cases the Node SDKs send (identify + page + "Order Completed"
 * and the Purchase Meta must receive), the SDKs sending them, and the lookup of that Purchase at the
 * stand-in.
 *
 * Nothing here imports the engine: a stand-in is anything that records the parsed JSON of the
 * requests it received.
 */
import { createHash } from 'node:crypto';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import type { AdminCall } from './admin-api.js';

/** The pixel the destination sends to, and the access token bound to it. */
export const metaPixelId = '123456789012';
export const metaAccessToken = 'meta-token-for-tests';

/**
 * Over the admin API: the `purchase` and `page_view` event types (any object), the `web` source
 * (with `source`'s extra fields) and a write key for it, the `meta-capi` template destination
 * sending to `metaUrl` with META_ACCESS_TOKEN bound, and its default transform as the
 * `web-to-meta` pipe; destination and pipe enabled.
 */
export async function setupSegmentToMeta(
  call: AdminCall,
  options: { metaUrl: string; source?: Record<string, unknown> },
): Promise<{ sourceId: string; key: string }> {
  for (const name of ['purchase', 'page_view'])
    await call('POST', '/api/event-types', { name, schema: { type: 'object' } });
  const source = { name: 'Web', slug: 'web', ...options.source };
  const sourceId = (await call<{ id: string }>('POST', '/api/sources', source)).id;
  const key = (await call<{ write_key: string }>('POST', `/api/sources/${sourceId}/write-key`)).write_key;
  const destination = await call<{ id: string; default_transform: string }>(
    'POST',
    '/api/event-destinations',
    { template: 'meta-capi', name: 'meta', settings: { pixel_id: metaPixelId, base_url: options.metaUrl } },
  );
  const token = await call<{ id: string }>('POST', '/api/secrets', {
    key: 'META_ACCESS_TOKEN',
    value: metaAccessToken,
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
  return { sourceId, key };
}

/** Who sends, from where, and the order they complete. */
export interface Buyer {
  userId: string;
  anonymousId: string;
  email: string;
  context: { ip: string; userAgent: string };
  order: { order_id: string; revenue: number; currency: string };
}

/** identify (with the email), page "Checkout" (anonymous) and track "Order Completed" (the order). */
function sendOrder(client: Analytics | RudderAnalytics, buyer: Buyer): void {
  const { userId, anonymousId, context } = buyer;
  client.identify({ userId, anonymousId, traits: { email: buyer.email }, context });
  client.page({
    anonymousId,
    name: 'Checkout',
    properties: { url: 'https://shop.example/checkout' },
    context,
  });
  client.track({ userId, event: 'Order Completed', properties: buyer.order, context });
}

/** Node SDKs by name: each sends the buyer's order to `host` with `key`, unmodified but for its host. */
const nodeSdks = {
  /** Resolves with the errors it reported. */
  'analytics-node': async (host: string, key: string, buyer: Buyer): Promise<unknown[]> => {
    const analytics = new Analytics({ writeKey: key, host, flushInterval: 50 });
    const failures: unknown[] = [];
    analytics.on('error', (err) => failures.push(err));
    sendOrder(analytics, buyer);
    await analytics.closeAndFlush({ timeout: 10_000 });
    return failures;
  },
  'rudder-sdk-node': async (host: string, key: string, buyer: Buyer): Promise<unknown[]> => {
    const failures: unknown[] = [];
    // Its default path is /v1/batch and its default gzip is on: only the data plane URL changes.
    const rudder = new RudderAnalytics(key, {
      dataPlaneUrl: host,
      flushInterval: 50,
      logLevel: 'error',
      errorHandler: (err) => failures.push(err),
    });
    sendOrder(rudder, buyer);
    await new Promise<void>((resolve, reject) => rudder.flush((err) => (err ? reject(err) : resolve())));
    return failures;
  },
};

/**
 * Sends `buyer`'s identify + page "Checkout" + track "Order Completed" to `host` with write key
 * `key` through the named Node SDK, flushed; resolves with the errors the SDK reported.
 */
export function sendWithNodeSdk(sdk: NodeSdkCase['sdk'], host: string, key: string, buyer: Buyer) {
  return nodeSdks[sdk](host, key, buyer);
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** A Node SDK's case: the buyer it sends as, and what the Purchase at Meta must carry. */
export interface NodeSdkCase {
  sdk: 'analytics-node' | 'rudder-sdk-node';
  title: string;
  buyer: Buyer;
  purchase: { em: string[]; value: number; currency: string };
}

export const nodeSdkCases: NodeSdkCase[] = [
  {
    sdk: 'analytics-node',
    title: '@segment/analytics-node, unmodified but for its host, delivers identify + page + Order Completed',
    buyer: {
      userId: 'user-2',
      anonymousId: 'anon-2',
      email: 'Jane.Doe@Shop.test',
      context: { ip: '198.51.100.23', userAgent: 'analytics-node-test/1.0' },
      order: { order_id: 'ord-2002', revenue: 55, currency: 'usd' },
    },
    purchase: { em: [sha256Hex('jane.doe@shop.test')], value: 55, currency: 'USD' },
  },
  {
    sdk: 'rudder-sdk-node',
    title:
      '@rudderstack/rudder-sdk-node, unmodified but for its host (gzip on), delivers identify + page + Order Completed',
    buyer: {
      userId: 'user-3',
      anonymousId: 'anon-3',
      email: 'Rudder.Fan@Shop.test',
      context: { ip: '198.51.100.41', userAgent: 'rudder-node-test/1.0' },
      order: { order_id: 'ord-3003', revenue: 77.5, currency: 'gbp' },
    },
    purchase: { em: [sha256Hex('rudder.fan@shop.test')], value: 77.5, currency: 'GBP' },
  },
];

/** One event of a Meta Conversions API request. */
export interface MetaEvent {
  event_name: string;
  event_id?: string;
  user_data: Record<string, unknown>;
  custom_data: Record<string, unknown>;
}

/** A request's body as Meta's Conversions API takes it. */
export interface MetaBody {
  data?: MetaEvent[];
  access_token?: string;
}

/**
 * The first Purchase among the requests a Meta stand-in recorded (from `ip` only, when given), with
 * the request and body that carried it; undefined while there is none (so it suits `waitFor`).
 */
export function findMetaPurchase<R extends { json: unknown }>(
  requests: readonly R[],
  ip?: string,
): { event: MetaEvent; request: R; body: MetaBody } | undefined {
  for (const request of requests) {
    const body = request.json as MetaBody | undefined;
    const event = body?.data?.find(
      (e) => e.event_name === 'Purchase' && (ip === undefined || e.user_data.client_ip_address === ip),
    );
    if (event && body) return { event, request, body };
  }
  return undefined;
}
