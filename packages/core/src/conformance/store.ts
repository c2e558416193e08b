/**
 * long-file: the Store contract's executable spec: one case list every adapter runs, grouped by concern
 *
 * The store conformance suite: every `Store` implementation runs these cases. A store's own test
 * file wires it up in a few lines:
 *
 * ```ts
 * import { runStoreConformance } from '@openpipes/core/conformance';
 * runStoreConformance({ name: 'sqlite', createStore: async () => sqliteStore({ filename: tmpFile() }) });
 * ```
 *
 * Each case gets a fresh, migrated store and closes it afterwards.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPipesError } from '../errors.js';
import { newId } from '../ids.js';
import type { AuditEntry, DeliveryAttempt } from '../schemas.js';
import type { ClaimedDelivery, DeliveryOutcome, EntityRecord, NewEvent, Store } from '../store.js';

export interface StoreConformanceOptions {
  name: string;
  /** A new, empty store (not yet migrated). */
  createStore: () => Promise<Store>;
  /** Called after each case, after the store was closed (drop the schema, delete the file). */
  cleanup?: () => Promise<void>;
}

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

function entity(
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

function newEvent(
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

function attempt(number: number, status: DeliveryAttempt['status']): DeliveryAttempt {
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

function outcome(
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

async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error, `expected a PipesError ${code}`).not.toBeNull();
  expect(isPipesError(error) ? error.code : error).toBe(code);
}

export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`store conformance: ${options.name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await options.createStore();
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      await options.cleanup?.();
    });

    /** Claims a pipe's due deliveries (10 at most, a one-minute lease unless said otherwise). */
    const claimFor = (
      p: { pipe_id: string; destination_id: string },
      owner: string,
      now: string,
      options: { limit?: number; leaseMs?: number } = {},
    ) =>
      store.claimDeliveries({
        destinationId: p.destination_id,
        pipeIds: [p.pipe_id],
        owner,
        limit: options.limit ?? 10,
        leaseMs: options.leaseMs ?? 60_000,
        now,
      });

    /** Arguments for claiming a pipe's due deliveries at t0. */
    const claimArgs = (p: { pipe_id: string; destination_id: string }) => ({
      destinationId: p.destination_id,
      pipeIds: [p.pipe_id],
      owner: 'w0',
      limit: 10,
      leaseMs: 60_000,
      now: at(0),
    });

    // Sets up a source with two pipes and appends events; returns ids.
    async function seed(count: number, pipes = 2) {
      const sourceId = newId('source', t0);
      const pipeRefs = Array.from({ length: pipes }, () => ({
        pipe_id: newId('pipe', t0),
        destination_id: newId('destination', t0),
      }));
      const events = Array.from({ length: count }, (_, i) => newEvent(`ord_${i}`));
      const deliveryIds = Array.from({ length: count * pipes }, () => newId('delivery', t0));
      const results = await store.appendEvents({
        sourceId,
        events,
        pipes: pipeRefs,
        deliveryIds,
        dedupSince: at(-86_400_000),
        now: at(0),
      });
      return { sourceId, pipeRefs, events, deliveryIds, results };
    }

    describe('migrations', () => {
      it('can run again on a migrated store without changing anything', async () => {
        await store.insertEntity({ entity: entity('source', 'web'), actor: null });
        await store.migrate();
        expect(await store.findEntity({ kind: 'source', uniqueKey: 'web' })).not.toBeNull();
      });
    });

    describe('entities', () => {
      it('inserts, gets, finds by unique key and lists in id order', async () => {
        const a = entity('source', 'a', { slug: 'a' });
        const b = entity('source', 'b', { slug: 'b' });
        await store.insertEntity({ entity: a, actor: 'alice' });
        await store.insertEntity({ entity: b, actor: null });
        expect(await store.getEntity({ kind: 'source', id: a.id })).toEqual(a);
        expect(await store.getEntity({ kind: 'pipe', id: a.id })).toBeNull();
        expect((await store.findEntity({ kind: 'source', uniqueKey: 'b' }))?.id).toBe(b.id);
        expect(await store.findEntity({ kind: 'source', uniqueKey: 'zzz' })).toBeNull();
        expect((await store.listEntities({ kind: 'source', limit: 10 })).map((e) => e.id)).toEqual([
          a.id,
          b.id,
        ]);
        expect(
          (await store.listEntities({ kind: 'source', limit: 10, after: a.id })).map((e) => e.id),
        ).toEqual([b.id]);
        expect(await store.listEntities({ kind: 'source', limit: 1 })).toHaveLength(1);
      });

      it('refuses a second entity with the same unique key of the same kind, but not of another kind', async () => {
        await store.insertEntity({ entity: entity('source', 'web'), actor: null });
        await expectCode(store.insertEntity({ entity: entity('source', 'web'), actor: null }), 'CONFLICT');
        await store.insertEntity({ entity: entity('pipe', 'web'), actor: null });
        await store.insertEntity({ entity: entity('pipe', null), actor: null });
        await store.insertEntity({ entity: entity('pipe', null), actor: null });
        expect(await store.listEntities({ kind: 'pipe', limit: 10 })).toHaveLength(3);
      });

      it('updates with optimistic versions and keeps every version', async () => {
        const e = entity('pipe', 'p1', { transform: 'v1' });
        await store.insertEntity({ entity: e, actor: 'alice' });
        const rev0 = await store.configRevision();
        await store.updateEntity({
          entity: { ...e, data: { name: 'p1', transform: 'v2' }, updated_at: at(5) },
          expectedVersion: 1,
          actor: 'bob',
        });
        expect(await store.configRevision()).toBeGreaterThan(rev0);
        const stored = await store.getEntity({ kind: 'pipe', id: e.id });
        expect(stored?.version).toBe(2);
        expect(stored?.data.transform).toBe('v2');
        expect(stored?.updated_at).toBe(at(5));
        await expectCode(
          store.updateEntity({
            entity: { ...e, data: { transform: 'stale' } },
            expectedVersion: 1,
            actor: null,
          }),
          'CONFLICT',
        );
        await expectCode(
          store.updateEntity({ entity: entity('pipe', 'ghost'), expectedVersion: 1, actor: null }),
          'NOT_FOUND',
        );
        const versions = await store.listEntityVersions({ kind: 'pipe', id: e.id });
        expect(versions.map((v) => [v.version, v.data.transform, v.actor])).toEqual([
          [1, 'v1', 'alice'],
          [2, 'v2', 'bob'],
        ]);
        expect((await store.getEntityVersion({ kind: 'pipe', id: e.id, version: 1 }))?.data.transform).toBe(
          'v1',
        );
        expect(await store.getEntityVersion({ kind: 'pipe', id: e.id, version: 9 })).toBeNull();
      });

      it('refuses an update that takes a unique key already in use', async () => {
        const a = entity('destination', 'meta');
        const b = entity('destination', 'tiktok');
        await store.insertEntity({ entity: a, actor: null });
        await store.insertEntity({ entity: b, actor: null });
        await expectCode(
          store.updateEntity({ entity: { ...b, unique_key: 'meta' }, expectedVersion: 1, actor: null }),
          'CONFLICT',
        );
        expect((await store.getEntity({ kind: 'destination', id: b.id }))?.unique_key).toBe('tiktok');
      });

      it('deletes an entity but keeps its version history, and frees its unique key', async () => {
        const e = entity('source', 'web');
        await store.insertEntity({ entity: e, actor: null });
        expect(await store.deleteEntity({ kind: 'source', id: e.id })).toBe(true);
        expect(await store.deleteEntity({ kind: 'source', id: e.id })).toBe(false);
        expect(await store.getEntity({ kind: 'source', id: e.id })).toBeNull();
        expect(await store.listEntityVersions({ kind: 'source', id: e.id })).toHaveLength(1);
        await store.insertEntity({ entity: entity('source', 'web'), actor: null });
      });

      it("deletes a secret together with its current value, and no other secret's value", async () => {
        const gone = entity('secret', 'GONE_TOKEN');
        const kept = entity('secret', 'KEPT_TOKEN');
        await store.insertEntity({ entity: gone, actor: null });
        await store.insertEntity({ entity: kept, actor: null });
        await store.putSecretValue({ secretId: gone.id, ciphertext: 'v1.gone', now: at(0) });
        await store.putSecretValue({ secretId: kept.id, ciphertext: 'v1.kept', now: at(0) });
        await store.retireSecretValue({ secretId: gone.id, key: 'GONE_TOKEN', now: at(1) });
        expect(await store.deleteEntity({ kind: 'secret', id: gone.id })).toBe(true);
        expect(Object.fromEntries(await store.getSecretValues({ secretIds: [gone.id, kept.id] }))).toEqual({
          [kept.id]: 'v1.kept',
        });
        // Retired values stay (to redact) until retention destroys them.
        expect((await store.listRetiredSecretValues({})).map((r) => r.ciphertext)).toEqual(['v1.gone']);
        // Deleting an entity of another kind with the same id touches no secret value.
        await store.putSecretValue({ secretId: gone.id, ciphertext: 'v1.again', now: at(2) });
        expect(await store.deleteEntity({ kind: 'source', id: gone.id })).toBe(false);
        expect((await store.getSecretValues({ secretIds: [gone.id] })).get(gone.id)).toBe('v1.again');
      });

      it('writes the audit entry in the same call as the entity change', async () => {
        const e = entity('source', 'web');
        const audit: AuditEntry = {
          id: newId('audit', t0),
          actor: 'key_ops',
          action: 'create',
          entity_kind: 'source',
          entity_id: e.id,
          before: null,
          after: e.data,
          request_id: 'req-1',
          created_at: at(0),
        };
        await store.insertEntity({ entity: e, actor: 'key_ops', audit });
        // A failed write leaves no audit entry behind.
        await store
          .insertEntity({
            entity: entity('source', 'web'),
            actor: null,
            audit: { ...audit, id: newId('audit', t0) },
          })
          .catch(() => {});
        expect(await store.listAudit({ limit: 10 })).toEqual([audit]);
      });
    });

    describe('secret values', () => {
      it('stores, replaces and returns encrypted values by secret id', async () => {
        await store.putSecretValue({ secretId: 'sec_a', ciphertext: 'v1.one', now: at(0) });
        await store.putSecretValue({ secretId: 'sec_b', ciphertext: 'v1.two', now: at(0) });
        await store.putSecretValue({ secretId: 'sec_a', ciphertext: 'v1.three', now: at(1) });
        const values = await store.getSecretValues({ secretIds: ['sec_a', 'sec_b', 'sec_missing'] });
        expect(Object.fromEntries(values)).toEqual({ sec_a: 'v1.three', sec_b: 'v1.two' });
        expect((await store.getSecretValues({ secretIds: [] })).size).toBe(0);
      });

      it('retires a copy of the current value, oldest first, and keeps it after the secret is deleted', async () => {
        const secret = entity('secret', 'META_ACCESS_TOKEN');
        await store.insertEntity({ entity: secret, actor: null });
        expect(
          await store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(0) }),
        ).toBe(false);
        await store.putSecretValue({ secretId: secret.id, ciphertext: 'v1.old', now: at(0) });
        expect(
          await store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(5) }),
        ).toBe(true);
        await store.putSecretValue({ secretId: secret.id, ciphertext: 'v1.middle', now: at(5) });
        await store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(9) });
        // The current value is untouched by retiring it.
        expect(Object.fromEntries(await store.getSecretValues({ secretIds: [secret.id] }))).toEqual({
          [secret.id]: 'v1.middle',
        });
        await store.deleteEntity({ kind: 'secret', id: secret.id });
        expect((await store.getSecretValues({ secretIds: [secret.id] })).size).toBe(0);

        const retired = await store.listRetiredSecretValues({});
        expect(retired.map(({ id: _id, ...rest }) => rest)).toEqual([
          { secret_id: secret.id, key: 'META_ACCESS_TOKEN', ciphertext: 'v1.old', retired_at: at(5) },
          { secret_id: secret.id, key: 'META_ACCESS_TOKEN', ciphertext: 'v1.middle', retired_at: at(9) },
        ]);
        expect(new Set(retired.map((r) => r.id)).size).toBe(2);
        const before = await store.listRetiredSecretValues({ retiredBefore: at(9) });
        expect(before.map((r) => r.ciphertext)).toEqual(['v1.old']);
      });

      it('destroys a retired value together with its audit entry, once', async () => {
        await store.putSecretValue({ secretId: 'sec_r', ciphertext: 'v1.gone', now: at(0) });
        await store.retireSecretValue({ secretId: 'sec_r', key: 'K', now: at(1) });
        const [row] = await store.listRetiredSecretValues({});
        const audit: AuditEntry = {
          id: newId('audit', t0),
          actor: 'retention',
          action: 'destroy_retired_value',
          entity_kind: 'secret',
          entity_id: 'sec_r',
          before: { key: 'K', retired_at: at(1) },
          after: null,
          request_id: null,
          created_at: at(2),
        };
        expect(await store.destroyRetiredSecretValue({ id: row!.id, audit })).toBe(true);
        expect(await store.listRetiredSecretValues({})).toEqual([]);
        expect(await store.listAudit({ limit: 10 })).toEqual([audit]);
        // Again (another process got there first), and ids that never existed: nothing, no entry.
        const again = { ...audit, id: newId('audit', t0 + 1) };
        expect(await store.destroyRetiredSecretValue({ id: row!.id, audit: again })).toBe(false);
        expect(await store.destroyRetiredSecretValue({ id: 'not-an-id', audit: again })).toBe(false);
        expect(await store.listAudit({ limit: 10 })).toEqual([audit]);
      });
    });

    describe('events and deliveries', () => {
      it('appends events with one pending delivery per pipe, in one call', async () => {
        const { events, pipeRefs, results, deliveryIds } = await seed(3);
        expect(results).toEqual(events.map((e) => ({ duplicate: false, id: e.id })));
        const rows = await store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 10 });
        expect(rows).toHaveLength(3);
        expect(rows.every((r) => r.status === 'pending' && r.attempt_count === 0)).toBe(true);
        // newest first
        expect(rows.map((r) => r.id)).toEqual([deliveryIds[4], deliveryIds[2], deliveryIds[0]]);
        const stored = await store.getEvent({ id: events[1]!.id });
        expect(stored).toMatchObject({
          event_id: 'ord_1',
          event_type: 'purchase',
          event_payload: { value: 1 },
        });
      });

      it('deduplicates sender event ids within the window and within one call', async () => {
        const { sourceId, pipeRefs, events } = await seed(1, 1);
        const again = newEvent('ord_0');
        const twiceInCall = [newEvent('ord_new'), newEvent('ord_new')];
        const generated = newEvent();
        const results = await store.appendEvents({
          sourceId,
          events: [again, ...twiceInCall, generated],
          pipes: pipeRefs,
          deliveryIds: Array.from({ length: 4 }, () => newId('delivery', t0)),
          dedupSince: at(-1000),
          now: at(10),
        });
        expect(results).toEqual([
          { duplicate: true, id: events[0]!.id },
          { duplicate: false, id: twiceInCall[0]!.id },
          { duplicate: true, id: twiceInCall[0]!.id },
          { duplicate: false, id: generated.id },
        ]);
        expect(await store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 10 })).toHaveLength(3);
        // Outside the window (or with dedup off) the same id is a new event.
        const later = await store.appendEvents({
          sourceId,
          events: [newEvent('ord_0')],
          pipes: pipeRefs,
          deliveryIds: [newId('delivery', t0)],
          dedupSince: at(5),
          now: at(100_000),
        });
        expect(later[0]?.duplicate).toBe(false);
        const off = await store.appendEvents({
          sourceId,
          events: [newEvent('ord_0')],
          pipes: pipeRefs,
          deliveryIds: [newId('delivery', t0)],
          dedupSince: null,
          now: at(100_001),
        });
        expect(off[0]?.duplicate).toBe(false);
      });

      it('claims due deliveries once, oldest first, only for the given pipes', async () => {
        const { pipeRefs } = await seed(5);
        const [p1, p2] = pipeRefs;
        const other = await store.claimDeliveries({
          destinationId: p1!.destination_id,
          pipeIds: [p2!.pipe_id],
          owner: 'w0',
          limit: 10,
          leaseMs: 1000,
          now: at(1),
        });
        expect(other).toEqual([]);
        const [a, b] = await Promise.all([
          claimFor(p1!, 'w1', at(1), { limit: 3 }),
          claimFor(p1!, 'w2', at(1), { limit: 3 }),
        ]);
        const ids = [...a, ...b].map((d) => d.id);
        expect(new Set(ids).size).toBe(5);
        expect(ids).toHaveLength(5);
        for (const d of [...a, ...b]) {
          expect(d.status).toBe('sending');
          expect(d.event.event_type).toBe('purchase');
          expect(d.event.event_payload).toEqual({ value: 1 });
          expect(d.lease_expires_at).toBe(at(60_001));
        }
        const none = await claimFor(p1!, 'w3', at(2));
        expect(none).toEqual([]);
      });

      it('hands a delivery whose lease expired to another worker, and refuses the old owner', async () => {
        const { pipeRefs } = await seed(1, 1);
        const p = pipeRefs[0]!;
        const [first] = await claimFor(p, 'dead-worker', at(0), { leaseMs: 1000 });
        expect(first).toBeDefined();
        const early = await claimFor(p, 'w2', at(999), { leaseMs: 1000 });
        expect(early).toEqual([]);
        const [taken] = await claimFor(p, 'w2', at(1000), { leaseMs: 1000 });
        expect(taken?.id).toBe(first!.id);
        const stale = await store.completeDeliveries({
          owner: 'dead-worker',
          outcomes: [outcome(first!, 'delivered')],
          now: at(1001),
        });
        expect(stale).toEqual({ applied: [], lost: [first!.id] });
        const fresh = await store.completeDeliveries({
          owner: 'w2',
          outcomes: [outcome(taken!, 'delivered')],
          now: at(1002),
        });
        expect(fresh).toEqual({ applied: [taken!.id], lost: [] });
      });

      it('records outcomes and attempts, and retries only when due', async () => {
        const { pipeRefs } = await seed(3, 1);
        const p = pipeRefs[0]!;
        const claim = (owner: string, now: string) => claimFor(p, owner, now);
        const claimed = await claim('w1', at(0));
        const [d1, d2, d3] = claimed;
        await store.completeDeliveries({
          owner: 'w1',
          outcomes: [
            outcome(d1!, 'delivered', { test_mode: true }),
            outcome(d2!, 'retrying', { next_attempt_at: at(5000) }),
            outcome(d3!, 'filtered'),
          ],
          now: at(100),
        });
        const one = await store.getDelivery({ id: d1!.id });
        expect(one?.row).toMatchObject({
          status: 'delivered',
          attempt_count: 1,
          pipe_version: 1,
          destination_version: 2,
          test_mode: true,
          delivered_at: at(1000),
          next_attempt_at: null,
          lease_owner: null,
        });
        expect(one?.row.detail.output).toEqual([{ event_type: 'purchase' }]);
        expect(one?.attempts).toEqual([attempt(1, 'delivered')]);
        const filtered = await store.getDelivery({ id: d3!.id });
        expect(filtered?.row.status).toBe('filtered');
        expect(filtered?.row.attempt_count).toBe(0);
        expect(filtered?.attempts).toEqual([]);

        expect(await store.nextRetryAt({ destinationId: p.destination_id })).toBe(at(5000));
        expect(await claim('w2', at(4999))).toEqual([]);
        const [retry] = await claim('w2', at(5000));
        expect(retry?.id).toBe(d2!.id);
        expect(retry?.attempt_count).toBe(1);
        await store.completeDeliveries({ owner: 'w2', outcomes: [outcome(retry!, 'dead')], now: at(6000) });
        const dead = await store.getDelivery({ id: d2!.id });
        expect(dead?.row.status).toBe('dead');
        expect(dead?.attempts.map((a) => a.number)).toEqual([1, 2]);
        expect(await store.nextRetryAt({ destinationId: p.destination_id })).toBeNull();
      });

      it('makes the retrying deliveries of one destination due now when asked to expedite them', async () => {
        const { pipeRefs } = await seed(2, 2);
        const [p1, p2] = pipeRefs;
        for (const p of [p1!, p2!]) {
          const claimed = await claimFor(p, 'w', at(0));
          await store.completeDeliveries({
            owner: 'w',
            outcomes: claimed.map((c) => outcome(c, 'retrying', { next_attempt_at: at(3_600_000) })),
            now: at(1),
          });
        }
        expect(await store.expediteRetries({ destinationId: p1!.destination_id, now: at(10) })).toBe(2);
        expect(await store.nextRetryAt({ destinationId: p1!.destination_id })).toBe(at(10));
        expect(await store.nextRetryAt({ destinationId: p2!.destination_id })).toBe(at(3_600_000));
        const due = await claimFor(p1!, 'w2', at(10));
        expect(due).toHaveLength(2);
      });

      it('extends only the leases its owner holds, so a long batch is not taken over', async () => {
        const { pipeRefs } = await seed(2, 1);
        const p = pipeRefs[0]!;
        const claim = (owner: string, now: string) => claimFor(p, owner, now, { leaseMs: 1000 });
        const held = await claim('w1', at(0));
        expect(held).toHaveLength(2);
        const ids = held.map((d) => d.id);
        expect(await store.extendLeases({ owner: 'w2', ids, until: at(60_000) })).toBe(0);
        expect(await store.extendLeases({ owner: 'w1', ids, until: at(60_000) })).toBe(2);
        // Past the first lease, but within the extended one: nobody else may take them.
        expect(await claim('w2', at(5000))).toEqual([]);
        const row = await store.getDelivery({ id: ids[0]! });
        expect(row?.row.lease_expires_at).toBe(at(60_000));
        expect(await claim('w2', at(60_000))).toHaveLength(2);
        expect(await store.extendLeases({ owner: 'w1', ids, until: at(120_000) })).toBe(0);
      });

      it('gives released deliveries back as pending without an attempt', async () => {
        const { pipeRefs } = await seed(2, 1);
        const p = pipeRefs[0]!;
        const claimed = await claimFor(p, 'w1', at(0));
        await store.releaseDeliveries({ owner: 'w2', ids: claimed.map((c) => c.id), now: at(1) });
        expect((await store.listDeliveries({ pipeId: p.pipe_id, status: 'sending', limit: 10 })).length).toBe(
          2,
        );
        await store.releaseDeliveries({ owner: 'w1', ids: claimed.map((c) => c.id), now: at(1) });
        const rows = await store.listDeliveries({ pipeId: p.pipe_id, limit: 10 });
        expect(
          rows.every((r) => r.status === 'pending' && r.attempt_count === 0 && r.lease_owner === null),
        ).toBe(true);
      });

      it('refuses delivery ids that do not match events times pipes, storing nothing', async () => {
        const sourceId = newId('source', t0);
        const pipes = [{ pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) }];
        await expectCode(
          store.appendEvents({
            sourceId,
            events: [newEvent('ord_a'), newEvent('ord_b')],
            pipes,
            deliveryIds: [newId('delivery', t0)],
            dedupSince: null,
            now: at(0),
          }),
          'INTERNAL',
        );
        expect(await store.listDeliveries({ pipeId: pipes[0]!.pipe_id, limit: 10 })).toEqual([]);
      });

      it('matches nothing with an empty list or a limit below 1', async () => {
        const { pipeRefs } = await seed(2, 1);
        const p = pipeRefs[0]!;
        expect(await store.listDeliveries({ pipeId: p.pipe_id, status: [], limit: 10 })).toEqual([]);
        expect(await store.listDeliveries({ pipeId: p.pipe_id, limit: 10 })).toHaveLength(2);
        expect(await store.claimDeliveries({ ...claimArgs(p), pipeIds: [] })).toEqual([]);
        expect(await store.claimDeliveries({ ...claimArgs(p), limit: 0 })).toEqual([]);
        const claimed = await claimFor(p, 'w1', at(0));
        await store.completeDeliveries({
          owner: 'w1',
          outcomes: claimed.map((c) => outcome(c, 'dead')),
          now: at(1),
        });
        const requeue = { pipeId: p.pipe_id, now: at(2), limit: 10 };
        expect(await store.requeueDeliveries({ ...requeue, ids: [] })).toEqual([]);
        expect(await store.requeueDeliveries({ ...requeue, statuses: [] })).toEqual([]);
        expect(await store.requeueDeliveries({ ...requeue, limit: 0 })).toEqual([]);
        expect(await store.requeueDeliveries({ ...requeue, limit: -1 })).toEqual([]);
        expect(await store.prune({ before: at(86_400_000), limit: 0 })).toEqual({ events: 0, deliveries: 0 });
        expect(await store.prune({ before: at(86_400_000), limit: -1 })).toEqual({
          events: 0,
          deliveries: 0,
        });
        expect(await store.listDeliveries({ pipeId: p.pipe_id, status: 'dead', limit: 10 })).toHaveLength(2);
      });

      it('lists deliveries with filters and cursor pagination, newest first', async () => {
        const { pipeRefs } = await seed(7, 1);
        const p = pipeRefs[0]!;
        const claimed = await claimFor(p, 'w', at(0), { limit: 2 });
        await store.completeDeliveries({
          owner: 'w',
          outcomes: claimed.map((c) => outcome(c, 'failed')),
          now: at(1),
        });
        const all: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.listDeliveries({ pipeId: p.pipe_id, limit: 3, cursor });
          all.push(...page.map((r) => r.id));
          if (page.length < 3) break;
          cursor = page[page.length - 1]!.id;
        }
        expect(all).toHaveLength(7);
        expect([...all].sort().reverse()).toEqual(all);
        expect(await store.listDeliveries({ pipeId: p.pipe_id, status: 'failed', limit: 10 })).toHaveLength(
          2,
        );
        expect(
          await store.listDeliveries({ pipeId: p.pipe_id, status: ['failed', 'pending'], limit: 10 }),
        ).toHaveLength(7);
        const byEvent = await store.listDeliveries({ pipeId: p.pipe_id, eventId: 'ord_3', limit: 10 });
        expect(byEvent.map((r) => r.event_id)).toEqual(['ord_3']);
        expect(await store.listDeliveries({ destinationId: p.destination_id, limit: 10 })).toHaveLength(7);
        expect(await store.listDeliveries({ pipeId: p.pipe_id, since: at(1), limit: 10 })).toHaveLength(0);
        expect(await store.listDeliveries({ pipeId: p.pipe_id, until: at(1), limit: 10 })).toHaveLength(7);
      });

      it('re-queues failed and dead deliveries for replay with a fresh retry budget', async () => {
        const { pipeRefs } = await seed(4, 1);
        const p = pipeRefs[0]!;
        const claimed = await claimFor(p, 'w', at(0));
        const [a, b, c, d] = claimed;
        await store.completeDeliveries({
          owner: 'w',
          outcomes: [
            outcome(a!, 'failed'),
            outcome(b!, 'dead'),
            outcome(c!, 'delivered'),
            outcome(d!, 'dead'),
          ],
          now: at(1),
        });
        const onlyB = await store.requeueDeliveries({
          pipeId: p.pipe_id,
          ids: [b!.id, c!.id],
          now: at(2),
          limit: 100,
        });
        expect(onlyB).toEqual([b!.id]);
        const rest = await store.requeueDeliveries({
          pipeId: p.pipe_id,
          statuses: ['dead'],
          pinnedPipeVersion: 3,
          now: at(3),
          limit: 100,
        });
        expect(rest).toEqual([d!.id]);
        const replayed = await store.getDelivery({ id: d!.id });
        expect(replayed?.row).toMatchObject({
          status: 'pending',
          pinned_pipe_version: 3,
          replayed_at: at(3),
          attempts_before_replay: 1,
          attempt_count: 1,
        });
        const again = await claimFor(p, 'w2', at(4));
        expect(again.map((x) => x.id).sort()).toEqual([b!.id, d!.id].sort());
      });

      it('counts deliveries by destination, pipe and status', async () => {
        const { pipeRefs } = await seed(3, 2);
        const stats = await store.deliveryStats();
        expect(stats).toHaveLength(2);
        for (const row of stats) {
          expect(row.status).toBe('pending');
          expect(row.count).toBe(3);
          expect(row.oldest_created_at).toBe(at(0));
          expect(pipeRefs.map((r) => r.pipe_id)).toContain(row.pipe_id);
        }
      });

      it('counts the live backlog per destination: pending, retrying and in flight, not final ones', async () => {
        const { pipeRefs } = await seed(4, 2);
        const [p, q] = pipeRefs as [(typeof pipeRefs)[number], (typeof pipeRefs)[number]];
        const before = Object.fromEntries((await store.backlog()).map((r) => [r.destination_id, r.count]));
        expect(before[p.destination_id]).toBe(4);
        const [a, b, c] = await claimFor(p, 'w', at(0), { limit: 3 });
        await store.completeDeliveries({
          owner: 'w',
          outcomes: [outcome(a!, 'delivered'), outcome(b!, 'retrying', { next_attempt_at: at(60_000) })],
          now: at(1),
        });
        // c is still claimed (sending): in flight counts; the delivered one does not.
        expect(c).toBeDefined();
        const after = Object.fromEntries((await store.backlog()).map((r) => [r.destination_id, r.count]));
        expect(after[p.destination_id]).toBe(3);
        if (q.destination_id !== p.destination_id) expect(after[q.destination_id]).toBe(4);
        await store.completeDeliveries({ owner: 'w', outcomes: [outcome(c!, 'dead')], now: at(2) });
        const last = Object.fromEntries((await store.backlog()).map((r) => [r.destination_id, r.count]));
        expect(last[p.destination_id]).toBe(2);
      });

      it('counts final statuses too, and keeps the counts right through replay and pruning', async () => {
        const { pipeRefs, sourceId } = await seed(5, 1);
        const p = pipeRefs[0]!;
        const claimed = await claimFor(p, 'w', at(0), { limit: 4 });
        const [a, b, c, d] = claimed;
        await store.completeDeliveries({
          owner: 'w',
          outcomes: [
            outcome(a!, 'delivered'),
            outcome(b!, 'delivered'),
            outcome(c!, 'failed'),
            outcome(d!, 'retrying', { next_attempt_at: at(60_000) }),
          ],
          now: at(1),
        });
        // A stale owner's outcome changes nothing, counts included.
        await store.completeDeliveries({
          owner: 'someone-else',
          outcomes: [outcome(d!, 'dead')],
          now: at(2),
        });
        const counts = async () =>
          Object.fromEntries(
            (await store.deliveryStats())
              .filter((r) => r.pipe_id === p.pipe_id)
              .map((r) => [r.status, [r.count, r.oldest_created_at]]),
          );
        expect(await counts()).toEqual({
          delivered: [2, at(0)],
          failed: [1, at(0)],
          retrying: [1, at(0)],
          pending: [1, at(0)],
        });
        await store.requeueDeliveries({ pipeId: p.pipe_id, now: at(3), limit: 10 });
        expect(await counts()).toEqual({ delivered: [2, at(0)], retrying: [1, at(0)], pending: [2, at(0)] });
        await store.appendEvents({
          sourceId,
          events: [newEvent('later', { value: 1 }, t0 + 10_000)],
          pipes: pipeRefs,
          deliveryIds: [newId('delivery', t0 + 10_000)],
          dedupSince: null,
          now: at(10_000),
        });
        await store.prune({ before: at(5000), limit: 100 });
        expect(await counts()).toEqual({ pending: [1, at(10_000)] });
      });

      it('lists deliveries inside a closed time window, newest first, with a status and a cursor', async () => {
        const { sourceId, pipeRefs } = await seed(0, 1);
        const p = pipeRefs[0]!;
        // Six events one second apart; ids and times both increase.
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) {
          const deliveryId = newId('delivery', t0 + i * 1000);
          ids.push(deliveryId);
          await store.appendEvents({
            sourceId,
            events: [newEvent(`win_${i}`, { value: 1 }, t0 + i * 1000)],
            pipes: pipeRefs,
            deliveryIds: [deliveryId],
            dedupSince: null,
            now: at(i * 1000),
          });
        }
        const window = { pipeId: p.pipe_id, since: at(1000), until: at(5000) };
        expect((await store.listDeliveries({ ...window, limit: 10 })).map((r) => r.id)).toEqual([
          ids[4],
          ids[3],
          ids[2],
          ids[1],
        ]);
        expect((await store.listDeliveries({ ...window, limit: 2 })).map((r) => r.id)).toEqual([
          ids[4],
          ids[3],
        ]);
        expect(
          (await store.listDeliveries({ ...window, cursor: ids[3], limit: 10 })).map((r) => r.id),
        ).toEqual([ids[2], ids[1]]);
        expect(await store.listDeliveries({ ...window, status: 'failed', limit: 10 })).toEqual([]);
        expect(
          (await store.listDeliveries({ ...window, status: ['failed', 'pending'], limit: 3 })).map(
            (r) => r.id,
          ),
        ).toEqual([ids[4], ids[3], ids[2]]);
      });

      it('returns event payloads and delivery details exactly: key order, unicode, escapes, numbers', async () => {
        const payload = {
          z: 1,
          a: { y: [3, 2, 1], q: 'quote " back \\ slash' },
          e: 'émoji 🎯 ☃',
          n: -0.5,
          big: 1e21,
        };
        const { pipeRefs, sourceId } = await seed(0, 1);
        const p = pipeRefs[0]!;
        const event = newEvent('json', payload);
        await store.appendEvents({
          sourceId,
          events: [event],
          pipes: pipeRefs,
          deliveryIds: [newId('delivery', t0)],
          dedupSince: null,
          now: at(0),
        });
        expect(JSON.stringify((await store.getEvent({ id: event.id }))?.event_payload)).toBe(
          JSON.stringify(payload),
        );
        const [claimed] = await claimFor(p, 'w', at(0), { limit: 1 });
        expect(JSON.stringify(claimed?.event.event_payload)).toBe(JSON.stringify(payload));
        const detail = {
          output: [payload],
          request: { url: 'u', payload },
          response: { body: payload },
          error: null,
        };
        await store.completeDeliveries({
          owner: 'w',
          outcomes: [outcome(claimed!, 'delivered', { detail })],
          now: at(1),
        });
        const record = await store.getDelivery({ id: claimed!.id });
        expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(detail));
      });

      it('prunes events received before a time with their deliveries and attempts', async () => {
        const { pipeRefs, events, sourceId } = await seed(3, 1);
        const p = pipeRefs[0]!;
        const claimed = await claimFor(p, 'w', at(0), { limit: 1 });
        await store.completeDeliveries({
          owner: 'w',
          outcomes: [outcome(claimed[0]!, 'delivered')],
          now: at(1),
        });
        const recent = newEvent('recent', { value: 1 }, t0 + 10_000);
        await store.appendEvents({
          sourceId,
          events: [recent],
          pipes: pipeRefs,
          deliveryIds: [newId('delivery', t0 + 10_000)],
          dedupSince: null,
          now: at(10_000),
        });
        const first = await store.prune({ before: at(5000), limit: 2 });
        expect(first).toEqual({ events: 2, deliveries: 2 });
        const second = await store.prune({ before: at(5000), limit: 2 });
        expect(second).toEqual({ events: 1, deliveries: 1 });
        expect(await store.getEvent({ id: events[0]!.id })).toBeNull();
        expect(await store.getEvent({ id: recent.id })).not.toBeNull();
        expect(await store.getDelivery({ id: claimed[0]!.id })).toBeNull();
        expect(await store.listDeliveries({ pipeId: p.pipe_id, limit: 10 })).toHaveLength(1);
      });
    });

    describe('audit', () => {
      it('lists audit entries newest first with filters and a cursor', async () => {
        const entries: AuditEntry[] = ['alice', 'bob', 'alice'].map((actor, i) => ({
          id: newId('audit', t0 + i),
          actor,
          action: i === 0 ? 'create' : 'update',
          entity_kind: i === 2 ? 'pipe' : 'source',
          entity_id: i === 2 ? 'pip_1' : 'src_1',
          before: i === 0 ? null : { name: 'a' },
          after: { name: 'b' },
          request_id: null,
          created_at: at(i * 1000),
        }));
        for (const entry of entries) await store.appendAudit({ entry });
        expect((await store.listAudit({ limit: 10 })).map((e) => e.id)).toEqual(
          entries.map((e) => e.id).reverse(),
        );
        expect((await store.listAudit({ actor: 'alice', limit: 10 })).map((e) => e.id)).toEqual([
          entries[2]!.id,
          entries[0]!.id,
        ]);
        expect(await store.listAudit({ entityKind: 'pipe', entityId: 'pip_1', limit: 10 })).toEqual([
          entries[2],
        ]);
        expect(
          (await store.listAudit({ since: at(1000), until: at(2000), limit: 10 })).map((e) => e.id),
        ).toEqual([entries[1]!.id]);
        expect((await store.listAudit({ cursor: entries[1]!.id, limit: 10 })).map((e) => e.id)).toEqual([
          entries[0]!.id,
        ]);
      });
    });

    describe('state', () => {
      it('sets, replaces, reads and deletes JSON values', async () => {
        expect(await store.getState({ key: 'breaker:dst_1' })).toBeNull();
        await store.setState({ key: 'breaker:dst_1', value: { open: true, n: 3 }, now: at(0) });
        await store.setState({ key: 'breaker:dst_1', value: { open: false, n: 0 }, now: at(1) });
        expect(await store.getState({ key: 'breaker:dst_1' })).toEqual({ open: false, n: 0 });
        await store.setState({ key: 'breaker:dst_1', value: null, now: at(2) });
        expect(await store.getState({ key: 'breaker:dst_1' })).toBeNull();
      });
    });
  });
}
