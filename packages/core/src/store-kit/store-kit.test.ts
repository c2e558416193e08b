import { describe, expect, it } from 'vitest';
import { isPipesError } from '../errors.js';
import type { DeliveryAttempt } from '../schemas.js';
import {
  attemptFromJson,
  attemptToJson,
  checkDeliveryIds,
  compareIds,
  emptyDetailJson,
  entityTakenError,
  isoTime,
  listedStatuses,
  requeuesNothing,
  staleEntityError,
  statusFilter,
  toDeliveryRow,
  toEntityChanges,
  toEntityRow,
} from './index.js';

describe('isoTime', () => {
  it("returns the engine's ISO text as is, and reads a Date and PostgreSQL's text output", () => {
    expect(isoTime('2026-05-04T10:00:00.123Z')).toBe('2026-05-04T10:00:00.123Z');
    expect(isoTime(new Date('2026-05-04T10:00:00.123Z'))).toBe('2026-05-04T10:00:00.123Z');
    expect(isoTime('2026-05-04 10:00:00.123+00')).toBe('2026-05-04T10:00:00.123Z');
    expect(isoTime('2026-05-04 15:30:00.123456+05:30')).toBe('2026-05-04T10:00:00.123Z');
    expect(isoTime('2026-05-04 10:00:00+00')).toBe('2026-05-04T10:00:00.000Z');
  });

  it('refuses text that is not a time, with INTERNAL', () => {
    for (const bad of ['', 'yesterday', '2026-05-04T10:00:00.123Y', 'x'.repeat(24)]) {
      let error: unknown;
      try {
        isoTime(bad);
      } catch (err) {
        error = err;
      }
      expect(isPipesError(error) && error.code, bad).toBe('INTERNAL');
    }
  });
});

describe('toDeliveryRow', () => {
  const row = {
    id: 'evd_1',
    event_ref: 'evt_1',
    source_id: 'src_1',
    pipe_id: 'pip_1',
    destination_id: 'dst_1',
    event_id: 'ord_1',
    event_type: 'purchase',
    status: 'retrying',
    attempt_count: 1,
    pipe_version: 1,
    destination_version: 1,
    pinned_pipe_version: null,
    replayed_at: null,
    attempts_before_replay: 0,
    test_mode: 1,
    due_at: '2026-05-04T10:01:00.000Z',
    lease_owner: null,
    created_at: '2026-05-04T10:00:00.000Z',
    updated_at: new Date('2026-05-04T10:00:30.000Z'),
    delivered_at: null,
    detail: '{"output":null,"request":null,"response":null,"error":"timeout"}',
    trace_parent: null,
    filter_reason: null,
  };

  it('reads due_at as the next attempt of a retrying delivery and the lease of a sending one', () => {
    expect(toDeliveryRow(row)).toMatchObject({
      next_attempt_at: '2026-05-04T10:01:00.000Z',
      lease_expires_at: null,
      test_mode: true,
      updated_at: '2026-05-04T10:00:30.000Z',
      detail: { error: 'timeout' },
    });
    expect(toDeliveryRow({ ...row, status: 'sending', test_mode: false })).toMatchObject({
      next_attempt_at: null,
      lease_expires_at: '2026-05-04T10:01:00.000Z',
      test_mode: false,
    });
    expect(toDeliveryRow({ ...row, test_mode: 0 }).test_mode).toBe(false);
  });

  it("reads a new delivery's detail as its JSON parses, a fresh object each time", () => {
    const pending = { ...row, status: 'pending', detail: emptyDetailJson };
    const first = toDeliveryRow(pending).detail;
    expect(JSON.stringify(first)).toBe(emptyDetailJson);
    expect(first).toEqual(JSON.parse(emptyDetailJson));
    expect(toDeliveryRow(pending).detail).not.toBe(first);
  });
});

