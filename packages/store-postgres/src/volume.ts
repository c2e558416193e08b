/**
 * Per-minute counts of accepted events on PostgreSQL, for volume alerts. Each process adds what it
 * counted once a minute, outside any ingest transaction, so ingest never waits on a counter row;
 * reads sum a range of minutes over the primary key.
 */
import type { VolumeMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';

/** The store's volume methods. */
export function volumeMethods({ T, guard, tx, db }: PgContext): VolumeMethods {
  return {
    addVolume: ({ counts, pruneBefore }) =>
      guard(async () => {
        const rows = counts
          .filter((c) => c.count > 0)
          // One order for every writer, so two processes adding the same minutes never deadlock.
          .sort((a, b) =>
            a.minute !== b.minute
              ? a.minute < b.minute
                ? -1
                : 1
              : `${a.source_id}\u0000${a.event_type}` < `${b.source_id}\u0000${b.event_type}`
                ? -1
                : 1,
          );
        await tx(async (trx) => {
          if (rows.length > 0) {
            await sql`
              INSERT INTO ${T('event_volume')} AS v (minute, source_id, event_type, count)
              SELECT c.minute, c.source_id, c.event_type, c.count
              FROM json_to_recordset(${JSON.stringify(rows)}::json)
                AS c(minute timestamptz, source_id text, event_type text, count bigint)
              ON CONFLICT (minute, source_id, event_type) DO UPDATE SET count = v.count + excluded.count
            `.execute(trx);
          }
          if (pruneBefore) {
            await sql`DELETE FROM ${T('event_volume')} WHERE minute < ${pruneBefore}::timestamptz`.execute(
              trx,
            );
          }
        });
      }),

    volumeTotals: ({ since, until }) =>
      guard(async () => {
        const { rows } = await sql<{ source_id: string; event_type: string; count: string }>`
          SELECT source_id, event_type, sum(count) AS count FROM ${T('event_volume')}
          WHERE minute >= ${since}::timestamptz AND minute < ${until}::timestamptz
          GROUP BY source_id, event_type
          ORDER BY source_id, event_type
        `.execute(db);
        return rows.map((r) => ({
          source_id: r.source_id,
          event_type: r.event_type,
          count: Number(r.count),
        }));
      }),
  };
}
