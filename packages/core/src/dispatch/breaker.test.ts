import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeliveryOutcome } from '../store.js';
import { admit, type Breaker, closedBreaker, judgeBatch, recordBatch } from './breaker.js';

const settings = { threshold: 3, initialPauseMs: 1000, maxPauseMs: 3000 };
const failed = { delivered: false, destinationFailed: true };
const delivered = { delivered: true, destinationFailed: false };
const badEvents = { delivered: false, destinationFailed: false };

function fail(breaker: Breaker, times: number, now: number) {
  let b = breaker;
  const transitions = [];
  for (let i = 0; i < times; i++) {
    const next = recordBatch(b, failed, now, settings);
    b = next.breaker;
    transitions.push(next.transition);
  }
  return { breaker: b, transitions };
}

describe('circuit breaker state machine', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stays closed below the threshold and opens at it, paused for the initial pause', () => {
    const { breaker, transitions } = fail(closedBreaker(settings), 3, 10_000);
    expect(transitions.map((t) => t.kind)).toEqual(['none', 'none', 'paused']);
    expect(transitions[2]).toEqual({ kind: 'paused', reopened: false, failures: 3, pausedUntil: 11_000 });
    expect(breaker).toMatchObject({ state: 'open', failures: 3, pausedUntil: 11_000, pauseMs: 2000 });
  });

  it('a delivered batch resets the count of a closed breaker without announcing anything', () => {
    const two = fail(closedBreaker(settings), 2, 0).breaker;
    const { breaker, transition } = recordBatch(two, delivered, 0, settings);
    expect(transition).toEqual({ kind: 'none' });
    expect(breaker).toEqual(closedBreaker(settings));
  });

  it('a batch of bad events (no destination failure, nothing delivered) changes nothing', () => {
    const two = fail(closedBreaker(settings), 2, 0).breaker;
    expect(recordBatch(two, badEvents, 0, settings)).toEqual({ breaker: two, transition: { kind: 'none' } });
    const open = fail(closedBreaker(settings), 3, 0).breaker;
    expect(recordBatch(open, badEvents, 0, settings)).toEqual({
      breaker: open,
      transition: { kind: 'none' },
    });
  });

  it('waits out the pause on the clock, then turns half-open', () => {
    vi.useFakeTimers({ now: 50_000 });
    const open = fail(closedBreaker(settings), 3, Date.now()).breaker;
    expect(admit(open, Date.now())).toEqual({ breaker: open, waitMs: 1000 });
    vi.advanceTimersByTime(999);
    expect(admit(open, Date.now()).waitMs).toBe(1);
    vi.advanceTimersByTime(1);
    const { breaker, waitMs } = admit(open, Date.now());
    expect(waitMs).toBe(0);
    expect(breaker.state).toBe('half-open');
    expect(admit(closedBreaker(settings), Date.now())).toEqual({
      breaker: closedBreaker(settings),
      waitMs: 0,
    });
  });

  it('a failed probe reopens with a doubled pause, capped at the maximum', () => {
    let b = fail(closedBreaker(settings), 3, 0).breaker;
    const pauses: number[] = [];
    let now = 0;
    for (let i = 0; i < 4; i++) {
      now = b.pausedUntil;
      b = admit(b, now).breaker;
      expect(b.state).toBe('half-open');
      const next = recordBatch(b, failed, now, settings);
      expect(next.transition).toMatchObject({ kind: 'paused', reopened: true });
      pauses.push(next.breaker.pausedUntil - now);
      b = next.breaker;
    }
    expect(pauses).toEqual([2000, 3000, 3000, 3000]);
  });

  it('a probe that delivers, or that the destination did not fail, closes it and announces the resume', () => {
    for (const verdict of [delivered, badEvents]) {
      const open = fail(closedBreaker(settings), 3, 0).breaker;
      const half = admit(open, open.pausedUntil).breaker;
      const { breaker, transition } = recordBatch(half, verdict, open.pausedUntil, settings);
      expect(transition).toEqual({ kind: 'resumed' });
      expect(breaker).toEqual(closedBreaker(settings));
    }
  });

  it('a delivered batch that was in flight when the breaker opened closes it', () => {
    const open = fail(closedBreaker(settings), 3, 0).breaker;
    expect(recordBatch(open, delivered, 1, settings)).toEqual({
      breaker: closedBreaker(settings),
      transition: { kind: 'resumed' },
    });
  });

  it('judges only send and response failures as the destination failing', () => {
    const outcome = (status: DeliveryOutcome['status'], stage: string | null) => ({
      status,
      detail: stage ? { error: { stage } } : {},
    });
    expect(judgeBatch([outcome('retrying', 'send')])).toEqual(failed);
    expect(judgeBatch([outcome('dead', 'response')])).toEqual(failed);
    expect(judgeBatch([outcome('failed', 'send')])).toEqual(badEvents);
    expect(judgeBatch([outcome('retrying', 'transform')])).toEqual(badEvents);
    expect(judgeBatch([outcome('retrying', 'engine')])).toEqual(badEvents);
    expect(judgeBatch([outcome('delivered', null), outcome('retrying', 'send')])).toEqual({
      delivered: true,
      destinationFailed: true,
    });
    expect(judgeBatch([])).toEqual(badEvents);
  });
});
