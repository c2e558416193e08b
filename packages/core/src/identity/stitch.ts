/**
 * Identity in the engine: link each accepted event's identifiers at ingest, and stitch each event's
 * profile at delivery time (so an event that arrived before the login that links it still gets the
 * link when it is delivered, and a replay re-stitches). What a transform receives is
 * `profiles[event_id]`, a {@link TransformProfile} (docs/identifiers.md, "Profiles in transforms").
 */
import type { SandboxEvent } from '../sandbox/types.js';
import type { AppendIdentity, Store } from '../store.js';
import {
  type CapturedEvent,
  type CapturedIdentifier,
  type CaptureOptions,
  captureAndRemember,
  captureIdentifiers,
  isOfferable,
} from './capture.js';
import { splitByConsent } from './consent.js';
import type { HashScheme, IdentifierKind } from './identifiers.js';
import { type JunkPolicy, junkPolicy } from './junk.js';
import {
  DEFAULT_CAPS,
  type IdentifierCaps,
  identifierRank,
  type ProfileLink,
  type StoredIdentifier,
  type StoredProfile,
} from './profiles.js';

/** `createPipes({ identity })`: on with `true` or options; off by default for embedders. */
export interface IdentityOptions {
  /** Days an identifier of a kind is offered after first seen (docs/identifiers.md); null = always. */
  windows?: Partial<Record<IdentifierKind, number | null>>;
  /** Most identifiers of a kind one profile holds. */
  caps?: Partial<IdentifierCaps>;
  /** Values never linked; replaces the defaults part by part. */
  junk?: Partial<JunkPolicy>;
  /** ISO 3166-1 alpha-2 for national phone numbers. */
  defaultCountry?: string;
  /** Profiles not seen for this many days are deleted (IPs and user agents are personal data). Default 90. */
  retentionDays?: number;
  /**
   * Keep identifiers whose consent is denied out of profiles (default `true`): they are neither
   * linked nor offered by stitching, only indexed for erasure (docs/identifiers.md, "Consent and
   * linking"). `false` links every identifier whatever the event's consent, as before.
   */
  respectConsent?: boolean;
}

/** One identifier value offered to a transform: the value, or the digests of a personal one. */
export type OfferedIdentifier = string | Partial<Record<HashScheme, string>>;

/** What `profiles[event_id]` holds. */
export interface TransformProfile {
  /** The stored profile's id; null when the event's identifiers are not linked (yet). */
  id: string | null;
  /** Identifiers by kind, newest first, only those still within their window. */
  identifiers: Partial<Record<IdentifierKind, OfferedIdentifier[]>>;
  /** Last IP and user agent seen for the profile (or on the event). */
  ip: string | null;
  user_agent: string | null;
  first_seen: string | null;
  last_seen: string | null;
}

export interface Identity {
  /**
   * What linking these events writes, for `appendEvents` to write with them in one transaction
   * ({@link AppendIdentity}); null when they carry no identifiers.
   */
  plan(
    events: Array<{ id?: string; event_time: string; event_payload: Record<string, unknown> }>,
  ): AppendIdentity | null;
  /** Links the identifiers of events just accepted (in transactions of their own). */
  link(
    events: Array<{ id?: string; event_time: string; event_payload: Record<string, unknown> }>,
  ): Promise<void>;
  /** `profiles` for a transform call: `{ [event_id]: TransformProfile }`. */
  stitch(events: SandboxEvent[]): Promise<Record<string, TransformProfile>>;
  /** Deletes profiles past retention; returns how many. */
  prune(limit: number): Promise<number>;
  /**
   * One step of the event-index backfill (docs/erasure.md): indexes the identifiers of up to
   * `limit` stored events after the marker kept in the store's state, oldest first, and moves the
   * marker. Once a step finds fewer than `limit` events the backfill is done and later steps read
   * nothing. Idempotent: an identifier erasure finds with the event already (a row of the index, or
   * the identifier's own row naming the event it came with) gets no row.
   */
  backfillIndex(limit: number): Promise<{ events: number; done: boolean }>;
}

/** The state key of the event-index backfill's marker: `{ after: <last evt_ id>, done }`. */
export const eventIndexBackfillKey = 'identity:event-index-backfill';

const keyOf = (i: CapturedIdentifier): string => i.value ?? i.hashes?.sha256 ?? '';
const offeredOf = (i: CapturedIdentifier): OfferedIdentifier => i.value ?? i.hashes ?? '';

