/**
 * A data subject's rights (docs/erasure.md): `pipes.profiles.erase` deletes a person — profiles,
 * events, delivery payloads and attempt bodies, rejection-log entries and quotes in alert state —
 * and stops what has not left yet; `pipes.profiles.export` gives everything stored about one
 * profile as JSON. Which events are the person's is the store's event identifier index, written
 * when each event's identifiers are linked (`listPersonEvents`).
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { auditEntry } from '../audit.js';
import { PipesError } from '../errors.js';
import type { ActorContext } from '../registries/registry.js';
import type { Delivery, StoredEvent } from '../schemas.js';
import type { ErasureResult, Store } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { identifierRefs, type Profile, present, profileSearchSchema } from './api.js';
import type { IdentifierKind } from './identifiers.js';

/** What `erase` answers: the counts of what went (no personal data). */
export type ErasureAnswer = ErasureResult;

/** Everything stored about one profile's person. */
export interface PersonExport {
  profile: Profile;
  /** The identifiers exactly as stored (digests for personal kinds: raw values are never kept). */
  identifiers: Array<{
    kind: IdentifierKind;
    key: string;
    value: unknown;
    first_seen_at: string;
    last_seen_at: string;
  }>;
  /** The person's events, oldest first. */
  events: StoredEvent[];
  /** Their delivery records with every attempt (payloads, requests and responses as recorded). */
  deliveries: Delivery[];
  /** True when there were more than `exportLimit` events or `exportMaxBytes` of them: the rest are not in this answer. */
  truncated: boolean;
}

/** Most events one export answers. */
export const exportLimit = 10_000;

/**
 * Most bytes (as JSON) of events and delivery records one export gathers. The event count alone
 * does not bound it: events of up to a collect body each, under one shared anonymous id, would be
 * gigabytes held in memory for one read-key request, enough to take the process down.
 */
export const exportMaxBytes = 64 * 1024 * 1024;

/**
 * The digest a tombstone keeps instead of the sender's `event_id` (docs/erasure.md, "Tombstones"):
 * `erased:` and the hex HMAC-SHA256 of the id, keyed by a key derived from the engine's `secretKey`
 * (HKDF-SHA256, its own purpose label, so it is not the key that encrypts secrets). An order number
 * or a sequential id is easy to guess, so a plain SHA-256 would give it back to anyone who tries the
 * candidates; the keyed one lets only whoever holds `secretKey` ask "was this event id sent?"
 *
 * @example
 * ```ts
 * const digest = erasedEventIdDigest(process.env.OPENPIPES_SECRET_KEY!);
 * await pipes.deliveries.list(pipeId, { event_id: digest('ord-1001') }); // its tombstone
 * ```
 */
export function erasedEventIdDigest(secretKey: string): (eventId: string) => string {
  const key = Buffer.from(hkdfSync('sha256', secretKey, 'openpipes', 'openpipes erased event ids v1', 32));
  return (eventId) => `erased:${createHmac('sha256', key).update(eventId).digest('hex')}`;
}

export interface ErasureApi {
  /**
   * Erases the person holding any of these identifiers (as in a profile search: raw values or
   * SHA-256 digests). Audited (action `erase`, entity `profile`) with the actor, counts and profile
   * ids only. Erasing nobody answers zeros.
   */
  erase(
    input: { identifiers: Partial<Record<IdentifierKind, string | string[]>> },
    context?: ActorContext,
  ): Promise<ErasureAnswer>;
  /** Everything stored about a profile's person. Throws `NOT_FOUND`. */
  export(id: string): Promise<PersonExport>;
}

export function createErasureApi(deps: {
  store: Store;
  now: () => number;
  defaultCountry?: string;
  getDelivery: (id: string) => Promise<Delivery>;
  /** The engine's `secretKey`: keys what tombstones keep of event ids ({@link erasedEventIdDigest}). */
  secretKey: string;
  /** Default {@link exportMaxBytes}. */
  exportMaxBytes?: number;
}): ErasureApi {
  const maxBytes = deps.exportMaxBytes ?? exportMaxBytes;
  const eventIdDigest = erasedEventIdDigest(deps.secretKey);
  const options = { now: deps.now, ...(deps.defaultCountry ? { defaultCountry: deps.defaultCountry } : {}) };
  return {
    async erase(input, context) {
      const { identifiers } = parseOrThrow(profileSearchSchema, input, 'erasure');
      const refs = identifierRefs(identifiers, options);
      // The raw values as given are searched for in free text too (the rejection log keeps events
      // as sent): the store never saw them, only their digests.
      const given = Object.values(identifiers).flatMap((v) => (Array.isArray(v) ? v : v ? [v] : []));
      const now = deps.now();
      return deps.store.eraseProfiles({
        identifiers: refs,
        given,
        eventIdDigest,
        now: new Date(now).toISOString(),
        audit: (counts) =>
          auditEntry({
            action: 'erase',
            entityKind: 'profile',
            // The survivor's id when there was one; the audit trail never holds an identifier.
            entityId: counts.profile_ids[0] ?? 'none',
            before: null,
            after: { ...counts },
            ...(context ? { context } : {}),
            now,
          }),
      });
    },

    async export(id) {
      const found = typeof id === 'string' && id.length <= 64 ? await deps.store.getProfile({ id }) : null;
      if (!found)
        throw new PipesError({ code: 'NOT_FOUND', message: `profile ${String(id).slice(0, 64)} not found` });
      const refs = found.identifiers.map((i) => ({ kind: i.kind, key: i.key }));
      const tied = await deps.store.listPersonEvents({ identifiers: refs, limit: exportLimit + 1 });
      const events: StoredEvent[] = [];
      const deliveries: Delivery[] = [];
      let truncated = tied.length > exportLimit;
      let bytes = 0;
      for (const { event_ref, delivery_ids } of tied.slice(0, exportLimit)) {
        const event = await deps.store.getEvent({ id: event_ref });
        const records: Delivery[] = [];
        for (const deliveryId of delivery_ids) records.push(await deps.getDelivery(deliveryId));
        bytes += JSON.stringify(event).length + JSON.stringify(records).length;
        // The oldest event always fits; past the budget the rest is left out, as past the count.
        if (bytes > maxBytes && events.length > 0) {
          truncated = true;
          break;
        }
        if (event) events.push(event);
        deliveries.push(...records);
      }
      return {
        profile: present(found, found.merged),
        identifiers: found.identifiers.map((i) => ({
          kind: i.kind,
          key: i.key,
          value: JSON.parse(i.value) as unknown,
          first_seen_at: i.first_seen_at,
          last_seen_at: i.last_seen_at,
        })),
        events,
        deliveries,
        truncated,
      };
    },
  };
}
