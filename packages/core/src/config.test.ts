import { describe, expect, it } from 'vitest';
import { createConfigCache } from './config.js';
import type { Store } from './store.js';

/** A store that answers only what the cache asks, with revisions the test hands out one by one. */
function storeWithRevisions() {
  const pending: Array<(revision: number) => void> = [];
  const store = {
    configRevision: () => new Promise<number>((resolve) => pending.push(resolve)),
    listEntities: async () => [],
  } as unknown as Store;
  return { store, answer: (revision: number) => pending.shift()!(revision), waiting: () => pending.length };
}

describe('the config cache', () => {
  it('does not keep a snapshot whose load began before a local write (invalidate)', async () => {
    const { store, answer, waiting } = storeWithRevisions();
    const cache = createConfigCache(store, () => () => null, { now: () => 1000 });
    // A read is under way (a dispatcher tick) when a local write invalidates the cache...
    const before = cache.current();
    cache.invalidate();
    // ...and its revision, read before the write committed, arrives only now.
    answer(1);
    expect((await before).revision).toBe(1);
    // The next read must ask the store again instead of trusting the old load for 250 ms.
    const after = cache.current();
    await Promise.resolve();
    expect(waiting()).toBe(1);
    answer(2);
    expect((await after).revision).toBe(2);
  });

  it('trusts a snapshot for maxStalenessMs when nothing was written here', async () => {
    const { store, answer, waiting } = storeWithRevisions();
    let now = 1000;
    const cache = createConfigCache(store, () => () => null, { now: () => now, maxStalenessMs: 250 });
    const first = cache.current();
    answer(1);
    expect((await first).revision).toBe(1);
    now += 100;
    expect((await cache.current()).revision).toBe(1);
    expect(waiting()).toBe(0);
    now += 200;
    const later = cache.current();
    await Promise.resolve();
    expect(waiting()).toBe(1);
    answer(1);
    expect((await later).revision).toBe(1);
  });
});
