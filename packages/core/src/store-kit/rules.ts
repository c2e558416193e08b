/**
 * What every store decides the same way, written once: the errors the `Store` contract names
 * (with the same messages on every store) and the argument checks it asks for.
 */
import { PipesError } from '../errors.js';
import { type DeliveryStatus, deliveryStatuses } from '../schemas.js';
import type { EntityRecord, ListDeliveriesQuery, RequeueQuery } from '../store.js';

/**
 * The CONFLICT for an entity whose id or `(kind, unique_key)` is taken (the store saw a unique
 * violation).
 *
 * @example
 * ```ts
 * throw entityTakenError(entity, err); // a source with "web" already exists
 * ```
 */
export function entityTakenError(entity: EntityRecord, cause: unknown): PipesError {
  const what = entity.unique_key === null ? `id ${entity.id}` : `"${entity.unique_key}"`;
  return new PipesError({
    code: 'CONFLICT',
    message: `a ${entity.kind.replace('_', ' ')} with ${what} already exists`,
    cause,
  });
}

/**
 * Why `updateEntity` changed nothing: CONFLICT when the entity exists at another version (a
 * concurrent write won), NOT_FOUND when it does not exist.
 *
 * @example
 * ```ts
 * throw staleEntityError(entity, current?.version ?? null);
 * ```
 */
export function staleEntityError(entity: Pick<EntityRecord, 'kind' | 'id'>, currentVersion: number | null) {
  return currentVersion !== null
    ? new PipesError({
        code: 'CONFLICT',
        message: `${entity.kind} ${entity.id} was changed concurrently (now version ${currentVersion}); retry`,
      })
    : new PipesError({ code: 'NOT_FOUND', message: `${entity.kind} ${entity.id} does not exist` });
}

/**
 * `appendEvents` needs one delivery id per event and pipe; anything else is the engine's bug, and
 * nothing is stored.
 *
 * @example
 * ```ts
 * checkDeliveryIds({ events, pipes, deliveryIds }); // throws INTERNAL on a mismatch
 * ```
 */
export function checkDeliveryIds(input: {
  events: readonly unknown[];
  pipes: readonly unknown[];
  deliveryIds: readonly string[];
}): void {
  const needed = input.events.length * input.pipes.length;
  if (input.deliveryIds.length !== needed) {
    throw new PipesError({
      code: 'INTERNAL',
      message: `appendEvents needs ${needed} delivery ids, got ${input.deliveryIds.length}`,
    });
  }
}

/**
 * The statuses a `listDeliveries` query asks for, as a list; null when it names none (any status).
 * An empty list matches no delivery.
 *
 * @example
 * ```ts
 * statusFilter({ status: 'failed' }); // ['failed']
 * statusFilter({}); // null
 * ```
 */
export function statusFilter(query: Pick<ListDeliveriesQuery, 'status'>): DeliveryStatus[] | null {
  return query.status === undefined ? null : Array.isArray(query.status) ? query.status : [query.status];
}

/**
 * The statuses a `listDeliveries` query reads, one newest-first scan of the (pipe_id, status, id)
 * index each, merged; null for one scan whatever the status; empty for no row at all. Only
 * filtered rows have a filter reason. For a store without a (pipe_id, id) index (PostgreSQL since
 * its migration 12, SQLite since its migration 16), a pipe's whole history is read status by
 * status: the primary key walked backwards would read every other pipe's newer rows too. A
 * sender's event id finds its few rows through their events (and tombstones), in one statement.
 *
 * @example
 * ```ts
 * listedStatuses({ pipeId: 'pip_1', limit: 50 }); // every status
 * listedStatuses({ pipeId: 'pip_1', filterReason: 'consent', limit: 50 }); // ['filtered']
 * ```
 */
export function listedStatuses(query: ListDeliveriesQuery): DeliveryStatus[] | null {
  const given = statusFilter(query);
  const asked = given && [...new Set(given)];
  if (query.filterReason) return (asked ?? ['filtered']).filter((s) => s === 'filtered');
  if (asked || !query.pipeId || query.eventId) return asked;
  return [...deliveryStatuses];
}

/**
 * True when a `requeueDeliveries` call can match nothing (an empty `ids` or `statuses` list, or a
 * `limit` below 1): the store answers `[]` without a query.
 *
 * @example
 * ```ts
 * if (requeuesNothing(query)) return [];
 * ```
 */
export function requeuesNothing(query: Pick<RequeueQuery, 'ids' | 'statuses' | 'limit'>): boolean {
  return query.ids?.length === 0 || query.statuses?.length === 0 || query.limit <= 0;
}

/**
 * The statuses `requeueDeliveries` may re-queue when the caller names none.
 *
 * @example
 * ```ts
 * const allowed = statuses ?? defaultRequeueStatuses;
 * ```
 */
export const defaultRequeueStatuses: readonly DeliveryStatus[] = ['failed', 'dead'];

/**
 * The lease expiry of deliveries claimed at `now` for `leaseMs`.
 *
 * @example
 * ```ts
 * leaseUntil('2026-05-04T10:00:00.000Z', 60_000); // '2026-05-04T10:01:00.000Z'
 * ```
 */
export function leaseUntil(now: string, leaseMs: number): string {
  return new Date(Date.parse(now) + leaseMs).toISOString();
}
