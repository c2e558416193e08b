import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { laneQueue } from './lane.js';

/** Starts `count` instant batches on a lane's queue and returns when each started (fake clock). */
async function startTimes(settings: { concurrency: number; rate_limit_per_second: number }, count: number) {
  const queue = laneQueue(settings);
  const starts: number[] = [];
  for (let i = 0; i < count; i++) void queue.add(async () => void starts.push(Date.now()));
  await vi.runAllTimersAsync();
  await queue.onIdle();
  return starts;
}

describe('a lane queue on fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts no more than the rate in ANY one-second span (a sliding window)', async () => {
    const starts = await startTimes({ concurrency: 4, rate_limit_per_second: 5 }, 12);
    expect(starts).toHaveLength(12);
    for (let i = 5; i < starts.length; i++) expect(starts[i]! - starts[i - 5]!).toBeGreaterThanOrEqual(1000);
    // ...and no slower than that: the 12th starts two seconds after the first.
    expect(starts[11]! - starts[0]!).toBe(2000);
  });

  it('spaces fractional rates: one batch every two seconds at 0.5/s', async () => {
    const starts = await startTimes({ concurrency: 2, rate_limit_per_second: 0.5 }, 3);
    expect(starts.map((t) => t - starts[0]!)).toEqual([0, 2000, 4000]);
  });

  it('without a rate limit, starts everything at once within the concurrency', async () => {
    const starts = await startTimes({ concurrency: 2, rate_limit_per_second: 0 }, 6);
    expect(new Set(starts).size).toBe(1);
  });
});
