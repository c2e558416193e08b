/**
 * Identity on SQLite: profiles, their identifiers and merge history. The merge rules are core's
 * (`planLink`); this module loads what a link touches and applies the plan, in one BEGIN IMMEDIATE
 * transaction per call (which also orders processes sharing the file).
 *
 * Linking runs for every ingested event that carries identifiers, so its per-link statements are
 * raw prepared statements with positional parameters (see prepared.ts): building each with kysely
 * cost its compile every time, most of a link's cost. Merges are rare and stay with kysely.
 */
import {
  identifierLastSeenOf,
  identifierValueOf,
  planLink,
  type StoredIdentifier,
  type StoredProfile,
} from '@openpipes/core/identity';
import type { ProfileMethods, SqliteTables } from '@openpipes/core/store-kit';
import type { ExpressionBuilder } from 'kysely';
import type { SqliteContext } from './connection.js';
import { groupCommit } from './group-commit.js';
import {
  draftNewPerson,
  identifierColumns,
  identifierRow,
  type NewPersonDraft,
  newPeopleOf,
  newPeopleWriter,
} from './new-profiles.js';
import { columnsOf } from './prepared.js';

const P = columnsOf('profiles');
const I = columnsOf('profile_identifiers');
const ownerSql = `SELECT ${I('profile_id')} FROM profile_identifiers WHERE ${I('kind')} = ? AND ${I('key')} = ?`;
const profileSql = `SELECT ${P('id', 'created_at', 'last_seen_at', 'ip', 'user_agent')} FROM profiles WHERE ${P('id')} = ?`;
const identifiersSql = `SELECT ${I('kind', 'key', 'value', 'first_seen_at', 'last_seen_at')} FROM profile_identifiers WHERE ${I('profile_id')} = ?`;
// The profiles holding any of a list of identifiers, with all their identifiers, in one statement
// however long the list (a claimed batch stitches hundreds of events), so one snapshot too. The list
// goes in as one JSON object of kind -> [key, ...]: json_each's values are then the keys themselves
// (extracting them from [kind, key] pairs cost more than the lookups, measured). CROSS JOIN keeps
// that order: without it the planner may scan a whole kind of the primary key once per key.
const ownersAndIdentifiersSql = `WITH owners AS (
    SELECT DISTINCT pi.${I('profile_id')} AS id FROM json_each(?) AS k CROSS JOIN json_each(k.value) AS w
    CROSS JOIN profile_identifiers AS pi ON pi.${I('kind')} = k.key AND pi.${I('key')} = w.value
  )
  SELECT p.${P('id')}, p.${P('created_at')}, p.${P('last_seen_at')} AS profile_last_seen_at, p.${P('ip')}, p.${P('user_agent')},
    i.${I('kind')}, i.${I('key')}, i.${I('value')}, i.${I('first_seen_at')}, i.${I('last_seen_at')}
  FROM owners AS o CROSS JOIN profiles AS p ON p.${P('id')} = o.id
  CROSS JOIN profile_identifiers AS i ON i.${I('profile_id')} = o.id`;
