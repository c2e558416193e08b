/**
 * One claimed batch: keep its leases while it is worked on, run it through `deliverBatch`, record
 * the outcomes, move the breaker and tell the engine's listeners.
 */
import type { ConfigSnapshot } from '../config.js';
import { deliverBatch } from '../deliver.js';
import type { Logger } from '../logger.js';
import type { Destination, Pipe } from '../schemas.js';
import { createRedactor, type Redactor } from '../secrets/redact.js';
import type { ClaimedDelivery, DeliveryOutcome } from '../store.js';
import { type Context, inSpan, linksOf, ROOT_CONTEXT, SpanKind, trace, traceIdOf } from '../tracing/index.js';
import { engineFaultDelayMs, leaseRenewalMs } from './backoff.js';
import { judgeBatch, recordBatch } from './breaker.js';
import type { DispatchContext, LaneState } from './context.js';
import { claimableUnder } from './lane-step.js';

/** A batch as the lane claimed it: the configuration it read before claiming, and when it claimed. */
export interface ClaimedBatch {
  destination: Destination;
  config: ConfigSnapshot;
  deliveries: ClaimedDelivery[];
  at: { start: number; end: number };
}

export async function processBatch(
  ctx: DispatchContext,
  lane: LaneState,
  batch: ClaimedBatch,
): Promise<void> {
  const current = await currentBatch(ctx, lane, batch);
  if (!current) return;
  const { destination, config, claimed, fault } = current;
  const { deps } = ctx;
  const tracer = deps.tracer ?? null;
  if (!tracer) return deliverAndRecord(ctx, lane, destination, config, claimed, undefined, fault);
  // A root span per batch, linked to the trace of each event in it; claim is timed before.
  const attributes = {
    'openpipes.destination': destination.name,
    'openpipes.destination_id': destination.id,
    'openpipes.batch.size': claimed.length,
  };
  const span = tracer.startSpan(
    'openpipes.batch',
    {
      kind: SpanKind.INTERNAL,
      startTime: batch.at.start,
      attributes,
      links: linksOf(claimed.map((c) => c.trace_parent)),
    },
    ROOT_CONTEXT,
  );
  const parent = trace.setSpan(ROOT_CONTEXT, span);
  tracer.startSpan('openpipes.claim', { startTime: batch.at.start, attributes }, parent).end(batch.at.end);
  try {
    await deliverAndRecord(ctx, lane, destination, config, claimed, parent, fault);
  } finally {
    span.end();
  }
}

interface CurrentBatch {
  destination: Destination;
  config: ConfigSnapshot;
  claimed: ClaimedDelivery[];
  /** The configuration could not be read: record the batch as an engine fault. */
  fault?: { error: unknown };
}

/**
 * The configuration a batch goes out with: the current one, so at least as new as any change
 * signalled before its claim ended or while it waited in the lane's queue (the cache answers from
 * memory when nothing changed). Deliveries that a claim under it would not have taken (destination
 * disabled or deleted; pipe disabled, deleted or moved to another destination) are given back to
 * `pending`, as they would be had the claim come after the change; null when none is left. A
 * configuration that cannot be read is an engine fault (`fault`), with the claim's own.
 */
async function currentBatch(
  ctx: DispatchContext,
  lane: LaneState,
  batch: ClaimedBatch,
): Promise<CurrentBatch | null> {
  const { deps } = ctx;
  let config: ConfigSnapshot;
  try {
    config = await deps.config.current();
  } catch (error) {
    return {
      destination: batch.destination,
      config: batch.config,
      claimed: batch.deliveries,
      fault: { error },
    };
  }
  if (config.revision === batch.config.revision)
    return { destination: batch.destination, config: batch.config, claimed: batch.deliveries };
  const { destination, keep, release } = claimableUnder(config, lane.destinationId, batch.deliveries);
  if (release.length > 0) {
    deps.logger.info('configuration changed since the claim; giving deliveries back unsent', {
      destination_id: lane.destinationId,
      count: release.length,
    });
    const ids = release.map((d) => d.id);
    await deps.store
      .releaseDeliveries({ owner: ctx.owner, ids, now: new Date(deps.now()).toISOString() })
      .catch((err) =>
        // Their leases expire and they are claimed again under the configuration of then.
        deps.logger.error('giving deliveries back failed', {
          destination_id: lane.destinationId,
          error: String(err),
        }),
      );
  }
  return destination && keep.length > 0 ? { destination, config, claimed: keep } : null;
}

