/**
 * Configuration entities on PostgreSQL (sources, event types, secrets, destinations, pipes, API
 * keys, alert rules: one `entities` table keyed by kind), their version history, and the
 * configuration revision every write bumps.
 */
import type { AuditEntry, EntityRecord, Store } from '@openpipes/core';
import {
  type EntityRowText,
  type EntityVersionRowText,
  entityTakenError,
  staleEntityError,
  toEntityRecord,
  toEntityVersionRecord,
} from '@openpipes/core/store-kit';
import { sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { pgErrorCodes, sqlState } from './driver.js';

type EntityMethods = Pick<
  Store,
  | 'insertEntity'
  | 'updateEntity'
  | 'deleteEntity'
  | 'getEntity'
  | 'findEntity'
  | 'listEntities'
  | 'listEntityVersions'
  | 'getEntityVersion'
  | 'configRevision'
>;

const entityColumns = sql.raw('kind, id, unique_key, version, data::text AS data, created_at, updated_at');

/** The store's entity methods. */
export function entityMethods({ db, T, guard, tx, insertAudit }: PgContext): EntityMethods {
  const bumpRevision = (trx: Transaction<Record<string, never>>) =>
    sql`UPDATE ${T('meta')} SET value = value + 1 WHERE key = 'config_revision'`.execute(trx);

  /** What every entity write does besides the row itself: a version snapshot, audit, revision. */
  const recordWrite = async (
    trx: Transaction<Record<string, never>>,
    entity: EntityRecord,
    version: number,
    actor: string | null,
    audit: AuditEntry | undefined,
  ) => {
    await sql`
      INSERT INTO ${T('entity_versions')} (id, kind, version, data, actor, created_at)
      VALUES (${entity.id}, ${entity.kind}, ${version}, ${JSON.stringify(entity.data)}::jsonb, ${actor}, ${entity.updated_at})
    `.execute(trx);
    await insertAudit(trx, audit);
    await bumpRevision(trx);
  };
  /** Runs an entity write in a transaction, turning a unique violation into the contract's CONFLICT. */
  const write = (entity: EntityRecord, fn: (trx: Transaction<Record<string, never>>) => Promise<void>) =>
    guard(async () => {
      try {
        await tx(fn);
      } catch (err) {
        throw sqlState(err) === pgErrorCodes.uniqueViolation ? entityTakenError(entity, err) : err;
      }
    });

  return {
    insertEntity: ({ entity, actor, audit }) =>
      write(entity, async (trx) => {
        await sql`
          INSERT INTO ${T('entities')} (id, kind, unique_key, version, data, created_at, updated_at)
          VALUES (${entity.id}, ${entity.kind}, ${entity.unique_key}, 1, ${JSON.stringify(entity.data)}::jsonb,
            ${entity.created_at}, ${entity.updated_at})
        `.execute(trx);
        await recordWrite(trx, entity, 1, actor, audit);
      }),

    updateEntity: ({ entity, expectedVersion, actor, audit }) =>
      write(entity, async (trx) => {
        const changed = await sql`
          UPDATE ${T('entities')}
          SET unique_key = ${entity.unique_key}, version = ${expectedVersion + 1},
            data = ${JSON.stringify(entity.data)}::jsonb, updated_at = ${entity.updated_at}
          WHERE id = ${entity.id} AND kind = ${entity.kind} AND version = ${expectedVersion}
        `.execute(trx);
        if (Number(changed.numAffectedRows ?? 0) === 0) {
          const { rows } = await sql<{ version: number }>`
            SELECT version FROM ${T('entities')} WHERE id = ${entity.id}
          `.execute(trx);
          throw staleEntityError(entity, rows[0]?.version ?? null);
        }
        await recordWrite(trx, entity, expectedVersion + 1, actor, audit);
      }),

    deleteEntity: ({ kind, id, audit }) =>
      guard(() =>
        tx(async (trx) => {
          const deleted = await sql`DELETE FROM ${T('entities')} WHERE id = ${id} AND kind = ${kind}`.execute(
            trx,
          );
          if (Number(deleted.numAffectedRows ?? 0) === 0) return false;
          if (kind === 'secret') {
            await sql`DELETE FROM ${T('secret_values')} WHERE secret_id = ${id}`.execute(trx);
          }
          await insertAudit(trx, audit);
          await bumpRevision(trx);
          return true;
        }),
      ),

    getEntity: ({ kind, id }) =>
      guard(async () => {
        const { rows } = await sql<EntityRowText>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE id = ${id} AND kind = ${kind}
        `.execute(db);
        return rows[0] ? toEntityRecord(rows[0]) : null;
      }),

    findEntity: ({ kind, uniqueKey }) =>
      guard(async () => {
        const { rows } = await sql<EntityRowText>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE kind = ${kind} AND unique_key = ${uniqueKey}
        `.execute(db);
        return rows[0] ? toEntityRecord(rows[0]) : null;
      }),

    listEntities: ({ kind, after, limit }) =>
      guard(async () => {
        const { rows } = await sql<EntityRowText>`
          SELECT ${entityColumns} FROM ${T('entities')}
          WHERE kind = ${kind} ${after ? sql`AND id > ${after}` : sql``}
          ORDER BY id LIMIT ${limit}
        `.execute(db);
        return rows.map(toEntityRecord);
      }),

    listEntityVersions: ({ kind, id }) =>
      guard(async () => {
        const { rows } = await sql<EntityVersionRowText>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} ORDER BY version
        `.execute(db);
        return rows.map(toEntityVersionRecord);
      }),

    getEntityVersion: ({ kind, id, version }) =>
      guard(async () => {
        const { rows } = await sql<EntityVersionRowText>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} AND version = ${version}
        `.execute(db);
        return rows[0] ? toEntityVersionRecord(rows[0]) : null;
      }),

    configRevision: () =>
      guard(async () => {
        const { rows } = await sql<{ value: string }>`
          SELECT value FROM ${T('meta')} WHERE key = 'config_revision'
        `.execute(db);
        return Number(rows[0]?.value ?? 0);
      }),
  };
}
