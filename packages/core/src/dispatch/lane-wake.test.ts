import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConfigSnapshot } from '../config.js';
import { silentLogger } from '../logger.js';
import type { ClaimedDelivery } from '../store.js';
import { createActivity, type DispatchContext, dispatcherSettings } from './context.js';
import { startLane } from './lane.js';

const hourMs = 3_600_000;

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const destination = {
  id: 'dst_1',
  name: 'platform',
  enabled: true,
  concurrency: 1,
  rate_limit_per_second: 0,
  max_batch_size: 100,
  secret_ids: [],
  version: 1,
};
const config = {
  revision: 1,
  destinations: new Map([[destination.id, destination]]),
  pipes: new Map([['pipe_1', { id: 'pipe_1', enabled: true, destination_id: destination.id }]]),
} as unknown as ConfigSnapshot;

const delivery = {
  id: 'del_1',
  pipe_id: 'pipe_1',
  event_id: 'evt_1',
  pipe_version: 1,
  attempt_count: 0,
  trace_parent: null,
  detail: {},
} as unknown as ClaimedDelivery;

/**
 * A lane over stand-ins: each claim waits until the test answers it (`claims[i]`), and the one
 * batch's secrets wait until the test fails them (`secrets`), which ends the batch.
 */
function laneOverStandIns(
  options: {
    claims?: () => ClaimedDelivery[];
    nextRetryAt?: () => string | null;
    pollIntervalMs?: number;
  } = {},
) {
  let running = true;
  const claims: Array<ReturnType<typeof deferred<ClaimedDelivery[]>>> = [];
  const claimWaiters: Array<{ n: number; resolve: () => void }> = [];
  const secrets = deferred<Record<string, string>>();
  const ctx = {
    deps: {
      config: { current: async () => config, invalidate() {} },
      store: {
        claimDeliveries: () => {
          const claim = deferred<ClaimedDelivery[]>();
          claims.push(claim);
          if (options.claims) claim.resolve(options.claims());
          for (const w of claimWaiters.filter((w) => claims.length >= w.n)) w.resolve();
          return claim.promise;
        },
        nextRetryAt: async () => options.nextRetryAt?.() ?? null,
        completeDeliveries: async () => ({ lost: [] }),
        extendLeases: async () => {},
      },
      resolveSecrets: () => secrets.promise,
      events: { emit() {} },
      logger: silentLogger,
      now: () => Date.now(),
      options: {},
    },
    settings: dispatcherSettings({ pollIntervalMs: options.pollIntervalMs ?? hourMs }),
    owner: 'test',
    activity: createActivity(),
    pinned: { resolver: async () => () => undefined },
    isRunning: () => running,
  } as unknown as DispatchContext;
  const lane = startLane(ctx, destination.id, () => {});
  const claimCalled = (n: number) =>
    claims.length >= n
      ? Promise.resolve()
      : new Promise<void>((resolve) => claimWaiters.push({ n, resolve }));
  const stop = () => {
    running = false;
  };
  return { lane, claims, claimCalled, secrets, stop };
}

describe('a lane woken while it is awake', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('claims again after a wake that arrives during a claim that follows a wait for room', async () => {
    const { lane, claims, claimCalled, secrets, stop } = laneOverStandIns();
    await claimCalled(1);
    // One batch takes the lane's only slot: the lane waits for room (or the poll, an hour away).
    claims[0]!.resolve([delivery]);
    await vi.advanceTimersByTimeAsync(0);
    // The batch ends (an engine fault, recorded as retrying): there is room, the lane claims.
    secrets.reject(new Error('vault down'));
    await claimCalled(2);
    // A delivery is ingested while that claim is in flight; the claim did not see it.
    lane.wake();
    claims[1]!.resolve([]);
    // Well within the hour's poll: the wake makes the lane claim again.
    await vi.advanceTimersByTimeAsync(1000);
    expect(claims).toHaveLength(3);

    stop();
    lane.wake();
    claims[2]!.resolve([]);
    await vi.advanceTimersByTimeAsync(1000);
    await lane.done;
  });

  it('does not claim in a loop for a retry it cannot take (its pipe disabled), due long ago', async () => {
    // The destination's only 'retrying' delivery belongs to a pipe disabled since: the store's next
    // retry is a minute overdue, and every claim (of the enabled pipes) returns nothing.
    const { lane, claims, stop } = laneOverStandIns({
      claims: () => [],
      nextRetryAt: () => new Date(Date.now() - 60_000).toISOString(),
      pollIntervalMs: 1000,
    });
    // One poll interval of the fake clock: one claim at the start, one at the poll.
    await vi.advanceTimersByTimeAsync(1000);
    expect(claims.length).toBeLessThanOrEqual(2);

    stop();
    lane.wake();
    await lane.done;
  });

  it('claims once more, not once per wake, after many wakes during one claim', async () => {
    const { lane, claims, claimCalled, stop } = laneOverStandIns();
    await claimCalled(1);
    // Twenty ingests announce deliveries while the claim is in flight: one claim after it sees them.
    for (let i = 0; i < 20; i++) lane.wake();
    claims[0]!.resolve([]);
    await claimCalled(2);
    claims[1]!.resolve([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(claims).toHaveLength(2);

    stop();
    lane.wake();
    await lane.done;
  });
});
