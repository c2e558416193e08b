/**
 * Erasure and export's part of the {@link Store} contract (docs/erasure.md): a data subject's
 * rights (`packages/core/src/identity/erasure.ts`, `store-kit/erasure.ts`; each store's `erasure.ts`).
 */

import type { NewAuditEntry } from '../store.js';
import type { IdentifierRef } from './identity.js';

/** What `eraseProfiles` erased (docs/erasure.md). Counts and profile ids only: no personal data. */
export interface ErasureCounts {
  /** Live profiles erased, with the profiles merged into them. */
  profiles: number;
  /** Their ids (survivors and merged ones): opaque, kept in the audit entry. */
  profile_ids: string[];
  /** Stored identifiers deleted. */
  identifiers: number;
  /** Events deleted. */
  events: number;
  /** Delivery records of those events, kept as tombstones (payloads gone, `erased_at` set). */
  deliveries: number;
  /** Of those, deliveries that had not left yet (`pending`, `retrying`, `sending`): now `filtered`, reason `erased`. */
  cancelled: number;
  /** Attempts whose bodies (request, response, error, exchanges, logs) were erased. */
  attempts: number;
  /** Rejection-log entries that quoted one of the identifiers, deleted. */
  rejections: number;
  /** Shared state documents (alert incidents, breakers) whose text quoted one, scrubbed. */
  state: number;
}

/** What `eraseProfiles` answers: the counts, and whether the freed bytes were compacted away. */
export interface ErasureResult extends ErasureCounts {
  /**
   * True when the store rewrote what held the erased bytes (SQLite: VACUUM and a WAL checkpoint
   * that truncated the log; PostgreSQL: VACUUM of the touched tables). False when it could not
   * (e.g. another process held a read transaction open on SQLite): call again later to finish.
   */
  compacted: boolean;
}

/** Erasure and export (docs/erasure.md): a data subject's rights. Part of {@link Store}. */
export interface ErasureStore {
  /**
   * Adds rows to the event identifier index (`event_identifiers`) without linking anything: an
   * entry erasure finds already is left as it is (idempotent): a row of the index, or the
   * identifier's own row naming that event as the one that brought it (`event_ref`). An entry whose
   * event is no longer stored gets no row, tested in one transaction that an erasure cannot
   * interleave with (the backfill reads events and writes here in two calls). Used for identifiers
   * that consent keeps out of profiles, and by the backfill of events stored before the index
   * existed (docs/erasure.md).
   */
  indexEventIdentifiers(input: { entries: Array<IdentifierRef & { event_ref: string }> }): Promise<void>;

  /**
   * The events tied to a person: every event whose identifiers, as `linkProfiles` captured them
   * (the `event_ref` of each link), include one of `identifiers` — whatever profile holds them now,
   * so an event that arrived before the link that joined its identifiers to the person is found.
   * Only events still stored (an index row naming a deleted event is never listed). Oldest first,
   * at most `limit`, each with the ids of its deliveries.
   */
  listPersonEvents(input: {
    identifiers: IdentifierRef[];
    limit: number;
  }): Promise<Array<{ event_ref: string; delivery_ids: string[] }>>;

  /**
   * Erases a person, in ONE transaction:
   * - the live profiles holding any of `identifiers`, the profiles merged into them, their
   *   identifiers and merge history;
   * - every event tied to any identifier of those profiles or of `identifiers` (as
   *   `listPersonEvents` finds them), with its identifier index rows (and dedup rows);
   * - their deliveries become tombstones: `detail` is the store kit's `erasedDetail`, `event_id`
   *   (the sender's id, which can itself be personal: an order number) becomes
   *   `eventIdDigest(event_id)`, each attempt keeps its number, status, time, duration and versions only. Deliveries not final (`pending`,
   *   `retrying`, `sending` — claimed by a dispatcher) become `filtered` with `filter_reason`
   *   `erased`, due never, lease cleared: they are never claimed again, and the outcome of a batch
   *   already in flight is `lost` (`completeDeliveries` is fenced by the lease), so it writes
   *   nothing and retries nothing;
   * - rejection-log entries whose text quotes one of the identifiers' keys, digests, or `given`
   *   (the raw values the caller was given), at least 4 characters long, as a whole value (the
   *   store kit's `jsonQuotesAny`): "1000" MUST NOT take an entry that only quotes "10000" or
   *   "a1000b", someone else's value;
   * - the same texts, whole values only, replaced by `[erased]` in every string of the shared state
   *   documents (alert incidents quote error messages), and a tombstone's `filter_reason` that
   *   quotes one replaced by `erased`;
   * - `audit(counts)` appended (counts and profile ids, never an identifier).
   * Then, outside the transaction, it compacts what held the bytes (see {@link ErasureResult}).
   * Erasing nobody is not an error: every count is 0.
   */
  eraseProfiles(input: {
    identifiers: IdentifierRef[];
    given: string[];
    /**
     * What a tombstone keeps of the sender's `event_id`: a keyed digest (`erasedEventIdDigest`,
     * keyed by the engine's `secretKey`), so the record still says "this event id was sent" to
     * whoever holds the key, and to nobody else.
     */
    eventIdDigest: (eventId: string) => string;
    now: string;
    audit: (counts: ErasureCounts) => NewAuditEntry;
  }): Promise<ErasureResult>;
}
