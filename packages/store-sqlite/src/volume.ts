/**
 * Per-minute counts of accepted events on SQLite, for volume alerts: each process adds what it
 * counted (an upsert that sums), and reads sum a range of minutes over the primary key.
 */
import type { VolumeMethods } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

/** The store's volume methods. */
export function volumeMethods({ qb, all, run, tx }: SqliteContext): VolumeMethods {
  return {
    async addVolume({ counts, pruneBefore }) {
      tx(() => {
        for (const c of counts) {
          if (c.count <= 0) continue;
          run(
            qb
              .insertInto('event_volume')
              .values({
                minute: c.minute,
                source_id: c.source_id,
                event_type: c.event_type,
                count: String(c.count),
              })
              .onConflict((oc) =>
                oc
                  .columns(['minute', 'source_id', 'event_type'])
                  .doUpdateSet((eb) => ({ count: eb('event_volume.count', '+', eb.ref('excluded.count')) })),
              ),
          );
        }
        if (pruneBefore) run(qb.deleteFrom('event_volume').where('minute', '<', pruneBefore));
      });
    },

    async volumeTotals({ since, until }) {
      return all(
        qb
          .selectFrom('event_volume')
          .select((eb) => ['source_id', 'event_type', eb.fn.sum<number>('count').as('count')])
          .where('minute', '>=', since)
          .where('minute', '<', until)
          .groupBy(['source_id', 'event_type'])
          .orderBy('source_id')
          .orderBy('event_type'),
      ).map((r) => ({ source_id: r.source_id, event_type: r.event_type, count: Number(r.count) }));
    },
  };
}
