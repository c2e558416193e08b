import { describe, expect, it } from 'vitest';
import { engineFaultDelayMs, idleWaitMs, leaseRenewalMs, pausedWaitMs } from './backoff.js';

describe('dispatcher waits', () => {
  it('retries a batch the engine failed on after 1 s, doubling, at most a minute', () => {
    expect([0, 1, 2, 5, 6, 20, 1000].map(engineFaultDelayMs)).toEqual([
      1000, 2000, 4000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('an idle lane sleeps until the next retry, within [5 ms, one poll interval]', () => {
    const now = 1_000_000;
    expect(idleWaitMs(null, now, 1000)).toBe(1000);
    expect(idleWaitMs(now + 250, now, 1000)).toBe(250);
    expect(idleWaitMs(now + 60_000, now, 1000)).toBe(1000);
    // Due now or overdue: a short sleep, never a busy loop.
    expect(idleWaitMs(now, now, 1000)).toBe(5);
    expect(idleWaitMs(now - 10_000, now, 1000)).toBe(5);
    expect(idleWaitMs(Number.NaN, now, 1000)).toBe(1000);
  });

  it("a retry that was due when the lane claimed nothing waits for the poll (not the lane's to take)", () => {
    const now = 1_000_000;
    expect(idleWaitMs(now - 10_000, now, 1000, now)).toBe(1000);
    expect(idleWaitMs(now, now, 1000, now)).toBe(1000);
    // Due after the claim asked: a short sleep, then a claim that takes it.
    expect(idleWaitMs(now + 1, now + 3, 1000, now)).toBe(5);
    expect(idleWaitMs(now + 250, now, 1000, now)).toBe(250);
  });

  it('a paused lane looks again at most every ten poll intervals', () => {
    expect(pausedWaitMs(300, 50)).toBe(300);
    expect(pausedWaitMs(30_000, 1000)).toBe(10_000);
  });

  it('renews leases three times per lease, at most every 100 ms', () => {
    expect(leaseRenewalMs(30_000)).toBe(10_000);
    expect(leaseRenewalMs(90)).toBe(100);
  });
});
