/**
 * The rejection log on SQLite: one multi-row insert per collect request, then the source's oldest
 * rows past the cap deleted in the same transaction (over the `(source_id, id)` index).
 */
import type { RejectionMethods } from '@openpipes/core/store-kit';
import { toStoredRejection } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

/** Rows per INSERT: well under SQLite's bound on variables per statement. */
const rowsPerInsert = 500;

/** The store's rejection-log methods. */
export function rejectionMethods({ qb, all, run, tx }: SqliteContext): RejectionMethods {
  return {
    async appendRejections({ sourceId, rejections, keep, now }) {
      if (keep < 1 || rejections.length === 0) return;
      tx(() => {
        for (let i = 0; i < rejections.length; i += rowsPerInsert) {
          run(
            qb.insertInto('event_rejections').values(
              rejections.slice(i, i + rowsPerInsert).map((r) => ({
                id: r.id,
                source_id: sourceId,
                received_at: now,
                error: JSON.stringify(r.error),
                event: r.event,
                truncated: r.truncated ? 1 : 0,
              })),
            ),
          );
        }
        run(
          qb
            .deleteFrom('event_rejections')
            .where('source_id', '=', sourceId)
            .where('id', '<', (eb) =>
              eb
                .selectFrom('event_rejections')
                .select('id')
                .where('source_id', '=', sourceId)
                .orderBy('id', 'desc')
                .limit(1)
                .offset(keep - 1),
            ),
        );
      });
    },

    async listRejections({ sourceId, cursor, limit }) {
      let query = qb
        .selectFrom('event_rejections')
        .selectAll()
        .where('source_id', '=', sourceId)
        .orderBy('id', 'desc')
        .limit(limit);
      if (cursor !== undefined) query = query.where('id', '<', cursor);
      return all(query).map(toStoredRejection);
    },
  };
}
