import { purchaseEvent, runSend } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { finalRecords, finalRecordsById, platformBed, secretsIn } from '../testing/engine.js';
import { expectDelivered } from '../testing/outcomes.js';
import { ga4Platform } from '../testing/platforms.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { ga4, ga4Template } from './ga4.js';

const apiSecret = 'ga4-api-secret-Zx81Qw93Lp';
const measurementId = 'G-ABC123XYZ9';

const bed = platformBed();

async function setup(options: Partial<Parameters<typeof ga4>[0]> = {}) {
  const platform = ga4Platform({ measurementId, apiSecret });
  return bed.wire(platform, ga4({ measurementId, baseUrl: bed.server.url, ...options }), {
    secrets: { GA4_API_SECRET: apiSecret },
    retry: { max_attempts: 1 },
  });
}

const purchase = (orderId: string, clientId: string | undefined) =>
  purchaseEvent(orderId, { client_id: clientId, contents: [{ id: 'SKU-1', quantity: 1, price: 129.9 }] });

runTemplateHarness(bed, {
  template: ga4Template,
  settings: (baseUrl) => ({ measurement_id: measurementId, base_url: baseUrl }),
  secrets: { GA4_API_SECRET: apiSecret },
  standIn: () => ga4Platform({ measurementId, apiSecret }),
  event: (id) => purchase(id, 'c.1'),
  badSettings: [
    { settings: { measurement_id: 'UA-12345-1' }, field: 'measurement_id' },
    { settings: { validate_only: 'yes' }, field: 'validate_only' },
  ],
  // Production answers 2xx whatever it thinks; the validation answer is the one that names a field.
  permanent: {
    answer: {
      status: 200,
      body: {
        validationMessages: [
          {
            fieldPath: 'events[0].params.currency',
            description: 'Currency must be a 3-letter ISO 4217 code',
            validationCode: 'VALUE_INVALID',
          },
        ],
      },
    },
    code: 'GA4_VALUE_INVALID',
    field: 'events[0].params.currency',
  },
  transient: { answer: { status: 503, body: 'unavailable' }, code: 'HTTP_503' },
  rateLimited: { status: 429, body: 'Too Many Requests' },
});

describe('ga4 template', () => {
  it('delivers events grouped by client_id, with the api_secret masked in the record', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest('web', [purchase('ord_1', 'c.1'), purchase('ord_2', 'c.1'), purchase('ord_3', 'c.2')]);
    const records = await finalRecords(pipes, pipe.id, 3);

    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(
      platform.accepted.map((a) => [a.body.client_id, (a.body.events as unknown[]).length]).sort(),
    ).toEqual([
      ['c.1', 2],
      ['c.2', 1],
    ]);
    expect((platform.accepted[0]!.body.events as unknown[])[0]).toMatchObject({
      name: 'purchase',
      params: {
        transaction_id: expect.any(String),
        value: 129.9,
        currency: 'EUR',
        items: [{ item_id: 'SKU-1' }],
      },
    });
    expect(records[0]!.request!.url).toContain('api_secret=[secret:GA4_API_SECRET]');
    expect(secretsIn(records, [apiSecret])).toEqual([]);
  });

  it('refuses an event without a client_id before sending, and sends the others', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest('web', [purchase('ord_ok', 'c.1'), purchase('ord_anon', undefined)]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expectDelivered(records, 'ord_ok');
    expect(records.get('ord_anon')).toMatchObject({ status: 'failed', error: { code: 'INVALID_EVENT' } });
    expect(platform.accepted).toHaveLength(1);
  });

  it('validates on /debug/mp/collect in test mode; validation messages fail the events', async () => {
    const { platform, pipes, pipe } = await setup({ validateOnly: true });
    await pipes.ingest('web', [purchase('ord_valid', 'c.1')]);
    const [valid] = await finalRecords(pipes, pipe.id, 1);
    expect(valid).toMatchObject({ status: 'delivered', test_mode: true });
    expect(platform.accepted[0]!.debug).toBe(true);

    platform.answerNext({
      status: 200,
      body: {
        validationMessages: [
          {
            fieldPath: 'events.params.currency',
            description: 'Currency must be ISO 4217',
            validationCode: 'VALUE_INVALID',
          },
        ],
      },
    });
    await pipes.ingest('web', [purchase('ord_invalid', 'c.1')]);
    const records = await finalRecordsById(pipes, pipe.id, 2);
    expect(records.get('ord_invalid')).toMatchObject({
      status: 'failed',
      test_mode: true,
      error: { code: 'GA4_VALUE_INVALID', message: 'events.params.currency: Currency must be ISO 4217' },
    });
  });

  it('retries a 5xx and fails a 4xx', async () => {
    const send = ga4({ measurementId, baseUrl: bed.server.url }).destination.send;
    const event = {
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_payload: { client_id: 'c.1', name: 'purchase', params: {} },
    };
    bed.server.handle(() => ({ status: 503, body: 'unavailable' }));
    const retry = await runSend(send, {
      events: [event],
      secrets: { GA4_API_SECRET: apiSecret },
      fetch: globalThis.fetch,
    });
    expect(retry.value).toMatchObject({ outcome: 'retry', code: 'HTTP_503' });
    bed.server.handle(() => ({ status: 400, body: 'bad request' }));
    const failed = await runSend(send, {
      events: [event],
      secrets: { GA4_API_SECRET: apiSecret },
      fetch: globalThis.fetch,
    });
    expect(failed.value).toMatchObject({ outcome: 'failed', code: 'HTTP_400' });
  });

  it('rejects a measurement id that is not G-...', () => {
    expect(() => ga4Template.create({ measurement_id: 'UA-1234-1' })).toThrowError(/measurement_id/);
  });
});
