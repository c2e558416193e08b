import { createHash } from 'node:crypto';
import { purchaseEvent, runSend, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { byEventId, finalRecords, platformBed, secretsIn } from '../testing/engine.js';
import { microsoftError, microsoftPlatform } from '../testing/microsoft-platform.js';
import { microsoftUetCapi, microsoftUetCapiTemplate } from './microsoft.js';

const token = 'uet-capi-token-5a1f9c3e';
const tagId = '187000123';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const bed = platformBed();

async function setup(maxAttempts = 1, transform?: string | null) {
  const platform = microsoftPlatform({ tagId, token });
  const definition = microsoftUetCapi({ tagId, baseUrl: bed.server.url });
  return bed.wire(platform, definition, {
    secrets: { MICROSOFT_UET_TOKEN: token },
    retry: { max_attempts: maxAttempts, initial_delay_ms: 10, max_delay_ms: 50 },
    ...(transform === undefined ? {} : { transform }),
  });
}

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  purchaseEvent(orderId, {
    hashed_email: undefined,
    hashed_phone: undefined,
    email: '  John_Smith@gmail.com ',
    phone: '+1 (650) 555-1212',
    msclkid: 'cdd4afcccb1c9a4cad9544dd7e5006d5-1',
    consent: { ad_storage: 'GRANTED' },
    contents: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
    ...overrides,
  });

/** An event already in UET's shape (for a pipe without transform). */
const uetEvent = (eventId: string, overrides: Record<string, unknown> = {}) => ({
  event_type: 'purchase',
  event_time: new Date().toISOString(),
  event_id: eventId,
  event_payload: {
    eventType: 'custom',
    eventId,
    eventName: 'purchase',
    eventTime: Math.floor(Date.now() / 1000),
    userData: { msclkid: `clk-${eventId}` },
    customData: { value: 10, currency: 'EUR' },
    ...overrides,
  },
});

describe('microsoft-uet-capi template', () => {
  it('delivers a purchase with msclkid, SHA-256 email and E.164 phone, ad storage consent, the token redacted', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest('web', [canonicalPurchase('ord_1')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);

    expect(platform.violations).toEqual([]);
    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      eventType: 'custom',
      eventId: 'ord_1',
      eventName: 'purchase',
      eventTime: expect.any(Number),
      eventSourceUrl: 'https://shop.example/checkout/thank-you',
      adStorageConsent: 'G',
      userData: {
        msclkid: 'cdd4afcccb1c9a4cad9544dd7e5006d5-1',
        em: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
        ph: sha256('+16505551212'),
        clientIpAddress: '203.0.113.7',
        clientUserAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      },
      customData: {
        value: 129.9,
        currency: 'EUR',
        transactionId: 'ord_1',
        items: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
      },
    });
    expect(bed.server.requests.at(-1)!.url).toBe(`/v1/${tagId}/events`);
    expect(record!.request!.headers).toMatchObject({ authorization: 'Bearer [secret:MICROSOFT_UET_TOKEN]' });
    expect(
      secretsIn(record, [token, 'John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '+16505551212']),
    ).toEqual([]);
  });

  it('splits 1001 events into requests of at most 1000', async () => {
    // The real sandbox and a real HTTP stand-in, without the store: the split is send()'s own work.
    const platform = microsoftPlatform({ tagId, token });
    bed.server.handle(platform.handler);
    bed.server.requests.length = 0;
    const definition = microsoftUetCapi({ tagId, baseUrl: bed.server.url });
    const rows = await runTransform(definition.transform, {
      events: Array.from({ length: 1001 }, (_, i) => canonicalPurchase(`ord_split_${i}`)) as Parameters<
        typeof runTransform
      >[1]['events'],
    });
    const { value } = await runSend(definition.destination.send, {
      events: rows,
      secrets: { MICROSOFT_UET_TOKEN: token },
      fetch: globalThis.fetch,
    });
    expect(platform.violations).toEqual([]);
    expect(value).toMatchObject({ outcome: 'delivered' });
    expect(bed.server.requests.map((r) => (r.json as { data: unknown[] }).data.length)).toEqual([1000, 1]);
  });

  it('marks only the events a 200 reports invalid (by index), naming the property', async () => {
    const { platform, pipes, pipe } = await setup(1, null);
    await pipes.ingest('web', [
      uetEvent('evt_ok_1'),
      uetEvent('evt_bad', { adStorageConsent: 'yes' }),
      uetEvent('evt_ok_2'),
    ]);
    const records = byEventId(await finalRecords(pipes, pipe.id, 3));
    // The stand-in saw the invalid event (as Microsoft would) and kept the others.
    expect(platform.violations).toEqual(['data[1].adStorageConsent must be G or D']);
    expect(records.get('evt_ok_1')!.status).toBe('delivered');
    expect(records.get('evt_ok_2')!.status).toBe('delivered');
    expect(records.get('evt_bad')).toMatchObject({
      status: 'failed',
      error: {
        code: 'MICROSOFT_INVALID_EVENT',
        retryable: false,
        message: 'adStorageConsent: must be G or D',
      },
    });
    expect(platform.accepted.map((e) => e.eventId)).toEqual(['evt_ok_1', 'evt_ok_2']);
  });

  it('fails an event older than 7 days before sending', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest('web', [
      canonicalPurchase('ord_new'),
      { ...canonicalPurchase('ord_old'), event_time: new Date(Date.now() - 8 * 86400_000).toISOString() },
    ]);
    const records = byEventId(await finalRecords(pipes, pipe.id, 2));
    expect(platform.violations).toEqual([]);
    expect(records.get('ord_new')!.status).toBe('delivered');
    expect(records.get('ord_old')).toMatchObject({
      status: 'failed',
      request: null,
      error: { code: 'EVENT_TOO_OLD' },
    });
  });

  it("does not retry Microsoft's 400, whose details name the property", async () => {
    const { platform, pipes, pipe } = await setup(3);
    platform.answerNext(
      microsoftError(400, 'InvalidRequest', 'The request is invalid', [
        {
          propertyName: 'dataProvider',
          errorMessage: 'is not a known provider',
          errorCode: 'InvalidValue',
          isWarning: false,
        },
      ]),
    );
    await pipes.ingest('web', [canonicalPurchase('ord_400')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({
      status: 'failed',
      attempt_count: 1,
      error: {
        code: 'MICROSOFT_HTTP_400',
        retryable: false,
        message: expect.stringContaining('dataProvider'),
      },
    });
  });

  it('retries a 5xx until Microsoft recovers', async () => {
    const { platform, pipes, pipe } = await setup(3);
    platform.answerNext(microsoftError(503, 'ServiceUnavailable', 'Try again later'));
    await pipes.ingest('web', [canonicalPurchase('ord_503')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(record!.attempts![0]!.error).toMatchObject({ code: 'MICROSOFT_HTTP_503', retryable: true });
  });

  it("answers a 429 with Retry-After's hint", async () => {
    const definition = microsoftUetCapi({ tagId });
    const [row] = await runTransform(definition.transform, {
      events: [canonicalPurchase('ord_429')] as Parameters<typeof runTransform>[1]['events'],
    });
    const { value } = await runSend(definition.destination.send, {
      events: [row!],
      secrets: { MICROSOFT_UET_TOKEN: token },
      fetch: async () =>
        new Response(JSON.stringify({ error: { code: 'TooManyRequests', message: 'Slow down' } }), {
          status: 429,
          headers: { 'retry-after': '20' },
        }),
    });
    expect(value).toMatchObject({ outcome: 'retry', code: 'MICROSOFT_HTTP_429', retry_after_seconds: 20 });
  });
});

describe('microsoft-uet-capi settings', () => {
  it('has no test mode: test settings are refused with the reason', () => {
    expect(() => microsoftUetCapiTemplate.create({ tag_id: tagId, test_event_code: 'TEST1' })).toThrowError(
      /test_event_code: Microsoft's UET Conversions API has no test mode/,
    );
    expect(() => microsoftUetCapiTemplate.create({ tag_id: tagId, validate_only: true })).toThrowError(
      /no test mode/,
    );
  });

  it('rejects a non-numeric tag id and a batch above 1000, naming the field', () => {
    expect(() => microsoftUetCapiTemplate.create({ tag_id: 'uet-1' })).toThrowError(/tag_id/);
    expect(() => microsoftUetCapiTemplate.create({ tag_id: tagId, max_batch_size: 1001 })).toThrowError(
      /max_batch_size/,
    );
  });

  it('sends page views as pageLoad events without a name', async () => {
    const [row] = await runTransform(microsoftUetCapi({ tagId }).transform, {
      events: [{ ...canonicalPurchase('pv_1'), event_type: 'page_view' }] as Parameters<
        typeof runTransform
      >[1]['events'],
    });
    expect(row!.event_payload).toMatchObject({ eventType: 'pageLoad', eventId: 'pv_1' });
    expect(row!.event_payload.eventName).toBeUndefined();
  });
});