/** kind -> key -> T: a lookup by identifier without a `kind\0key` string made per lookup. */
type ByRef<T> = Map<string, Map<string, T>>;
const getRef = <T>(map: ByRef<T>, kind: string, key: string): T | undefined => map.get(kind)?.get(key);
function setRef<T>(map: ByRef<T>, kind: string, key: string, value: T): void {
  let keys = map.get(kind);
  if (!keys) {
    keys = new Map();
    map.set(kind, keys);
  }
  keys.set(key, value);
}

/**
 * The profile owning the event's identifier of the highest priority kind (docs/identifiers.md), the
 * first such of the event's identifiers on a tie: what sorting them by rank and taking the first
 * owned one gives, without the copy and the sort. `keys[n]` is `identifiers[n]`'s key.
 */
function ownerByRank(
  identifiers: CapturedIdentifier[],
  keys: string[],
  owner: ByRef<StoredProfile>,
): StoredProfile | undefined {
  let found: StoredProfile | undefined;
  let rank = Number.POSITIVE_INFINITY;
  for (let n = 0; n < identifiers.length; n++) {
    const kind = identifiers[n]!.kind;
    const r = identifierRank(kind);
    if (r >= rank) continue;
    const p = getRef(owner, kind, keys[n]!);
    if (p === undefined) continue;
    found = p;
    rank = r;
  }
  return found;
}

/**
 * A profile's identifiers that stitching at `now` may offer, newest last seen first (ties in stored
 * order): what every event of the batch owned by that profile reads, so it is worked out once per
 * profile and call, not per event. The profile's own list when it is in order and all of it is
 * offerable (the common case: nothing copied). Which of them an event is offered still depends on
 * the event (its consent, and what it carries itself).
 */
function offerableOf(
  profile: StoredProfile,
  now: number,
  windows: IdentityOptions['windows'],
  parseTime: (iso: string) => number,
): StoredIdentifier[] {
  let known = profile.identifiers;
  // Usually one or a few identifiers, often in order already: copied and sorted only when not.
  for (let n = 1; n < known.length; n++) {
    if (known[n - 1]!.last_seen_at < known[n]!.last_seen_at) {
      known = [...known].sort((a, b) =>
        a.last_seen_at < b.last_seen_at ? 1 : a.last_seen_at > b.last_seen_at ? -1 : 0,
      );
      break;
    }
  }
  let out: StoredIdentifier[] | undefined;
  for (let n = 0; n < known.length; n++) {
    const i = known[n]!;
    if (isOfferable({ kind: i.kind, firstSeen: parseTime(i.first_seen_at) }, now, windows)) out?.push(i);
    else out ??= known.slice(0, n);
  }
  return out ?? known;
}

/**
 * Adds identifiers to a stitched profile's lists, each value once per kind (equal JSON text, as
 * docs/identifiers.md's dedupe says), keeping the texts offered so far per kind beside the list (a
 * kind has a few values: a list searched costs less than a Set made per kind and event). `stored`
 * takes a stored identifier: skipped at once when its stored text was offered already, else
 * compared by its canonical text (`canonical`: worked out once per identifier and call, since a
 * store may return other spacing or key order than JSON.stringify wrote, as PostgreSQL's jsonb
 * does) and parsed only when it is new.
 */
function offerList(profile: TransformProfile, canonical: Map<StoredIdentifier, string>) {
  const texts = new Map<IdentifierKind, string[]>();
  /** Whether `text` is new for the kind (it is then noted, and the kind's list exists). */
  const isNew = (kind: IdentifierKind, text: string): boolean => {
    let seen = texts.get(kind);
    if (!seen) {
      seen = [];
      texts.set(kind, seen);
      profile.identifiers[kind] = [];
    }
    if (seen.includes(text)) return false;
    seen.push(text);
    return true;
  };
  return {
    value: (kind: IdentifierKind, value: OfferedIdentifier) => {
      if (isNew(kind, JSON.stringify(value))) profile.identifiers[kind]!.push(value);
    },
    stored: (i: StoredIdentifier) => {
      if (texts.get(i.kind)?.includes(i.value)) return;
      let text = canonical.get(i);
      if (text === undefined) {
        text = JSON.stringify(JSON.parse(i.value));
        canonical.set(i, text);
      }
      if (isNew(i.kind, text)) profile.identifiers[i.kind]!.push(JSON.parse(i.value) as OfferedIdentifier);
    },
  };
}

function timeOf(event: { event_time: string }, fallback: number): number {
  const ms = Date.parse(event.event_time);
  return Number.isFinite(ms) ? Math.min(ms, fallback) : fallback;
}

interface IdentityDeps {
  store: Store;
  options: IdentityOptions;
  now: () => number;
  newId: () => string;
}

