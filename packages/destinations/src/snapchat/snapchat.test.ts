import { purchaseEvent, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { daysOld, platformBed, rawContactPurchase, secretsIn } from '../testing/engine.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { sha256 } from '../testing/sha256.js';
import { snapchatError, snapchatPlatform } from '../testing/snapchat-platform.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { snapchatCapi, snapchatCapiTemplate } from './snapchat.js';

const token = 'snap-capi-token-7c41e0d2b9';
const pixelId = '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b';

const secrets = { SNAPCHAT_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof snapchatCapi>[0]> = {}, maxAttempts = 1) =>
  bed.wireCase(
    snapchatPlatform({ pixelId, token }),
    snapchatCapi({ pixelId, baseUrl: bed.server.url, ...options }),
    secrets,
    {
      maxAttempts,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: ' Person@Example.com ',
    phone: '+44 844 412 4653',
    sc_click_id: 'a3f4b5c6-d7e8-9012-3456-7890abcdef12',
    sc_cookie1: '9d2c0e6f-scid-cookie',
    contents: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
    ...overrides,
  });

runTemplateHarness(bed, {
  template: snapchatCapiTemplate,
  settings: (baseUrl) => ({ pixel_id: pixelId, base_url: baseUrl }),
  secrets,
  standIn: () => snapchatPlatform({ pixelId, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['Person@Example', 'person@example.com', '844 412 4653', '448444124653'],
  badSettings: [
    { settings: { pixel_id: 'not a pixel' }, field: 'pixel_id' },
    { settings: { action_source: 'FAX' }, field: 'action_source' },
    { settings: { base_url: 'ftp://tr.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: snapchatError('data[0].user_data.em must be SHA-256 (64 lowercase hex)'),
    code: 'SNAPCHAT_INVALID',
    field: 'user_data.em',
  },
  transient: { answer: { status: 503, body: '<html>Service Unavailable</html>' }, code: 'SNAPCHAT_HTTP_503' },
  rateLimited: snapchatError('Too many requests', 429),
});

describe('snapchat-capi template', () => {
  it("delivers a purchase hashed with Snap's own vectors, the token only in the (redacted) URL", async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      event_name: 'PURCHASE',
      event_time: expect.any(Number),
      event_id: 'ord_1',
      action_source: 'WEB',
      event_source_url: 'https://shop.example/checkout/thank-you',
      user_data: {
        // Snap's published examples: person@example.com and 448444124653.
        em: [sha256('person@example.com')],
        ph: [sha256('448444124653')],
        client_ip_address: '203.0.113.7',
        client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        sc_click_id: 'a3f4b5c6-d7e8-9012-3456-7890abcdef12',
        sc_cookie1: '9d2c0e6f-scid-cookie',
      },
      custom_data: {
        value: 129.9,
        currency: 'EUR',
        order_id: 'ord_1',
        content_ids: ['SKU-1'],
        contents: [{ id: 'SKU-1', quantity: 2, item_price: 64.95 }],
        num_items: 2,
      },
    });
    expect(sha256('person@example.com')).toMatch(/^542d2401.*3345$/);
    expect(sha256('448444124653')).toMatch(/^dc008fda.*6383$/);
    expect(bed.server.requests.at(-1)!.url).toBe(`/v3/${pixelId}/events?access_token=${token}`);
    expect(record.request!.url).toBe(
      `${bed.server.url}/v3/${pixelId}/events?access_token=[secret:SNAPCHAT_ACCESS_TOKEN]`,
    );
    expect(
      secretsIn(record, [token, 'Person@Example', 'person@example.com', '844 412 4653', '448444124653']),
    ).toEqual([]);
  });

  it('fails only the events Snap would refuse (no currency, too old), and sends their batch-mates', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_ok'),
      canonicalPurchase('ord_no_currency', { currency: undefined }),
      daysOld(canonicalPurchase('ord_old'), 38),
    ]);
    expectDelivered(records, 'ord_ok');
    expect(records.get('ord_no_currency')).toMatchObject({
      status: 'failed',
      error: {
        code: 'INVALID_EVENT',
        retryable: false,
        message: expect.stringContaining('custom_data.currency'),
      },
    });
    expectRefusedBeforeSending(records, 'ord_old', { code: 'EVENT_TOO_OLD' });
    expect(platform.accepted.map((e) => e.event_id)).toEqual(['ord_ok']);
  });

  it('sends to the validate endpoint in test mode and marks records test_mode', async () => {
    const { platform, pipes, pipe } = await setup({ validateOnly: true });
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_test'));
    expect(record).toMatchObject({ status: 'delivered', test_mode: true });
    expect(platform.accepted).toEqual([]);
    expect(platform.validated.map((e) => e.event_id)).toEqual(['ord_test']);
    expect(bed.server.requests.at(-1)!.url).toMatch(/\/events\/validate\?access_token=/);
  });
});

async function transformed(events: ReturnType<typeof canonicalPurchase>[], profiles?: unknown) {
  const definition = snapchatCapi({ pixelId });
  return runTransform(definition.transform, {
    events: events as Parameters<typeof runTransform>[1]['events'],
    ...(profiles === undefined ? {} : { profiles }),
  });
}

describe('snapchat-capi transform', () => {
  it('fills sc_click_id, sc_cookie1 and the hashed email from the stitched profile, never over the event', async () => {
    const event = purchaseEvent('ord_profile', {
      hashed_email: undefined,
      hashed_phone: undefined,
      ip: undefined,
      ua: undefined,
    });
    const profiles = {
      ord_profile: {
        identifiers: {
          email: [{ sha256: sha256('person@example.com') }],
          phone: [{ sha256: sha256('+448444124653'), sha256_digits: sha256('448444124653') }],
          sc_click_id: ['ScCid-from-profile'],
          sc_cookie1: ['scid-from-profile'],
        },
        ip: '198.51.100.9',
        user_agent: 'Profile UA',
      },
    };
    const [row] = await transformed([event as ReturnType<typeof canonicalPurchase>], profiles);
    expect(row!.event_payload.user_data).toEqual({
      em: [sha256('person@example.com')],
      ph: [sha256('448444124653')],
      client_ip_address: '198.51.100.9',
      client_user_agent: 'Profile UA',
      sc_click_id: 'ScCid-from-profile',
      sc_cookie1: 'scid-from-profile',
    });
  });

  it('filters event types Snap has no name for (lead)', async () => {
    const rows = await transformed([
      { ...canonicalPurchase('ord_lead'), event_type: 'lead' },
      canonicalPurchase('ord_kept'),
    ]);
    expect(rows.map((r) => (r.event_payload as { event_id: string }).event_id)).toEqual(['ord_kept']);
  });
});

describe('snapchat-capi settings', () => {
  it('rejects a bad pixel id and a batch above 2000, naming the field', () => {
    expect(() => snapchatCapiTemplate.create({ pixel_id: 'not a pixel' })).toThrowError(/pixel_id/);
    expect(() => snapchatCapiTemplate.create({ pixel_id: pixelId, max_batch_size: 2001 })).toThrowError(
      /max_batch_size/,
    );
  });

  it('defaults to tr.snapchat.com and needs SNAPCHAT_ACCESS_TOKEN', () => {
    const { destination, requiredSecrets } = snapchatCapiTemplate.create({ pixel_id: pixelId });
    expect(destination.send).toContain('"base_url": "https://tr.snapchat.com"');
    expect(destination.max_batch_size).toBe(2000);
    expect(requiredSecrets.map((s) => s.key)).toEqual(['SNAPCHAT_ACCESS_TOKEN']);
  });
});
