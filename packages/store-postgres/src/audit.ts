/** The audit log on PostgreSQL. */
import type { AuditEntry, Store } from '@openpipes/core';
import { type RawBuilder, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { iso } from './rows.js';

/** Writes one audit entry inside the caller's transaction (nothing when `entry` is undefined). */
export async function insertAudit(
  trx: Transaction<Record<string, never>>,
  T: PgContext['T'],
  entry: AuditEntry | undefined,
): Promise<void> {
  if (!entry) return;
  await sql`
    INSERT INTO ${T('audit')} (id, actor, action, entity_kind, entity_id, before, after, request_id, created_at)
    VALUES (${entry.id}, ${entry.actor}, ${entry.action}, ${entry.entity_kind}, ${entry.entity_id},
      ${jsonParam(entry.before)}::jsonb, ${jsonParam(entry.after)}::jsonb, ${entry.request_id}, ${entry.created_at})
  `.execute(trx);
}

/** The store's audit methods. */
export function auditMethods({
  db,
  T,
  guard,
  tx,
  insertAudit,
}: PgContext): Pick<Store, 'appendAudit' | 'listAudit'> {
  return {
    appendAudit: ({ entry }) =>
      guard(async () => {
        await tx((trx) => insertAudit(trx, entry));
      }),

    listAudit: (query) =>
      guard(async () => {
        const filters: RawBuilder<unknown>[] = [];
        if (query.entityKind) filters.push(sql`entity_kind = ${query.entityKind}`);
        if (query.entityId) filters.push(sql`entity_id = ${query.entityId}`);
        if (query.actor) filters.push(sql`actor = ${query.actor}`);
        if (query.since) filters.push(sql`created_at >= ${query.since}::timestamptz`);
        if (query.until) filters.push(sql`created_at < ${query.until}::timestamptz`);
        if (query.cursor) filters.push(sql`id < ${query.cursor}`);
        const { rows } = await sql<{
          id: string;
          actor: string | null;
          action: string;
          entity_kind: string;
          entity_id: string;
          before: string | null;
          after: string | null;
          request_id: string | null;
          created_at: Date | string;
        }>`
          SELECT id, actor, action, entity_kind, entity_id, before::text AS before, after::text AS after,
            request_id, created_at
          FROM ${T('audit')}
          WHERE ${filters.length > 0 ? sql.join(filters, sql` AND `) : sql`TRUE`}
          ORDER BY id DESC LIMIT ${query.limit}
        `.execute(db);
        return rows.map(
          (row): AuditEntry => ({
            id: row.id,
            actor: row.actor,
            action: row.action as AuditEntry['action'],
            entity_kind: row.entity_kind,
            entity_id: row.entity_id,
            before: row.before === null ? null : JSON.parse(row.before),
            after: row.after === null ? null : JSON.parse(row.after),
            request_id: row.request_id,
            created_at: iso(row.created_at),
          }),
        );
      }),
  };
}

/** JSON for a nullable jsonb parameter. */
function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