type CapturedForProfiles = CapturedEvent & {
  withheld: CapturedIdentifier[];
  allows: (kind: IdentifierKind) => boolean;
};

/** How an identity reads events: when each happened, and what each gives to profiles. */
interface Capturer {
  seenAtOf(event: { event_time: string }): number;
  capture(
    event: { event_time: string; event_payload: Record<string, unknown> },
    seenAt: number,
    remember?: boolean,
  ): CapturedForProfiles;
}

export function createIdentity(deps: IdentityDeps): Identity {
  const { options } = deps;
  const junk = junkPolicy(options.junk);
  const caps: IdentifierCaps = { ...DEFAULT_CAPS, ...options.caps };
  const capturer = createCapturer(deps, junk);
  const plan: Identity['plan'] = (events) => planLinks(deps, capturer, caps, events);
  return {
    plan,

    async link(events) {
      const planned = plan(events);
      if (!planned) return;
      if (planned.index.length > 0) await deps.store.indexEventIdentifiers({ entries: planned.index });
      if (planned.links.length === 0) return;
      await deps.store.linkProfiles({
        links: planned.links,
        caps: planned.caps,
        newId: planned.newId,
        now: planned.now,
      });
    },

    stitch: (events) => stitchEvents(deps, capturer, events),

    backfillIndex: (limit) => backfillIndex(deps, junk, limit),

    prune(limit) {
      const days = options.retentionDays ?? 90;
      return deps.store.pruneProfiles({
        before: new Date(deps.now() - days * 86_400_000).toISOString(),
        limit,
      });
    },
  };
}

function createCapturer(deps: IdentityDeps, junk: JunkPolicy): Capturer {
  const { options } = deps;
  const respectConsent = options.respectConsent !== false;
  /**
   * When an event happened, for capture and its link: its `event_time`, or now when that is later or
   * unreadable. The last text's parse is kept (events of one request or batch often share a time).
   */
  let lastTime = '';
  let lastTimeMs = Number.NaN;
  const seenAtOf = (event: { event_time: string }): number => {
    if (event.event_time !== lastTime) {
      lastTime = event.event_time;
      lastTimeMs = Date.parse(lastTime);
    }
    const now = deps.now();
    return Number.isFinite(lastTimeMs) ? Math.min(lastTimeMs, now) : now;
  };
  const captureOptions = (seenAt: number): CaptureOptions =>
    options.defaultCountry ? { seenAt, junk, defaultCountry: options.defaultCountry } : { seenAt, junk };
  /**
   * What an event gives to profiles, and what its consent withholds (indexed for erasure only).
   * At delivery (`remember`) the whole capture is remembered for the payload object, which match
   * quality reads again once the batch is sent (deliver.ts): one capture per delivered event, not two.
   */
  const capture: Capturer['capture'] = (event, seenAt, remember = false) => {
    const captured = remember
      ? captureAndRemember(event.event_payload, captureOptions(seenAt))
      : captureIdentifiers(event.event_payload, captureOptions(seenAt));
    if (!respectConsent) return { ...captured, withheld: [], allows: () => true };
    const split = splitByConsent(event.event_payload, captured.identifiers);
    return {
      identifiers: split.linkable,
      attributes: split.attributes ? captured.attributes : {},
      withheld: split.withheld,
      allows: split.allows,
    };
  };
  return { seenAtOf, capture };
}

/** `Identity.plan`: what linking these events writes, or null when they carry no identifiers. */
function planLinks(
  deps: IdentityDeps,
  capturer: Capturer,
  caps: IdentifierCaps,
  events: Parameters<Identity['plan']>[0],
): AppendIdentity | null {
  const links: ProfileLink[] = [];
  const index: AppendIdentity['index'] = [];
  // An event's identifiers are mostly first seen at the event's time: each time is written once.
  let lastMs = Number.NaN;
  let lastIso = '';
  const isoOf = (ms: number): string => {
    if (ms !== lastMs) {
      lastIso = new Date(ms).toISOString();
      lastMs = ms;
    }
    return lastIso;
  };
  for (const event of events) {
    const seenAt = capturer.seenAtOf(event);
    const captured = capturer.capture(event, seenAt);
    if (event.id)
      for (const i of captured.withheld) index.push({ kind: i.kind, key: keyOf(i), event_ref: event.id });
    if (captured.identifiers.length === 0) continue;
    const identifiers: ProfileLink['identifiers'] = [];
    for (const i of captured.identifiers) {
      identifiers.push({
        kind: i.kind,
        key: keyOf(i),
        value: JSON.stringify(offeredOf(i)),
        first_seen_at: isoOf(i.firstSeen),
      });
    }
    const link: ProfileLink = { identifiers, seen_at: isoOf(seenAt) };
    if (event.id) link.event_ref = event.id;
    if (captured.attributes.ip) link.ip = captured.attributes.ip;
    if (captured.attributes.user_agent) link.user_agent = captured.attributes.user_agent;
    links.push(link);
  }
  if (links.length === 0 && index.length === 0) return null;
  return { links, index, caps, newId: deps.newId, now: new Date(deps.now()).toISOString() };
}

