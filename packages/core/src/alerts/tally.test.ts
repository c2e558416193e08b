import { describe, expect, it } from 'vitest';
import type { EngineEventMap } from '../events.js';
import {
  addRate,
  type LastFailures,
  type PipeTally,
  type RateBucket,
  rateOf,
  tallyDeliveries,
} from './tally.js';

type Outcome = EngineEventMap['deliveries']['outcomes'][number];
const outcome = (id: string, pipe_id: string, status: Outcome['status']): Outcome => ({
  id,
  pipe_id,
  event_id: `e_${id}`,
  status,
  error:
    status === 'delivered' || status === 'filtered' ? null : { code: 'HTTP_503', message: `503 for ${id}` },
});
const payload = (outcomes: Outcome[]): EngineEventMap['deliveries'] => ({
  destination_id: 'dst_1',
  destination: 'meta',
  outcomes,
});
const rateSettings = { threshold: 0.5, window_seconds: 10, min_events: 1 };

describe('alert tallies', () => {
  it('counts failures, dead and delivered per pipe with their first and last examples', () => {
    const tallies = new Map<string, PipeTally>();
    const last: LastFailures = new Map();
    const perPipe = tallyDeliveries(
      tallies,
      last,
      payload([
        outcome('d1', 'p1', 'retrying'),
        outcome('d2', 'p1', 'dead'),
        outcome('d3', 'p1', 'delivered'),
        outcome('d4', 'p2', 'filtered'),
        outcome('d5', 'p2', 'failed'),
      ]),
    );
    expect([...perPipe]).toEqual([
      ['p1', { total: 3, failed: 2 }],
      ['p2', { total: 1, failed: 1 }],
    ]);
    expect(tallies.get('p1')).toMatchObject({
      destination_id: 'dst_1',
      failures: 2,
      dead: 1,
      delivered: 1,
      firstFailure: { delivery_id: 'd1' },
      lastFailure: { delivery_id: 'd2' },
      firstDead: { delivery_id: 'd2', error: { code: 'HTTP_503', message: '503 for d2' } },
      firstDelivered: 'd3',
    });
    expect(last.get('dst_1')).toMatchObject({ pipe_id: 'p2', example: { delivery_id: 'd5' } });
  });

  it('keeps counting into the same tally until the pass takes it', () => {
    const tallies = new Map<string, PipeTally>();
    tallyDeliveries(tallies, new Map(), payload([outcome('d1', 'p1', 'failed')]));
    tallyDeliveries(tallies, new Map(), payload([outcome('d2', 'p1', 'failed')]));
    expect(tallies.get('p1')).toMatchObject({ failures: 2, firstFailure: { delivery_id: 'd1' } });
  });

  it('computes a failure rate over the seconds inside the window only', () => {
    const rates = new Map<string, RateBucket[]>();
    addRate(rates, 'p1', 100, 4, 4); // outside a 10 s window seen at second 110
    addRate(rates, 'p1', 101, 2, 0);
    addRate(rates, 'p1', 101, 2, 2); // same second: merged
    addRate(rates, 'p1', 110, 4, 1);
    expect(rates.get('p1')).toHaveLength(3);
    expect(rateOf(rates.get('p1'), rateSettings, 110_999)).toEqual({
      failed: 3,
      total: 8,
      rate: 3 / 8,
      threshold: 0.5,
      window_seconds: 10,
    });
    expect(rateOf(undefined, rateSettings, 0)).toMatchObject({ total: 0, rate: 0 });
  });

  it('drops buckets older than the longest window, so memory stays bounded', () => {
    const rates = new Map<string, RateBucket[]>();
    for (let second = 0; second < 10_000; second++) addRate(rates, 'p1', second, 1, 0);
    expect(rates.get('p1')!.length).toBeLessThanOrEqual(3600);
  });
});
