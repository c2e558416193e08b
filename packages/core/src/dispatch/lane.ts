/**
 * One lane per enabled destination: a loop that asks `nextLaneStep` what to do and does it —
 * claim a batch and hand it to the lane's queue (the destination's concurrency and rate limit),
 * sleep until woken, or end when the destination is disabled.
 */
import PQueue from 'p-queue';
import type { ConfigSnapshot } from '../config.js';
import type { Destination } from '../schemas.js';
import type { ClaimedDelivery } from '../store.js';
import { idleWaitMs } from './backoff.js';
import { processBatch } from './batch.js';
import { closedBreaker } from './breaker.js';
import type { DispatchContext, LaneState } from './context.js';
import { nextLaneStep, rateWindow } from './lane-step.js';

export interface Lane extends LaneState {
  /** Settles when the lane has ended and its batches are recorded. */
  done: Promise<void>;
}

/** Starts a lane; `onEnd` runs when it ends (so that a new one may start). */
export function startLane(ctx: DispatchContext, destinationId: string, onEnd: () => void): Lane {
  let wakeUp: (() => void) | null = null;
  // A wake while the lane is awake (its claim in flight, say) is kept, or the deliveries it
  // announces would wait for the poll: the next sleep then does not happen. A claim that starts
  // after the wake sees what it announced, so starting one forgets it.
  let wokenAwake = false;
  const lane: Lane = {
    destinationId,
    breaker: closedBreaker(ctx.settings.breaker),
    wake: () => {
      if (wakeUp) wakeUp();
      else wokenAwake = true;
    },
    done: Promise.resolve(),
  };
  // `until` ends the sleep early too (room in the queue); the sleep is then over for `wake` as well:
  // a wake that later finds the lane awake must be kept, not spent on a sleep that already ended.
  const sleep = (ms: number, until?: Promise<void>) => {
    if (wokenAwake) {
      wokenAwake = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        if (wakeUp === done) wakeUp = null;
        resolve();
      }
      wakeUp = done;
      void until?.then(done);
    });
  };
  const claiming = () => {
    wokenAwake = false;
  };
  lane.done = runLane(ctx, lane, { sleep, claiming })
    .catch((err) =>
      ctx.deps.logger.error('dispatcher lane crashed', { destination_id: destinationId, error: String(err) }),
    )
    .finally(onEnd);
  return lane;
}

async function runLane(
  ctx: DispatchContext,
  lane: Lane,
  { sleep, claiming }: { sleep: (ms: number, until?: Promise<void>) => Promise<void>; claiming: () => void },
) {
  const { deps, settings } = ctx;
  let queue = new PQueue({ concurrency: 1 });
  let appliedConcurrency = 0;
  let appliedRate = -1;
  while (ctx.isRunning()) {
    let config: ConfigSnapshot;
    try {
      config = await deps.config.current();
    } catch (err) {
      // The store is down or restarting: the lane waits and tries again; it must not end.
      deps.logger.error('dispatcher could not load configuration', {
        destination_id: lane.destinationId,
        error: String(err),
      });
      await sleep(settings.pollIntervalMs);
      continue;
    }
    const destination = config.destinations.get(lane.destinationId);
    // Settings may change while the lane runs: apply the current ones.
    if (destination?.enabled && destination.concurrency !== appliedConcurrency) {
      queue.concurrency = destination.concurrency;
      appliedConcurrency = destination.concurrency;
    }
    if (destination?.enabled && destination.rate_limit_per_second !== appliedRate) {
      await queue.onIdle();
      queue = laneQueue(destination);
      appliedConcurrency = destination.concurrency;
      appliedRate = destination.rate_limit_per_second;
    }
    const { step, breaker } = nextLaneStep({
      config,
      destinationId: lane.destinationId,
      breaker: lane.breaker,
      now: deps.now(),
      inFlight: queue.pending + queue.size,
      pollIntervalMs: settings.pollIntervalMs,
      maxClaim: settings.maxClaim,
    });
    lane.breaker = breaker;
    if (step.kind === 'stop') break;
    if (step.kind === 'sleep') {
      await sleep(step.ms);
      continue;
    }
    if (step.kind === 'wait-for-room') {
      const room = untilNext(queue);
      await sleep(settings.pollIntervalMs, room.next);
      room.cancel();
      continue;
    }
    // In flight from the claim until its batch is recorded, so `idle()` never sees a gap between.
    const end = ctx.activity.begin();
    const claimStartedAt = Date.now();
    const claimNow = deps.now();
    claiming();
    const claimed = await claim(ctx, destination!, step.pipeIds, step.limit, claimNow);
    if (claimed === 'failed') {
      end();
      await sleep(settings.pollIntervalMs);
      continue;
    }
    if (claimed.length === 0) {
      end();
      const next = await deps.store.nextRetryAt({ destinationId: lane.destinationId }).catch(() => null);
      const due = next ? Date.parse(next) : null;
      await sleep(idleWaitMs(due, deps.now(), settings.pollIntervalMs, claimNow));
      continue;
    }
    const claimedAt = { start: claimStartedAt, end: Date.now() };
    // The batch re-reads the configuration when it starts: one changed during the claim or while
    // it waits in the queue (its rate limit) is what it goes out with.
    const batch = { destination: destination!, config, deliveries: claimed, at: claimedAt };
    void queue.add(() => processBatch(ctx, lane, batch).finally(end));
  }
  await queue.onIdle();
}

/** Claims one batch; 'failed' when the store refused (logged). */
async function claim(
  ctx: DispatchContext,
  destination: Destination,
  pipeIds: string[],
  limit: number,
  now: number,
): Promise<ClaimedDelivery[] | 'failed'> {
  const { deps } = ctx;
  try {
    return await deps.store.claimDeliveries({
      destinationId: destination.id,
      pipeIds,
      owner: ctx.owner,
      limit,
      leaseMs: ctx.settings.leaseMs,
      now: new Date(now).toISOString(),
    });
  } catch (err) {
    deps.logger.error('claiming deliveries failed', { destination_id: destination.id, error: String(err) });
    return 'failed';
  }
}

/** The queue a lane runs its batches on: the destination's concurrency and rate limit. */
export function laneQueue(destination: Pick<Destination, 'concurrency' | 'rate_limit_per_second'>): PQueue {
  return destination.rate_limit_per_second > 0
    ? new PQueue({
        concurrency: destination.concurrency,
        ...rateWindow(destination.rate_limit_per_second),
        // A sliding window: never more than the rate in ANY one-second span, not just per
        // fixed second (which lets twice the rate through across a boundary).
        strict: true,
      })
    : new PQueue({ concurrency: destination.concurrency });
}

/** Resolves when the queue starts its next batch; `cancel` removes the listener (a wake came first). */
function untilNext(queue: PQueue): { next: Promise<void>; cancel: () => void } {
  let listener = () => {};
  const next = new Promise<void>((resolve) => {
    listener = () => resolve();
    queue.once('next', listener);
  });
  return { next, cancel: () => queue.off('next', listener) };
}
