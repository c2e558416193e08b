import { purchaseEvent, runSend, tiktokExampleTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import {
  finalRecords,
  finalRecordsById,
  platformBed,
  rawContactPurchase,
  secretsIn,
} from '../testing/engine.js';
import { deliverOne } from '../testing/outcomes.js';
import { tiktokAnswer, tiktokPlatform } from '../testing/platforms.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { tiktokEvents, tiktokEventsTemplate } from './tiktok.js';

const token = 'tt-access-token-3b9d7c51e0a24f68';
const pixelCode = 'C4ABCDEFGH1234567890';

const secrets = { TIKTOK_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof tiktokEvents>[0]> = {}, transform?: string | null) =>
  bed.wireCase(
    tiktokPlatform({ pixelCode, token }),
    tiktokEvents({ pixelCode, baseUrl: bed.server.url, ...options }),
    secrets,
    {
      transform,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: 'John_Smith@gmail.com',
    phone: '+1 (650) 555-1212',
    external_id: 'customer-42',
    contents: [{ id: 'SKU-1', quantity: 1, price: 129.9, name: 'Shoe' }],
    ...overrides,
  });

runTemplateHarness(bed, {
  template: tiktokEventsTemplate,
  settings: (baseUrl) => ({ pixel_code: pixelCode, base_url: baseUrl }),
  secrets,
  standIn: () => tiktokPlatform({ pixelCode, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['John_Smith', 'john_smith@gmail.com', '(650) 555-1212', 'customer-42'],
  badSettings: [
    { settings: { pixel_code: 'no spaces allowed' }, field: 'pixel_code' },
    { settings: { event_source: 'tv' }, field: 'event_source' },
    { settings: { base_url: 'https://api.example/?x=1' }, field: 'base_url' },
  ],
  permanent: {
    answer: tiktokAnswer(40002, 'Invalid value for field: data[0].user.email must be SHA-256'),
    code: 'TIKTOK_40002',
    field: 'data[0].user.email',
  },
  transient: { answer: tiktokAnswer(50002, 'Internal error, please retry'), code: 'TIKTOK_50002' },
  rateLimited: tiktokAnswer(40100, 'Requests made too frequently', 429),
});

describe('tiktok-events template', () => {
  it('delivers with the Access-Token header, the v1.3 body shape and hashed user fields; no secret in the record', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    const request = bed.server.requests[0]!;
    expect(request.url).toBe('/open_api/v1.3/event/track/');
    expect(request.headers['access-token']).toBe(token);
    expect(request.json).toMatchObject({ event_source: 'web', event_source_id: pixelCode });
    expect(platform.accepted[0]).toMatchObject({
      event: 'CompletePayment',
      event_id: 'ord_1',
      user: {
        email: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
        // SHA-256 of the E.164 form "+16505551212".
        phone: '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8',
        ttp: 'ttp-cookie',
        ttclid: 'E.C.P.abc',
        ip: '203.0.113.7',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
      },
      properties: {
        currency: 'EUR',
        value: 129.9,
        order_id: 'ord_1',
        contents: [{ content_id: 'SKU-1', content_name: 'Shoe', price: 129.9, quantity: 1 }],
      },
      page: { url: 'https://shop.example/checkout/thank-you' },
    });
    expect((platform.accepted[0]!.user as { external_id: string }).external_id).toMatch(/^[0-9a-f]{64}$/);
    expect(record.request!.headers['access-token']).toBe('[secret:TIKTOK_ACCESS_TOKEN]');
    expect(secretsIn(record, [token, 'John_Smith'])).toEqual([]);
  });

  it('runs the TikTok example transform unchanged in front of send() (phone_number becomes v1.3 phone)', async () => {
    const { platform, pipes, pipe } = await setup({}, tiktokExampleTransform);
    await pipes.ingest('web', [purchaseEvent('ord_b1'), purchaseEvent('ord_b2')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(platform.accepted[0]!.user).toMatchObject({ email: 'a'.repeat(64), phone: 'b'.repeat(64) });
  });

  it('splits 2500 events into 3 requests of at most 1000', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest(
      'web',
      Array.from({ length: 2500 }, (_, i) => canonicalPurchase(`ord_split_${i}`)),
    );
    const records = await finalRecords(pipes, pipe.id, 2500);
    expect(platform.violations).toEqual([]);
    expect(records.filter((r) => r.status === 'delivered')).toHaveLength(2500);
    expect(bed.server.requests.map((r) => (r.json as { data: unknown[] }).data.length).sort()).toEqual([
      1000, 1000, 500,
    ]);
  });

  it('records code 40001 under HTTP 200 as failed and 40100 as retryable', async () => {
    const { platform, pipes, pipe } = await setup();
    platform.answerNext(tiktokAnswer(40001, 'No permission to operate pixel'));
    await pipes.ingest('web', [canonicalPurchase('ord_denied')]);
    await finalRecords(pipes, pipe.id, 1);
    platform.answerNext(tiktokAnswer(40100, 'Requests made too frequently'));
    await pipes.ingest('web', [canonicalPurchase('ord_busy')]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expect(records.get('ord_denied')).toMatchObject({
      status: 'failed',
      error: { code: 'TIKTOK_40001', retryable: false, message: expect.stringContaining('No permission') },
      response: { status: 200, body: { code: 40001 } },
    });
    // max_attempts is 1 here: a retryable verdict ends as dead.
    expect(records.get('ord_busy')).toMatchObject({
      status: 'dead',
      error: { code: 'TIKTOK_40100', retryable: true },
    });
  });

  it('marks deliveries made with a test_event_code as test mode', async () => {
    const { platform, pipes, pipe } = await setup({ testEventCode: 'TEST31104' });
    await pipes.ingest('web', [canonicalPurchase('ord_test')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'delivered', test_mode: true });
    expect(platform.testCodes).toEqual(['TEST31104']);
  });
});

describe('tiktok-events send() classification of code under HTTP 200', () => {
  const send = () => tiktokEvents({ pixelCode, baseUrl: bed.server.url }).destination.send;
  const outcomeFor = async (code: number, status = 200) => {
    bed.server.handle(() => tiktokAnswer(code, `code ${code}`, status));
    const { value } = await runSend(send(), {
      events: [
        {
          event_type: 'purchase',
          event_time: new Date().toISOString(),
          event_payload: { event: 'CompletePayment', event_time: Math.floor(Date.now() / 1000), user: {} },
        },
      ],
      secrets,
      fetch: globalThis.fetch,
    });
    return value as { outcome: string; code?: string };
  };

  it('treats 0 and 20001 (partial success) as delivered', async () => {
    expect(await outcomeFor(0)).toMatchObject({ outcome: 'delivered' });
    expect(await outcomeFor(20001)).toMatchObject({ outcome: 'delivered' });
  });

  it.each([40100, 40132, 50000, 50002, 51001, 51999, 60001, 61000])('retries code %i', async (code) => {
    expect(await outcomeFor(code)).toMatchObject({ outcome: 'retry', code: `TIKTOK_${code}` });
  });

  it.each([40000, 40001, 40002, 40061, 40062, 40102, 40104, 40105])('never retries code %i', async (code) => {
    expect(await outcomeFor(code)).toMatchObject({ outcome: 'failed', code: `TIKTOK_${code}` });
  });

  it('lets the body code decide over the HTTP status, and the status decide without a code', async () => {
    expect(await outcomeFor(40002, 400)).toMatchObject({ outcome: 'failed', code: 'TIKTOK_40002' });
    bed.server.handle(() => ({ status: 502, body: '<html>Bad Gateway</html>' }));
    const { value } = await runSend(send(), {
      events: [{ event_type: 'x', event_time: new Date().toISOString(), event_payload: { event: 'X' } }],
      secrets,
      fetch: globalThis.fetch,
    });
    expect(value).toMatchObject({ outcome: 'retry', code: 'HTTP_502' });
  });
});

describe('tiktok-events settings', () => {
  it('rejects a bad pixel code and an event_source TikTok does not know', () => {
    expect(() => tiktokEventsTemplate.create({ pixel_code: '!' })).toThrowError(/pixel_code/);
    expect(() => tiktokEventsTemplate.create({ pixel_code: pixelCode, event_source: 'tv' })).toThrowError(
      /event_source/,
    );
  });

  it('defaults to business-api.tiktok.com v1.3 and batches of 1000', () => {
    const { destination } = tiktokEventsTemplate.create({ pixel_code: pixelCode });
    expect(destination.send).toContain('"base_url": "https://business-api.tiktok.com"');
    expect(destination.send).toContain('"api_version": "v1.3"');
    expect(destination.max_batch_size).toBe(1000);
  });
});
