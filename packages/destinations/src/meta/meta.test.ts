import { metaExampleTransform, purchaseEvent, runSend } from '@openpipes/core/testing';
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
import { metaError, metaPlatform } from '../testing/platforms.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { metaCapi, metaCapiTemplate } from './meta.js';

const token = 'EAAB-meta-test-token-5f0c2e9a7d1b';
const pixelId = '998877665544';

const secrets = { META_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof metaCapi>[0]> = {}, transform?: string | null) =>
  bed.wireCase(
    metaPlatform({ pixelId, token }),
    metaCapi({ pixelId, baseUrl: bed.server.url, ...options }),
    secrets,
    {
      transform,
    },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: '  John_Smith@gmail.com ',
    phone: '+1 (650) 555-1212',
    first_name: 'John',
    city: 'Menlo Park',
    zip: '94025-1234',
    country: 'US',
    contents: [{ id: 'SKU-1', quantity: 2, price: 64.95 }],
    ...overrides,
  });

runTemplateHarness(bed, {
  template: metaCapiTemplate,
  settings: (baseUrl) => ({ pixel_id: pixelId, base_url: baseUrl }),
  secrets,
  standIn: () => metaPlatform({ pixelId, token }),
  event: (id) => canonicalPurchase(id),
  personalData: ['John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '16505551212'],
  badSettings: [
    { settings: { pixel_id: 'abc' }, field: 'pixel_id' },
    { settings: { api_version: '26' }, field: 'api_version' },
    { settings: { base_url: 'ftp://graph.example' }, field: 'base_url' },
    { settings: { action_source: 'fax' }, field: 'action_source' },
  ],
  permanent: {
    answer: metaError(100, '(#100) Invalid parameter', {
      userMessage: 'The parameter user_data.em is not a valid SHA-256 hash',
    }),
    code: 'META_100',
    field: 'user_data.em',
  },
  transient: { answer: metaError(2, 'Service temporarily unavailable'), code: 'META_2' },
  rateLimited: metaError(4, '(#4) Application request limit reached', { status: 429 }),
});

describe('meta-capi template', () => {
  it('delivers a purchase with hashed user data, the token in the body only, and no secret in the record', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    const sent = platform.accepted[0]!;
    expect(sent).toMatchObject({
      event_name: 'Purchase',
      event_id: 'ord_1',
      action_source: 'website',
      event_source_url: 'https://shop.example/checkout/thank-you',
      user_data: {
        em: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
        ph: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
        client_ip_address: '203.0.113.7',
        client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        fbp: 'fb.1.1714816462.1234567890',
        fbc: 'fb.1.1714816462.IwAR0abc',
      },
      custom_data: { value: 129.9, currency: 'EUR', order_id: 'ord_1', content_ids: ['SKU-1'] },
    });
    expect(bed.server.requests.at(-1)!.url).toBe(`/v26.0/${pixelId}/events`);
    expect(record.request).toMatchObject({
      url: `${bed.server.url}/v26.0/${pixelId}/events`,
      payload: { access_token: '[secret:META_ACCESS_TOKEN]', data: [{ event_id: 'ord_1' }] },
    });
    expect(record.response).toMatchObject({ status: 200, body: { events_received: 1 } });
    // The raw personal data in every form a send() could leak it: as given and normalised. (Not a
    // bare '650': hashes, ids and timestamps contain such digit runs by chance.)
    expect(
      secretsIn(record, [token, 'John_Smith', 'john_smith@gmail.com', '(650) 555-1212', '16505551212']),
    ).toEqual([]);
  });

  it('runs the Meta example transform unchanged in front of send()', async () => {
    const { platform, pipes, pipe } = await setup({}, metaExampleTransform);
    await pipes.ingest('web', [purchaseEvent('ord_b1'), purchaseEvent('ord_b2')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(platform.accepted.map((e) => e.event_id).sort()).toEqual(['ord_b1', 'ord_b2']);
    expect(platform.accepted[0]!.user_data).toMatchObject({ em: 'a'.repeat(64), ph: 'b'.repeat(64) });
  });

  it('splits 2500 events into 3 requests of at most 1000', async () => {
    const { platform, pipes, pipe } = await setup();
    const events = Array.from({ length: 2500 }, (_, i) => canonicalPurchase(`ord_split_${i}`));
    await pipes.ingest('web', events);
    const records = await finalRecords(pipes, pipe.id, 2500);
    expect(platform.violations).toEqual([]);
    expect(records.filter((r) => r.status === 'delivered')).toHaveLength(2500);
    expect(bed.server.requests.map((r) => (r.json as { data: unknown[] }).data.length).sort()).toEqual([
      1000, 1000, 500,
    ]);
    // A record shows its own row of the batch, not the 999 others.
    const one = await pipes.deliveries.get(records[0]!.id);
    expect((one.request!.payload as { data: unknown[] }).data).toHaveLength(1);
  });

  it('refuses an event older than 7 days before sending, with its own error, and sends its batch-mates', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_new_1'),
      daysOld(canonicalPurchase('ord_old'), 8),
      canonicalPurchase('ord_new_2'),
    ]);
    expectDelivered(records, 'ord_new_1', 'ord_new_2');
    expectRefusedBeforeSending(records, 'ord_old', {
      code: 'EVENT_TOO_OLD',
      retryable: false,
      stage: 'send',
    });
    expect(records.get('ord_old')!.error!.message).toMatch(/more than 7 days ago/);
    expect(bed.server.requests).toHaveLength(1);
    expect(platform.accepted.map((e) => e.event_id)).toEqual(['ord_new_1', 'ord_new_2']);
    // Each record shows its own row of the request (the refused event shows none, checked above).
    for (const id of ['ord_new_1', 'ord_new_2']) {
      const rows = (records.get(id)!.request!.payload as { data: Array<{ event_id: string }> }).data;
      expect(rows.map((r) => r.event_id)).toEqual([id]);
    }
  });

  it('records a throttled request (code 17) as retryable and an expired token (190) as failed', async () => {
    const { platform, pipes, pipe } = await setup();
    platform.answerNext(metaError(17, '(#17) User request limit reached', { status: 400 }));
    await pipes.ingest('web', [canonicalPurchase('ord_throttled')]);
    const [throttled] = await finalRecords(pipes, pipe.id, 1);
    // max_attempts is 1 in this test, so a retryable verdict ends the delivery as dead.
    expect(throttled).toMatchObject({
      status: 'dead',
      error: {
        code: 'META_17',
        retryable: true,
        message: expect.stringContaining('User request limit reached'),
      },
    });

    platform.answerNext(metaError(190, 'Error validating access token: Session has expired'));
    await pipes.ingest('web', [canonicalPurchase('ord_expired')]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expect(records.get('ord_expired')).toMatchObject({
      status: 'failed',
      attempt_count: 1,
      error: { code: 'META_190', retryable: false },
    });
    expect(secretsIn([...records.values()], [token])).toEqual([]);
  });

  it('marks deliveries made with a test_event_code as test mode', async () => {
    const { platform, pipes, pipe } = await setup({ testEventCode: 'TEST12345' });
    await pipes.ingest('web', [canonicalPurchase('ord_test')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'delivered', test_mode: true });
    expect(platform.testCodes).toEqual(['TEST12345']);
    expect(record!.request!.payload).toMatchObject({ test_event_code: 'TEST12345' });
  });
});

