/**
 * Erasure and export on SQLite (docs/erasure.md). The person's events are found through the event
 * identifier index `linkProfiles` writes; everything is erased in one BEGIN IMMEDIATE transaction
 * with `secure_delete` on (freed cells are zeroed), then VACUUM rebuilds the file (no free page or
 * stale cell keeps an old copy) and a TRUNCATE checkpoint empties the write-ahead log, which still
 * held every page image written before.
 */
import type { ErasureCounts, IdentifierRef } from '@openpipes/core';
import { identifierValueOf } from '@openpipes/core/identity';
import {
  type ErasureMethods,
  erasureNeedles,
  packedErasedAttempt,
  packedErasedDetail,
  quotesAny,
  rejectionQuotesAny,
  scrubStates,
} from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';
import { indexStoredSql } from './profiles.js';
import { tally } from './tallies.js';

const CHUNK = 200;
function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

// The events that carried an identifier: its rows of event_identifiers, and the event that brought
// it when it was new (profile_identifiers.event_ref, migration 13); either only while the event is
// stored (pruned, or a row left by an older version's backfill racing an erasure, lists nothing).
const eventsOfSql = `SELECT x.event_ref FROM event_identifiers AS x JOIN events AS e ON e.id = x.event_ref
  WHERE x.kind = ? AND x.key = ?
  UNION SELECT i.event_ref FROM profile_identifiers AS i JOIN events AS e ON e.id = i.event_ref
  WHERE i.kind = ? AND i.key = ?`;
// Another profile's identifier that came with an erased event keeps no pointer to it.
const forgetEventsSql =
  'UPDATE profile_identifiers SET event_ref = NULL WHERE event_ref IN (SELECT value FROM json_each(?))';

/**
 * A state row that says a compaction is owed: written by an erasure that deleted something, removed
 * once VACUUM and the checkpoint succeeded. An erasure that deleted nothing compacts only while one
 * is owed (the documented "call again once idle"): VACUUM rewrites the whole file on the process's
 * only connection, so before, any write key could hold up ingest and dispatch by looping erasures
 * of nobody.
 */
const compactionOwedKey = 'erasure:compaction-owed';

const erasedAnything = (c: ErasureCounts): boolean =>
  c.profiles + c.identifiers + c.events + c.deliveries + c.attempts + c.rejections + c.state > 0;
const ownerSql = 'SELECT profile_id FROM profile_identifiers WHERE kind = ? AND key = ?';

type EraseInput = Parameters<ErasureMethods['eraseProfiles']>[0];

/** The events that carried any of `refs`, in id order. */
function eventsOf({ prepare }: SqliteContext, refs: IdentifierRef[]): string[] {
  const statement = prepare(eventsOfSql);
  const out = new Set<string>();
  for (const r of refs)
    for (const row of statement.all(r.kind, r.key, r.kind, r.key) as Array<{ event_ref: string }>)
      out.add(row.event_ref);
  return [...out].sort();
}

/** The live profiles holding `identifiers`, every profile merged into them, and their identifiers. */
function personProfiles({ qb, all, prepare }: SqliteContext, identifiers: IdentifierRef[]) {
  const owner = prepare(ownerSql);
  const live = new Set<string>();
  for (const r of identifiers) {
    const row = owner.get(r.kind, r.key) as { profile_id: string } | undefined;
    if (row) live.add(row.profile_id);
  }
  const liveIds = [...live];
  const profileIds: string[] = [];
  const stored: Array<IdentifierRef & { value: string }> = [];
  for (const part of chunks(liveIds)) {
    for (const p of all(
      qb
        .selectFrom('profiles')
        .select('id')
        .where((eb) => eb.or([eb('id', 'in', part), eb('merged_into', 'in', part)])),
    ))
      profileIds.push(p.id);
    for (const i of all(
      qb.selectFrom('profile_identifiers').select(['kind', 'key', 'value']).where('profile_id', 'in', part),
    ) as Array<IdentifierRef & { value: string }>)
      stored.push({ ...i, value: identifierValueOf(i.kind, i.key, i.value) });
  }
  profileIds.sort();
  return { liveIds, profileIds, stored };
}

/**
 * The person's deliveries become tombstones: those not left yet are cancelled (never claimed
 * again; a batch in flight loses its lease) and counted into `filtered` (migration 14: here, not by
 * a trigger), every detail and attempt body is replaced, and the sender's event id (possibly
 * personal, an order number) keeps only a keyed digest.
 */
