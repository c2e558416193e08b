/**
 * Retention: events, delivery records and rejection-log entries older than the retention period are deleted in the
 * background (and the per-minute delivery counts past their own, longer period), in small batches with a pause between them, so pruning never holds the store for
 * long and ingest keeps flowing. Retired secret values (kept, encrypted, only to redact) are
 * destroyed once they were retired longer ago than the retention period: by then every delivery
 * record from before the rotation is gone, and no sandbox context holds the value. Each destruction
 * is in the audit trail (`destroy_retired_value`, without the value).
 */
import { auditEntry } from './audit.js';
import type { Identity } from './identity/stitch.js';
import type { Logger } from './logger.js';
import type { Store } from './store.js';

export interface RetentionOptions {
  /** Keep events and delivery records this many days. Default 30. 0 disables pruning. */
  days?: number;
  /** How often pruning runs, ms. Default 60 000. */
  intervalMs?: number;
  /** Events deleted per batch (with their deliveries). Default 500. */
  batchSize?: number;
  /**
   * Keep the per-minute delivery counts (`deliveryCounts`, the dashboards' history) this many
   * days. Default 400: longer than `days`, so a year of counts outlives the records they came from,
   * but not forever (a row per minute, pipe, destination and status). 0 keeps them forever.
   */
  deliveryCountsDays?: number;
}

/** What one pruning pass removed. */
export interface PruneResult {
  events: number;
  deliveries: number;
  /** Retired secret values destroyed. */
  secretValues: number;
  /** Profiles past their own retention (identity on), deleted. */
  profiles: number;
  /** Entries of the rejection log (events refused at collect) older than the retention period. */
  rejections: number;
  /** Rows of the per-minute delivery counts older than `deliveryCountsDays`. */
  deliveryCounts: number;
}

export interface Retention {
  start(): void;
  stop(): Promise<void>;
  /** Prunes everything older than the retention period now; returns what went. */
  runOnce(): Promise<PruneResult>;
}

export function createRetention(deps: {
  store: Store;
  now: () => number;
  logger: Logger;
  options: RetentionOptions;
  /** Profiles have their own retention (`identity.retentionDays`); pruned in the same pass. */
  identity?: Pick<Identity, 'prune' | 'backfillIndex'>;
}): Retention {
  const days = deps.options.days ?? 30;
  const intervalMs = deps.options.intervalMs ?? 60_000;
  const batchSize = deps.options.batchSize ?? 500;
  const countsDays = deps.options.deliveryCountsDays ?? 400;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  const runOnce = async (): Promise<PruneResult> => {
    const total = {
      events: 0,
      deliveries: 0,
      secretValues: 0,
      profiles: 0,
      rejections: 0,
      deliveryCounts: 0,
    };
    if (deps.identity) {
      while (!stopped) {
        const gone = await deps.identity.prune(batchSize);
        total.profiles += gone;
        if (gone < batchSize) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Events stored before the event identifier index existed (migration 8) are indexed here, a
      // batch at a time, until the marker says done (docs/erasure.md, "Events from before the index").
      let indexed = 0;
      while (!stopped) {
        const step = await deps.identity.backfillIndex(batchSize);
        indexed += step.events;
        if (step.done) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (indexed > 0)
        deps.logger.info('indexed the identifiers of stored events for erasure', { events: indexed });
    }
    // The delivery counts have their own, longer retention, pruned whether or not history is.
    if (countsDays > 0) {
      const countsBefore = new Date(deps.now() - countsDays * 86_400_000).toISOString();
      while (!stopped) {
        const gone = await deps.store.pruneDeliveryCounts({ before: countsBefore, limit: batchSize });
        total.deliveryCounts += gone;
        if (gone < batchSize) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (total.deliveryCounts > 0)
        deps.logger.info('pruned old delivery counts', { rows: total.deliveryCounts, before: countsBefore });
    }
    if (days <= 0) return total;
    const before = new Date(deps.now() - days * 86_400_000).toISOString();
    while (!stopped) {
      const pruned = await deps.store.prune({ before, limit: batchSize });
      total.events += pruned.events;
      total.deliveries += pruned.deliveries;
      total.rejections += pruned.rejections;
      if (pruned.events < batchSize && pruned.rejections < batchSize) break;
      // Let ingest and dispatch have the store between batches.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!stopped) total.secretValues = await destroyRetiredValues(before);
    if (total.events > 0 || total.secretValues > 0 || total.profiles > 0 || total.rejections > 0) {
      deps.logger.info('pruned old events, deliveries and retired secret values', { ...total, before });
    }
    return total;
  };

  const destroyRetiredValues = async (before: string): Promise<number> => {
    let destroyed = 0;
    for (const row of await deps.store.listRetiredSecretValues({ retiredBefore: before })) {
      if (stopped) break;
      const audit = auditEntry({
        action: 'destroy_retired_value',
        entityKind: 'secret',
        entityId: row.secret_id,
        before: { key: row.key, retired_at: row.retired_at },
        after: null,
        context: { actor: 'retention' },
        now: deps.now(),
      });
      if (await deps.store.destroyRetiredSecretValue({ id: row.id, audit })) destroyed++;
    }
    return destroyed;
  };

  const tick = () => {
    if (running || stopped) return;
    running = runOnce()
      .catch((err) => deps.logger.error('pruning failed', { error: String(err) }))
      .finally(() => {
        running = null;
      });
  };

  return {
    start() {
      if ((days <= 0 && countsDays <= 0 && !deps.identity) || timer) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
    runOnce,
  };
}
