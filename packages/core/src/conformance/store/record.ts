/**
 * A delivered record with awkward values (a number past 2^53, NUL, a non-ASCII character, keys out
 * of order), written through a store: the stores' own tests check how it is stored (packed,
 * migration 11) and that it reads back exactly as written, before and after the migration.
 */
import { expect } from 'vitest';
import { newId } from '../../ids.js';
import type { DeliveryDetail, Store } from '../../store.js';
import { at } from './fixtures.js';

const request = {
  url: 'https://graph.example/v19.0/[secret:PIXEL]/events',
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  payload: { data: [{ event_name: 'Purchase', value: 1e21, note: 'nul \u0000 ☃' }] },
};
const response = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: { events_received: 1 },
};
export const recordDetail = {
  output: [{ event_type: 'purchase', z: 1, a: 2 }],
  request,
  response,
  error: null,
};
export const recordAttempt = {
  number: 1,
  status: 'delivered' as const,
  started_at: at(1),
  duration_ms: 5,
  pipe_version: 1,
  destination_version: 1,
  request,
  response,
  error: null,
  exchanges: [{ request, response, error: null, started_at: at(1), duration_ms: 5 }],
  logs: [],
};

/**
 * Appends one purchase (`eventId`, `payload`) for a new pipe; gives the pipe and a claim of its due
 * delivery (one, as worker `w`, leased for a second) at a given time.
 */
async function queueOneEvent(store: Store, eventId: string, payload: Record<string, unknown>) {
  const pipe = { pipe_id: newId('pipe'), destination_id: newId('destination') };
  await store.appendEvents({
    sourceId: newId('source'),
    events: [
      {
        id: newId('event'),
        event_id: eventId,
        sender_event_id: true,
        event_type: 'purchase',
        event_time: at(0),
        event_payload: payload,
      },
    ],
    pipes: [pipe],
    deliveryIds: [newId('delivery')],
    dedupSince: null,
    now: at(0),
  });
  const claim = (now: string) =>
    store.claimDeliveries({
      destinationId: pipe.destination_id,
      pipeIds: [pipe.pipe_id],
      owner: 'w',
      limit: 1,
      leaseMs: 1000,
      now,
    });
  return { pipe, claim };
}

/**
 * One delivered record with its attempt, written through the store: an event with `payload` (checked
 * to come back byte for byte from the claim) and the record's `detail` (`recordDetail` unless given).
 * Gives the delivery's id.
 */
export async function deliverOneRecord(
  store: Store,
  {
    payload = { order_id: 'ord_1' },
    detail = recordDetail,
  }: { payload?: Record<string, unknown>; detail?: DeliveryDetail } = {},
): Promise<string> {
  const { claim } = await queueOneEvent(store, 'ord_1', payload);
  const [claimed] = await claim(at(1));
  expect(JSON.stringify(claimed?.event.event_payload)).toBe(JSON.stringify(payload));
  await store.completeDeliveries({
    owner: 'w',
    outcomes: [
      {
        id: claimed!.id,
        status: 'delivered',
        pipe_version: 1,
        destination_version: 1,
        test_mode: false,
        filter_reason: null,
        next_attempt_at: null,
        delivered_at: at(2),
        detail,
        attempt: recordAttempt,
      },
    ],
    now: at(2),
  });
  return claimed!.id;
}

/**
 * Writes {@link deliverOneRecord} and checks that one record and the list give its detail and
 * attempt back exactly as written. Gives the delivery's id, for the store's own check of how they
 * are stored.
 */
export async function expectRecordReads(store: Store): Promise<string> {
  const id = await deliverOneRecord(store);
  const record = await store.getDelivery({ id });
  expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(recordDetail));
  expect(JSON.stringify(record?.attempts)).toBe(JSON.stringify([recordAttempt]));
  const [listed] = await store.listDeliveries({ limit: 10 });
  expect(JSON.stringify(listed?.detail)).toBe(JSON.stringify(recordDetail));
  return id;
}

/**
 * Checks that the record {@link deliverOneRecord} wrote (`id`) still reads as `before` (what
 * `getDelivery` gave) once the store's rows were rewritten as an older version stored them, its
 * detail as written through one record and the list.
 *
 * @example
 * ```ts
 * const id = await deliverOneRecord(store);
 * const before = await store.getDelivery({ id });
 * // rewrite the rows as migration 10 left them, then:
 * await expectRecordReadsAsBefore(store, id, before);
 * ```
 */
