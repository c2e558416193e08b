/**
 * Configuration entities on PostgreSQL (sources, event types, secrets, destinations, pipes, API
 * keys, alert rules: one `entities` table keyed by kind), their version history, and the
 * configuration revision every write bumps.
 */
import type { AuditEntry, EntityRecord } from '@openpipes/core';
import {
  type EntityMethods,
  entityTakenError,
  type PostgresTables,
  staleEntityError,
  toEntityChanges,
  toEntityRecord,
  toEntityRow,
  toEntityVersionRecord,
  toEntityVersionRow,
} from '@openpipes/core/store-kit';
import { type ExpressionBuilder, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { pgErrorCodes, sqlState } from './driver.js';

type Trx = Transaction<PostgresTables>;

/** `data` as JSON text, which the kit's mappers parse (not a value parsed by pg's type parsers). */
const dataText = (eb: ExpressionBuilder<PostgresTables, 'entities' | 'entity_versions'>) =>
  eb.cast<string>('data', 'text').as('data');

/** The writes every entity method shares: version snapshot, audit entry and config revision; CONFLICT on a taken key. */
function entityWrites({ q, guard, tx, insertAudit }: PgContext) {
  const bumpRevision = (trx: Trx) =>
    q(trx)
      .updateTable('meta')
      .set({ value: sql<string>`value + 1` })
      .where('key', '=', 'config_revision')
      .execute();

  /** What every entity write does besides the row itself: a version snapshot, audit, revision. */
  const recordWrite = async (
    trx: Trx,
    entity: EntityRecord,
    version: number,
    actor: string | null,
    audit: AuditEntry | undefined,
  ) => {
    await q(trx)
      .insertInto('entity_versions')
      .values(toEntityVersionRow(entity, version, actor))
      .execute();
    await insertAudit(trx, audit);
    await bumpRevision(trx);
  };
  /** Runs an entity write in a transaction, turning a unique violation into the contract's CONFLICT. */
  const write = (entity: EntityRecord, fn: (trx: Trx) => Promise<void>) =>
    guard(async () => {
      try {
        await tx(fn);
      } catch (err) {
        throw sqlState(err) === pgErrorCodes.uniqueViolation ? entityTakenError(entity, err) : err;
      }
    });
  return { bumpRevision, recordWrite, write };
}

/** The store's entity methods. */
export function entityMethods(context: PgContext): EntityMethods {
  const { q, guard, tx, insertAudit } = context;
  const { bumpRevision, recordWrite, write } = entityWrites(context);

  const selectEntities = () =>
    q()
      .selectFrom('entities')
      .select(['kind', 'id', 'unique_key', 'version', 'created_at', 'updated_at', dataText]);
  const selectVersions = () =>
    q().selectFrom('entity_versions').select(['kind', 'id', 'version', 'actor', 'created_at', dataText]);

  return {
    insertEntity: ({ entity, actor, audit }) =>
      write(entity, async (trx) => {
        await q(trx).insertInto('entities').values(toEntityRow(entity, 1)).execute();
        await recordWrite(trx, entity, 1, actor, audit);
      }),

    updateEntity: ({ entity, expectedVersion, actor, audit }) =>
      write(entity, async (trx) => {
        const changed = await q(trx)
          .updateTable('entities')
          .set(toEntityChanges(entity, expectedVersion + 1))
          .where('id', '=', entity.id)
          .where('kind', '=', entity.kind)
          .where('version', '=', expectedVersion)
          .executeTakeFirst();
        if (Number(changed.numUpdatedRows) === 0) {
          const current = await q(trx)
            .selectFrom('entities')
            .select('version')
            .where('id', '=', entity.id)
            .executeTakeFirst();
          throw staleEntityError(entity, current?.version ?? null);
        }
        await recordWrite(trx, entity, expectedVersion + 1, actor, audit);
      }),

    deleteEntity: ({ kind, id, audit }) =>
      guard(() =>
        tx(async (trx) => {
          const deleted = await q(trx)
            .deleteFrom('entities')
            .where('id', '=', id)
            .where('kind', '=', kind)
            .executeTakeFirst();
          if (Number(deleted.numDeletedRows) === 0) return false;
          // The contract: a secret's value goes with it (retired values stay, to redact).
          if (kind === 'secret')
            await q(trx).deleteFrom('secret_values').where('secret_id', '=', id).execute();
          await insertAudit(trx, audit);
          await bumpRevision(trx);
          return true;
        }),
      ),

    getEntity: ({ kind, id }) =>
      guard(async () => {
        const row = await selectEntities().where('id', '=', id).where('kind', '=', kind).executeTakeFirst();
        return row ? toEntityRecord(row) : null;
      }),

    findEntity: ({ kind, uniqueKey }) =>
      guard(async () => {
        const row = await selectEntities()
          .where('kind', '=', kind)
          .where('unique_key', '=', uniqueKey)
          .executeTakeFirst();
        return row ? toEntityRecord(row) : null;
      }),

    listEntities: ({ kind, after, limit }) =>
      guard(async () => {
        let query = selectEntities().where('kind', '=', kind);
        if (after) query = query.where('id', '>', after);
        return (await query.orderBy('id').limit(limit).execute()).map(toEntityRecord);
      }),

    listEntityVersions: ({ kind, id }) =>
      guard(async () => {
        const rows = await selectVersions()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .orderBy('version')
          .execute();
        return rows.map(toEntityVersionRecord);
      }),

    getEntityVersion: ({ kind, id, version }) =>
      guard(async () => {
        const row = await selectVersions()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .where('version', '=', version)
          .executeTakeFirst();
        return row ? toEntityVersionRecord(row) : null;
      }),

    configRevision: () =>
      guard(async () => {
        const row = await q()
          .selectFrom('meta')
          .select('value')
          .where('key', '=', 'config_revision')
          .executeTakeFirst();
        return Number(row?.value ?? 0);
      }),
  };
}
