/**
 * The links of one `linkProfiles` call planned in memory, one after the other, and turned into the
 * few multi-row writes that leave the tables as applying each plan in turn would. The store loads
 * every live profile holding any of the call's identifiers (with all their identifiers) once it holds
 * their locks (identity-lock.ts), so what a link's plan sees here is what it would read from the
 * tables at its turn: a call of 500 links costs a handful of statements instead of five or more per
 * link.
 */
import {
  type IdentifierCaps,
  identifierRef,
  type ProfileLink,
  planLink,
  type StoredIdentifier,
  type StoredProfile,
} from '@openpipes/core/identity';
import { isoTime } from '@openpipes/core/store-kit';

/** A profile's columns once the call's links are applied. */
export interface ProfileState {
  id: string;
  merged_into: string | null;
  created_at: string;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
}

/** An identifier's row once the call's links are applied. */
export interface IdentifierState extends StoredIdentifier {
  profile_id: string;
  /** For an identifier the call inserts: the event that brought it, kept in its row (migration 14). */
  event_ref?: string | null;
}

/** What the call writes. */
export interface LinkWrites {
  /** Profiles the call created, in their final state. */
  newProfiles: ProfileState[];
  /** Profiles that existed before and changed (last seen, ip, user agent, merged). */
  changedProfiles: ProfileState[];
  /** Identifiers no profile held before the call, with their final owner. */
  newIdentifiers: IdentifierState[];
  /** Identifiers that existed before and moved to another profile or were seen later. */
  changedIdentifiers: IdentifierState[];
  /**
   * Every profile merged by the call that existed before it, with the profile it finally points to:
   * older profiles merged into it point there too.
   */
  repoint: Array<{ from: string; to: string }>;
  /** The merge history rows, one per merged profile (its survivor at the time). */
  merges: Array<{ merged_id: string; survivor_id: string }>;
}

/** A profile as the call's links leave it. */
type LiveProfile = ProfileState & { identifiers: IdentifierState[] };

const later = (a: string, b: string) => Date.parse(a) > Date.parse(b);

/**
 * Plans `links` in order against `loaded` (every live profile holding one of their identifiers) and
 * returns the profile id per link with the writes that apply them.
 *
 * @example
 * const { out, writes } = planLinks({ links, loaded, caps: DEFAULT_CAPS, newId: () => newId('profile') });
 */
export function planLinks(input: {
  links: ProfileLink[];
  loaded: StoredProfile[];
  caps: IdentifierCaps;
  newId: () => string;
}): { out: Array<string | null>; writes: LinkWrites } {
  const plan = startPlan(input.loaded);
  const { profiles, ownerOf, changedProfiles, changedIdentifiers, mergedInto, merges } = plan;

  const own = (
    profileId: string,
    identifiers: ProfileLink['identifiers'],
    seenAt: string,
    eventRef: string | null,
  ) => {
    const profile = profiles.get(profileId)!;
    for (const i of identifiers) {
      const ref = identifierRef(i);
      // ON CONFLICT DO NOTHING: the first holder keeps an identifier (one link may name it twice).
      if (ownerOf.has(ref)) continue;
      const state: IdentifierState = {
        ...i,
        last_seen_at: seenAt,
        profile_id: profileId,
        event_ref: eventRef,
      };
      ownerOf.set(ref, state);
      profile.identifiers.push(state);
    }
  };

  const out = input.links.map((link) => {
    if (link.identifiers.length === 0) return null;
    const seenAt = isoTime(link.seen_at);
    const owners = new Map<string, StoredProfile>();
    for (const i of link.identifiers) {
      const held = ownerOf.get(identifierRef(i));
      if (held) owners.set(held.profile_id, profiles.get(held.profile_id)!);
    }
    const plan = planLink(link, [...owners.values()], input.caps, input.newId);
    for (const p of plan.create) {
      profiles.set(p.id, {
        id: p.id,
        merged_into: null,
        created_at: seenAt,
        last_seen_at: seenAt,
        ip: null,
        user_agent: null,
        identifiers: [],
      });
      own(p.id, p.identifiers, seenAt, link.event_ref ?? null);
    }
    const survivor = profiles.get(plan.survivor)!;
    for (const mergedId of plan.merge) {
      const merged = profiles.get(mergedId)!;
      for (const i of merged.identifiers) {
        i.profile_id = survivor.id;
        survivor.identifiers.push(i);
        changedIdentifiers.add(identifierRef(i));
      }
      merged.identifiers = [];
      merged.merged_into = survivor.id;
      changedProfiles.add(mergedId);
      mergedInto.set(mergedId, survivor.id);
      merges.push({ merged_id: mergedId, survivor_id: survivor.id });
      // Profiles merged earlier in this call into the one merged now follow it.
      for (const p of profiles.values()) if (p.merged_into === mergedId) p.merged_into = survivor.id;
    }
    own(survivor.id, plan.add, seenAt, link.event_ref ?? null);
    for (const s of plan.seen) {
      const ref = identifierRef(s);
      const i = ownerOf.get(ref);
      if (i && later(seenAt, i.last_seen_at)) {
        i.last_seen_at = seenAt;
        changedIdentifiers.add(ref);
      }
    }
    if (!later(survivor.last_seen_at, seenAt)) {
      survivor.last_seen_at = seenAt;
      if (link.ip) survivor.ip = link.ip;
      if (link.user_agent) survivor.user_agent = link.user_agent;
      changedProfiles.add(survivor.id);
    }
    return plan.survivor;
  });

  return { out, writes: collectWrites(plan) };
}

