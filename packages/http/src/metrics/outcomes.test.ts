import { describe, expect, it } from 'vitest';
import { countOutcomes } from './outcomes.js';

describe('countOutcomes', () => {
  it('adds a batch up by attempt outcome, final status per pipe, and identifiers per stage', () => {
    const counts = countOutcomes([
      {
        pipe: 'web',
        status: 'delivered',
        attempted: true,
        match: { raw: ['email'], stitched: ['email', 'phone'] },
      },
      { pipe: 'web', status: 'delivered', attempted: true, match: { raw: [], stitched: ['email'] } },
      { pipe: 'web', status: 'retrying', attempted: true },
      { pipe: 'app', status: 'filtered', attempted: false },
      { pipe: 'app', status: 'dead', attempted: true },
    ]);
    expect(Object.fromEntries(counts.byAttempt)).toEqual({ delivered: 2, retrying: 1, dead: 1 });
    // Retrying is not final: only the statuses no attempt follows are counted.
    expect([...counts.byFinal.values()]).toEqual([
      { pipe: 'web', status: 'delivered', count: 2 },
      { pipe: 'app', status: 'filtered', count: 1 },
      { pipe: 'app', status: 'dead', count: 1 },
    ]);
    expect(Object.fromEntries(counts.measured)).toEqual({ web: 2 });
    expect([...counts.carried.values()]).toEqual([
      { pipe: 'web', identifier: 'email', stage: 'raw', count: 1 },
      { pipe: 'web', identifier: 'email', stage: 'stitched', count: 2 },
      { pipe: 'web', identifier: 'phone', stage: 'stitched', count: 1 },
    ]);
  });

  it('counts nothing for an empty batch', () => {
    const counts = countOutcomes([]);
    expect([counts.byAttempt.size, counts.byFinal.size, counts.measured.size, counts.carried.size]).toEqual([
      0, 0, 0, 0,
    ]);
  });
});
