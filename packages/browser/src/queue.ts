/**
 * The local queue: events not sent yet (the page was offline, or the browser refused the beacon),
 * kept in localStorage and sent when the page comes back online or on the next page load. Pure
 * functions over the stored list; the tag reads and writes it.
 */

/** An event as collect takes it (`POST /collect/:slug`). */
export interface TagEvent {
  event_type: string;
  /** ISO 8601. */
  event_time: string;
  event_id: string;
  event_payload: Record<string, unknown>;
}

/** The queue's limits: small, so a page that never gets online cannot fill the storage. */
export const QUEUE_LIMITS = {
  /** Most events kept; the oldest go first past it. */
  maxEvents: 50,
  /** Events older than this are dropped unsent (days). */
  maxAgeDays: 7,
  /** Most bytes of JSON in one request: beacons and keepalive fetches share a 64 KiB budget. */
  maxBatchBytes: 60_000,
} as const;

/**
 * The stored queue text as events; anything that is not a list of events is dropped (another
 * script's value, a value from a future version).
 *
 * @example
 * ```ts
 * parseQueue(localStorage.getItem('op_queue'));
 * ```
 */
export function parseQueue(text: string | null): TagEvent[] {
  if (!text) return [];
  try {
    const list: unknown = JSON.parse(text);
    return Array.isArray(list) ? list.filter(isEvent) : [];
  } catch {
    return [];
  }
}

function isEvent(value: unknown): value is TagEvent {
  const e = value as TagEvent | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.event_type === 'string' &&
    typeof e.event_time === 'string' &&
    typeof e.event_id === 'string' &&
    typeof e.event_payload === 'object' &&
    e.event_payload !== null
  );
}

/**
 * The queue with `added` at its end, without events past their age, without a second copy of an
 * event id, and cut to the newest {@link QUEUE_LIMITS}.maxEvents.
 *
 * @example
 * ```ts
 * enqueue(parseQueue(stored), [event], Date.now());
 * ```
 */
export function enqueue(queue: readonly TagEvent[], added: readonly TagEvent[], now: number): TagEvent[] {
  const oldest = now - QUEUE_LIMITS.maxAgeDays * 86_400_000;
  const seen = new Set<string>();
  const kept: TagEvent[] = [];
  for (const event of [...queue, ...added]) {
    const at = Date.parse(event.event_time);
    if (seen.has(event.event_id) || !(at >= oldest)) continue;
    seen.add(event.event_id);
    kept.push(event);
  }
  return kept.slice(-QUEUE_LIMITS.maxEvents);
}

/**
 * Splits events into request bodies (`{"events": [...]}`) of at most `maxBytes` each; an event too
 * large for any request is left out (collect would refuse it too, and it must not block the rest).
 *
 * @example
 * ```ts
 * for (const body of batches(queue)) navigator.sendBeacon(url, body);
 * ```
 */
export function batches(events: readonly TagEvent[], maxBytes: number = QUEUE_LIMITS.maxBatchBytes) {
  const out: { body: string; events: TagEvent[] }[] = [];
  let current: TagEvent[] = [];
  let size = 0;
  const close = () => {
    if (current.length) out.push({ body: JSON.stringify({ events: current }), events: current });
    current = [];
    size = 0;
  };
  for (const event of events) {
    const bytes = utf8Length(JSON.stringify(event)) + 1;
    if (bytes + 12 > maxBytes) continue;
    if (size + bytes + 12 > maxBytes) close();
    current.push(event);
    size += bytes;
  }
  close();
  return out;
}

function utf8Length(text: string): number {
  // Upper bound without TextEncoder: a UTF-16 unit is at most 3 bytes of UTF-8.
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return n;
}
