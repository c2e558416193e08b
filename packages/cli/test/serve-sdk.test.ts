/**
 * Segment-spec clients against a real `openpipes serve` (issue 18): `@segment/analytics-node` and
 * `@rudderstack/rudder-sdk-node` (its default gzip on), unmodified but for their host, send
 * identify + page + "Order Completed" to the serve's default-on `/v1` routes with a write key made
 * through the REST API; a Meta template destination aimed at a local stand-in receives a Purchase
 * with the hashed email, value, currency, IP and user agent. The set-up and the cases are the ones
 * `@openpipes/http`'s segment test runs against createHandler.
 */
import { startTestServer, type TestServer } from '@openpipes/core/testing';
import {
  findMetaPurchase,
  metaAccessToken,
  metaPixelId,
  nodeSdkCases,
  sendWithNodeSdk,
  setupSegmentToMeta,
} from '@openpipes/test-support/segment-meta';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type ServeProcess, startServe, stopAll } from './helpers.js';
import { type AdminCall, adminApi } from './meta-example.js';

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
    ({ sourceId, key } = await setupSegmentToMeta(call, { metaUrl: meta.url }));
  });
  afterAll(async () => {
    await stopAll();
    await meta?.close();
  });

  /** The event types stored for `anonymousId` (identify is linked, not stored). */
  const storedTypes = async (anonymousId: string) => {
    const page = await call<{
      data: Array<{ event_type: string; event_payload: { anonymous_id?: string } }>;
    }>('GET', `/api/sources/${sourceId}/events`);
    return page.data.filter((e) => e.event_payload.anonymous_id === anonymousId).map((e) => e.event_type);
  };

  for (const { sdk, title, buyer, purchase } of nodeSdkCases) {
    it(title, async () => {
      expect(await sendWithNodeSdk(sdk, serve.url, key, buyer)).toEqual([]);

      const { event, request, body } = await eventually(
        () => Promise.resolve(findMetaPurchase(meta.requests, buyer.context.ip)),
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${sdk}'s Purchase: ${err.message}\n${serve.stdout()}\n${serve.stderr()}`);
      });
      expect(request.url).toContain(`/${metaPixelId}/events`);
      expect(body.access_token).toBe(metaAccessToken);
      expect([event.user_data.em].flat()).toEqual(purchase.em);
      expect(event.user_data.client_user_agent).toBe(buyer.context.userAgent);
      expect(event.custom_data).toMatchObject({ value: purchase.value, currency: purchase.currency });
      expect(await storedTypes(buyer.anonymousId)).toEqual(['page_view']);
    });
  }
});
