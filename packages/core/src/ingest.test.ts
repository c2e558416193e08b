import { describe, expect, it } from 'vitest';
import type { Pipes } from './engine.js';
import { parseWellFormedEvent } from './ingest.js';
import { incomingEventSchema } from './schemas.js';

const base = {
  event_type: 'purchase',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: { order_id: 'o' },
};

describe('parseWellFormedEvent (the ingest fast path)', () => {
  const cases: unknown[] = [
    base,
    { ...base, event_id: 'ord_1' },
    { ...base, event_time: '2026-05-04T12:14:22+02:00' },
    { ...base, event_time: '2026-05-04T10:14:22.123456Z' },
    { ...base, extra: 'dropped' },
    { ...base, event_time: '2026-05-04 10:14:22' },
    { ...base, event_time: '2026-13-45T10:14:22Z' },
    { ...base, event_time: '2026-02-30T10:14:22Z' },
    { ...base, event_time: '2026-05-04T24:00:00Z' },
    { ...base, event_time: '2026-05-04T10:14:22.481+0200' },
    { ...base, event_time: '2024-02-29T23:59:59Z' },
    { ...base, event_time: '2023-02-29T00:00:00.000Z' },
    { ...base, event_time: '2000-02-29T00:00:00.000Z' },
    { ...base, event_time: '1900-02-29T00:00:00.000Z' },
    { ...base, event_time: '0000-02-29T00:00:00.000Z' },
    { ...base, event_time: '0004-02-29T00:00:00.000Z' },
    { ...base, event_time: '0000-01-01T00:00:00.000Z' },
    { ...base, event_time: '2026-04-31T00:00:00.000Z' },
    { ...base, event_time: '2026-00-10T00:00:00.000Z' },
    { ...base, event_time: '2026-12-00T00:00:00.000Z' },
    { ...base, event_time: '2026-12-31T23:59:59.999Z' },
    { ...base, event_time: '2026-12-31T23:59:60.000Z' },
    { ...base, event_time: '2026-05-04T10:14:22.48Z' },
    { ...base, event_time: '2026-05-04T10:14:22.4810Z' },
    { ...base, event_time: '2026-05-04T10:14:22.481z' },
    { ...base, event_time: '2026-05-04T10:14:22+24:00' },
    { ...base, event_time: '2026-05-04T10:60:22Z' },
    { ...base, event_time: 1714817662 },
    { ...base, event_time: 1714817662481 },
    { ...base, event_id: '' },
    { ...base, event_id: 7 },
    { ...base, event_id: 'ord\u00001' },
    { ...base, event_type: 'purch\u0000ase' },
    { ...base, event_type: '' },
    { ...base, event_type: 'x'.repeat(101) },
    { ...base, event_payload: [] },
    { ...base, event_payload: null },
    { ...base, event_payload: 'x' },
    'not an event',
    null,
    [base],
  ];

  it.each(cases.map((c) => [JSON.stringify(c), c]))('agrees with the schema on %s', (_label, value) => {
    const fast = parseWellFormedEvent(value);
    const slow = incomingEventSchema.safeParse(value);
    if (fast) {
      // Whatever the fast path accepts, the schema accepts the same way.
      expect(slow.success).toBe(true);
      expect(fast).toEqual(slow.data);
    } else {
      // Everything else is left to the schema (which may still accept it, e.g. Unix times).
      expect(fast).toBeNull();
    }
  });

  it('takes the well-formed common case without the schema', () => {
    expect(parseWellFormedEvent({ ...base, event_id: 'ord_1' })).toEqual({ ...base, event_id: 'ord_1' });
    expect(parseWellFormedEvent({ ...base, event_time: '2026-05-04T12:14:22+02:00' })?.event_time).toBe(
      '2026-05-04T10:14:22.000Z',
    );
  });
});

describe('Pipes.ingest', () => {
  it('is typed as one IncomingEvent or a list of them, so a misspelt field fails to compile', () => {
    type Events = Parameters<Pipes['ingest']>[1];
    const one: Events = { event_type: 'purchase', event_time: 1714817662, event_payload: {} };
    const many: Events = [base, { ...base, event_id: 'ord_1' }];
    // @ts-expect-error `event_ids` is not a field of an event (deduplication would be lost silently)
    const misspelt: Events = { ...base, event_ids: 'ord_1' };
    expect([one, many, misspelt]).toHaveLength(3);
  });
});
