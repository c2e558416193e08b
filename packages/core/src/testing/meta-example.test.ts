// The example transforms in the real sandbox, through core's createSandbox (which rejects with
// PipesError). Moved here from the sandbox's tests when the sandbox became @openpipes/sandbox: the
// sandbox package cannot import core's examples.
import { afterAll, describe, expect, it } from 'vitest';
import { PipesError } from '../errors.js';
import { type CodeRef, createSandbox, type SandboxEvent, type TransformRun } from '../index.js';
import {
  googleExampleTransform,
  metaExampleTransform,
  purchaseEvent,
  tiktokExampleTransform,
} from './meta-example.js';

const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 500 } });
// The batch fast path, the per-event path, and batches split into chunks of 4 over two workers.
const fast = createSandbox({ workers: 1, limits: { transformCpuMs: 300 }, transformChunkEvents: 0 });
const perEvent = createSandbox({ workers: 1, limits: { transformCpuMs: 300 }, batchTransforms: false });
const chunked = createSandbox({ workers: 2, limits: { transformCpuMs: 300 }, transformChunkEvents: 4 });
afterAll(() => Promise.all([sandbox.close(), fast.close(), perEvent.close(), chunked.close()]));

let version = 0;
const ref = (code: string): CodeRef => ({ kind: 'transform', owner: `pip_x${++version}`, version: 1, code });
const run = (code: string, events: SandboxEvent[], secrets: Record<string, string> = {}) =>
  sandbox.transform({ code: ref(code), events, profiles: undefined, secrets });

const purchase = (order: string): SandboxEvent => ({
  ...(purchaseEvent(order, {
    fbp: 'fb.1.1714816462.1234',
    fbc: 'fb.1.1714816462.IwAR1',
    ttclid: 'ttclid-1',
    ua: 'Mozilla/5.0',
    page_url: 'https://shop.example/checkout',
    revenue: 49.9,
  }) as SandboxEvent),
  event_time: '2026-05-04T10:14:22.481Z',
});
const pageView: SandboxEvent = {
  event_type: 'page_view',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: {},
};
const mixed = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    i % 3 === 1
      ? { event_type: 'page_view', event_time: '2026-05-04T10:14:23Z', event_payload: { url: '/x' } }
      : (purchaseEvent(`ord_${i}`, { revenue: i + 0.5 }) as SandboxEvent),
  );
const counts = (r: TransformRun) => r.results.map((x) => (x.ok ? x.outputs.length : -1));

describe('the example transforms run unchanged', () => {
  it('Meta: maps purchases and filters other events, one result per input', async () => {
    const r = await run(metaExampleTransform, [purchase('ord_1'), pageView, purchase('ord_2')]);
    expect(r.results).toHaveLength(3);
    expect(r.results[1]).toEqual({ ok: true, outputs: [] });
    const first = r.results[0]!;
    expect(first.ok && first.outputs[0]).toEqual({
      event_type: 'purchase',
      event_time: '2026-05-04T10:14:22.481Z',
      event_payload: {
        event_name: 'Purchase',
        event_time: 1777889662,
        user_data: {
          em: 'a'.repeat(64),
          ph: 'b'.repeat(64),
          fbp: 'fb.1.1714816462.1234',
          fbc: 'fb.1.1714816462.IwAR1',
          client_ip_address: '203.0.113.7',
          client_user_agent: 'Mozilla/5.0',
        },
        custom_data: { currency: 'EUR', value: 49.9 },
        event_id: 'ord_1',
        action_source: 'website',
      },
    });
    const third = r.results[2]!;
    expect(third.ok && third.outputs[0]?.event_payload.event_id).toBe('ord_2');
  });

  it('TikTok: maps to CompletePayment', async () => {
    const r = await run(tiktokExampleTransform, [purchase('ord_9')]);
    const out = r.results[0]!;
    expect(out.ok && out.outputs[0]?.event_payload).toMatchObject({
      event: 'CompletePayment',
      event_id: 'ord_9',
      user: { email: 'a'.repeat(64), ttclid: 'ttclid-1' },
      page: { url: 'https://shop.example/checkout' },
    });
  });

  it('Google: reads its bound secret and formats the conversion time', async () => {
    const r = await run(googleExampleTransform, [purchase('ord_5')], {
      GOOGLE_ADS_CONVERSION_ACTION: 'customers/1/conversionActions/2',
    });
    const out = r.results[0]!;
    expect(out.ok && out.outputs[0]?.event_payload).toMatchObject({
      conversion_action: 'customers/1/conversionActions/2',
      conversion_date_time: '2026-05-04 10:14:22.481+00:00',
      user_identifiers: [{ hashed_email: 'a'.repeat(64) }, { hashed_phone_number: 'b'.repeat(64) }],
    });
  });
});

describe('the example transforms on the fast path', () => {
  it.each([
    ['Meta', metaExampleTransform],
    ['TikTok', tiktokExampleTransform],
    ['Google', googleExampleTransform],
  ])('%s: one call over the batch, outputs identical to per-event', async (_name, code) => {
    const events = mixed(30);
    const c = ref(code);
    const secrets = { GOOGLE_ADS_CONVERSION_ACTION: 'customers/1/conversionActions/2' };
    const [a, b] = await Promise.all([
      fast.transform({ code: c, events, profiles: undefined, secrets }),
      perEvent.transform({ code: c, events, profiles: undefined, secrets }),
    ]);
    expect(b.path).toBe('per-event');
    expect(a.results).toEqual(b.results);
    expect(a.path).toBe('batch');
    expect(counts(a)).toEqual(events.map((e) => (e.event_type === 'purchase' ? 1 : 0)));
    const third = a.results[3]!;
    expect(third.ok && JSON.stringify(third.outputs[0])).toContain('ord_3');
  });

  it('runs a clean batch on the fast path in every chunk', async () => {
    const events = mixed(13);
    const c = ref(metaExampleTransform);
    const [a, b] = await Promise.all([
      chunked.transform({ code: c, events, profiles: undefined, secrets: {} }),
      perEvent.transform({ code: c, events, profiles: undefined, secrets: {} }),
    ]);
    expect(a.path).toBe('batch');
    expect(a.results).toEqual(b.results);
  });
});

describe('compile at save time', () => {
  it('accepts the example code', async () => {
    await expect(sandbox.compile({ kind: 'transform', code: metaExampleTransform })).resolves.toBeUndefined();
    await expect(
      sandbox.compile({ kind: 'transform', code: tiktokExampleTransform }),
    ).resolves.toBeUndefined();
    await expect(
      sandbox.compile({ kind: 'transform', code: googleExampleTransform }),
    ).resolves.toBeUndefined();
  });

  it("rejects a syntax error with core's PipesError, line and column kept", async () => {
    const err = await sandbox
      .compile({
        kind: 'transform',
        code: 'function transform({ events }) {\n  return events.map(e => {\n    e.x = ;\n  });\n}',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipesError);
    expect(err).toMatchObject({ code: 'COMPILE_ERROR', details: { line: 3, column: expect.any(Number) } });
  });
});