/** `Identity.stitch`: each event's profile, found by its identifiers in one store query per batch. */
async function stitchEvents(
  deps: IdentityDeps,
  capturer: Capturer,
  events: SandboxEvent[],
): Promise<Record<string, TransformProfile>> {
  const { windows } = deps.options;
  const now = deps.now();
  const captured = events.map((e) => capturer.capture(e, capturer.seenAtOf(e), true));
  const wanted: ByRef<true> = new Map();
  const refs: Array<{ kind: IdentifierKind; key: string }> = [];
  // Each event's keys, in the order of its identifiers, computed once (read again below).
  const keysOf = captured.map((c) =>
    c.identifiers.map((i) => {
      const key = keyOf(i);
      if (!getRef(wanted, i.kind, key)) {
        setRef(wanted, i.kind, key, true);
        refs.push({ kind: i.kind, key });
      }
      return key;
    }),
  );
  const stored = refs.length > 0 ? await deps.store.findProfiles({ identifiers: refs }) : [];
  const owner: ByRef<StoredProfile> = new Map();
  for (const p of stored) for (const i of p.identifiers) setRef(owner, i.kind, i.key, p);
  // What each profile may offer, worked out once per profile of the batch.
  const offerable = new Map<StoredProfile, StoredIdentifier[]>();
  const canonical = new Map<StoredIdentifier, string>();
  let lastIso = '';
  let lastMs = Number.NaN;
  const parseTime = (iso: string): number => {
    if (iso !== lastIso) {
      lastIso = iso;
      lastMs = Date.parse(iso);
    }
    return lastMs;
  };

  const out: Record<string, TransformProfile> = {};
  events.forEach((event, n) => {
    const own = captured[n]!;
    const profile = ownerByRank(own.identifiers, keysOf[n]!, owner);
    const stitched: TransformProfile = {
      id: profile?.id ?? null,
      identifiers: {},
      ip: own.attributes.ip ?? profile?.ip ?? null,
      user_agent: own.attributes.user_agent ?? profile?.user_agent ?? null,
      first_seen: profile?.created_at ?? null,
      last_seen: profile?.last_seen_at ?? null,
    };
    const offered = offerList(stitched, canonical);
    // The event's own identifiers first (they are the newest), then the profile's, newest first.
    for (const i of own.identifiers) if (isOfferable(i, now, windows)) offered.value(i.kind, offeredOf(i));
    if (profile) {
      let known = offerable.get(profile);
      if (!known) {
        known = offerableOf(profile, now, windows, parseTime);
        offerable.set(profile, known);
      }
      for (const i of known) if (own.allows(i.kind)) offered.stored(i);
    }
    const key = event.event_id;
    if (key !== undefined) out[key] = stitched;
  });
  return out;
}

/** `Identity.backfillIndex`: indexes the identifiers of up to `limit` more stored events. */
async function backfillIndex(
  deps: IdentityDeps,
  junk: JunkPolicy,
  limit: number,
): Promise<{ events: number; done: boolean }> {
  const { options } = deps;
  const marker = (await deps.store.getState({ key: eventIndexBackfillKey })) as {
    after?: string;
    done?: boolean;
  } | null;
  if (marker?.done) return { events: 0, done: true };
  const events = await deps.store.scanEvents({
    ...(marker?.after ? { after: marker.after } : {}),
    limit,
  });
  // Every identifier the event carried, whatever its consent said: the index is what erasure
  // finds a person's events by (consent decides linking, not whether an event can be erased).
  const entries = events.flatMap((event) =>
    captureIdentifiers(event.event_payload, {
      seenAt: timeOf(event, deps.now()),
      junk,
      ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    }).identifiers.map((i) => ({ kind: i.kind, key: keyOf(i), event_ref: event.id })),
  );
  if (entries.length > 0) await deps.store.indexEventIdentifiers({ entries });
  const done = events.length < limit;
  const after = events.at(-1)?.id ?? marker?.after;
  await deps.store.setState({
    key: eventIndexBackfillKey,
    value: { ...(after ? { after } : {}), done },
    now: new Date(deps.now()).toISOString(),
  });
  return { events: events.length, done };
}
