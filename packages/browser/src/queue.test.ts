import { describe, expect, it } from 'vitest';
import { batches, enqueue, parseQueue, QUEUE_LIMITS, type TagEvent } from './queue.js';

const now = Date.UTC(2026, 11, 6, 12, 0, 0);
const event = (id: string, at = now, payload: Record<string, unknown> = {}): TagEvent => ({
  event_type: 'purchase',
  event_time: new Date(at).toISOString(),
  event_id: id,
  event_payload: payload,
});

describe('the local queue', () => {
  it('reads back what it stored and drops what is not a list of events', () => {
    const queue = [event('a'), event('b')];
    expect(parseQueue(JSON.stringify(queue))).toEqual(queue);
    expect(parseQueue(null)).toEqual([]);
    expect(parseQueue('{not json')).toEqual([]);
    expect(parseQueue('{"a":1}')).toEqual([]);
    expect(parseQueue(JSON.stringify([event('a'), { event_type: 'x' }, null, 3]))).toEqual([event('a')]);
  });

  it('adds at the end, keeps one copy of an event id, and drops events past their age', () => {
    const old = event('old', now - (QUEUE_LIMITS.maxAgeDays * 86_400_000 + 1));
    const queue = enqueue([old, event('a')], [event('a'), event('b')], now);
    expect(queue.map((e) => e.event_id)).toEqual(['a', 'b']);
  });

  it('keeps only the newest events past its size', () => {
    const many = Array.from({ length: QUEUE_LIMITS.maxEvents + 5 }, (_, i) => event(`e${i}`));
    const queue = enqueue([], many, now);
    expect(queue).toHaveLength(QUEUE_LIMITS.maxEvents);
    expect(queue[0]?.event_id).toBe('e5');
  });

  it('splits the queue into request bodies under the beacon budget, leaving out one too large for any', () => {
    const padding = 'x'.repeat(400);
    const events = [
      event('a', now, { padding }),
      event('huge', now, { padding: 'y'.repeat(5000) }),
      event('b', now, { padding }),
    ];
    const out = batches(events, 1000);
    expect(out.map((b) => b.events.map((e) => e.event_id))).toEqual([['a'], ['b']]);
    for (const b of out) {
      expect(new TextEncoder().encode(b.body).byteLength).toBeLessThanOrEqual(1000);
      expect(JSON.parse(b.body)).toEqual({ events: b.events });
    }
    expect(batches([event('a'), event('b')])).toHaveLength(1);
    expect(batches([])).toEqual([]);
  });

  it('counts multi-byte characters so a body never passes its budget', () => {
    const events = [
      event('a', now, { name: 'é€😀'.repeat(60) }),
      event('b', now, { name: 'é€😀'.repeat(60) }),
    ];
    for (const b of batches(events, 1000)) {
      expect(new TextEncoder().encode(b.body).byteLength).toBeLessThanOrEqual(1000);
    }
  });
});