function tombstoneDeliveries(
  ctx: SqliteContext,
  deliveryIds: string[],
  { now, eventIdDigest }: Pick<EraseInput, 'now' | 'eventIdDigest'>,
): { cancelled: number; attempts: number } {
  const { qb, all, run, prepare } = ctx;
  let cancelled = 0;
  let attempts = 0;
  const detail = packedErasedDetail(now);
  const counts = tally({ prepare }, now);
  for (const part of chunks(deliveryIds)) {
    const cancelledRows = all(
      qb
        .updateTable('deliveries')
        .set({
          status: 'filtered',
          filter_reason: 'erased',
          due_at: null,
          lease_owner: null,
          updated_at: now,
        })
        .where('id', 'in', part)
        .where('status', 'in', ['pending', 'retrying', 'sending'])
        .returning(['pipe_id', 'destination_id']),
    );
    cancelled += cancelledRows.length;
    for (const r of cancelledRows) counts.entered(r.pipe_id, r.destination_id, 'filtered');
    run(qb.updateTable('deliveries').set({ detail }).where('id', 'in', part));
    const digestId = prepare('UPDATE deliveries SET event_id = ? WHERE id = ?');
    for (const d of all(qb.selectFrom('deliveries').select(['id', 'event_id']).where('id', 'in', part)))
      digestId.run(eventIdDigest(d.event_id), d.id);
    const update = prepare('UPDATE delivery_attempts SET data = ? WHERE delivery_id = ? AND number = ?');
    for (const a of all(
      qb
        .selectFrom('delivery_attempts')
        .select(['delivery_id', 'number', 'data'])
        .where('delivery_id', 'in', part),
    )) {
      update.run(packedErasedAttempt(a.data), a.delivery_id, a.number);
      attempts++;
    }
  }
  counts.write();
  return { cancelled, attempts };
}

/**
 * Deletes the events (with their index entries; other profiles' pointers to them forgotten) and the
 * profiles (with their identifiers and merge history); the numbers of events and identifiers.
 * The index rows of the person's identifiers go too, by key: one naming an event no longer stored
 * (an older version's backfill could write one after an erasure) is found by no event.
 */
function deleteEventsAndProfiles(
  { qb, run, prepare }: SqliteContext,
  eventRefs: string[],
  refs: IdentifierRef[],
  { liveIds, profileIds }: { liveIds: string[]; profileIds: string[] },
): { events: number; identifiers: number } {
  let events = 0;
  for (const part of chunks(eventRefs)) {
    run(qb.deleteFrom('event_identifiers').where('event_ref', 'in', part));
    events += run(qb.deleteFrom('events').where('id', 'in', part));
  }
  const byKey = prepare('DELETE FROM event_identifiers WHERE kind = ? AND key = ?');
  for (const r of refs) byKey.run(r.kind, r.key);
  // One scan of profile_identifiers (no index on event_ref: ingest would pay for it on every
  // new identifier); erasure rewrites the whole file in VACUUM anyway.
  if (eventRefs.length > 0) prepare(forgetEventsSql).run(JSON.stringify(eventRefs));
  let identifiers = 0;
  for (const part of chunks(liveIds))
    identifiers += run(qb.deleteFrom('profile_identifiers').where('profile_id', 'in', part));
  for (const part of chunks(profileIds)) {
    run(
      qb
        .deleteFrom('profile_merges')
        .where((eb) => eb.or([eb('merged_id', 'in', part), eb('survivor_id', 'in', part)])),
    );
    run(qb.deleteFrom('profiles').where('id', 'in', part));
  }
  return { events, identifiers };
}

/**
 * Free text that may quote the person: rejections quoting a needle as a whole value are deleted
 * ("1000" must not take those that quote "10000" or "a1000b"; found by substring first, in SQL), a
 * transform's own filter reason that quotes one ('staff:' + user_id) becomes 'erased', and the
 * shared state documents are scrubbed.
 */
function scrubFreeText(
  { qb, all, run, prepare }: SqliteContext,
  needles: string[],
  deliveryIds: string[],
): { rejections: number; state: number } {
  const candidates = prepare(
    'SELECT id, event, error FROM event_rejections WHERE instr(event, ?) > 0 OR instr(error, ?) > 0',
  );
  const doomed = new Set<string>();
  for (const n of needles)
    for (const r of candidates.all(n, n) as Array<{ id: string; event: string; error: string }>)
      if (!doomed.has(r.id) && rejectionQuotesAny(r, needles)) doomed.add(r.id);
  let rejections = 0;
  for (const part of chunks([...doomed]))
    rejections += run(qb.deleteFrom('event_rejections').where('id', 'in', part));
  const reasonOf = prepare('SELECT filter_reason FROM deliveries WHERE id = ?');
  const erasedReason = prepare("UPDATE deliveries SET filter_reason = 'erased' WHERE id = ?");
  for (const id of deliveryIds) {
    const row = reasonOf.get(id) as { filter_reason: string | null } | undefined;
    if (row?.filter_reason && quotesAny(row.filter_reason, needles)) erasedReason.run(id);
  }
  let state = 0;
  if (needles.length > 0) {
    for (const row of scrubStates(all(qb.selectFrom('state').select(['key', 'value'])), needles)) {
      run(qb.updateTable('state').set({ value: row.value }).where('key', '=', row.key));
      state++;
    }
  }
  return { rejections, state };
}

