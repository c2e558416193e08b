/**
 * Profiles: who an event belongs to. An event that carries two identifiers links them; profiles that
 * come to share an identifier merge. The rules live here, pure, and both stores apply the plan they
 * return inside one transaction (`linkProfiles`), so SQLite and PostgreSQL merge alike.
 *
 * Rules (docs/identifiers.md, "Profiles"):
 * - The anchor of a link is the profile of its strongest identifier (user id, then external id, email,
 *   phone, then the rest in table order).
 * - Other profiles the link touches merge into the anchor's group, oldest first, unless the union
 *   would exceed a kind's cap (two different user ids never merge: the user-id cap is 1).
 * - The survivor is the oldest profile of the group (created first, then smallest id): deterministic
 *   whatever order links arrive in. Merged profiles keep a pointer to it and a history row.
 * - An identifier no profile holds joins the survivor when its kind is under the cap; otherwise it
 *   starts a profile of its own. When that is the link's strongest identifier (a second user id on a
 *   shared browser), the link ends in that new profile, with the rest of what it brought that is new.
 */
import { IDENTIFIERS, type IdentifierKind } from './identifiers.js';

/** One identifier as a store keeps it. `key` is the value (raw kinds) or its `sha256` digest. */
export interface StoredIdentifier {
  kind: IdentifierKind;
  key: string;
  /**
   * JSON text: the raw value, or the digests object. Always whole here: a store may keep it elided
   * (see {@link storedIdentifierValue}) and gives it back through {@link identifierValueOf}.
   */
  value: string;
  first_seen_at: string;
  /** Always a time here: a store may keep it elided ({@link storedIdentifierLastSeen}). */
  last_seen_at: string;
}

/** The kinds stored raw (the value is the key); the others are keyed by their `sha256` digest. */
const RAW_KINDS = new Set<string>(IDENTIFIERS.filter((s) => s.stored === 'raw').map((s) => s.kind));

/** The value an identifier has when it says nothing its key does not: the key, or `{"sha256":key}`. */
const derivedValue = (kind: string, key: string): string =>
  RAW_KINDS.has(kind) ? JSON.stringify(key) : `{"sha256":${JSON.stringify(key)}}`;

/**
 * What a store keeps of an identifier's `value`: null when it can be derived from kind and key (a
 * raw value, or a digests object holding the `sha256` key alone: most rows), else the JSON text as
 * given. The value was most of a row's bytes, repeating its key. SQLite keeps null as '' (its
 * column is NOT NULL), PostgreSQL as NULL (migration 13). Every read goes through
 * {@link identifierValueOf}.
 */
export function storedIdentifierValue(kind: string, key: string, value: string): string | null {
  return value === derivedValue(kind, key) ? null : value;
}

/**
 * An identifier's `value` as read: the stored JSON text, or, when the store kept none (null or ''),
 * the one derived from kind and key. Rows written whole (before elision) read as they were.
 */
export function identifierValueOf(kind: string, key: string, stored: string | null): string {
  return stored === null || stored === '' ? derivedValue(kind, key) : stored;
}

/**
 * What a store keeps of an identifier's `last_seen_at`: null while it equals `first_seen_at` (as a
 * new identifier's mostly does: both are the event's time), else the time. SQLite keeps null as ''.
 * Read through {@link identifierLastSeenOf}; a store comparing times in SQL reads null as first_seen_at.
 */
export function storedIdentifierLastSeen(firstSeenAt: string, lastSeenAt: string): string | null {
  return lastSeenAt === firstSeenAt ? null : lastSeenAt;
}

/** An identifier's `last_seen_at` as read: the stored time, or `first_seen_at` when none was kept. */
export function identifierLastSeenOf(firstSeenAt: string, stored: string | null): string {
  return stored === null || stored === '' ? firstSeenAt : stored;
}

export interface StoredProfile {
  id: string;
  created_at: string;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
  identifiers: StoredIdentifier[];
}

/** One event's identifiers and attributes, to link. */
export interface ProfileLink {
  /**
   * The event (`evt_` id) the link came from: the store indexes its identifiers under it, so erasure
   * and export find every event of a person (docs/erasure.md). Absent: nothing is indexed.
   */
  event_ref?: string;
  identifiers: Array<Omit<StoredIdentifier, 'last_seen_at'>>;
  ip?: string;
  user_agent?: string;
  seen_at: string;
}

/** Most identifiers of a kind one profile holds: the guard against mega-profiles. */
export type IdentifierCaps = Record<IdentifierKind, number>;

export const DEFAULT_CAPS: IdentifierCaps = {
  user_id: 1,
  anonymous_id: 200,
  ga_client_id: 50,
  external_id: 3,
  email: 5,
  phone: 5,
  fbp: 50,
  fbc: 100,
  ttp: 50,
  ttclid: 100,
  gclid: 100,
  gbraid: 100,
  wbraid: 100,
  msclkid: 100,
  sc_click_id: 100,
  sc_cookie1: 50,
  epik: 100,
  rdt_cid: 100,
  rdt_uuid: 50,
  li_fat_id: 100,
  twclid: 100,
};

