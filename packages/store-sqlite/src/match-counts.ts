/**
 * The per-minute match-quality rollup on SQLite (migration 10): `completeDeliveries` adds to it,
 * this reads it. Minutes are 'YYYY-MM-DDTHH:MM', as in the delivery rollup.
 */
import type { MatchCountMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

const minuteOf = (ms: number) => new Date(ms).toISOString().slice(0, 16);

/** The store's `matchCounts`. */
export function matchCountMethods({ prepare }: Pick<SqliteContext, 'prepare'>): MatchCountMethods {
  return {
    async matchCounts({ pipeId, since, until }) {
      // Every minute that starts in [since, until): from since's minute to until rounded up.
      const rows = prepare(
        `SELECT identifier, sum(raw) AS raw, sum(stitched) AS stitched FROM match_rollup
         WHERE pipe_id = ? AND minute >= ? AND minute < ? GROUP BY identifier ORDER BY identifier`,
      ).all(pipeId, minuteOf(Date.parse(since)), minuteOf(Date.parse(until) + 59_999)) as Array<{
        identifier: string;
        raw: number;
        stitched: number;
      }>;
      return rows.map((r) => ({
        identifier: r.identifier,
        raw: Number(r.raw),
        stitched: Number(r.stitched),
      }));
    },
  };
}
