/**
 * The frame of a default transform: each event whose type `table` maps (event names, conversion
 * actions, ...) becomes one output event, same type and time, with the payload `toPayload(e, mapped)`
 * builds from it and the mapped value; an event whose type the table does not map is recorded as
 * "filtered", with `unmappedReason` on the record (a type is mapped only by the table's own key).
 * One output per event, in order.
 *
 * @param {Array<{ event_type: string, event_time: string, event_id?: string, event_payload: Record<string, any> }>} events
 * @param {Record<string, any>} table event type -> what the platform calls it
 * @param {(e: any, mapped: any) => Record<string, any>} toPayload
 * @param {string} [unmappedReason]
 */
function mappedEvents(events, table, toPayload, unmappedReason = 'event_type_not_mapped') {
  return events.map((e) => {
    // Own keys only: an event type named like an Object property (`constructor`, `toString`) is
    // not mapped by the plain object the table is.
    const mapped = Object.hasOwn(table, e.event_type) ? table[e.event_type] : undefined;
    if (!mapped) return { filter_reason: unmappedReason };
    return { event_type: e.event_type, event_time: e.event_time, event_payload: toPayload(e, mapped) };
  });
}
