import { runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { daysOld, finalRecordsById, platformBed, rawContactPurchase, secretsIn } from '../testing/engine.js';
import { microsoftError, microsoftPlatform } from '../testing/microsoft-platform.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { microsoftUetCapi, microsoftUetCapiTemplate } from './microsoft.js';

const token = 'uet-capi-token-5a1f9c3e';
const tagId = '187000123';

const secrets = { MICROSOFT_UET_TOKEN: token };
const bed = platformBed();

const setup = (maxAttempts = 1, transform?: string | null) =>
  bed.wireCase(
    microsoftPlatform({ tagId, token }),
    microsoftUetCapi({ tagId, baseUrl: bed.server.url }),
    secrets,
    {
      maxAttempts,
      transform,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
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

runTemplateHarness(bed, {
  template: microsoftUetCapiTemplate,
  settings: (baseUrl) => ({ tag_id: tagId, base_url: baseUrl }),
  secrets,
  standIn: () => microsoftPlatform({ tagId, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '+16505551212'],
  badSettings: [
    { settings: { tag_id: 'uet-1' }, field: 'tag_id' },
    { settings: { base_url: 'ftp://capi.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: microsoftError(400, 'InvalidRequest', 'The request is invalid', [
      {
        propertyName: 'dataProvider',
        errorMessage: 'is not a known provider',
        errorCode: 'InvalidValue',
        isWarning: false,
      },
    ]),
    code: 'MICROSOFT_HTTP_400',
    field: 'dataProvider',
  },
  transient: {
    answer: microsoftError(503, 'ServiceUnavailable', 'Try again later'),
    code: 'MICROSOFT_HTTP_503',
  },
  rateLimited: microsoftError(429, 'TooManyRequests', 'Slow down'),
});

describe('microsoft-uet-capi template', () => {
  it('delivers a purchase with msclkid, SHA-256 email and E.164 phone, ad storage consent, the token redacted', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

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
    expect(record.request!.headers).toMatchObject({ authorization: 'Bearer [secret:MICROSOFT_UET_TOKEN]' });
    expect(
      secretsIn(record, [token, 'John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '+16505551212']),
    ).toEqual([]);
  });

  it('marks only the events a 200 reports invalid (by index), naming the property', async () => {
    const { platform, pipes, pipe } = await setup(1, null);
    await pipes.ingest('web', [
      uetEvent('evt_ok_1'),
      uetEvent('evt_bad', { adStorageConsent: 'yes' }),
      uetEvent('evt_ok_2'),
    ]);
    const records = await finalRecordsById(pipes, pipe.id, 3);
    // The stand-in saw the invalid event (as Microsoft would) and kept the others.
    expect(platform.violations).toEqual(['data[1].adStorageConsent must be G or D']);
    expectDelivered(records, 'evt_ok_1', 'evt_ok_2');
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
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_new'),
      daysOld(canonicalPurchase('ord_old'), 8),
    ]);
    expectDelivered(records, 'ord_new');
    expectRefusedBeforeSending(records, 'ord_old', { code: 'EVENT_TOO_OLD' });
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

  it("fills msclkid and the hashed email from the stitched profile, never over the event's own", async () => {
    const profiles = {
      ord_p1: {
        identifiers: { msclkid: ['clk-from-profile'], email: [{ sha256: sha256('p@shop.example') }] },
      },
      ord_p2: { identifiers: { msclkid: ['clk-from-profile'] } },
    };
    const rows = await runTransform(microsoftUetCapi({ tagId }).transform, {
      events: [
        canonicalPurchase('ord_p1', { msclkid: undefined, email: undefined }),
        canonicalPurchase('ord_p2'),
      ] as Parameters<typeof runTransform>[1]['events'],
      profiles,
    });
    expect(rows.map((r) => (r.event_payload.userData as { msclkid: string }).msclkid)).toEqual([
      'clk-from-profile',
      'cdd4afcccb1c9a4cad9544dd7e5006d5-1',
    ]);
    expect((rows[0]!.event_payload.userData as { em: string }).em).toBe(sha256('p@shop.example'));
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
