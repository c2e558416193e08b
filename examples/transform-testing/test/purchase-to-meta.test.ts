/**
 * Unit tests for transforms/purchase-to-meta.js with the fixture events in fixtures/, run by
 * `runTransform` in the same QuickJS sandbox the dispatcher uses: what passes here is what the
 * pipe delivers. Run them with `npm test`; try the transform by hand with `npm run try`.
 */
import { readFileSync } from 'node:fs';
import { closeTestSandbox, runTransform, type TestEvent } from '@openpipes/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

const code = readFileSync(new URL('../transforms/purchase-to-meta.js', import.meta.url), 'utf8');
const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/purchases.json', import.meta.url), 'utf8'),
) as TestEvent[];

afterAll(() => closeTestSandbox());

describe('purchase-to-meta', () => {
  it('maps a purchase to a Meta Purchase event with the order id as event_id', async () => {
    const [out] = await runTransform(code, { events: [fixtures[0]!] });
    expect(out).toEqual({
      event_type: 'purchase',
      event_time: '2026-05-04T10:14:22.481Z',
      event_payload: {
        event_name: 'Purchase',
        event_time: 1777889662,
        user_data: {
          em: 'f1a2c3e4b5d6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2',
          fbp: 'fb.1.1714816462.1234567890',
          client_ip_address: '203.0.113.7',
          client_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        },
        custom_data: { currency: 'EUR', value: 129.9 },
        event_id: 'ord_70213',
        action_source: 'website',
      },
    });
  });

  it('sends only purchases with a value: the add_to_cart and the zero-value order are filtered out', async () => {
    const out = await runTransform(code, { events: fixtures });
    expect(out.map((e) => e.event_payload.event_id)).toEqual(['ord_70213']);
  });

  it('fails with the line when an event has no payload (a broken sender), so the record shows where', async () => {
    const broken = { event_type: 'purchase', event_time: '2026-05-04T10:14:22Z' } as unknown as TestEvent;
    await expect(runTransform(code, { events: [broken] })).rejects.toMatchObject({
      code: 'USER_CODE_ERROR',
      details: { line: expect.any(Number) },
    });
  });
});
