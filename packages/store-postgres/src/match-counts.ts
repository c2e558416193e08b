/**
 * The per-minute match-quality rollup on PostgreSQL (migration 10): `completeDeliveries` adds to
 * it, this reads it (summing the slots).
 */
import type { MatchCountMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext, TableName } from './connection.js';

/** The store's `matchCounts`. */
export function matchCountMethods({ db, T, guard }: PgContext): MatchCountMethods {
  return {
    matchCounts: ({ pipeId, since, until }) =>
      guard(async () => {
        // The table is not in the typed declaration (migration 10 adds it beside the typed ones).
        const rollup = T('match_rollup' as TableName);
        const { rows } = await sql<{ identifier: string; raw: string; stitched: string }>`
          SELECT identifier, sum(raw) AS raw, sum(stitched) AS stitched FROM ${rollup}
          WHERE pipe_id = ${pipeId} AND minute >= date_trunc('minute', ${since}::timestamptz)
            AND minute < ${until}::timestamptz
          GROUP BY identifier
          ORDER BY identifier
        `.execute(db);
        return rows.map((r) => ({
          identifier: r.identifier,
          raw: Number(r.raw),
          stitched: Number(r.stitched),
        }));
      }),
  };
}
