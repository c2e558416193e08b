/**
 * `pipes.profiles`: find a person's profile by any identifier of the table (docs/identifiers.md) and
 * read it as stored: personal identifiers as digests, never raw. Search takes the identifiers in a
 * body (REST: `POST /api/profiles/search`) so a raw email never sits in a URL or an access log.
 */
import { z } from 'zod';
import { PipesError } from '../errors.js';
import type { IdentifierRef, Store } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { captureIdentifiers } from './capture.js';
import { IDENTIFIERS, type IdentifierKind, identifierSpec, isIdentifierKind } from './identifiers.js';
import { identifierRef, type StoredProfile } from './profiles.js';
import type { OfferedIdentifier } from './stitch.js';

/** A profile as the API shows it. */
export interface Profile {
  id: string;
  created_at: string;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
  /** Newest first. `value` is the raw value, or the digests of a personal identifier. */
  identifiers: Array<{
    kind: IdentifierKind;
    value: OfferedIdentifier;
    first_seen_at: string;
    last_seen_at: string;
  }>;
  /** Profiles merged into this one, oldest merge first. */
  merged: Array<{ id: string; merged_at: string }>;
}

export interface ProfilesApi {
  /** The profiles holding any of these identifiers (raw values or SHA-256 digests). */
  search(input: { identifiers: Partial<Record<IdentifierKind, string | string[]>> }): Promise<Profile[]>;
  /** One profile by id; a merged id answers its survivor. */
  get(id: string): Promise<Profile>;
}

const kinds = IDENTIFIERS.map((s) => s.kind) as [IdentifierKind, ...IdentifierKind[]];
const value = z.string().min(1).max(512);
export const profileSearchSchema = z
  .object({
    identifiers: z
      .partialRecord(z.enum(kinds), z.union([value, z.array(value).min(1).max(20)]))
      .refine((ids) => Object.keys(ids).length > 0, 'name at least one identifier'),
  })
  .strict();

/**
 * The stored keys of identifiers given as in a profile search: the same capture as ingest, with no
 * junk rules (a search for a junk value finds nothing anyway), so the keys are computed exactly as
 * they were stored. Raw values and SHA-256 digests alike.
 *
 * @example
 * ```ts
 * const refs = identifierRefs({ email: 'jane@example.com' }, { now: Date.now });
 * ```
 */
export function identifierRefs(
  identifiers: Partial<Record<IdentifierKind, string | string[]>>,
  options: { now: () => number; defaultCountry?: string },
): IdentifierRef[] {
  const payload: Record<string, unknown> = {};
  for (const [kind, given] of Object.entries(identifiers)) {
    if (!isIdentifierKind(kind)) continue;
    payload[identifierSpec(kind).field] = given;
  }
  const captured = captureIdentifiers(payload, {
    seenAt: options.now(),
    junk: { values: [], emails: [], emailDomains: [], emailLocalParts: [] },
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
  });
  const refs = new Map<string, IdentifierRef>();
  for (const i of captured.identifiers) {
    const key = i.value ?? i.hashes?.sha256;
    if (key) refs.set(identifierRef({ kind: i.kind, key }), { kind: i.kind, key });
  }
  return [...refs.values()];
}

/** A stored profile as the API shows it (with its merge history). */
export function present(p: StoredProfile, merged: Profile['merged'] = []): Profile {
  const identifiers = [...p.identifiers]
    .sort((a, b) => (a.last_seen_at < b.last_seen_at ? 1 : a.last_seen_at > b.last_seen_at ? -1 : 0))
    .map((i) => ({
      kind: i.kind,
      value: JSON.parse(i.value) as OfferedIdentifier,
      first_seen_at: i.first_seen_at,
      last_seen_at: i.last_seen_at,
    }));
  return {
    id: p.id,
    created_at: p.created_at,
    last_seen_at: p.last_seen_at,
    ip: p.ip,
    user_agent: p.user_agent,
    identifiers,
    merged,
  };
}

export function createProfilesApi(deps: {
  store: Store;
  now: () => number;
  defaultCountry?: string;
}): ProfilesApi {
  return {
    async search(input) {
      const { identifiers } = parseOrThrow(profileSearchSchema, input, 'profile search');
      const refs = identifierRefs(identifiers, deps);
      if (refs.length === 0) return [];
      const found = await deps.store.findProfiles({ identifiers: refs });
      // With each one's merge history, as `get` shows it (a handful of profiles at most).
      const full = await Promise.all(found.map((p) => deps.store.getProfile({ id: p.id })));
      return full.filter((p) => p !== null).map((p) => present(p, p.merged));
    },

    async get(id) {
      const found = typeof id === 'string' && id.length <= 64 ? await deps.store.getProfile({ id }) : null;
      if (!found)
        throw new PipesError({ code: 'NOT_FOUND', message: `profile ${String(id).slice(0, 64)} not found` });
      return present(found, found.merged);
    },
  };
}
