/**
 * Every event goes out as it came in: `{ id, type, time, data }`. `id` is the sender's event id (or
 * OpenPipes' `evt_` id); send() derives the message's `webhook-id` from the ids of its events.
 */
function transform({ events }) {
  return events.map((e) => ({
    event_type: e.event_type,
    event_time: e.event_time,
    event_payload: { id: e.event_id, type: e.event_type, time: e.event_time, data: e.event_payload },
  }));
}
