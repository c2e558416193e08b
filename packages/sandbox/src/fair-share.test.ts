import { describe, expect, it } from 'vitest';
import { createFairQueue, type ShareWorker } from './fair-share.js';

type Call = { owner: string; n: number };
const worker = (inflight = 0, accepting = true, serving = true): ShareWorker => ({
  accepting,
  serving,
  inflight,
  warm: new Set(),
});

describe('fair share of the workers', () => {
  it('takes owners in turn, the owner on the fewest workers first', () => {
    const q = createFairQueue<Call>();
    for (let n = 0; n < 3; n++) q.push({ owner: 'a', n });
    q.push({ owner: 'b', n: 0 });
    const workers = [worker(), worker()];
    const placement = new Map<string, Set<number>>([['a', new Set([0])]]);
    const next = q.next(workers, (o) => placement.get(o) ?? new Set(), new Set(['a']));
    // b runs nowhere yet, a already runs on a worker: b goes first.
    expect(next?.call.owner).toBe('b');
  });

  it('keeps an owner at its share while others wait, and lets it borrow an idle pool', () => {
    const q = createFairQueue<Call>();
    q.push({ owner: 'hostile', n: 1 });
    q.push({ owner: 'other', n: 0 });
    // Two workers, two active owners: a share of one worker each. The hostile owner already runs
    // on worker 0 (stuck, not accepting); worker 1 is free.
    const workers = [worker(1, false), worker()];
    const placement = (o: string) => (o === 'hostile' ? new Set([0]) : new Set<number>());
    const first = q.next(workers, placement, new Set(['hostile']));
    expect(first).toEqual({ call: { owner: 'other', n: 0 }, worker: 1 });
    // The other owner is served; now only the hostile one waits: it may borrow worker 1.
    const second = q.next(workers, placement, new Set(['hostile']));
    expect(second).toEqual({ call: { owner: 'hostile', n: 1 }, worker: 1 });
  });

  it('does not give an owner at its share a new worker while another owner waits', () => {
    const q = createFairQueue<Call>();
    q.push({ owner: 'hostile', n: 1 });
    q.push({ owner: 'b', n: 0 });
    const workers = [worker(1, false), worker(0, false), worker()];
    // Three workers, owners hostile, b, c active: a share of max(1, floor(3/3)) = 1 worker each.
    const placement = (o: string) =>
      o === 'hostile' ? new Set([0]) : o === 'b' ? new Set([1]) : new Set<number>();
    // b is on worker 1 (not accepting) and at its share; hostile at its share too: nothing starts
    // for them on worker 2 while the other waits.
    expect(q.next(workers, placement, new Set(['hostile', 'b', 'c']))).toBeUndefined();
    expect(q.size).toBe(2);
  });

  it('puts a call taken back from a worker at the front of its owner queue', () => {
    const q = createFairQueue<Call>();
    q.push({ owner: 'a', n: 1 });
    q.push({ owner: 'a', n: 0 }, true);
    const next = q.next([worker()], () => new Set(), new Set());
    expect(next?.call.n).toBe(0);
    expect(q.remove({ owner: 'a', n: 5 })).toBe(false);
    expect(q.drain()).toEqual([{ owner: 'a', n: 1 }]);
  });
});

describe('fair share by time used', () => {
  it('serves the owner that used the workers least first', () => {
    const q = createFairQueue<Call>();
    q.push({ owner: 'hostile', n: 0 });
    q.push({ owner: 'clean', n: 0 });
    const used = (o: string) => (o === 'hostile' ? 5_000 : 3);
    const next = q.next(
      [{ accepting: true, serving: true, inflight: 0, warm: new Set() }],
      () => new Set(),
      new Set(),
      used,
    );
    expect(next?.call.owner).toBe('clean');
  });
});