const insertProfileSql = `INSERT INTO profiles (${P('id', 'merged_into', 'created_at', 'last_seen_at', 'ip', 'user_agent')}) VALUES (?, NULL, ?, ?, ?, ?)`;
// event_ref (migration 13) is the SQLite store's own column, not in the shared table declaration.
const insertIdentifierSql = `INSERT INTO profile_identifiers (${identifierColumns})
  VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
export const indexSql = `INSERT INTO event_identifiers (${columnsOf('event_identifiers')('kind', 'key', 'event_ref')}) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`;
// An index entry of an event stored before (the backfill's, a late link's) that erasure finds
// already is not written again: its row of event_identifiers, or the identifier's own row naming
// the event as the one that brought it (migration 13; a point read of its primary key). Without
// the second test the backfill doubled what identity kept. Nor is an entry whose event is gone
// (erased or pruned since the caller read it: the backfill reads events and writes here in two
// calls); tested in this write transaction, which an erasure's excludes, by a point read of the
// events' primary key.
export const indexStoredSql = `INSERT INTO event_identifiers (kind, key, event_ref) SELECT @kind, @key, @event_ref
  WHERE NOT EXISTS (SELECT 1 FROM profile_identifiers WHERE kind = @kind AND key = @key AND event_ref = @event_ref)
    AND EXISTS (SELECT 1 FROM events WHERE id = @event_ref)
  ON CONFLICT DO NOTHING`;
// Before a profile's identifiers are pruned: the events they brought (still stored) into the index.
const keepFirstEventsSql = `INSERT INTO event_identifiers (kind, key, event_ref)
  SELECT i.kind, i.key, i.event_ref FROM profile_identifiers AS i JOIN events AS e ON e.id = i.event_ref
  WHERE i.profile_id IN (SELECT value FROM json_each(?)) ON CONFLICT DO NOTHING`;
const eventStoredSql = 'SELECT 1 FROM events WHERE id = ?';
// last_seen_at '' is first_seen_at (storedIdentifierLastSeen): the time compared is the one it stands for.
const seenSql = `UPDATE profile_identifiers SET ${I('last_seen_at')} = ? WHERE ${I('kind')} = ? AND ${I('key')} = ?
  AND (CASE ${I('last_seen_at')} WHEN '' THEN ${I('first_seen_at')} ELSE ${I('last_seen_at')} END) < ?`;
// The survivor's last-seen time and attributes move only forwards: an older link changes nothing.
const touchSql = `UPDATE profiles SET ${P('last_seen_at')} = ?, ${P('ip')} = coalesce(?, ${P('ip')}), ${P('user_agent')} = coalesce(?, ${P('user_agent')})
  WHERE ${P('id')} = ? AND ${P('last_seen_at')} <= ?`;

type LinkArgs = Parameters<ProfileMethods['linkProfiles']>[0];
type LinkResult = Awaited<ReturnType<ProfileMethods['linkProfiles']>>;
/** Whose events a link names: ingest's, stored in its own transaction, or events stored before. */
type LinkedEvents = 'own' | 'stored';

interface ProfileRow {
  id: string;
  created_at: string;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
}

/**
 * A row of ownersAndIdentifiersSql, as an array (better-sqlite3's raw mode: no object per row):
 * a profile's columns, then one of its identifiers'.
 */
type OwnerRow = [
  id: string,
  created_at: string,
  last_seen_at: string,
  ip: string | null,
  user_agent: string | null,
  kind: StoredIdentifier['kind'],
  key: string,
  value: string,
  first_seen_at: string,
  last_seen_at: string,
];

/** SQLite's limit on bound parameters is far above this; chunks keep statements small and cached. */
const CHUNK = 200;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** What `load(ownersOf(refs))` returns (profiles in the order found), in one statement. */
function loadOwnersWith(
  prepare: SqliteContext['prepare'],
  refs: Array<{ kind: string; key: string }>,
): StoredProfile[] {
  if (refs.length === 0) return [];
  // No prototype: a kind is a key here, whatever its name.
  const keysByKind: Record<string, string[]> = Object.create(null);
  for (const r of refs) {
    const keys = keysByKind[r.kind] ?? [];
    keysByKind[r.kind] = keys;
    keys.push(r.key);
  }
  const byId = new Map<string, StoredProfile>();
  const statement = prepare(ownersAndIdentifiersSql);
  statement.raw?.(true);
  const found = statement.all(JSON.stringify(keysByKind));
  // Objects (a database without raw mode) carry the same columns in the same order.
  const rows = (statement.raw ? found : found.map((r) => Object.values(r as object))) as OwnerRow[];
  for (const [
    id,
    created_at,
    profileSeen,
    ip,
    user_agent,
    kind,
    key,
    value,
    first_seen_at,
    last_seen_at,
  ] of rows) {
    let profile = byId.get(id);
    if (!profile) {
      profile = { id, created_at, last_seen_at: profileSeen, ip, user_agent, identifiers: [] };
      byId.set(id, profile);
    }
    profile.identifiers.push({
      kind,
      key,
      value: identifierValueOf(kind, key, value),
      first_seen_at,
      last_seen_at: identifierLastSeenOf(first_seen_at, last_seen_at),
    });
  }
  return [...byId.values()];
}

/**
 * Indexes every identifier a link carried. Of an ingest's own event (`events` 'own'), but those it
 * inserts: they carry the event in their own row. Of an event stored before ('stored'), each in
 * event_identifiers unless the index has it already (see linkWriter).
 */
function indexCarried(
  prepare: SqliteContext['prepare'],
  link: LinkArgs['links'][number],
  plan: ReturnType<typeof planLink>,
  eventRef: string,
  events: LinkedEvents,
): void {
  if (events === 'stored') {
    const index = prepare(indexStoredSql);
    for (const i of link.identifiers) index.run({ kind: i.kind, key: i.key, event_ref: eventRef });
    return;
  }
  // The event index: identifiers the link inserts carry the event in their own row
  // (insertIdentifiers); every other one it carried gets a row of event_identifiers.
  // (By kind, then key: no `kind\0key` string made per identifier.)
  const inserted = new Map<string, Set<string>>();
  const insert = (i: { kind: string; key: string }) => {
    const keys = inserted.get(i.kind);
    if (keys) keys.add(i.key);
    else inserted.set(i.kind, new Set([i.key]));
  };
  for (const p of plan.create) for (const i of p.identifiers) insert(i);
  for (const i of plan.add) insert(i);
  const index = prepare(indexSql);
  for (const i of link.identifiers) if (!inserted.get(i.kind)?.has(i.key)) index.run(i.kind, i.key, eventRef);
}

/** Moves merged profiles' identifiers to the survivor, points them at it, and records the merges. */
function writeMerge(
  qb: SqliteContext['qb'],
  run: SqliteContext['run'],
  survivor: string,
  merge: string[],
  now: string,
): void {
  run(qb.updateTable('profile_identifiers').set({ profile_id: survivor }).where('profile_id', 'in', merge));
  run(
    qb
      .updateTable('profiles')
      .set({ merged_into: survivor })
      .where((eb) => eb.or([eb('id', 'in', merge), eb('merged_into', 'in', merge)])),
  );
  for (const merged of merge) {
    run(qb.insertInto('profile_merges').values({ merged_id: merged, survivor_id: survivor, merged_at: now }));
  }
}

/**
 * The writes of `linkProfiles` (synchronous, inside the caller's transaction): also what
 * `appendEvents` runs when it links the events it stores in its own transaction.
 *
 * An identifier a link inserts keeps the event that brought it in its own row (migration 13), if
 * that event is the ingest's own (`linkAll`'s `events` 'own'): nothing else can have indexed it.
 * Not an event stored before ('stored'): the backfill may have indexed it in event_identifiers
 * already (it commits between ingest and a late link), and the row would index it a second time;
 * nor may an identifier its own row names already be indexed again. Such a link indexes every
 * identifier in event_identifiers, unless the index has it (the backfill's own statement), and
 * the backfill after it finds that row.
 */
export function linkWriter({ qb, run, prepare }: SqliteContext) {
  const ownersOf = (refs: Array<{ kind: string; key: string }>): string[] => {
    const owner = prepare(ownerSql);
    const ids = new Set<string>();
    for (const r of refs) {
      const row = owner.get(r.kind, r.key) as { profile_id: string } | undefined;
      if (row) ids.add(row.profile_id);
    }
    return [...ids];
  };

  const load = (ids: string[]): StoredProfile[] => {
    const profile = prepare(profileSql);
    const identifiers = prepare(identifiersSql);
    const out: StoredProfile[] = [];
    for (const id of ids) {
      const p = profile.get(id) as ProfileRow | undefined;
      if (!p) continue;
      const rows = identifiers.all(id) as StoredIdentifier[];
      for (const i of rows) {
        i.value = identifierValueOf(i.kind, i.key, i.value);
        i.last_seen_at = identifierLastSeenOf(i.first_seen_at, i.last_seen_at);
      }
      out.push({ ...p, identifiers: rows });
    }
    return out;
  };

  const loadOwners = (refs: Array<{ kind: string; key: string }>) => loadOwnersWith(prepare, refs);

  /**
   * Inserts identifiers no profile held, each with the event that brought it (`eventRef`): that is
   * its entry in the event identifier index (migration 13). One the insert did not write (a second
   * copy in the same link) is indexed in event_identifiers as any identifier seen again.
   */
  const insertIdentifiers = (
    profileId: string,
    identifiers: Array<Omit<StoredIdentifier, 'last_seen_at'>>,
    now: string,
    eventRef: string | null,
  ) => {
    const insert = prepare(insertIdentifierSql);
    for (const i of identifiers) {
      const { changes } = insert.run(...identifierRow(i, profileId, now, eventRef));
      if (changes === 0 && eventRef) prepare(indexSql).run(i.kind, i.key, eventRef);
    }
  };

  /** One link of identifiers some profile may hold: planned against its owners as they are now. */
  const linkKnown = (
    link: LinkArgs['links'][number],
    { caps, newId, now }: LinkArgs,
    events: LinkedEvents,
  ) => {
    const seenAt = link.seen_at;
    const eventRef = link.event_ref ?? null;
    // Only an event stored by this very call keeps its first event in the identifier's own row.
    const rowRef = events === 'own' ? eventRef : null;
    const plan = planLink(link, load(ownersOf(link.identifiers)), caps, newId);
    if (eventRef) indexCarried(prepare, link, plan, eventRef, events);
    // A survivor created here is written with the link's attributes at once: the UPDATE that
    // moves an existing survivor's last-seen time and attributes (touchSql) would change nothing
    // else, and skipping it is one statement less.
    const ip = link.ip || null;
    const userAgent = link.user_agent || null;
    let created = false;
    for (const p of plan.create) {
      const survivor = p.id === plan.survivor;
      created ||= survivor;
      prepare(insertProfileSql).run(p.id, seenAt, seenAt, survivor ? ip : null, survivor ? userAgent : null);
      insertIdentifiers(p.id, p.identifiers, seenAt, rowRef);
    }
    if (plan.merge.length > 0) writeMerge(qb, run, plan.survivor, plan.merge, now);
    insertIdentifiers(plan.survivor, plan.add, seenAt, rowRef);
    const seen = prepare(seenSql);
    for (const i of plan.seen) seen.run(seenAt, i.kind, i.key, seenAt);
    if (!created) prepare(touchSql).run(seenAt, ip, userAgent, plan.survivor, seenAt);
    return plan.survivor;
  };

  // Each ingest call links its events; calls made at once share a commit. A new person's link
  // (the common case: an event of a new visitor) is planned with no owners and written in bulk
  // (new-profiles.ts); any other reads the profiles as the call's earlier links left them, so
  // those are written first. A late link of events stored before ('stored') takes the per-link path.
  const linkAll = (
    args: LinkArgs,
    events: LinkedEvents = 'own',
    drafts?: ReadonlyMap<LinkArgs['links'][number], NewPersonDraft>,
  ): LinkResult => {
    const { links, caps, newId } = args;
    const isNew = events === 'own' ? newPeopleOf(prepare, links) : links.map(() => false);
    const people = newPeopleWriter(prepare);
    const survivors = links.map((link, n) => {
      if (link.identifiers.length === 0) return null;
      if (!isNew[n]) {
        people.flush();
        return linkKnown(link, args, events);
      }
      // Drafted by the caller before its transaction (ingest's), or here.
      const draft = drafts?.get(link) ?? draftNewPerson(link, caps);
      const { survivor, added } = people.add(draft, newId);
      const eventRef = link.event_ref ?? null;
      // Identifiers over a cap that no new profile holds are indexed as identifiers seen again.
      if (added < link.identifiers.length && eventRef) {
        indexCarried(prepare, link, draft.plan, eventRef, 'own');
      }
      return survivor;
    });
    people.flush();
    return survivors;
  };
  return { load, loadOwners, linkAll };
}

/** The store's identity methods. */
export function profileMethods(context: SqliteContext): ProfileMethods {
  const { db, qb, all, first, run, tx, prepare } = context;
  const { load, loadOwners, linkAll } = linkWriter(context);
  // A caller of linkProfiles names events it stored earlier, which an erasure or retention may
  // have deleted since (ingest links only events of its own transaction, in linkWriter directly):
  // the link is applied, but such an event is not indexed, or the index would keep a row naming a
  // deleted event, of an erased person's identifiers. The test and the writes share the write
  // transaction, and SQLite has one writer: no erasure or prune commits between them.
  const linkStored = (args: LinkArgs): LinkResult => {
    const stored = prepare(eventStoredSql);
    const links = args.links.map((link) => {
      if (!link.event_ref || stored.get(link.event_ref)) return link;
      const { event_ref: _gone, ...rest } = link;
      return rest;
    });
    return linkAll({ ...args, links }, 'stored');
  };
  const linkInGroup = groupCommit({ tx, inTransaction: () => db().inTransaction }, linkStored);

  return {
    linkProfiles: (args) => linkInGroup(args),

    async findProfiles({ identifiers }) {
      if (identifiers.length === 0) return [];
      return loadOwners(identifiers);
    },

    async getProfile({ id }) {
      const row = first(qb.selectFrom('profiles').select(['id', 'merged_into']).where('id', '=', id));
      if (!row) return null;
      const rootId = row.merged_into ?? row.id;
      const [profile] = load([rootId]);
      if (!profile) return null;
      // Every profile that now points here, with the time it was merged (into here or into one
      // that was merged here later: the history rows keep the first survivor).
      const merged = all(
        qb
          .selectFrom('profiles')
          .innerJoin('profile_merges', 'profile_merges.merged_id', 'profiles.id')
          .select(['profiles.id', 'profile_merges.merged_at'])
          .where('profiles.merged_into', '=', rootId)
          .orderBy('profile_merges.merged_at')
          .orderBy('profiles.id'),
      );
      return { ...profile, merged };
    },

    async pruneProfiles({ before, limit }) {
      if (limit < 1) return 0;
      return tx(() => {
        const ids = all(
          qb
            .selectFrom('profiles')
            .select('id')
            .where('merged_into', 'is', null)
            .where('last_seen_at', '<', before)
            .orderBy('last_seen_at')
            .limit(limit),
        ).map((r) => r.id);
        // What the identifiers say about their first events goes to the event index first: the
        // events stay (they have their own retention) and erasure must still find them.
        const keep = prepare(keepFirstEventsSql);
        for (const part of chunks(ids)) {
          keep.run(JSON.stringify(part));
          run(qb.deleteFrom('profile_identifiers').where('profile_id', 'in', part));
          const gone = (eb: ExpressionBuilder<SqliteTables, 'profiles'>) =>
            eb.or([eb('id', 'in', part), eb('merged_into', 'in', part)]);
          run(
            qb
              .deleteFrom('profile_merges')
              .where('merged_id', 'in', qb.selectFrom('profiles').select('id').where(gone)),
          );
          run(qb.deleteFrom('profiles').where(gone));
        }
        return ids.length;
      });
    },
  };
}
