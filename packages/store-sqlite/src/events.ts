/**
 * Events on SQLite: ingest (`appendEvents`: dedup, the events and one pending delivery per pipe, in
 * one transaction, through prepared statements) and reading one event back.
 */
import type { Store } from '@openpipes/core';
import { checkDeliveryIds, emptyDetailJson, toStoredEvent } from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';

type EventMethods = Pick<Store, 'appendEvents' | 'getEvent'>;

/** The store's event methods. */
export function eventMethods({ qb, first, prepare, tx }: SqliteContext): EventMethods {
  return {
    async appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince, now }) {
      checkDeliveryIds({ events, pipes, deliveryIds });
      const insertEvent = prepare(
        'INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insertDelivery = prepare(
        `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type, status, attempt_count, test_mode, due_at, created_at, updated_at, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)`,
      );
      const findDuplicate = prepare(
        'SELECT id FROM events WHERE source_id = ? AND event_id = ? AND sender_event_id = 1 AND received_at >= ? LIMIT 1',
      );
      return tx(() => {
        const seen = new Map<string, string>();
        return events.map((event, i) => {
          if (dedupSince !== null && event.sender_event_id) {
            const earlier =
              seen.get(event.event_id) ??
              (findDuplicate.get(sourceId, event.event_id, dedupSince) as { id: string } | undefined)?.id;
            if (earlier) return { duplicate: true, id: earlier };
            seen.set(event.event_id, event.id);
          }
          insertEvent.run(
            event.id,
            sourceId,
            event.event_id,
            event.sender_event_id ? 1 : 0,
            event.event_type,
            event.event_time,
            JSON.stringify(event.event_payload),
            now,
          );
          pipes.forEach((pipe, p) => {
            insertDelivery.run(
              deliveryIds[i * pipes.length + p],
              event.id,
              sourceId,
              pipe.pipe_id,
              pipe.destination_id,
              event.event_id,
              event.event_type,
              now,
              now,
              now,
              emptyDetailJson,
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