/** One erasure's writes, in the order they must run (inside the caller's transaction). */
function eraseInTransaction(ctx: SqliteContext, input: EraseInput): ErasureCounts {
  const { identifiers, given, now, audit } = input;
  const { liveIds, profileIds, stored } = personProfiles(ctx, identifiers);
  // Every event that carried any of them, and its deliveries.
  const refs = [...identifiers, ...stored];
  const eventRefs = eventsOf(ctx, refs);
  const deliveryIds: string[] = [];
  for (const part of chunks(eventRefs))
    for (const d of ctx.all(ctx.qb.selectFrom('deliveries').select('id').where('event_ref', 'in', part)))
      deliveryIds.push(d.id);
  const { cancelled, attempts } = tombstoneDeliveries(ctx, deliveryIds, input);
  const deleted = deleteEventsAndProfiles(ctx, eventRefs, refs, { liveIds, profileIds });
  const needles = erasureNeedles({ identifiers: [...identifiers, ...stored], given });
  const { rejections, state } = scrubFreeText(ctx, needles, deliveryIds);
  const result: ErasureCounts = {
    profiles: profileIds.length,
    profile_ids: profileIds,
    identifiers: deleted.identifiers,
    events: deleted.events,
    deliveries: deliveryIds.length,
    cancelled,
    attempts,
    rejections,
    state,
  };
  ctx.insertAudit(audit(result));
  if (erasedAnything(result))
    ctx
      .prepare(
        'INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at',
      )
      .run(compactionOwedKey, '{}', now);
  return result;
}

/** The store's erasure and export methods. */
export function erasureMethods(ctx: SqliteContext): ErasureMethods {
  const { db, qb, all, tx, prepare, withoutCheckpoints } = ctx;

  /** VACUUM, then a checkpoint that truncates the log; false when another connection held it up. */
  const compact = (): boolean => {
    try {
      // Outside a write transaction, so VACUUM's copy of the whole file goes to a temporary file,
      // not memory (connection.ts keeps temp_store = MEMORY to write transactions).
      db().exec('VACUUM');
      // The checkpoint thread, if the store has one, holds off: its pass would make this one busy.
      const [result] = withoutCheckpoints(() => db().pragma('wal_checkpoint(TRUNCATE)')) as Array<{
        busy: number;
      }>;
      return result?.busy === 0;
    } catch {
      return false;
    }
  };

  return {
    async indexEventIdentifiers({ entries }) {
      if (entries.length === 0) return;
      tx(() => {
        const insert = prepare(indexStoredSql);
        for (const e of entries) insert.run({ kind: e.kind, key: e.key, event_ref: e.event_ref });
      });
    },

    async listPersonEvents({ identifiers, limit }) {
      if (limit < 1 || identifiers.length === 0) return [];
      const refs = eventsOf(ctx, identifiers).slice(0, limit);
      const deliveries = new Map<string, string[]>(refs.map((r) => [r, []]));
      for (const part of chunks(refs))
        for (const d of all(
          qb
            .selectFrom('deliveries')
            .select(['id', 'event_ref'])
            .where('event_ref', 'in', part)
            .orderBy('id'),
        ))
          deliveries.get(d.event_ref)?.push(d.id);
      return refs.map((event_ref) => ({ event_ref, delivery_ids: deliveries.get(event_ref) ?? [] }));
    },

    async eraseProfiles(input) {
      const database = db();
      database.pragma('secure_delete = ON');
      let counts: ErasureCounts;
      try {
        counts = tx(() => eraseInTransaction(ctx, input));
      } finally {
        if (database.open) database.pragma('secure_delete = FAST');
      }
      const { now } = input;
      const owed = prepare('SELECT 1 FROM state WHERE key = ?').get(compactionOwedKey) !== undefined;
      if (!owed) return { ...counts, compacted: true };
      // Cleared first, so the checkpoint below also empties the log of this write.
      prepare('DELETE FROM state WHERE key = ?').run(compactionOwedKey);
      const compacted = compact();
      if (!compacted)
        prepare('INSERT OR IGNORE INTO state (key, value, updated_at) VALUES (?, ?, ?)').run(
          compactionOwedKey,
          '{}',
          now,
        );
      return { ...counts, compacted };
    },
  };
}