describe('meta-capi send() error classification', () => {
  const definition = () => metaCapi({ pixelId, baseUrl: bed.server.url });
  const row = () => ({
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_payload: {
      event_name: 'Purchase',
      event_time: Math.floor(Date.now() / 1000),
      action_source: 'website',
      user_data: { em: 'a'.repeat(64), client_user_agent: 'UA' },
    },
  });
  const outcomeFor = async (answer: ReturnType<typeof metaError>) => {
    bed.server.handle(() => answer);
    const { value } = await runSend(definition().destination.send, {
      events: [row()],
      secrets,
      fetch: globalThis.fetch,
    });
    return value as { outcome: string; code: string };
  };

  const retried = [1, 2, 4, 17, 341, 368, 613, 80000, 80004, 80014];
  it.each(retried)('retries Meta error code %i', async (code) => {
    expect(await outcomeFor(metaError(code, 'temporary'))).toMatchObject({
      outcome: 'retry',
      code: `META_${code}`,
    });
  });

  const never = [190, 10, 200, 294, 299, 100];
  it.each(never)('never retries Meta error code %i', async (code) => {
    expect(await outcomeFor(metaError(code, 'permanent'))).toMatchObject({
      outcome: 'failed',
      code: `META_${code}`,
    });
  });

  it('retries a 5xx without a Meta error body and fails an unknown 4xx', async () => {
    expect(await outcomeFor({ status: 503, body: '<html>Service Unavailable</html>' })).toMatchObject({
      outcome: 'retry',
      code: 'HTTP_503',
    });
    expect(await outcomeFor({ status: 404, body: 'nope' })).toMatchObject({
      outcome: 'failed',
      code: 'HTTP_404',
    });
  });

  it('keeps the subcode and the user message of "Event Timestamp Too Old" in the error', async () => {
    const value = await outcomeFor(
      metaError(100, 'Invalid parameter', { subcode: 2804003, userMessage: 'Event Timestamp Too Old' }),
    );
    expect(value).toMatchObject({ outcome: 'failed', code: 'META_100' });
    expect((value as unknown as { message: string }).message).toMatch(
      /Event Timestamp Too Old.*subcode 2804003/,
    );
  });
});

describe('meta-capi settings', () => {
  it('rejects settings without a numeric pixel id, naming the field', () => {
    expect(() => metaCapiTemplate.create({ pixel_id: 'abc' })).toThrowError(/pixel_id/);
    expect(() => metaCapiTemplate.create({ pixel_id: '123456', max_batch_size: 1001 })).toThrowError(
      /max_batch_size/,
    );
  });

  it('defaults to graph.facebook.com and keeps the token out of the URL', () => {
    const { destination, requiredSecrets } = metaCapiTemplate.create({ pixel_id: '123456' });
    expect(destination.send).toContain('"base_url": "https://graph.facebook.com"');
    expect(destination.send).not.toMatch(/access_token=/);
    expect(destination.max_batch_size).toBe(1000);
    expect(requiredSecrets.map((s) => s.key)).toEqual(['META_ACCESS_TOKEN']);
  });
});
