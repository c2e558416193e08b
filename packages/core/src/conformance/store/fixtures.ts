/** The store conformance suite's fixtures: fixed times, entities, events, attempts, outcomes. */
import { expect } from 'vitest';
import { isPipesError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { DeliveryAttempt } from '../../schemas.js';
import type { ClaimedDelivery, DeliveryOutcome, EntityRecord, NewEvent, Store } from '../../store.js';

export const t0 = Date.parse('2026-05-04T10:00:00.000Z');
export const at = (ms: number) => new Date(t0 + ms).toISOString();

export function entity(
  kind: EntityRecord['kind'],
  uniqueKey: string | null,
  data: Record<string, unknown> = {},
): EntityRecord {
  return {
    kind,
    id: newId(kind === 'event_type' ? 'event_type' : kind === 'alert_channel' ? 'alert_channel' : kind, t0),
    unique_key: uniqueKey,
    version: 1,
    data: { name: uniqueKey, ...data },
    created_at: at(0),
    updated_at: at(0),
  };
}

export function newEvent(
  eventId?: string,
  payload: Record<string, unknown> = { value: 1 },
  receivedAt = t0,
): NewEvent {
  // As the engine does: the id is made when the event is received.
  const id = newId('event', receivedAt);
  return {
    id,
    event_id: eventId ?? id,
    sender_event_id: eventId !== undefined,
    event_type: 'purchase',
    event_time: at(0),
    event_payload: payload,
  };
}

export function attempt(number: number, status: DeliveryAttempt['status']): DeliveryAttempt {
  return {
    number,
    status,
    started_at: at(0),
    duration_ms: 12,
    pipe_version: 1,
    destination_version: 2,
    request: {
      url: 'https://graph.example/v1/events',
      method: 'POST',
      headers: {},
      payload: { data: [{ a: 1 }] },
    },
    response: { status: status === 'delivered' ? 200 : 500, body: { ok: status === 'delivered' } },
    error: null,
    exchanges: [],
    logs: [],
  };
}

export function outcome(
  delivery: ClaimedDelivery,
  status: DeliveryOutcome['status'],
  extra: Partial<DeliveryOutcome> = {},
) {
  const result: DeliveryOutcome = {
    id: delivery.id,
    status,
    pipe_version: 1,
    destination_version: 2,
    test_mode: false,
    filter_reason: null,
    next_attempt_at: null,
    delivered_at: status === 'delivered' ? at(1000) : null,
    detail: {
      output: [{ event_type: 'purchase' }],
      request: { url: 'u' },
      response: { status: 200 },
      error: null,
    },
    attempt: status === 'filtered' ? null : attempt(delivery.attempt_count + 1, status),
    ...extra,
  };
  return result;
}

export async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error, `expected a PipesError ${code}`).not.toBeNull();
  expect(isPipesError(error) ? error.code : error).toBe(code);
}

/** What each group of cases gets: the current case's store and helpers bound to it. */
export interface StoreCases {
  /** The current case's fresh, migrated store. */
  readonly store: Store;
  /** Claims a pipe's due deliveries (10 at most, a one-minute lease unless said otherwise). */
  claimFor(
    p: { pipe_id: string; destination_id: string },
    owner: string,
    now: string,
    options?: { limit?: number; leaseMs?: number },
  ): ReturnType<Store['claimDeliveries']>;
  /** Arguments for claiming a pipe's due deliveries at t0. */
  claimArgs(p: { pipe_id: string; destination_id: string }): Parameters<Store['claimDeliveries']>[0];
  /** Sets up a source with two pipes (unless said otherwise) and appends `count` events. */
  seed(count: number, pipes?: number): Promise<Seeded>;
}

export interface Seeded {
  sourceId: string;
  pipeRefs: { pipe_id: string; destination_id: string }[];
  events: NewEvent[];
  deliveryIds: string[];
  results: Awaited<ReturnType<Store['appendEvents']>>;
}

/** Binds the helpers to whatever store `current()` returns when they are called. */
export function storeCases(current: () => Store): StoreCases {
  return {
    get store() {
      return current();
    },
    claimFor: (p, owner, now, options = {}) =>
      current().claimDeliveries({
        destinationId: p.destination_id,
        pipeIds: [p.pipe_id],
        owner,
        limit: options.limit ?? 10,
        leaseMs: options.leaseMs ?? 60_000,
        now,
      }),
    claimArgs: (p) => ({
      destinationId: p.destination_id,
      pipeIds: [p.pipe_id],
      owner: 'w0',
      limit: 10,
      leaseMs: 60_000,
      now: at(0),
    }),
    async seed(count, pipes = 2) {
      const sourceId = newId('source', t0);
      const pipeRefs = Array.from({ length: pipes }, () => ({
        pipe_id: newId('pipe', t0),
        destination_id: newId('destination', t0),
      }));
      const events = Array.from({ length: count }, (_, i) => newEvent(`ord_${i}`));
      const deliveryIds = Array.from({ length: count * pipes }, () => newId('delivery', t0));
      const results = await current().appendEvents({
        sourceId,
        events,
        pipes: pipeRefs,
        deliveryIds,
        dedupSince: at(-86_400_000),
        now: at(0),
      });
      return { sourceId, pipeRefs, events, deliveryIds, results };
    },
  };
}