/** What a store does for one link. */
export interface LinkPlan {
  /** The profile the link ends in. */
  survivor: string;
  /** Profiles to create first (the survivor when it is new, and one for refused identifiers). */
  create: Array<{ id: string; identifiers: ProfileLink['identifiers'] }>;
  /** Profiles merged into the survivor: their identifiers move, they keep a pointer. */
  merge: string[];
  /** Identifiers no profile held, added to the survivor. */
  add: ProfileLink['identifiers'];
  /** Identifiers the link saw again: their `last_seen_at` moves to the link's time. */
  seen: Array<{ kind: IdentifierKind; key: string }>;
}

const PRIORITY: readonly IdentifierKind[] = [
  'user_id',
  'external_id',
  'email',
  'phone',
  ...IDENTIFIERS.map((s) => s.kind).filter((k) => !['user_id', 'external_id', 'email', 'phone'].includes(k)),
];
/** Each kind's position in PRIORITY (its first, as `indexOf` finds it), looked up per comparison. */
const RANK = new Map<IdentifierKind, number>();
for (const [n, kind] of PRIORITY.entries()) if (!RANK.has(kind)) RANK.set(kind, n);
/** Which identifier decides first: the stronger the kind, the lower its rank (merges and stitching agree). */
export const identifierRank = (kind: IdentifierKind): number => RANK.get(kind) ?? -1;

export const identifierRef = (i: { kind: string; key: string }) => `${i.kind}\u0000${i.key}`;

const olderFirst = (a: StoredProfile, b: StoredProfile) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

function countByKind(identifiers: Iterable<{ kind: IdentifierKind }>): Map<IdentifierKind, number> {
  const counts = new Map<IdentifierKind, number>();
  for (const i of identifiers) counts.set(i.kind, (counts.get(i.kind) ?? 0) + 1);
  return counts;
}

/** The identifiers, in order, that fit one new profile's caps. */
function underCaps(
  identifiers: ProfileLink['identifiers'],
  caps: IdentifierCaps,
): ProfileLink['identifiers'] {
  const counts = new Map<IdentifierKind, number>();
  return identifiers.filter((i) => {
    const n = (counts.get(i.kind) ?? 0) + 1;
    counts.set(i.kind, n);
    return n <= caps[i.kind];
  });
}

/**
 * The plan for one link, given the profiles that hold any of its identifiers (each with all of its
 * identifiers). `newId` names profiles the plan creates.
 */
export function planLink(
  link: ProfileLink,
  owners: StoredProfile[],
  caps: IdentifierCaps,
  newId: () => string,
): LinkPlan {
  const ownerOf = new Map<string, StoredProfile>();
  for (const p of owners) for (const i of p.identifiers) ownerOf.set(identifierRef(i), p);
  const ordered = [...link.identifiers].sort((a, b) => identifierRank(a.kind) - identifierRank(b.kind));
  const touched = [
    ...new Set(ordered.map((i) => ownerOf.get(identifierRef(i))).filter((p) => p !== undefined)),
  ];

  // The anchor's group: it, plus every touched profile whose identifiers fit under the caps.
  const group: StoredProfile[] = [];
  const counts = new Map<IdentifierKind, number>();
  const fits = (extra: Map<IdentifierKind, number>) =>
    [...extra].every(([kind, n]) => (counts.get(kind) ?? 0) + n <= caps[kind]);
  const join = (p: StoredProfile, extra: Map<IdentifierKind, number>) => {
    group.push(p);
    for (const [kind, n] of extra) counts.set(kind, (counts.get(kind) ?? 0) + n);
  };
  const [anchor, ...others] = touched;
  if (anchor) join(anchor, countByKind(anchor.identifiers));
  for (const p of [...others].sort(olderFirst)) {
    const extra = countByKind(p.identifiers);
    if (fits(extra)) join(p, extra);
  }

  const plan: LinkPlan = { survivor: '', create: [], merge: [], add: [], seen: [] };
  const fresh: ProfileLink['identifiers'] = [];
  const refused: ProfileLink['identifiers'] = [];
  for (const i of ordered) {
    const owner = ownerOf.get(identifierRef(i));
    if (owner) {
      plan.seen.push({ kind: i.kind, key: i.key });
      continue;
    }
    // What fits(new Map([[i.kind, 1]])) answers, without a Map per identifier.
    if ((counts.get(i.kind) ?? 0) + 1 <= caps[i.kind]) {
      fresh.push(i);
      counts.set(i.kind, (counts.get(i.kind) ?? 0) + 1);
    } else refused.push(i);
  }

  const strongest = ordered[0];
  if (strongest && refused.includes(strongest)) {
    // The event's strongest identifier cannot join the profiles it touched (a second user id on a
    // shared browser): the event is that identifier's, in a profile of its own with what is new.
    plan.survivor = newId();
    plan.create.push({ id: plan.survivor, identifiers: underCaps([...refused, ...fresh], caps) });
    return plan;
  }
  const survivor = [...group].sort(olderFirst)[0];
  if (survivor) {
    plan.survivor = survivor.id;
    plan.merge = group.filter((p) => p.id !== survivor.id).map((p) => p.id);
    plan.add = fresh;
  } else if (fresh.length > 0) {
    plan.survivor = newId();
    plan.create.push({ id: plan.survivor, identifiers: fresh });
  }
  // Identifiers over a cap start a profile of their own; the link still ends in the survivor.
  const rest = underCaps(refused, caps);
  if (rest.length > 0) plan.create.push({ id: newId(), identifiers: rest });
  // A touched profile outside the group keeps its identifiers; only their `seen` time moves.
  return plan;
}
