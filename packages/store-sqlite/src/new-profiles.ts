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
  type IdentifierCaps,
  type LinkPlan,
  type ProfileLink,
  planLink,
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
  /** The profile's id, or in a draft ({@link draftNewPerson}) its placeholder's index. */
  profileId: string | number,
  seenAt: string,
  eventRef: string | null,
): unknown[] {
  const value = storedIdentifierValue(i.kind, i.key, i.value) ?? '';
  const lastSeen = storedIdentifierLastSeen(i.first_seen_at, seenAt) ?? '';
  return [i.kind, i.key, profileId, value, i.first_seen_at, lastSeen, eventRef];
}

const insertIdentifiers = bulkInsert('profile_identifiers', identifierColumns, '(?, ?, ?, ?, ?, ?, ?)', 7);

/**
 * What a new person's link writes, worked out from the link alone (its plan with no owners, its rows)
 * before the write transaction, so that the transaction, which holds the write turn the dispatch
 * thread waits for, only fills in the profile ids and runs the INSERTs. The plan's profile ids are
 * placeholders: the real ones are made by `newId` in the transaction, in the order `planLink` would
 * have made them (so a caller's ids come out exactly as before), and only for a link that is a new
 * person's after all (`newPeopleOf`, read in the transaction).
 */
export interface NewPersonDraft {
  /** `planLink(link, [], caps)`, its created profiles named by placeholders. */
  plan: LinkPlan;
  /** The profiles' rows (5 values each), the id first, a placeholder's index in `plan.create`. */
  profiles: unknown[];
  /** The identifiers' rows (7 values each), the profile id third, as a placeholder's index. */
  identifiers: unknown[];
}

/**
 * Drafts the writes of `link` as a new person's ({@link NewPersonDraft}): pure, from the link and
 * the caps only.
 *
 * @example
 * ```ts
 * const draft = draftNewPerson(link, caps); // before the transaction
 * people.add(link, draft, newId); // in it, if newPeopleOf says the link is a new person's
 * ```
 */
export function draftNewPerson(link: ProfileLink, caps: IdentifierCaps): NewPersonDraft {
  let made = 0;
  // Placeholders: the index of the profile in plan.create (planLink names them in that order).
  const plan = planLink(link, [], caps, () => String(made++));
  const seenAt = link.seen_at;
  const eventRef = link.event_ref ?? null;
  const profiles: unknown[] = [];
  const identifiers: unknown[] = [];
  plan.create.forEach((p, n) => {
    const survivor = p.id === plan.survivor;
    profiles.push(
      n,
      seenAt,
      seenAt,
      survivor ? link.ip || null : null,
      survivor ? link.user_agent || null : null,
    );
    for (const i of p.identifiers) identifiers.push(...identifierRow(i, n, seenAt, eventRef));
  });
  return { plan, profiles, identifiers };
}

/**
 * Collects new people's profiles and identifiers (`add`) and writes them (`flush`): before anything
 * reads profiles (a later link that is not a new person's), and at the end of the call.
 */
export function newPeopleWriter(prepare: Prepare) {
  const profiles: unknown[] = [];
  const identifiers: unknown[] = [];
  return {
    /**
     * Adds the profiles of `draft` (of a new person's link, {@link draftNewPerson}), named now by
     * `newId`, each identifier with the event that brought it (its entry in the event index).
     * Returns the survivor's id and how many identifiers it added: the caller indexes the link's
     * others (over a cap) as identifiers seen again.
     */
    add(draft: NewPersonDraft, newId: () => string): { survivor: string; added: number } {
      const ids = draft.plan.create.map(() => newId());
      const { profiles: p, identifiers: i } = draft;
      for (let at = 0; at < p.length; at += 5) {
        profiles.push(ids[p[at] as number], p[at + 1], p[at + 2], p[at + 3], p[at + 4]);
      }
      for (let at = 0; at < i.length; at += 7) {
        identifiers.push(
          i[at],
          i[at + 1],
          ids[i[at + 2] as number],
          i[at + 3],
          i[at + 4],
          i[at + 5],
          i[at + 6],
        );
      }
      return { survivor: ids[Number(draft.plan.survivor)]!, added: i.length / 7 };
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
