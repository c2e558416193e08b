/**
 * The rejection log on PostgreSQL: one INSERT per collect request (the rows as one JSON parameter),
 * then the source's oldest rows past the cap deleted over the `(source_id, id)` index.
 */
import type { RejectionMethods } from '@openpipes/core/store-kit';
import { toStoredRejection } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/** The store's rejection-log methods. */
export function rejectionMethods({ q, T, guard, tx }: PgContext): RejectionMethods {
  return {
    appendRejections: ({ sourceId, rejections, keep, now }) =>
      guard(async () => {
        if (keep < 1 || rejections.length === 0) return;
        const rows = rejections.map((r) => ({
          id: r.id,
          error: r.error,
          event: r.event,
          truncated: r.truncated,
        }));
        await tx(async (trx) => {
          await sql`
            INSERT INTO ${T('event_rejections')} (id, source_id, received_at, error, event, truncated)
            SELECT r.id, ${sourceId}, ${now}::timestamptz, r.error, r.event, r.truncated
            FROM json_to_recordset(${JSON.stringify(rows)}::json)
              AS r(id text, error jsonb, event text, truncated boolean)
          `.execute(trx);
          await sql`
            DELETE FROM ${T('event_rejections')}
            WHERE source_id = ${sourceId} AND id < (
              SELECT id FROM ${T('event_rejections')} WHERE source_id = ${sourceId}
              ORDER BY id DESC OFFSET ${keep - 1} LIMIT 1
            )
          `.execute(trx);
        });
      }),

    listRejections: ({ sourceId, cursor, limit }) =>
      guard(async () => {
        let query = q()
          .selectFrom('event_rejections')
          .select((eb) => [
            'id',
            'source_id',
            'received_at',
            eb.cast<string>('error', 'text').as('error'),
            'event',
            'truncated',
          ])
          .where('source_id', '=', sourceId)
          .orderBy('id', 'desc')
          .limit(limit);
        if (cursor !== undefined) query = query.where('id', '<', cursor);
        return (await query.execute()).map(toStoredRejection);
      }),
  };
}