export async function expectRecordReadsAsBefore(
  store: Store,
  id: string,
  before: Awaited<ReturnType<Store['getDelivery']>>,
): Promise<void> {
  const after = await store.getDelivery({ id });
  expect(JSON.stringify(after)).toBe(JSON.stringify(before));
  expect(JSON.stringify(after?.row.detail)).toBe(JSON.stringify(recordDetail));
  const [listed] = await store.listDeliveries({ limit: 10 });
  expect(JSON.stringify(listed?.detail)).toBe(JSON.stringify(recordDetail));
}

const failedResponse = { status: 503, headers: {}, body: { error: 'busy' } };
const failedError = { code: 'HTTP_503', message: 'busy', retryable: true, stage: 'response' as const };
/** The first attempt of {@link retryOneRecord}: the platform answered 503. */
export const retriedAttempt = {
  ...recordAttempt,
  status: 'retrying' as const,
  response: failedResponse,
  error: failedError,
  exchanges: [{ request, response: failedResponse, error: failedError, started_at: at(1), duration_ms: 5 }],
};
/** The detail {@link retriedAttempt} leaves on the record (the engine builds it from the same objects). */
export const retriedDetail = { output: null, request, response: failedResponse, error: failedError };

/**
 * A record delivered on its second attempt, written through the store as the engine writes it
 * (each detail from its attempt's own objects). Gives its id and the delivery as the second claim
 * read it (its detail the first attempt's).
 */
export async function retryOneRecord(store: Store) {
  const { pipe, claim } = await queueOneEvent(store, 'ord_2', { order_id: 'ord_2' });
  const common = { pipe_version: 1, destination_version: 1, test_mode: false, filter_reason: null };
  const [first] = await claim(at(1));
  const attempt = { ...retriedAttempt };
  await store.completeDeliveries({
    owner: 'w',
    outcomes: [
      {
        id: first!.id,
        status: 'retrying',
        ...common,
        next_attempt_at: at(3),
        delivered_at: null,
        detail: { output: null, request: attempt.request, response: attempt.response, error: attempt.error },
        attempt,
      },
    ],
    now: at(2),
  });
  const [second] = await claim(at(4));
  const delivered = { ...recordAttempt, number: 2 };
  await store.completeDeliveries({
    owner: 'w',
    outcomes: [
      {
        id: first!.id,
        status: 'delivered',
        ...common,
        next_attempt_at: null,
        delivered_at: at(5),
        detail: {
          ...recordDetail,
          request: delivered.request,
          response: delivered.response,
          error: delivered.error,
        },
        attempt: delivered,
      },
    ],
    now: at(5),
  });
  return { id: first!.id, pipeId: pipe.pipe_id, claimed: second! };
}

/**
 * Writes {@link retryOneRecord} and checks that every read path gives each detail back as its own
 * attempt's (the second claim, one record, the list, the newest per pipe). Gives the delivery's
 * id, for the store's own check of how its detail is stored.
 *
 * @example
 * ```ts
 * await expectRetriedRecordReads(store); // then read the raw detail column: a reference
 * ```
 */
export async function expectRetriedRecordReads(store: Store): Promise<string> {
  const { id, pipeId, claimed } = await retryOneRecord(store);
  // The second claim read the first attempt's detail through its reference.
  expect(JSON.stringify(claimed.detail)).toBe(JSON.stringify(retriedDetail));
  const record = await store.getDelivery({ id });
  expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(recordDetail));
  expect(JSON.stringify(record?.attempts)).toBe(
    JSON.stringify([retriedAttempt, { ...recordAttempt, number: 2 }]),
  );
  const [listed] = await store.listDeliveries({ pipeId, limit: 10 });
  expect(JSON.stringify(listed?.detail)).toBe(JSON.stringify(recordDetail));
  const [newest] = await store.newestDeliveries({ pipeIds: [pipeId], statuses: ['delivered'] });
  expect(JSON.stringify(newest?.detail)).toBe(JSON.stringify(recordDetail));
  return id;
}