describe("the contract's errors and checks", () => {
  const entity = {
    kind: 'event_type' as const,
    id: 'ety_1',
    unique_key: 'purchase',
    version: 1,
    data: {},
    created_at: '',
    updated_at: '',
  };

  it('names the taken key, or the id when the entity has none', () => {
    expect(entityTakenError(entity, null).message).toBe('a event type with "purchase" already exists');
    expect(entityTakenError({ ...entity, unique_key: null }, null).message).toBe(
      'a event type with id ety_1 already exists',
    );
    expect(entityTakenError(entity, null).code).toBe('CONFLICT');
  });

  it('tells a concurrent write from a missing entity', () => {
    expect(staleEntityError(entity, 3)).toMatchObject({ code: 'CONFLICT' });
    expect(staleEntityError(entity, 3).message).toContain('now version 3');
    expect(staleEntityError(entity, null)).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses delivery ids that are not one per event and pipe', () => {
    expect(() => checkDeliveryIds({ events: [1, 2], pipes: [1], deliveryIds: ['a', 'b'] })).not.toThrow();
    expect(() => checkDeliveryIds({ events: [], pipes: [1], deliveryIds: [] })).not.toThrow();
    for (const deliveryIds of [['a'], ['a', 'b', 'c'], []]) {
      expect(() => checkDeliveryIds({ events: [1, 2], pipes: [1], deliveryIds })).toThrow(
        /appendEvents needs 2 delivery ids/,
      );
    }
  });

  it('reads status filters and empty re-queues', () => {
    expect(statusFilter({})).toBeNull();
    expect(statusFilter({ status: 'dead' })).toEqual(['dead']);
    expect(statusFilter({ status: [] })).toEqual([]);
    // Statuses read one index scan each: every one for a pipe's history, filtered for a reason.
    expect(listedStatuses({ pipeId: 'p', limit: 1 })).toHaveLength(7);
    expect(listedStatuses({ pipeId: 'p', eventId: 'e', limit: 1 })).toBeNull();
    expect(listedStatuses({ limit: 1 })).toBeNull();
    expect(listedStatuses({ pipeId: 'p', status: ['dead', 'dead'], limit: 1 })).toEqual(['dead']);
    expect(listedStatuses({ pipeId: 'p', filterReason: 'consent', limit: 1 })).toEqual(['filtered']);
    expect(listedStatuses({ pipeId: 'p', filterReason: 'consent', status: 'failed', limit: 1 })).toEqual([]);
    expect(requeuesNothing({ limit: 10 })).toBe(false);
    expect(requeuesNothing({ ids: [], limit: 10 })).toBe(true);
    expect(requeuesNothing({ statuses: [], limit: 10 })).toBe(true);
    expect(requeuesNothing({ limit: 0 })).toBe(true);
  });

  it('writes an entity as its row, and an update as all but id, kind and creation time', () => {
    const data = { ...entity, data: { a: 1 } };
    expect(toEntityRow(data, 1)).toEqual({ ...data, version: 1, data: '{"a":1}' });
    expect(toEntityChanges(data, 4)).toEqual({
      unique_key: 'purchase',
      version: 4,
      data: '{"a":1}',
      updated_at: '',
    });
  });

  it('orders ids bytewise', () => {
    expect(['evd_b', 'evd_B', 'evd_a'].sort(compareIds)).toEqual(['evd_B', 'evd_a', 'evd_b']);
  });
});

describe('attempt rows', () => {
  const exchange = (n: number) => ({
    request: {
      url: `https://graph.example/v19.0/1/events?n=${n}`,
      method: 'POST',
      headers: {},
      payload: { data: [{ n }] },
    },
    response: { status: 200, headers: {}, body: { events_received: 1 } },
    error: null,
    started_at: '2026-05-04T10:00:00.000Z',
    duration_ms: 12,
  });
  const attemptWith = (exchanges: ReturnType<typeof exchange>[]): DeliveryAttempt => {
    const last = exchanges[exchanges.length - 1];
    return {
      number: 1,
      status: 'delivered',
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 15,
      pipe_version: 2,
      destination_version: 3,
      request: last?.request ?? null,
      response: last?.response ?? null,
      error: null,
      exchanges,
      logs: [{ level: 'log', message: 'sent' }],
    };
  };

  it('stores the request and response once (they are the last exchange) and reads back the same record', () => {
    for (const attempt of [
      attemptWith([exchange(1)]),
      attemptWith([exchange(1), exchange(2)]),
      attemptWith([]),
    ]) {
      const text = attemptToJson(attempt);
      expect(JSON.stringify(attemptFromJson(text))).toBe(JSON.stringify(attempt)); // same keys, same order
    }
    const one = attemptWith([exchange(1)]);
    expect(attemptToJson(one).length).toBeLessThan(JSON.stringify(one).length * 0.75);
    expect(attemptToJson(one).split('graph.example')).toHaveLength(2); // the URL is stored once
  });

  it("keeps an attempt whole when its request is not its last exchange's, and reads rows stored whole", () => {
    const odd = { ...attemptWith([exchange(1)]), request: exchange(9).request };
    expect(attemptFromJson(attemptToJson(odd))).toEqual(odd);
    expect(JSON.parse(attemptToJson(odd)).request.url).toContain('n=9');
    const stored = JSON.stringify(attemptWith([exchange(1)])); // as rows were written before
    expect(JSON.stringify(attemptFromJson(stored))).toBe(stored);
  });
});
