/**
 * Configuration entities on SQLite (sources, event types, secrets, destinations, pipes, API keys,
 * alert rules: one `entities` table keyed by kind), their version history, and the configuration
 * revision every write bumps.
 */
import { PipesError, type Store } from '@openpipes/core';
import { sql } from 'kysely';
import type { SqliteContext } from './connection.js';
import { toEntity, toVersion } from './rows.js';

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

const isUniqueViolation = (err: unknown) =>
  err instanceof Error && /UNIQUE constraint failed/.test(err.message);

/** The store's entity methods. */
export function entityMethods({ qb, all, first, run, tx, insertAudit }: SqliteContext): EntityMethods {
  const bumpRevision = () =>
    run(
      qb
        .updateTable('meta')
        .set({ value: sql`CAST(value AS INTEGER) + 1` })
        .where('key', '=', 'config_revision'),
    );

  return {
    async insertEntity({ entity, actor, audit }) {
      try {
        tx(() => {
          run(
            qb.insertInto('entities').values({
              id: entity.id,
              kind: entity.kind,
              unique_key: entity.unique_key,
              version: 1,
              data: JSON.stringify(entity.data),
              created_at: entity.created_at,
              updated_at: entity.updated_at,
            }),
          );
          run(
            qb.insertInto('entity_versions').values({
              id: entity.id,
              kind: entity.kind,
              version: 1,
              data: JSON.stringify(entity.data),
              actor,
              created_at: entity.updated_at,
            }),
          );
          insertAudit(audit);
          bumpRevision();
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new PipesError({
            code: 'CONFLICT',
            message: `a ${entity.kind.replace('_', ' ')} with ${entity.unique_key === null ? `id ${entity.id}` : `"${entity.unique_key}"`} already exists`,
            cause: err,
          });
        }
        throw err;
      }
    },

    async updateEntity({ entity, expectedVersion, actor, audit }) {
      try {
        tx(() => {
          const changed = run(
            qb
              .updateTable('entities')
              .set({
                unique_key: entity.unique_key,
                version: expectedVersion + 1,
                data: JSON.stringify(entity.data),
                updated_at: entity.updated_at,
              })
              .where('id', '=', entity.id)
              .where('kind', '=', entity.kind)
              .where('version', '=', expectedVersion),
          );
          if (changed === 0) {
            const exists = first(qb.selectFrom('entities').select('version').where('id', '=', entity.id));
            throw exists
              ? new PipesError({
                  code: 'CONFLICT',
                  message: `${entity.kind} ${entity.id} was changed concurrently (now version ${exists.version}); retry`,
                })
              : new PipesError({ code: 'NOT_FOUND', message: `${entity.kind} ${entity.id} does not exist` });
          }
          run(
            qb.insertInto('entity_versions').values({
              id: entity.id,
              kind: entity.kind,
              version: expectedVersion + 1,
              data: JSON.stringify(entity.data),
              actor,
              created_at: entity.updated_at,
            }),
          );
          insertAudit(audit);
          bumpRevision();
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new PipesError({
            code: 'CONFLICT',
            message: `a ${entity.kind.replace('_', ' ')} with "${entity.unique_key}" already exists`,
            cause: err,
          });
        }
        throw err;
      }
    },

    async deleteEntity({ kind, id, audit }) {
      return tx(() => {
        const changed = run(qb.deleteFrom('entities').where('id', '=', id).where('kind', '=', kind));
        if (changed === 0) return false;
        if (kind === 'secret') run(qb.deleteFrom('secret_values').where('secret_id', '=', id));
        insertAudit(audit);
        bumpRevision();
        return true;
      });
    },

    async getEntity({ kind, id }) {
      const row = first(qb.selectFrom('entities').selectAll().where('id', '=', id).where('kind', '=', kind));
      return row ? toEntity(row) : null;
    },

    async findEntity({ kind, uniqueKey }) {
      const row = first(
        qb.selectFrom('entities').selectAll().where('kind', '=', kind).where('unique_key', '=', uniqueKey),
      );
      return row ? toEntity(row) : null;
    },

    async listEntities({ kind, after, limit }) {
      let query = qb.selectFrom('entities').selectAll().where('kind', '=', kind);
      if (after) query = query.where('id', '>', after);
      return all(query.orderBy('id').limit(limit)).map(toEntity);
    },

    async listEntityVersions({ kind, id }) {
      return all(
        qb
          .selectFrom('entity_versions')
          .selectAll()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .orderBy('version'),
      ).map(toVersion);
    },

    async getEntityVersion({ kind, id, version }) {
      const row = first(
        qb
          .selectFrom('entity_versions')
          .selectAll()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .where('version', '=', version),
      );
      return row ? toVersion(row) : null;
    },

    async configRevision() {
      const row = first(qb.selectFrom('meta').select('value').where('key', '=', 'config_revision'));
      return Number(row?.value ?? 0);
    },
  };
}
