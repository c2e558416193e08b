/**
 * New people, linked in bulk. Most events ingest links carry only identifiers no profile holds (a
 * new visitor): core's plan for such a link (`planLink` with no owners) is a new profile holding
 * them, nothing to load, merge or touch. One lookup per call finds which identifiers some profile
 * holds already, and the new profiles and their identifiers are written with multi-row INSERTs,
 * instead of a lookup per identifier and an INSERT per row (profiles.ts keeps that path for the
 * other links). What is stored is the same, row for row.
 */
import { PipesError } from '@openpipes/core';
import {
  type LinkPlan,
  type ProfileLink,
  storedIdentifierLastSeen,
  storedIdentifierValue,
} from '@openpipes/core/identity';
import type { SqliteContext } from './connection.js';
import { columnsOf } from './prepared.js';

type Prepare = SqliteContext['prepare'];

const P = columnsOf('profiles');
const I = columnsOf('profile_identifiers');

/** Row counts of the multi-row statements: any count is a few of them, each prepared once. */
const SIZES = [64, 16, 4, 1];

/** One statement text per SIZES entry: `head` then `row` that many times. */
const textsOf = (head: string, row: string) =>
  SIZES.map((size) => `${head} ${Array(size).fill(row).join(', ')}`);

/**
 * Runs `use` over `values` (rows of `width` values laid out flat) in chunks of SIZES rows: the
 * chunk's statement (of `texts`, {@link textsOf}) and its values.
 */
function inChunks(
  prepare: Prepare,
  texts: string[],
  values: unknown[],
  width: number,
  use: (statement: ReturnType<Prepare>, chunk: unknown[]) => void,
): void {
  let at = 0;
  SIZES.forEach((size, n) => {
    const step = size * width;
    if (values.length - at < step) return;
    const statement = prepare(texts[n]!);
    for (; values.length - at >= step; at += step) use(statement, values.slice(at, at + step));
  });
}

// The list outside (CROSS JOIN keeps that order): a primary-key lookup per identifier. A list of
// VALUES cost less CPU than the same list as JSON through json_each (paired, ~2 %).
const heldTexts = textsOf(`SELECT p.${I('kind')}, p.${I('key')} FROM (VALUES`, '(?, ?)').map(
  (text) =>
    `${text}) AS v CROSS JOIN profile_identifiers AS p ON p.${I('kind')} = v.column1 AND p.${I('key')} = v.column2`,
);

/**
 * For each link, in order, whether it is a new person's: none of its identifiers is held by a
 * profile (before the call) nor carried by an earlier link of the call (whose writes may give it an
 * owner by the time this link is planned), and none is carried twice. A later link sharing an
 * identifier with an earlier one is not: it is planned against what the earlier one wrote.
 */
export function newPeopleOf(prepare: Prepare, links: ProfileLink[]): boolean[] {
  const carried = new Map<string, Set<string>>();
  /** Notes an identifier; false when it was noted already. */
  const note = (kind: string, key: string): boolean => {
    let keys = carried.get(kind);
    if (!keys) {
      keys = new Set();
      carried.set(kind, keys);
    }
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  };
  const refs: unknown[] = [];
  for (const link of links) for (const i of link.identifiers) refs.push(i.kind, i.key);
  inChunks(prepare, heldTexts, refs, 2, (held, chunk) => {
    held.raw?.(true);
    for (const row of held.all(...chunk)) {
      // Objects (a database without raw mode) carry the same columns in the same order.
      const [kind, key] = (held.raw ? row : Object.values(row as object)) as [string, string];
      note(kind, key);
    }
  });
  return links.map((link) => {
    let fresh = true;
    for (const i of link.identifiers) fresh = note(i.kind, i.key) && fresh;
    return fresh;
  });
}

/**
 * Writes rows of `width` values laid out flat in `values`, with statements of SIZES rows, as
 * `INSERT OR IGNORE`: a multi-row statement that may abort part-way (plain INSERT, or ON CONFLICT
 * DO NOTHING, which still aborts on NOT NULL) keeps a statement journal, a copy of every page it
 * changes (7 % more CPU for the statement, measured). No row is expected to be ignored (newPeopleOf
 * found none of these identifiers held), so one that is throws, and the transaction fails rather
 * than losing a row silently.
 */
function bulkInsert(table: string, columns: string, row: string, width: number) {
  const texts = textsOf(`INSERT OR IGNORE INTO ${table} (${columns}) VALUES`, row);
  return (prepare: Prepare, values: unknown[]): void => {
    let written = 0;
    inChunks(prepare, texts, values, width, (insert, chunk) => {
      written += insert.run(...chunk).changes;
    });
    if (written !== values.length / width) {
      throw new PipesError({
        code: 'INTERNAL',
        message: `${table}: ${values.length / width - written} of a new person's rows were already stored`,
      });
    }
  };
}

const insertProfiles = bulkInsert(
  'profiles',
  P('id', 'merged_into', 'created_at', 'last_seen_at', 'ip', 'user_agent'),
  '(?, NULL, ?, ?, ?, ?)',
  5,
);
/**
 * The columns of a new identifier's row, in the order {@link identifierRow} gives its values.
 * event_ref (migration 13) is the SQLite store's own column, not in the shared table declaration.
 */
export const identifierColumns = `${I('kind', 'key', 'profile_id', 'value', 'first_seen_at', 'last_seen_at')}, event_ref`;

/**
 * A new identifier's row as stored, by this bulk path and by profiles.ts's per-link one alike: a
 * value its kind and key say already is kept as '' (storedIdentifierValue), and so is a last-seen
 * time equal to the first-seen one (storedIdentifierLastSeen); `eventRef` is its first event.
 */
export function identifierRow(
  i: { kind: string; key: string; value: string; first_seen_at: string },
  profileId: string,
  seenAt: string,
  eventRef: string | null,
): unknown[] {
  const value = storedIdentifierValue(i.kind, i.key, i.value) ?? '';
  const lastSeen = storedIdentifierLastSeen(i.first_seen_at, seenAt) ?? '';
  return [i.kind, i.key, profileId, value, i.first_seen_at, lastSeen, eventRef];
}

const insertIdentifiers = bulkInsert('profile_identifiers', identifierColumns, '(?, ?, ?, ?, ?, ?, ?)', 7);

/**
 * Collects new people's profiles and identifiers (`add`) and writes them (`flush`): before anything
 * reads profiles (a later link that is not a new person's), and at the end of the call.
 */
export function newPeopleWriter(prepare: Prepare) {
  const profiles: unknown[] = [];
  const identifiers: unknown[] = [];
  return {
    /**
     * Adds the profiles `plan` (for `link`, a new person's) creates, each identifier with the event
     * that brought it (`eventRef`: its entry in the event index). Returns how many identifiers it
     * added: the caller indexes the link's others (over a cap) as identifiers seen again.
     */
    add(link: ProfileLink, plan: LinkPlan, eventRef: string | null): number {
      const seenAt = link.seen_at;
      let added = 0;
      for (const p of plan.create) {
        const survivor = p.id === plan.survivor;
        profiles.push(
          p.id,
          seenAt,
          seenAt,
          survivor ? link.ip || null : null,
          survivor ? link.user_agent || null : null,
        );
        for (const i of p.identifiers) identifiers.push(...identifierRow(i, p.id, seenAt, eventRef));
        added += p.identifiers.length;
      }
      return added;
    },
    flush(): void {
      if (profiles.length === 0) return;
      insertProfiles(prepare, profiles);
      insertIdentifiers(prepare, identifiers);
      profiles.length = 0;
      identifiers.length = 0;
    },
  };
}
