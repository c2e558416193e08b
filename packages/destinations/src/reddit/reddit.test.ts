import { purchaseEvent, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import {
  daysOld,
  finalRecords,
  finalRecordsById,
  platformBed,
  rawContactPurchase,
  secretsIn,
} from '../testing/engine.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { redditError, redditInvalidEvents, redditPlatform } from '../testing/reddit-platform.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { redditCapi, redditCapiTemplate } from './reddit.js';

const token = 'reddit-conversion-token-0d8e4b7f';
const pixelId = 'a2_gv0ir2x4r0wz';

const secrets = { REDDIT_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof redditCapi>[0]> = {}, maxAttempts = 1) =>
  bed.wireCase(
    redditPlatform({ pixelId, token }),
    redditCapi({ pixelId, baseUrl: bed.server.url, ...options }),
    secrets,
    {
      maxAttempts,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: ' Al.ice$+Apple@Example.Com',
    phone: '+1 (650) 555-1212',
    external_id: 'cust-42',
    rdt_cid: 'rdt-click-7f3a',
    rdt_uuid: '1714816462.6b2f-rdt-uuid',
    contents: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
    ...overrides,
  });

const transformed = (events: unknown[], profiles?: unknown) =>
  runTransform(redditCapi({ pixelId }).transform, {
    events: events as Parameters<typeof runTransform>[1]['events'],
    ...(profiles === undefined ? {} : { profiles }),
  });

runTemplateHarness(bed, {
  template: redditCapiTemplate,
  settings: (baseUrl) => ({ pixel_id: pixelId, base_url: baseUrl }),
  secrets,
  standIn: () => redditPlatform({ pixelId, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['Al.ice', 'alice@example.com', '(650) 555-1212', '+16505551212', 'cust-42'],
  badSettings: [
    { settings: { pixel_id: '12345' }, field: 'pixel_id' },
    { settings: { action_source: 'WEB' }, field: 'action_source' },
    { settings: { base_url: 'ftp://ads.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: redditError(400, 'data.events[0].metadata.currency: not a valid ISO 4217 code'),
    code: 'REDDIT_HTTP_400',
    field: 'metadata.currency',
  },
  transient: { answer: redditError(502, 'Bad Gateway'), code: 'REDDIT_HTTP_502' },
  rateLimited: redditError(429, 'Too Many Requests'),
});

describe('reddit-capi template', () => {
  it("delivers a purchase with Reddit's email rule, hashed IP, event_at in ms and its own User-Agent", async () => {
    const { platform, pipes, pipe } = await setup();
    const eventTime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();
    const record = await deliverOne(platform, pipes, pipe.id, {
      ...canonicalPurchase('ord_1'),
      event_time: eventTime,
    });

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      event_at: Date.parse(eventTime),
      action_source: 'WEBSITE',
      event_source_url: 'https://shop.example/checkout/thank-you',
      click_id: 'rdt-click-7f3a',
      type: { tracking_type: 'PURCHASE' },
      metadata: {
        conversion_id: 'ord_1',
        currency: 'EUR',
        value: 129.9,
        item_count: 2,
        products: [{ id: 'SKU-1' }],
      },
      user: {
        // Reddit's published vector: Al.ice$+Apple@Example.Com -> alice@example.com -> ff8d9819...
        email: 'ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976',
        phone_number: sha256('+16505551212'),
        external_id: sha256('cust-42'),
        ip_address: sha256('203.0.113.7'),
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        uuid: '1714816462.6b2f-rdt-uuid',
      },
    });
    const sent = bed.server.requests.at(-1)!;
    expect(sent.url).toBe(`/api/v3/pixels/${pixelId}/conversion_events`);
    expect(sent.headers['user-agent']).toBe('openpipes-reddit-capi/1.0');
    expect(record.request!.headers).toMatchObject({ authorization: 'Bearer [secret:REDDIT_ACCESS_TOKEN]' });
    expect(
      secretsIn(record, [token, 'Al.ice', 'alice@example.com', '(650) 555-1212', '+16505551212', 'cust-42']),
    ).toEqual([]);
  });

  it('fails only an event older than 7 days, before sending, and sends its batch-mates', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_new'),
      daysOld(canonicalPurchase('ord_old'), 8),
    ]);
    expectDelivered(records, 'ord_new');
    expectRefusedBeforeSending(records, 'ord_old', { code: 'EVENT_TOO_OLD', retryable: false });
    expect(platform.accepted.map((e) => (e.metadata as { conversion_id: string }).conversion_id)).toEqual([
      'ord_new',
    ]);
  });

  it("fails only the events a 400's invalid_events names and retries their unprocessed batch-mates", async () => {
    const { platform, pipes, pipe } = await setup({}, 2);
    platform.answerNext(
      redditInvalidEvents([
        {
          error_message: 'there was a problem validating metadata.currency: unknown currency',
          event: { metadata: { conversion_id: 'ord_bad' } },
        },
      ]),
    );
    await pipes.ingest('web', [canonicalPurchase('ord_good'), canonicalPurchase('ord_bad')]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expect(records.get('ord_bad')).toMatchObject({
      status: 'failed',
      attempt_count: 1,
      error: {
        code: 'REDDIT_INVALID_EVENT',
        retryable: false,
        message: expect.stringContaining('metadata.currency'),
      },
    });
    expect(records.get('ord_good')).toMatchObject({ status: 'delivered', attempt_count: 2 });
    expect(records.get('ord_good')!.attempts![0]!.error).toMatchObject({
      code: 'REDDIT_NOT_PROCESSED',
      retryable: true,
    });
    expect(platform.accepted.map((e) => (e.metadata as { conversion_id: string }).conversion_id)).toEqual([
      'ord_good',
    ]);
  });

  it('sends one event per request with the test_id in test mode and marks records test_mode', async () => {
    const { platform, pipes, pipe } = await setup({ testId: 't2_event_tester_9' });
    await pipes.ingest('web', [canonicalPurchase('ord_test_1'), canonicalPurchase('ord_test_2')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => [r.status, r.test_mode])).toEqual([
      ['delivered', true],
      ['delivered', true],
    ]);
    expect(platform.accepted).toEqual([]);
    expect(platform.tested.map((t) => t.testId)).toEqual(['t2_event_tester_9', 't2_event_tester_9']);
  });
});

describe('reddit-capi transform', () => {
  it('fills click_id, uuid and the Reddit email digest from the stitched profile; other names become CUSTOM', async () => {
    const event = purchaseEvent('ord_profile', { hashed_email: undefined, hashed_phone: undefined });
    const profiles = {
      ord_profile: {
        identifiers: {
          email: [{ sha256: sha256('al.ice@example.com'), sha256_reddit: sha256('alice@example.com') }],
          rdt_cid: ['cid-from-profile'],
          rdt_uuid: ['uuid-from-profile'],
        },
      },
    };
    const [row] = await transformed([event], profiles);
    expect(row!.event_payload).toMatchObject({
      click_id: 'cid-from-profile',
      user: { email: sha256('alice@example.com'), uuid: 'uuid-from-profile' },
    });
    const custom = redditCapi({ pixelId, eventNames: { begin_checkout: 'StartCheckout' } });
    const [out] = await runTransform(custom.transform, {
      events: [{ ...canonicalPurchase('ord_c'), event_type: 'begin_checkout' }] as Parameters<
        typeof runTransform
      >[1]['events'],
    });
    expect(out!.event_payload.type).toEqual({ tracking_type: 'CUSTOM', custom_event_name: 'StartCheckout' });
  });
});

describe('reddit-capi settings', () => {
  it('rejects a bad pixel id and a batch above 1000, naming the field', () => {
    expect(() => redditCapiTemplate.create({ pixel_id: '12345' })).toThrowError(/pixel_id/);
    expect(() => redditCapiTemplate.create({ pixel_id: pixelId, max_batch_size: 1001 })).toThrowError(
      /max_batch_size/,
    );
  });

  it('defaults to ads-api.reddit.com and needs REDDIT_ACCESS_TOKEN', () => {
    const { destination, requiredSecrets } = redditCapiTemplate.create({ pixel_id: pixelId });
    expect(destination.send).toContain('"base_url": "https://ads-api.reddit.com"');
    expect(destination.max_batch_size).toBe(1000);
    expect(requiredSecrets.map((s) => s.key)).toEqual(['REDDIT_ACCESS_TOKEN']);
  });
});
