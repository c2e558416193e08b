import { describe, expect, it } from 'vitest';
import type { ConfigCache, ConfigSnapshot } from '../config.js';
import type { Destination } from '../schemas.js';
import { lanelessWakes } from './laneless-wakes.js';

/** A configuration of these destinations (id → enabled) at `revision`. */
const snapshot = (revision: number, destinations: Record<string, boolean>) =>
  ({
    revision,
    destinations: new Map(
      Object.entries(destinations).map(([id, enabled]) => [id, { id, enabled } as Destination]),
    ),
  }) as ConfigSnapshot;

/**
 * A configuration cache that never goes stale by itself: it shows the store's configuration
 * (`written`) only on the first read after an invalidation, which `reads` counts, as the store's
 * revision queries. `configChanged` is the dispatcher's: it drops the cache; `startLanes` counts
 * the lane syncs asked for on the cached configuration.
 */
function harness(cached: ConfigSnapshot) {
  let current = cached;
  let invalidated = false;
  const counts = { reads: 0, changes: 0, starts: 0 };
  const store = { written: cached };
  const config: ConfigCache = {
    async current() {
      if (invalidated) {
        invalidated = false;
        counts.reads++;
        current = store.written;
      }
      return current;
    },
    invalidate() {
      invalidated = true;
    },
  };
  const wakes = lanelessWakes({
    config,
    configChanged: () => {
      counts.changes++;
      config.invalidate();
    },
    startLanes: () => {
      counts.starts++;
    },
    isRunning: () => true,
  });
  /** Wakes for `ids`, and lets the reads it starts finish (the fake cache does no I/O). */
  const wake = async (ids: string[]) => {
    await wakes.wake(ids);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { store, counts, wake, wakes };
}

describe('wakes for a destination without a lane', () => {
  it('read the configuration again once for a destination it does not know, not at every wake', async () => {
    const { counts, wake, wakes } = harness(snapshot(1, { dst_kept: true }));
    for (let i = 0; i < 10; i++) await wake(['dst_deleted']);
    expect(counts).toEqual({ reads: 1, changes: 1, starts: 0 });
    wakes.stop();
  });

  it('starts the lane of one shown enabled on every wake, without reading the configuration again', async () => {
    const { counts, wake, wakes } = harness(snapshot(1, { dst_enabled: true }));
    await wake(['dst_enabled']);
    // At once: the configuration that showed it enabled is the one its lane starts with.
    expect(counts).toEqual({ reads: 0, changes: 0, starts: 1 });
    for (let i = 0; i < 9; i++) await wake(['dst_enabled']);
    expect(counts).toEqual({ reads: 0, changes: 0, starts: 10 });
    wakes.stop();
  });

  it('does not start a second read for a destination while the first one is under way', async () => {
    const { counts, wakes } = harness(snapshot(1, {}));
    await Promise.all([
      wakes.wake(['dst_deleted']),
      wakes.wake(['dst_deleted']),
      wakes.wake(['dst_deleted']),
    ]);
    expect(counts.changes).toBe(1);
    wakes.stop();
  });

  it('shows a destination made elsewhere on the read its first wake starts', async () => {
    const { store, counts, wake, wakes } = harness(snapshot(1, {}));
    store.written = snapshot(2, { dst_new: true });
    await wake(['dst_new']);
    expect(counts).toEqual({ reads: 1, changes: 1, starts: 0 });
    wakes.stop();
  });

  it('reads again for another unknown destination, and for a gone one once the revision moved', async () => {
    const { store, counts, wake, wakes } = harness(snapshot(1, {}));
    await wake(['dst_deleted']);
    store.written = snapshot(2, { dst_new: true });
    await wake(['dst_deleted']);
    expect(counts.reads).toBe(1);
    // Another destination: its wake was sent after it was made, whatever became of the first.
    await wake(['dst_new']);
    expect(counts.reads).toBe(2);
    // A new revision is another configuration (an import may bring back an id): one more read.
    await wake(['dst_deleted']);
    await wake(['dst_deleted']);
    expect(counts).toEqual({ reads: 3, changes: 3, starts: 0 });
    wakes.stop();
  });
});