async function deliverAndRecord(
  ctx: DispatchContext,
  lane: LaneState,
  destination: Destination,
  config: ConfigSnapshot,
  claimed: ClaimedDelivery[],
  parent: Context | undefined,
  fault?: { error: unknown },
): Promise<void> {
  const { deps, owner } = ctx;
  // Keep the leases while this batch is worked on (a slow transform or send), so that no other
  // worker takes it over and sends it twice; a dead worker stops renewing and loses them.
  const ids = claimed.map((c) => c.id);
  const renew = setInterval(() => {
    deps.store
      .extendLeases({ owner, ids, until: new Date(deps.now() + ctx.settings.leaseMs).toISOString() })
      .catch((err) =>
        deps.logger.warn('could not renew leases', { destination_id: destination.id, error: String(err) }),
      );
  }, leaseRenewalMs(ctx.settings.leaseMs));
  renew.unref();
  let outcomes: DeliveryOutcome[];
  let redact: Redactor | null = null;
  let pipeOf: ((delivery: ClaimedDelivery) => Pipe) | null = null;
  try {
    if (fault) throw fault.error;
    const secrets = await deps.resolveSecrets(destination.secret_ids);
    redact = deps.redactorFor ? await deps.redactorFor(secrets) : createRedactor(secrets);
    pipeOf = await ctx.pinned.resolver(config, claimed);
    outcomes = await deliverBatch(deps, {
      destination,
      pipeFor: pipeOf,
      secrets,
      redact,
      claimed,
      ...(parent ? { trace: parent } : {}),
    });
  } catch (err) {
    // An engine fault (store, secrets): keep the deliveries, try again after a backoff.
    const raw = err instanceof Error ? err.message : String(err);
    const message = redact ? redact.text(raw) : raw;
    deps.logger.error('delivering a batch failed', { destination_id: destination.id, error: message });
    const retryAt = new Date(deps.now() + engineFaultDelayMs(lane.breaker.failures)).toISOString();
    outcomes = claimed.map((delivery) => engineFaultOutcome(delivery, destination, retryAt, message));
  } finally {
    clearInterval(renew);
  }
  let recorded = outcomes;
  try {
    const { lost } = await inSpan(
      deps.tracer ?? null,
      'openpipes.record',
      { attributes: { 'openpipes.destination': destination.name }, ...(parent ? { parent } : {}) },
      () => deps.store.completeDeliveries({ owner, outcomes, now: new Date(deps.now()).toISOString() }),
    );
    if (lost.length > 0) {
      deps.logger.warn('lost leases before recording; another worker will deliver these again', {
        destination_id: destination.id,
        count: lost.length,
      });
      recorded = outcomes.filter((o) => !lost.includes(o.id));
    }
  } catch (err) {
    // The leases will expire and the deliveries will be claimed again (at-least-once).
    deps.logger.error('recording outcomes failed', { destination_id: destination.id, error: String(err) });
    return;
  }
  moveBreaker(ctx, lane, destination, outcomes);
  const byId = new Map(claimed.map((c) => [c.id, c]));
  logOutcomes(deps.logger, destination, recorded, (id) => {
    const delivery = byId.get(id)!;
    return { delivery, pipe: pipeOf?.(delivery) ?? config.pipes.get(delivery.pipe_id) };
  });
  deps.observer?.recorded?.({
    destination: destination.name,
    outcomes: recorded.map((o) => ({
      // An engine fault before the pipes were known: the current pipe's name.
      pipe: (pipeOf?.(byId.get(o.id)!) ?? config.pipes.get(byId.get(o.id)!.pipe_id))?.name ?? '',
      status: o.status,
      attempted: o.attempt !== null,
      ...(o.match ? { match: o.match } : {}),
    })),
  });
  deps.events.emit('deliveries', {
    destination_id: destination.id,
    destination: destination.name,
    outcomes: outcomes.map((o) => {
      const delivery = byId.get(o.id)!;
      return {
        id: o.id,
        pipe_id: delivery.pipe_id,
        event_id: delivery.event_id,
        status: o.status,
        error: (o.detail.error as { code: string; message: string } | null) ?? null,
      };
    }),
  });
}

