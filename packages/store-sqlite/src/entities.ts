/**
 * Configuration entities on SQLite (sources, event types, secrets, destinations, pipes, API keys,
 * alert rules: one `entities` table keyed by kind), their version history, and the configuration
 * revision every write bumps.
 */
import type { AuditEntry, EntityRecord } from '@openpipes/core';
import {
  type EntityMethods,
  entityTakenError,
  staleEntityError,
  toEntityChanges,
  toEntityRecord,
  toEntityRow,
  toEntityVersionRecord,
  toEntityVersionRow,
} from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { SqliteContext } from './connection.js';

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

  /** What every entity write does besides the row itself: a version snapshot, audit, revision. */
  const recordWrite = (entity: EntityRecord, version: number, actor: string | null, audit?: AuditEntry) => {
    run(qb.insertInto('entity_versions').values(toEntityVersionRow(entity, version, actor)));
    insertAudit(audit);
    bumpRevision();
  };
  /** Runs an entity write, turning a unique violation into the contract's CONFLICT. */
  const write = (entity: EntityRecord, fn: () => void) => {
    try {
      tx(fn);
    } catch (err) {
      throw isUniqueViolation(err) ? entityTakenError(entity, err) : err;
    }
  };

  return {
    async insertEntity({ entity, actor, audit }) {
      write(entity, () => {
        run(qb.insertInto('entities').values(toEntityRow(entity, 1)));
        recordWrite(entity, 1, actor, audit);
      });
    },

    async updateEntity({ entity, expectedVersion, actor, audit }) {
      write(entity, () => {
        const changed = run(
          qb
            .updateTable('entities')
            .set(toEntityChanges(entity, expectedVersion + 1))
            .where('id', '=', entity.id)
            .where('kind', '=', entity.kind)
            .where('version', '=', expectedVersion),
        );
        if (changed === 0) {
          const current = first(qb.selectFrom('entities').select('version').where('id', '=', entity.id));
          throw staleEntityError(entity, current?.version ?? null);
        }
        recordWrite(entity, expectedVersion + 1, actor, audit);
      });
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
      return row ? toEntityRecord(row) : null;
    },

    async findEntity({ kind, uniqueKey }) {
      const row = first(
        qb.selectFrom('entities').selectAll().where('kind', '=', kind).where('unique_key', '=', uniqueKey),
      );
      return row ? toEntityRecord(row) : null;
    },

    async listEntities({ kind, after, limit }) {
      let query = qb.selectFrom('entities').selectAll().where('kind', '=', kind);
      if (after) query = query.where('id', '>', after);
      return all(query.orderBy('id').limit(limit)).map(toEntityRecord);
    },

    async listEntityVersions({ kind, id }) {
      return all(
        qb
          .selectFrom('entity_versions')
          .selectAll()
          .where('id', '=', id)
          .where('kind', '=', kind)
          .orderBy('version'),
      ).map(toEntityVersionRecord);
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
      return row ? toEntityVersionRecord(row) : null;
    },

    async configRevision() {
      const row = first(qb.selectFrom('meta').select('value').where('key', '=', 'config_revision'));
      return Number(row?.value ?? 0);
    },
  };
}