/** What planning the links tracks: the live profiles, who holds each identifier, what changed. */
interface LinkPlan {
  profiles: Map<string, LiveProfile>;
  ownerOf: Map<string, IdentifierState>;
  /** The profiles and identifiers loaded before the call. */
  existed: Set<string>;
  existedIdentifiers: Set<string>;
  changedProfiles: Set<string>;
  changedIdentifiers: Set<string>;
  /** Where each profile merged by the call points (followed to the end for `repoint`). */
  mergedInto: Map<string, string>;
  merges: LinkWrites['merges'];
}

/** The plan before any link: the loaded profiles, live, holding their identifiers. */
function startPlan(loaded: StoredProfile[]): LinkPlan {
  const profiles = new Map<string, LiveProfile>();
  const ownerOf = new Map<string, IdentifierState>();
  for (const p of loaded) {
    const identifiers = p.identifiers.map((i) => ({ ...i, profile_id: p.id }));
    profiles.set(p.id, { ...p, identifiers, merged_into: null });
    for (const i of identifiers) ownerOf.set(identifierRef(i), i);
  }
  return {
    profiles,
    ownerOf,
    existed: new Set(profiles.keys()),
    existedIdentifiers: new Set(ownerOf.keys()),
    changedProfiles: new Set(),
    changedIdentifiers: new Set(),
    mergedInto: new Map(),
    merges: [],
  };
}

/** The writes the planned links add up to: new and changed profiles and identifiers, repoints, merges. */
function collectWrites(plan: LinkPlan): LinkWrites {
  const {
    profiles,
    ownerOf,
    existed,
    existedIdentifiers,
    changedProfiles,
    changedIdentifiers,
    mergedInto,
    merges,
  } = plan;
  const state = (p: LiveProfile): ProfileState => ({
    id: p.id,
    merged_into: p.merged_into,
    created_at: p.created_at,
    last_seen_at: p.last_seen_at,
    ip: p.ip,
    user_agent: p.user_agent,
  });
  const finalRoot = (id: string) => {
    let root = id;
    for (let next = mergedInto.get(root); next !== undefined; next = mergedInto.get(root)) root = next;
    return root;
  };
  const newProfiles: ProfileState[] = [];
  for (const p of profiles.values()) if (!existed.has(p.id)) newProfiles.push(state(p));
  const newIdentifiers: IdentifierState[] = [];
  for (const [ref, i] of ownerOf) if (!existedIdentifiers.has(ref)) newIdentifiers.push(i);
  return {
    newProfiles,
    changedProfiles: [...changedProfiles]
      .filter((id) => existed.has(id))
      .map((id) => state(profiles.get(id)!)),
    newIdentifiers,
    changedIdentifiers: [...changedIdentifiers]
      .filter((ref) => existedIdentifiers.has(ref))
      .map((ref) => ownerOf.get(ref)!),
    repoint: [...mergedInto.keys()]
      .filter((id) => existed.has(id))
      .map((id) => ({ from: id, to: finalRoot(id) })),
    merges,
  };
}
