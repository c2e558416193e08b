/**
 * Delivery claims on SQLite: dispatchers claim due deliveries (one `BEGIN IMMEDIATE` transaction
 * plus a lease in `due_at`), record outcomes fenced by the lease owner, extend or release leases,
 * and bring retries forward.
 */
import {
  type ClaimMethods,
  leaseUntil,
  type SqliteTables,
  toClaimedDelivery,
} from '@openpipes/core/store-kit';
import { type Insertable, sql, type Updateable } from 'kysely';
import type { SqliteContext } from './connection.js';
import { compileWithPlaceholders } from './prepared.js';

type OutcomeUpdate = Required<
  Pick<
    Updateable<SqliteTables['deliveries']>,
    | 'id'
    | 'status'
    | 'pipe_version'
    | 'destination_version'
    | 'test_mode'
    | 'due_at'
    | 'updated_at'
    | 'delivered_at'
    | 'detail'
  >
> & { owner: string; attempted: number };

/** The store's claim methods. */
export function claimMethods({ qb, all, first, run, prepare, tx }: SqliteContext): ClaimMethods {
  // Outcomes' statements, built once (see prepared.ts): fenced by the lease owner.
  const recordOutcome = compileWithPlaceholders<OutcomeUpdate>((p) =>
    qb
      .updateTable('deliveries')
      .set({
        status: p('status'),
        attempt_count: sql<number>`attempt_count + ${p('attempted')}`,
        pipe_version: p('pipe_version'),
        destination_version: p('destination_version'),
        test_mode: p('test_mode'),
        due_at: p('due_at'),
        lease_owner: null,
        updated_at: p('updated_at'),
        delivered_at: p('delivered_at'),
        detail: p('detail'),
      })
      .where('id', '=', p('id'))
      .where('status', '=', 'sending')
      .where('lease_owner', '=', p('owner')),
  );
  const recordAttempt = compileWithPlaceholders<Insertable<SqliteTables['delivery_attempts']>>((p) =>
    qb
      .insertInto('delivery_attempts')
      .values({ delivery_id: p('delivery_id'), number: p('number'), data: p('data') })
      .onConflict((oc) =>
        oc.columns(['delivery_id', 'number']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data') })),
      ),
  );

  /** An update of the deliveries of `ids` whose lease `owner` still holds (the fence). */
  const held = (owner: string, ids: readonly string[]) =>
    qb
      .updateTable('deliveries')
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .where('lease_owner', '=', owner);

  return {
    async claimDeliveries({ destinationId, pipeIds, owner, limit, leaseMs, now }) {
      if (pipeIds.length === 0 || limit <= 0) return [];
      const until = leaseUntil(now, leaseMs);
      return tx(() => {
        const rows = all(
          qb
            .selectFrom('deliveries as d')
            .innerJoin('events as e', 'e.id', 'd.event_ref')
            .selectAll('d')
            .select(['e.event_time', 'e.payload'])
            .where('d.destination_id', '=', destinationId)
            .where('d.due_at', 'is not', null)
            .where('d.due_at', '<=', now)
            .where('d.pipe_id', 'in', pipeIds)
            .orderBy('d.due_at')
            .orderBy('d.id')
            .limit(limit),
        );
        if (rows.length === 0) return [];
        const ids = rows.map((r) => r.id);
        run(
          qb
            .updateTable('deliveries')
            .set({ status: 'sending', lease_owner: owner, due_at: until, updated_at: now })
            .where('id', 'in', ids),
        );
        return rows.map((row) =>
          toClaimedDelivery(
            { ...row, status: 'sending', lease_owner: owner, due_at: until, updated_at: now },
            row,
          ),
        );
      });
    },

    async completeDeliveries({ owner, outcomes, now }) {
      const applied: string[] = [];
      const lost: string[] = [];
      const update = prepare(recordOutcome.sql);
      const insertAttempt = prepare(recordAttempt.sql);
      tx(() => {
        for (const outcome of outcomes) {
          const changed = update.run(
            ...recordOutcome.parameters({
              id: outcome.id,
              owner,
              status: outcome.status,
              attempted: outcome.attempt ? 1 : 0,
              pipe_version: outcome.pipe_version,
              destination_version: outcome.destination_version,
              test_mode: outcome.test_mode ? 1 : 0,
              due_at: outcome.status === 'retrying' ? outcome.next_attempt_at : null,
              updated_at: now,
              delivered_at: outcome.delivered_at,
              detail: JSON.stringify(outcome.detail),
            }),
          ).changes;
          if (changed === 0) {
            lost.push(outcome.id);
            continue;
          }
          applied.push(outcome.id);
          if (outcome.attempt) {
            insertAttempt.run(
              ...recordAttempt.parameters({
                delivery_id: outcome.id,
                number: outcome.attempt.number,
                data: JSON.stringify(outcome.attempt),
              }),
            );
          }
        }
      });
      return { applied, lost };
    },

    async extendLeases({ owner, ids, until }) {
      if (ids.length === 0) return 0;
      return run(held(owner, ids).set({ due_at: until }));
    },

    async releaseDeliveries({ owner, ids, now }) {
      if (ids.length === 0) return;
      run(held(owner, ids).set({ status: 'pending', lease_owner: null, due_at: now, updated_at: now }));
    },

    async expediteRetries({ destinationId, now }) {
      return run(
        qb
          .updateTable('deliveries')
          .set({ due_at: now })
          .where('destination_id', '=', destinationId)
          .where('status', '=', 'retrying')
          .where('due_at', '>', now),
      );
    },

    async nextRetryAt({ destinationId }) {
      const row = first(
        qb
          .selectFrom('deliveries')
          .select((eb) => eb.fn.min('due_at').as('due'))
          .where('destination_id', '=', destinationId)
          .where('due_at', 'is not', null)
          .where('status', '=', 'retrying'),
      );
      return (row?.due as string | null | undefined) ?? null;
    },
  };
}