/** How loud each final or retry status is logged; every line names the pipe, destination, delivery and trace. */
const outcomeLevels = {
  delivered: 'debug',
  filtered: 'debug',
  retrying: 'info',
  failed: 'warn',
  dead: 'warn',
} as const;

/** One log line per recorded outcome, with the redacted error of a failed attempt. */
function logOutcomes(
  logger: Logger,
  destination: Destination,
  outcomes: DeliveryOutcome[],
  lookup: (id: string) => { delivery: ClaimedDelivery; pipe: Pipe | undefined },
): void {
  for (const outcome of outcomes) {
    const { delivery, pipe } = lookup(outcome.id);
    const error = outcome.detail.error as { code?: unknown; message?: unknown } | null;
    logger[outcomeLevels[outcome.status]](
      {
        pipe: pipe?.name ?? delivery.pipe_id,
        pipe_id: delivery.pipe_id,
        destination: destination.name,
        destination_id: destination.id,
        delivery_id: delivery.id,
        trace_id: traceIdOf(delivery.trace_parent),
        status: outcome.status,
        attempt: delivery.attempt_count + (outcome.attempt ? 1 : 0),
        ...(outcome.next_attempt_at ? { next_attempt_at: outcome.next_attempt_at } : {}),
        ...(error ? { error_code: String(error.code), error: String(error.message) } : {}),
      },
      `delivery ${outcome.status}`,
    );
  }
}

function engineFaultOutcome(
  delivery: ClaimedDelivery,
  destination: Destination,
  retryAt: string,
  message: string,
): DeliveryOutcome {
  return {
    id: delivery.id,
    status: 'retrying',
    pipe_version: delivery.pipe_version,
    destination_version: destination.version,
    test_mode: false,
    filter_reason: null,
    next_attempt_at: retryAt,
    delivered_at: null,
    detail: { ...delivery.detail, error: { code: 'INTERNAL', message, retryable: true, stage: 'engine' } },
    attempt: null,
  };
}

function moveBreaker(
  ctx: DispatchContext,
  lane: LaneState,
  destination: Destination,
  outcomes: DeliveryOutcome[],
): void {
  const { deps } = ctx;
  const { breaker, transition } = recordBatch(
    lane.breaker,
    judgeBatch(outcomes),
    deps.now(),
    ctx.settings.breaker,
  );
  lane.breaker = breaker;
  if (transition.kind === 'resumed') {
    deps.events.emit('destination-resumed', {
      destination_id: destination.id,
      destination: destination.name,
    });
    // The outage is over: what waits on backoff goes now, so the backlog drains at once.
    void deps.store
      .expediteRetries({ destinationId: destination.id, now: new Date(deps.now()).toISOString() })
      .then(() => lane.wake())
      .catch((err) =>
        deps.logger.warn('could not expedite retries', {
          destination_id: destination.id,
          error: String(err),
        }),
      );
  } else if (transition.kind === 'paused') {
    const error = outcomes.find((o) => o.detail.error)?.detail.error as { message?: string } | undefined;
    deps.events.emit('destination-paused', {
      destination_id: destination.id,
      destination: destination.name,
      consecutive_failures: transition.failures,
      paused_until: new Date(transition.pausedUntil).toISOString(),
      reason: error?.message ?? 'consecutive failures',
      reopened: transition.reopened,
    });
  }
}
