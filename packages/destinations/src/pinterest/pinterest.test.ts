import { purchaseEvent, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { finalRecordsById, platformBed, rawContactPurchase, secretsIn } from '../testing/engine.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { pinterestError, pinterestPlatform } from '../testing/pinterest-platform.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { pinterestCapi, pinterestCapiTemplate } from './pinterest.js';

const token = 'pina_conversion-token-3e8c1f0a';
const adAccountId = '549755885175';

const secrets = { PINTEREST_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof pinterestCapi>[0]> = {}, maxAttempts = 1) =>
  bed.wireCase(
    pinterestPlatform({ adAccountId, token }),
    pinterestCapi({ adAccountId, baseUrl: bed.server.url, ...options }),
    secrets,
    {
      maxAttempts,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: '  John_Smith@gmail.com ',
    phone: '+1 (650) 555-1212',
    gender: 'Non-binary',
    epik: 'dj0yJnU9golden-epik',
    contents: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
    ...overrides,
  });

runTemplateHarness(bed, {
  template: pinterestCapiTemplate,
  settings: (baseUrl) => ({ ad_account_id: adAccountId, base_url: baseUrl }),
  secrets,
  standIn: () => pinterestPlatform({ adAccountId, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '16505551212'],
  badSettings: [
    { settings: { ad_account_id: 'act_1' }, field: 'ad_account_id' },
    { settings: { action_source: 'fax' }, field: 'action_source' },
    { settings: { base_url: 'ftp://api.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: pinterestError(400, 4196, 'The request was invalid: data[0].custom_data.value must be a string'),
    code: 'PINTEREST_HTTP_400',
    field: 'custom_data.value',
  },
  transient: {
    answer: pinterestError(
      503,
      4197,
      'The endpoint has been ramped down and is currently not accepting any traffic.',
    ),
    code: 'PINTEREST_HTTP_503',
  },
  rateLimited: pinterestError(429, 8, 'This request exceeded a rate limit.'),
});

describe('pinterest-capi template', () => {
  it('delivers a purchase as a checkout: lists of SHA-256, money as strings, epik as click_id, the bearer token redacted', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      event_name: 'checkout',
      action_source: 'web',
      event_time: expect.any(Number),
      event_id: 'ord_1',
      event_source_url: 'https://shop.example/checkout/thank-you',
      user_data: {
        em: ['62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'],
        ph: [sha256('16505551212')],
        ge: [sha256('n')],
        client_ip_address: '203.0.113.7',
        client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        click_id: 'dj0yJnU9golden-epik',
      },
      custom_data: {
        currency: 'EUR',
        value: '129.9',
        order_id: 'ord_1',
        content_ids: ['SKU-1'],
        contents: [{ id: 'SKU-1', item_price: '64.95', quantity: 2 }],
        num_items: 2,
      },
    });
    expect(bed.server.requests.at(-1)!.url).toBe(`/v5/ad_accounts/${adAccountId}/events`);
    expect(record.request!.headers).toMatchObject({
      authorization: 'Bearer [secret:PINTEREST_ACCESS_TOKEN]',
    });
    expect(
      secretsIn(record, [token, 'John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '16505551212']),
    ).toEqual([]);
  });

  it("marks only the events Pinterest's 200 reports as failed, with its error message", async () => {
    const { platform, pipes, pipe } = await setup();
    platform.failEvents({ ord_bad: 'event_time is too far in the past' });
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_good_1'),
      canonicalPurchase('ord_bad'),
      canonicalPurchase('ord_good_2'),
    ]);
    expectDelivered(records, 'ord_good_1', 'ord_good_2');
    expect(records.get('ord_bad')).toMatchObject({
      status: 'failed',
      error: {
        code: 'PINTEREST_EVENT_FAILED',
        retryable: false,
        message: 'event_time is too far in the past',
      },
    });
    expect(bed.server.requests).toHaveLength(1);
  });

  it('maps the per-event statuses of a 422 "Not all events were successfully processed"', async () => {
    const { platform, pipes, pipe } = await setup();
    platform.answerNext({
      status: 422,
      body: {
        code: 4198,
        message: 'Not all events were successfully processed.',
        details: {
          num_events_received: 2,
          num_events_processed: 1,
          events: [
            { status: 'processed' },
            { status: 'failed', error_message: 'user_data.em is not a valid hash' },
          ],
        },
      },
    });
    await pipes.ingest('web', [canonicalPurchase('ord_422_ok'), canonicalPurchase('ord_422_bad')]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expectDelivered(records, 'ord_422_ok');
    expect(records.get('ord_422_bad')).toMatchObject({
      status: 'failed',
      error: { code: 'PINTEREST_EVENT_FAILED', message: expect.stringContaining('user_data.em') },
    });
  });

  it('fails an event without user data Pinterest can match alone, before sending', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_ok'),
      canonicalPurchase('ord_anonymous', { email: undefined, phone: undefined, ua: undefined }),
    ]);
    expectDelivered(records, 'ord_ok');
    expectRefusedBeforeSending(records, 'ord_anonymous', {
      code: 'INVALID_EVENT',
      message: expect.stringContaining('client_user_agent'),
    });
  });

  it('sends ?test=true in test mode and marks records test_mode', async () => {
    const { platform, pipes, pipe } = await setup({ testMode: true });
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_test'));
    expect(record).toMatchObject({ status: 'delivered', test_mode: true });
    expect(platform.accepted).toEqual([]);
    expect(platform.tested.map((e) => e.event_id)).toEqual(['ord_test']);
    expect(bed.server.requests.at(-1)!.url).toBe(`/v5/ad_accounts/${adAccountId}/events?test=true`);
  });
});

describe('pinterest-capi transform', () => {
  it('fills click_id from the stitched profile and passes opt_out from consent', async () => {
    const event = purchaseEvent('ord_profile', { consent: { ad_personalization: 'DENIED' } });
    const profiles = { ord_profile: { identifiers: { epik: ['epik-from-profile'] } } };
    const [row] = await runTransform(pinterestCapi({ adAccountId }).transform, {
      events: [event] as Parameters<typeof runTransform>[1]['events'],
      profiles,
    });
    expect(row!.event_payload).toMatchObject({
      opt_out: true,
      user_data: { em: ['a'.repeat(64)], ph: ['b'.repeat(64)], click_id: 'epik-from-profile' },
    });
  });
});

describe('pinterest-capi settings', () => {
  it('rejects a non-numeric ad account and a batch above 1000, naming the field', () => {
    expect(() => pinterestCapiTemplate.create({ ad_account_id: 'act_1' })).toThrowError(/ad_account_id/);
    expect(() =>
      pinterestCapiTemplate.create({ ad_account_id: adAccountId, max_batch_size: 1001 }),
    ).toThrowError(/max_batch_size/);
  });

  it('defaults to api.pinterest.com and needs PINTEREST_ACCESS_TOKEN', () => {
    const { destination, requiredSecrets } = pinterestCapiTemplate.create({ ad_account_id: adAccountId });
    expect(destination.send).toContain('"base_url": "https://api.pinterest.com"');
    expect(destination.max_batch_size).toBe(1000);
    expect(requiredSecrets.map((s) => s.key)).toEqual(['PINTEREST_ACCESS_TOKEN']);
  });
});
