/**
 * Events on SQLite: ingest (`appendEvents`: dedup, the events and one pending delivery per pipe, in
 * one transaction, through prepared statements) and reading one event back.
 */
import {
  checkDeliveryIds,
  type EventMethods,
  emptyDetailJson,
  type SqliteTables,
  toStoredEvent,
} from '@openpipes/core/store-kit';
import type { Insertable } from 'kysely';
import type { SqliteContext } from './connection.js';
import { compileWithPlaceholders } from './prepared.js';

type EventInsert = Insertable<SqliteTables['events']>;
type DeliveryInsert = Pick<
  Insertable<SqliteTables['deliveries']>,
  'id' | 'event_ref' | 'source_id' | 'pipe_id' | 'destination_id' | 'event_id' | 'event_type' | 'due_at'
> & { now: string };

/** The store's event methods. */
export function eventMethods({ qb, first, prepare, tx }: SqliteContext): EventMethods {
  // Ingest's statements, built once (see prepared.ts).
  const insertEvent = compileWithPlaceholders<EventInsert>((p) =>
    qb.insertInto('events').values({
      id: p('id'),
      source_id: p('source_id'),
      event_id: p('event_id'),
      sender_event_id: p('sender_event_id'),
      event_type: p('event_type'),
      event_time: p('event_time'),
      payload: p('payload'),
      received_at: p('received_at'),
    }),
  );
  const insertDelivery = compileWithPlaceholders<DeliveryInsert>((p) =>
    qb.insertInto('deliveries').values({
      id: p('id'),
      event_ref: p('event_ref'),
      source_id: p('source_id'),
      pipe_id: p('pipe_id'),
      destination_id: p('destination_id'),
      event_id: p('event_id'),
      event_type: p('event_type'),
      status: 'pending',
      attempt_count: 0,
      test_mode: 0,
      due_at: p('due_at'),
      created_at: p('now'),
      updated_at: p('now'),
      detail: emptyDetailJson,
    }),
  );
  const findDuplicate = compileWithPlaceholders<{ source_id: string; event_id: string; since: string }>((p) =>
    qb
      .selectFrom('events')
      .select('id')
      .where('source_id', '=', p('source_id'))
      .where('event_id', '=', p('event_id'))
      .where('sender_event_id', '=', 1)
      .where('received_at', '>=', p('since'))
      .limit(1),
  );

  return {
    async appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince, now }) {
      checkDeliveryIds({ events, pipes, deliveryIds });
      const eventStatement = prepare(insertEvent.sql);
      const deliveryStatement = prepare(insertDelivery.sql);
      const duplicateStatement = prepare(findDuplicate.sql);
      return tx(() => {
        const seen = new Map<string, string>();
        return events.map((event, i) => {
          if (dedupSince !== null && event.sender_event_id) {
            const earlier =
              seen.get(event.event_id) ??
              (
                duplicateStatement.get(
                  ...findDuplicate.parameters({
                    source_id: sourceId,
                    event_id: event.event_id,
                    since: dedupSince,
                  }),
                ) as { id: string } | undefined
              )?.id;
            if (earlier) return { duplicate: true, id: earlier };
            seen.set(event.event_id, event.id);
          }
          eventStatement.run(
            ...insertEvent.parameters({
              id: event.id,
              source_id: sourceId,
              event_id: event.event_id,
              sender_event_id: event.sender_event_id ? 1 : 0,
              event_type: event.event_type,
              event_time: event.event_time,
              payload: JSON.stringify(event.event_payload),
              received_at: now,
            }),
          );
          pipes.forEach((pipe, p) => {
            deliveryStatement.run(
              ...insertDelivery.parameters({
                id: deliveryIds[i * pipes.length + p]!,
                event_ref: event.id,
                source_id: sourceId,
                pipe_id: pipe.pipe_id,
                destination_id: pipe.destination_id,
                event_id: event.event_id,
                event_type: event.event_type,
                due_at: now,
                now,
              }),
            );
          });
          return { duplicate: false, id: event.id };
        });
      });
    },

    async getEvent({ id }) {
      const row = first(qb.selectFrom('events').selectAll().where('id', '=', id));
      return row ? toStoredEvent(row) : null;
    },
  };
}
