/**
 * Identity's part of the {@link Store} contract (docs/identifiers.md): profiles stitched from the
 * identifiers events carry (`packages/core/src/identity/`; each store's `profiles.ts`).
 */

import type { IdentifierKind } from '../identity/identifiers.js';
import type { IdentifierCaps, ProfileLink, StoredProfile } from '../identity/profiles.js';

/** A profile merged into another: its id and when. */
export interface ProfileMerge {
  id: string;
  merged_at: string;
}

/** An identifier as stores key it: the value (raw kinds) or its `sha256` digest (personal kinds). */
export interface IdentifierRef {
  kind: IdentifierKind;
  key: string;
}

/**
 * The identity writes of one ingest call, made by `appendEvents` in the transaction that stores its
 * events (one commit, one round trip less on PostgreSQL): the links of `linkProfiles` and the
 * withheld identifiers of `indexEventIdentifiers`, each naming the event it came from. Only those
 * of events the call stores are written (a duplicate's are dropped, as the engine never linked
 * duplicates). All or nothing: if a write fails, the call fails and stores no event either, and the
 * engine stores the events again without identity (an accepted event is never lost to identity).
 */
export interface AppendIdentity {
  /** Each with the `event_ref` of an event of the call; applied in order, as `linkProfiles` does. */
  links: ProfileLink[];
  /** Identifiers indexed for erasure only (consent withheld them from profiles). */
  index: Array<{ kind: IdentifierKind; key: string; event_ref: string }>;
  caps: IdentifierCaps;
  newId: () => string;
  now: string;
}

/** Profiles stitched from the identifiers events carry. Part of {@link Store}. */
export interface IdentityStore {
  /**
   * Links each event's identifiers, in order, in one transaction: the plan of `planLink` (core's
   * rules, so every store merges alike) applied per link. Safe when several processes link the same
   * identifiers at once: they end in one profile. Returns the profile id per link (null: it had none).
   */
  linkProfiles(input: {
    links: ProfileLink[];
    caps: IdentifierCaps;
    newId: () => string;
    now: string;
  }): Promise<Array<string | null>>;

  /** The live profiles holding any of these identifiers, each with all of its identifiers. */
  findProfiles(input: {
    identifiers: Array<{ kind: IdentifierKind; key: string }>;
  }): Promise<StoredProfile[]>;

  /** One profile by id (a merged id resolves to its survivor), with the profiles merged into it. */
  getProfile(input: { id: string }): Promise<(StoredProfile & { merged: ProfileMerge[] }) | null>;

  /** Deletes up to `limit` profiles last seen before `before`, with their identifiers and history. */
  pruneProfiles(input: { before: string; limit: number }): Promise<number>;
}
