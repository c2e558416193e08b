/**
 * Configuration entities on PostgreSQL (sources, event types, secrets, destinations, pipes, API
 * keys, alert rules: one `entities` table keyed by kind), their version history, and the
 * configuration revision every write bumps.
 */
import { PipesError, type Store } from '@openpipes/core';
import { sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { pgErrorCodes, sqlState } from './driver.js';
import { type EntityDbRow, toEntity, toVersion } from './rows.js';

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

const conflict = (err: unknown, message: string) =>
  sqlState(err) === pgErrorCodes.uniqueViolation
    ? new PipesError({ code: 'CONFLICT', message, cause: err })
    : err;

const entityColumns = sql.raw('kind, id, unique_key, version, data::text AS data, created_at, updated_at');

/** The store's entity methods. */
export function entityMethods({ db, T, guard, tx, insertAudit }: PgContext): EntityMethods {
  const bumpRevision = (trx: Transaction<Record<string, never>>) =>
    sql`UPDATE ${T('meta')} SET value = value + 1 WHERE key = 'config_revision'`.execute(trx);

  return {
    insertEntity: ({ entity, actor, audit }) =>
      guard(async () => {
        try {
          await tx(async (trx) => {
            const data = JSON.stringify(entity.data);
            await sql`
              INSERT INTO ${T('entities')} (id, kind, unique_key, version, data, created_at, updated_at)
              VALUES (${entity.id}, ${entity.kind}, ${entity.unique_key}, 1, ${data}::jsonb, ${entity.created_at}, ${entity.updated_at})
            `.execute(trx);
            await sql`
              INSERT INTO ${T('entity_versions')} (id, kind, version, data, actor, created_at)
              VALUES (${entity.id}, ${entity.kind}, 1, ${data}::jsonb, ${actor}, ${entity.updated_at})
            `.execute(trx);
            await insertAudit(trx, audit);
            await bumpRevision(trx);
          });
        } catch (err) {
          throw conflict(
            err,
            `a ${entity.kind.replace('_', ' ')} with ${entity.unique_key === null ? `id ${entity.id}` : `"${entity.unique_key}"`} already exists`,
          );
        }
      }),

    updateEntity: ({ entity, expectedVersion, actor, audit }) =>
      guard(async () => {
        try {
          await tx(async (trx) => {
            const data = JSON.stringify(entity.data);
            const changed = await sql`
              UPDATE ${T('entities')}
              SET unique_key = ${entity.unique_key}, version = ${expectedVersion + 1}, data = ${data}::jsonb,
                updated_at = ${entity.updated_at}
              WHERE id = ${entity.id} AND kind = ${entity.kind} AND version = ${expectedVersion}
            `.execute(trx);
            if (Number(changed.numAffectedRows ?? 0) === 0) {
              const { rows } = await sql<{ version: number }>`
                SELECT version FROM ${T('entities')} WHERE id = ${entity.id}
              `.execute(trx);
              throw rows[0]
                ? new PipesError({
                    code: 'CONFLICT',
                    message: `${entity.kind} ${entity.id} was changed concurrently (now version ${rows[0].version}); retry`,
                  })
                : new PipesError({
                    code: 'NOT_FOUND',
                    message: `${entity.kind} ${entity.id} does not exist`,
                  });
            }
            await sql`
              INSERT INTO ${T('entity_versions')} (id, kind, version, data, actor, created_at)
              VALUES (${entity.id}, ${entity.kind}, ${expectedVersion + 1}, ${data}::jsonb, ${actor}, ${entity.updated_at})
            `.execute(trx);
            await insertAudit(trx, audit);
            await bumpRevision(trx);
          });
        } catch (err) {
          throw conflict(
            err,
            `a ${entity.kind.replace('_', ' ')} with "${entity.unique_key}" already exists`,
          );
        }
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
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE id = ${id} AND kind = ${kind}
        `.execute(db);
        return rows[0] ? toEntity(rows[0]) : null;
      }),

    findEntity: ({ kind, uniqueKey }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE kind = ${kind} AND unique_key = ${uniqueKey}
        `.execute(db);
        return rows[0] ? toEntity(rows[0]) : null;
      }),

    listEntities: ({ kind, after, limit }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')}
          WHERE kind = ${kind} ${after ? sql`AND id > ${after}` : sql``}
          ORDER BY id LIMIT ${limit}
        `.execute(db);
        return rows.map(toEntity);
      }),

    listEntityVersions: ({ kind, id }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow & { actor: string | null }>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} ORDER BY version
        `.execute(db);
        return rows.map(toVersion);
      }),

    getEntityVersion: ({ kind, id, version }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow & { actor: string | null }>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} AND version = ${version}
        `.execute(db);
        return rows[0] ? toVersion(rows[0]) : null;
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
