/**
 * Identity on PostgreSQL: profiles, their identifiers and merge history. The merge rules are core's
 * (`planLink`); this module loads what a link touches and applies the plan. Every `linkProfiles` call
 * is one transaction that first locks what it links (`identity-lock.ts`: the schema's identity lock
 * shared, a lock per identifier it names, then the rows of the profiles holding them), so links of
 * unrelated identifiers run at once, and two processes linking the same identifiers apply their
 * plans one after the other and end in one profile.
 */
import {
  type IdentifierKind,
  identifierLastSeenOf,
  identifierRef,
  identifierValueOf,
  type ProfileLink,
  type StoredProfile,
  storedIdentifierLastSeen,
  storedIdentifierValue,
} from '@openpipes/core/identity';
import { isoTime, type PostgresTables, type ProfileMethods, type TimeValue } from '@openpipes/core/store-kit';
import { type ExpressionBuilder, type RawBuilder, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { holdersOf, lockIdentityExclusive, lockOwners } from './identity-lock.js';
import { type LinkWrites, planLinks } from './link-batch.js';
import { prepared } from './named-statements.js';

type Trx = Transaction<PostgresTables>;
type StoredProfileIdentifier = StoredProfile['identifiers'][number];

/** A profile as read, before its identifiers are added. */
const profileOf = (p: {
  id: string;
  created_at: TimeValue;
  last_seen_at: TimeValue;
  ip: string | null;
  user_agent: string | null;
}): StoredProfile => ({
  id: p.id,
  created_at: isoTime(p.created_at),
  last_seen_at: isoTime(p.last_seen_at),
  ip: p.ip,
  user_agent: p.user_agent,
  identifiers: [],
});

/** One identifier of a profile as read. */
const identifierOf = (r: {
  kind: string;
  key: string;
  /** NULL: derived from kind and key (migration 13). */
  value: string | null;
  first_seen_at: TimeValue;
  /** NULL: first_seen_at (migration 13). */
  last_seen_at: TimeValue | null;
}): StoredProfileIdentifier => {
  const firstSeen = isoTime(r.first_seen_at);
  return {
    kind: r.kind as IdentifierKind,
    key: r.key,
    value: identifierValueOf(r.kind, r.key, r.value),
    first_seen_at: firstSeen,
    last_seen_at: identifierLastSeenOf(firstSeen, r.last_seen_at === null ? null : isoTime(r.last_seen_at)),
  };
};

const noWrites = (): LinkWrites => ({
  newProfiles: [],
  changedProfiles: [],
  newIdentifiers: [],
  changedIdentifiers: [],
  merges: [],
  repoint: [],
});

/**
 * Every live profile holding one of `refs` (or, for a link holding their row locks, the profiles
 * `ids`), with all of its identifiers: one statement (the owners, their rows and their
 * identifiers), as an owners query and `load` read in three. Also `findProfiles` (outside a
 * transaction: one statement reads one snapshot).
 * The owners go into an array and each table is read by `= ANY` over it, in materialized steps:
 * joined to the owners instead, the planner (which guesses 200 distinct owners, and whose
 * statistics lag a growing table) chose a hash join over a sequential scan of every profile, a
 * cost that grew with the table on every claim and every ingest (4.4 against 2.4 ms of backend
 * CPU per 400-identifier call at 20,000 profiles). This way each call reads its batch's rows by
 * index, whatever the statistics.
 */
async function loadHoldersIn(
  { T }: PgContext,
  trx: Trx | PgContext['db'],
  holders: { refs: Array<{ kind: string; key: string }> } | { ids: string[] },
): Promise<StoredProfile[]> {
  const owners = 'ids' in holders ? sql`${holders.ids}::text[]` : holdersOf(T, holders.refs);
  const { rows } = await sql<{
    id: string;
    created_at: Date;
    p_last_seen_at: Date;
    ip: string | null;
    user_agent: string | null;
    kind: string;
    key: string;
    value: string | null;
    first_seen_at: Date;
    last_seen_at: Date | null;
  }>`
    WITH owners AS MATERIALIZED (
      SELECT ${owners} AS ids
    ), p AS MATERIALIZED (
      SELECT id, created_at, last_seen_at, ip, user_agent FROM ${T('profiles')}
      WHERE id = ANY((SELECT ids FROM owners)::text[])
    ), i AS MATERIALIZED (
      SELECT profile_id, kind, key, value, first_seen_at, last_seen_at FROM ${T('profile_identifiers')}
      WHERE profile_id = ANY((SELECT ids FROM owners)::text[])
    )
    SELECT p.id, p.created_at, p.last_seen_at AS p_last_seen_at, p.ip, p.user_agent,
      i.kind, i.key, i.value::text AS value, i.first_seen_at, i.last_seen_at
    FROM p JOIN i ON i.profile_id = p.id
  `.execute(trx);
  const profiles = new Map<string, StoredProfile>();
  for (const r of rows) {
    let profile = profiles.get(r.id);
    if (!profile) {
      profile = profileOf({ ...r, last_seen_at: r.p_last_seen_at });
      profiles.set(r.id, profile);
    }
    profile.identifiers.push(identifierOf(r));
  }
  return [...profiles.values()];
}

/**
 * The writes of `planLinks` and the call's event index. What touches distinct rows goes in one
 * statement of data-modifying CTEs (one round trip under identity's locks); repointing older
 * merged profiles may touch a row the profile update does, so it, and the merge history, follow.
 * `events` as {@link linkWriter} says: for events stored before, an index entry the identifier's
 * own row holds already (the event that brought it) is not written again.
 */
async function applyLinkWrites(
  { q, T }: PgContext,
  trx: Trx,
  writes: LinkWrites,
  indexed: Array<{ kind: string; key: string; event_ref: string }>,
  now: string,
  events: 'own' | 'stored' = 'own',
): Promise<void> {
  const profileColumns = sql`p(id text, merged_into text, created_at timestamptz, last_seen_at timestamptz, ip text, user_agent text)`;
  const parts: RawBuilder<unknown>[] = [];
  if (indexed.length > 0) {
    // An identifier's own row names an ingest's events only once they are stored with it: no
    // existing row can name an event of this ingest, and the probe is left to stored events. The
    // identifier's lock, held, keeps its row as read here until the commit.
    parts.push(sql`indexed AS (
      INSERT INTO ${T('event_identifiers')} (kind, key, event_ref)
      SELECT x.kind, x.key, x.event_ref
      FROM unnest(${indexed.map((r) => r.kind)}::text[], ${indexed.map((r) => r.key)}::text[],
        ${indexed.map((r) => r.event_ref)}::text[]) AS x(kind, key, event_ref)
      ${
        events === 'stored'
          ? sql`WHERE NOT EXISTS (SELECT 1 FROM ${T('profile_identifiers')} i
              WHERE i.kind = x.kind AND i.key = x.key AND i.event_ref = x.event_ref)`
          : sql``
      }
      ON CONFLICT DO NOTHING
    )`);
  }
  if (writes.newProfiles.length > 0) {
    parts.push(sql`new_profiles AS (
      INSERT INTO ${T('profiles')} (id, merged_into, created_at, last_seen_at, ip, user_agent)
      SELECT p.id, p.merged_into, p.created_at, p.last_seen_at, p.ip, p.user_agent
      FROM json_to_recordset(${JSON.stringify(writes.newProfiles)}::json) AS ${profileColumns}
    )`);
  }
  if (writes.changedProfiles.length > 0) {
    parts.push(sql`changed_profiles AS (
      UPDATE ${T('profiles')} t
      SET merged_into = p.merged_into, last_seen_at = p.last_seen_at, ip = p.ip, user_agent = p.user_agent
      FROM json_to_recordset(${JSON.stringify(writes.changedProfiles)}::json) AS ${profileColumns}
      WHERE t.id = p.id
    )`);
  }
  if (writes.newIdentifiers.length > 0) {
    // Arrays, not a JSON recordset: PostgreSQL reads 400 rows of six columns in ~1.6 ms of CPU
    // as arrays against ~2.7 ms through json_to_recordset. Values travel as their JSON text,
    // cast to jsonb in SQL; one its kind and key say already travels as NULL (migration 13), as
    // does a last-seen time equal to the first-seen one.
    const list = writes.newIdentifiers;
    parts.push(sql`new_identifiers AS (
      INSERT INTO ${T('profile_identifiers')} (kind, key, profile_id, value, first_seen_at, last_seen_at, event_ref)
      SELECT i.kind, i.key, i.profile_id, i.value::jsonb, i.first_seen_at, i.last_seen_at, i.event_ref
      FROM unnest(${list.map((i) => i.kind)}::text[], ${list.map((i) => i.key)}::text[],
        ${list.map((i) => i.profile_id)}::text[], ${list.map((i) => storedIdentifierValue(i.kind, i.key, i.value))}::text[],
        ${list.map((i) => i.first_seen_at)}::timestamptz[],
        ${list.map((i) => storedIdentifierLastSeen(i.first_seen_at, i.last_seen_at))}::timestamptz[],
        ${list.map((i) => i.event_ref ?? null)}::text[])
        AS i(kind, key, profile_id, value, first_seen_at, last_seen_at, event_ref)
      ON CONFLICT (kind, key) DO NOTHING
    )`);
  }
  if (writes.changedIdentifiers.length > 0) {
    // A row moved by a merge keeps a last-seen time equal to its first-seen one elided, as inserted.
    const list = writes.changedIdentifiers;
    parts.push(sql`changed_identifiers AS (
      UPDATE ${T('profile_identifiers')} t SET profile_id = i.profile_id, last_seen_at = i.last_seen_at
      FROM unnest(${list.map((i) => i.kind)}::text[], ${list.map((i) => i.key)}::text[],
        ${list.map((i) => i.profile_id)}::text[],
        ${list.map((i) => storedIdentifierLastSeen(i.first_seen_at, i.last_seen_at))}::timestamptz[])
        AS i(kind, key, profile_id, last_seen_at)
      WHERE t.kind = i.kind AND t.key = i.key
    )`);
  }
  if (parts.length > 0) await sql`${prepared} WITH ${sql.join(parts, sql`, `)} SELECT 1`.execute(trx);
  if (writes.repoint.length > 0) {
    await sql`
      UPDATE ${T('profiles')} t SET merged_into = r.to_id
      FROM unnest(${writes.repoint.map((r) => r.from)}::text[], ${writes.repoint.map((r) => r.to)}::text[])
        AS r(from_id, to_id)
      WHERE t.merged_into = r.from_id
    `.execute(trx);
  }
  if (writes.merges.length > 0) {
    await q(trx)
      .insertInto('profile_merges')
      .values(writes.merges.map((m) => ({ ...m, merged_at: now })))
      .execute();
  }
}

/**
 * `links` with the `event_ref` of an event no longer stored dropped (the link is applied, its event
 * is not indexed), the others' events locked `FOR KEY SHARE` until the commit. A caller of
 * `linkProfiles` names events it stored earlier, which an erasure or retention may have deleted
 * since: indexing one would leave an index row (or an identifier's `event_ref`) naming a deleted
 * event, of an erased person's identifiers. Called under the identity lock (shared), so an
 * erasure (exclusive) has committed or not begun; retention takes no identity lock, so the row
 * lock does that part: a prune that locked the event first is waited for (and the event found
 * gone), one that comes after skips the locked event (`SKIP LOCKED`), and one that deleted it
 * meanwhile deletes the index rows committed before in a later statement (prune.ts).
 */
async function withStoredEvents({ T }: PgContext, trx: Trx, links: ProfileLink[]): Promise<ProfileLink[]> {
  const refs = [...new Set(links.flatMap((l) => (l.event_ref ? [l.event_ref] : [])))];
  if (refs.length === 0) return links;
  const { rows } = await sql<{ id: string }>`
    SELECT id FROM ${T('events')} WHERE id = ANY(${refs}::text[]) ORDER BY id FOR KEY SHARE`.execute(trx);
  if (rows.length === refs.length) return links;
  const stored = new Set(rows.map((r) => r.id));
  return links.map((l) => {
    if (!l.event_ref || stored.has(l.event_ref)) return l;
    const { event_ref: _gone, ...rest } = l;
    return rest;
  });
}

/**
 * The writes of `linkProfiles` inside the caller's transaction: identity's locks (identity-lock.ts),
 * what the links touch, the plan applied. Also what `appendEvents` runs when it links the events it
 * stores. `index` is more of the event index to write with them (identifiers consent withheld).
 * `events`: `'own'` when every event the links and `index` name was stored by the caller's
 * transaction (ingest: no other transaction sees them, so none can delete them or index them
 * meanwhile), `'stored'` otherwise (checked and locked, {@link withStoredEvents}, and indexed in
 * event_identifiers only, see below).
 */
export function linkWriter(context: PgContext) {
  const loadHolders = (trx: Trx | PgContext['db'], refs: Array<{ kind: string; key: string }>) =>
    loadHoldersIn(context, trx, { refs });

  const linkIn = async (
    trx: Trx,
    { links: given, caps, newId, now }: Parameters<ProfileMethods['linkProfiles']>[0],
    index: Array<{ kind: string; key: string; event_ref: string }>,
    events: 'own' | 'stored',
  ): Promise<Array<string | null>> => {
    const named = new Map<string, { kind: string; key: string }>();
    for (const link of given) for (const i of link.identifiers) named.set(identifierRef(i), i);
    if (named.size === 0) {
      // Nothing to link: the index alone takes no lock here (only ingest passes one, of its own
      // events; indexEventIdentifiers locks, as the backfill's events may be erased after it read them).
      if (index.length > 0) await applyLinkWrites(context, trx, noWrites(), index, now);
      return given.map(() => null);
    }
    // Under the locks, every live profile holding one of the call's identifiers (read after their
    // rows are locked, so as they stay to the commit): the links are planned in memory, in order,
    // and applied in a few multi-row statements. The identity lock (shared) is held from here, so
    // an erasure has committed or not begun when the events are checked.
    const owners = await lockOwners(context, trx, [...named.values()]);
    const links = events === 'own' ? given : await withStoredEvents(context, trx, given);
    const indexed = [...index];
    for (const link of links) {
      if (!link.event_ref) continue;
      for (const i of link.identifiers) indexed.push({ kind: i.kind, key: i.key, event_ref: link.event_ref });
    }
    const loaded = owners.length === 0 ? [] : await loadHoldersIn(context, trx, { ids: owners });
    const { out, writes } = planLinks({ links, loaded, caps, newId });
    // An identifier ingest inserts keeps the event that brought it in its own row (migration 14):
    // that event needs no row of event_identifiers; every other event carrying it does. Not so for
    // an event stored before: the backfill may be indexing it at the same time, under the identity
    // lock shared as this, and neither sees the other's uncommitted row in the other table, so the
    // event would be indexed twice. Its rows all go to event_identifiers, whose primary key keeps
    // one (the second insert waits for the first's commit, then does nothing). An ingest's own
    // events are new: no backfill sees them before the commit that stores them with their rows.
    const inRow = new Set<string>();
    if (events === 'own') {
      for (const i of writes.newIdentifiers)
        if (i.event_ref) inRow.add(`${identifierRef(i)}\u0000${i.event_ref}`);
    } else {
      for (const i of writes.newIdentifiers) i.event_ref = null;
    }
    const rest = indexed.filter((e) => !inRow.has(`${identifierRef(e)}\u0000${e.event_ref}`));
    await applyLinkWrites(context, trx, writes, rest, now, events);
    return out;
  };

  return { linkIn, loadHolders };
}

/** The store's identity methods. */
export function profileMethods(context: PgContext): ProfileMethods {
  const { db, q, guard, tx, schema } = context;
  const load = async (trx: Trx | undefined, ids: string[]): Promise<StoredProfile[]> => {
    if (ids.length === 0) return [];
    const profiles = new Map<string, StoredProfile>();
    const rows = await q(trx).selectFrom('profiles').selectAll().where('id', 'in', ids).execute();
    for (const p of rows) profiles.set(p.id, profileOf(p));
    const identifiers = await q(trx)
      .selectFrom('profile_identifiers')
      .select((eb) => [
        'kind',
        'key',
        'profile_id',
        eb.cast<string | null>('value', 'text').as('value'),
        'first_seen_at',
        'last_seen_at',
      ])
      .where('profile_id', 'in', ids)
      .execute();
    for (const r of identifiers) profiles.get(r.profile_id)?.identifiers.push(identifierOf(r));
    return [...profiles.values()];
  };

  const { linkIn, loadHolders } = linkWriter(context);

  return {
    linkProfiles: (args) => guard(() => tx((trx) => linkIn(trx, args, [], 'stored'))),

    // One statement, not an owners query and load's two: a claimed batch stitches hundreds of profiles.
    findProfiles: ({ identifiers }) =>
      guard(async () => (identifiers.length === 0 ? [] : loadHolders(db, identifiers))),

    getProfile: ({ id }) =>
      guard(async () => {
        const row = await q()
          .selectFrom('profiles')
          .select(['id', 'merged_into'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row) return null;
        const rootId = row.merged_into ?? row.id;
        const [profile] = await load(undefined, [rootId]);
        if (!profile) return null;
        // Every profile that now points here, with the time it was merged (into here or into one
        // that was merged here later: the history rows keep the first survivor).
        const merged = await q()
          .selectFrom('profiles')
          .innerJoin('profile_merges', 'profile_merges.merged_id', 'profiles.id')
          .select(['profiles.id', 'profile_merges.merged_at'])
          .where('profiles.merged_into', '=', rootId)
          .orderBy('profile_merges.merged_at')
          .orderBy('profiles.id')
          .execute();
        return { ...profile, merged: merged.map((m) => ({ id: m.id, merged_at: isoTime(m.merged_at) })) };
      }),

    pruneProfiles: ({ before, limit }) =>
      guard(async () => {
        if (limit < 1) return 0;
        // Most passes find nothing to prune: they say so without the exclusive lock, which would
        // wait for every link in flight and hold back every new one meanwhile. One a link creates
        // meanwhile already older than `before` (an old event's) waits for the next pass.
        const due = await q()
          .selectFrom('profiles')
          .select('id')
          .where('merged_into', 'is', null)
          .where('last_seen_at', '<', before)
          .limit(1)
          .executeTakeFirst();
        if (!due) return 0;
        return tx(async (trx) => {
          // Exclusive: a link holding the lock shared could be adding to a profile deleted here.
          await lockIdentityExclusive(trx, schema);
          const ids = (
            await q(trx)
              .selectFrom('profiles')
              .select('id')
              .where('merged_into', 'is', null)
              .where('last_seen_at', '<', before)
              .orderBy('last_seen_at')
              .limit(limit)
              .execute()
          ).map((r) => r.id);
          if (ids.length === 0) return 0;
          // What the identifiers say about their first events goes to the event index first: the
          // events stay (they have their own retention) and erasure must still find them. Locked
          // FOR KEY SHARE as they are read: an event retention is deleting is waited for and skipped.
          await sql`INSERT INTO ${context.T('event_identifiers')} (kind, key, event_ref)
            SELECT i.kind, i.key, i.event_ref FROM ${context.T('profile_identifiers')} i
            JOIN ${context.T('events')} e ON e.id = i.event_ref
            WHERE i.profile_id = ANY(${ids}::text[]) FOR KEY SHARE OF e ON CONFLICT DO NOTHING`.execute(trx);
          await q(trx).deleteFrom('profile_identifiers').where('profile_id', 'in', ids).execute();
          const gone = (eb: ExpressionBuilder<PostgresTables, 'profiles'>) =>
            eb.or([eb('id', 'in', ids), eb('merged_into', 'in', ids)]);
          await q(trx)
            .deleteFrom('profile_merges')
            .where('merged_id', 'in', q(trx).selectFrom('profiles').select('id').where(gone))
            .execute();
          await q(trx).deleteFrom('profiles').where(gone).execute();
          return ids.length;
        });
      }),
  };
}
