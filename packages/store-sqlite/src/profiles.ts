/**
 * Identity on SQLite: profiles, their identifiers and merge history. The merge rules are core's
 * (`planLink`); this module loads what a link touches and applies the plan, in one BEGIN IMMEDIATE
 * transaction per call (which also orders processes sharing the file).
 */
import {
  type IdentifierKind,
  planLink,
  type StoredIdentifier,
  type StoredProfile,
} from '@openpipes/core/identity';
import type { ProfileMethods, SqliteTables } from '@openpipes/core/store-kit';
import type { ExpressionBuilder } from 'kysely';
import type { SqliteContext } from './connection.js';

/** SQLite's limit on bound parameters is far above this; chunks keep statements small and cached. */
const CHUNK = 200;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** The store's identity methods. */
export function profileMethods({ qb, all, first, run, tx }: SqliteContext): ProfileMethods {
  const ownersOf = (refs: Array<{ kind: string; key: string }>): string[] => {
    const ids = new Set<string>();
    for (const part of chunks(refs)) {
      const rows = all(
        qb
          .selectFrom('profile_identifiers')
          .select('profile_id')
          .where((eb) => eb.or(part.map((r) => eb.and([eb('kind', '=', r.kind), eb('key', '=', r.key)])))),
      );
      for (const row of rows) ids.add(row.profile_id);
    }
    return [...ids];
  };

  const load = (ids: string[]): StoredProfile[] => {
    if (ids.length === 0) return [];
    const profiles = new Map<string, StoredProfile>();
    for (const part of chunks(ids)) {
      for (const p of all(qb.selectFrom('profiles').selectAll().where('id', 'in', part))) {
        profiles.set(p.id, {
          id: p.id,
          created_at: p.created_at,
          last_seen_at: p.last_seen_at,
          ip: p.ip,
          user_agent: p.user_agent,
          identifiers: [],
        });
      }
      const rows = all(qb.selectFrom('profile_identifiers').selectAll().where('profile_id', 'in', part));
      for (const r of rows) {
        profiles.get(r.profile_id)?.identifiers.push({
          kind: r.kind as IdentifierKind,
          key: r.key,
          value: r.value,
          first_seen_at: r.first_seen_at,
          last_seen_at: r.last_seen_at,
        });
      }
    }
    return [...profiles.values()];
  };

  const insertIdentifiers = (
    profileId: string,
    identifiers: Array<Omit<StoredIdentifier, 'last_seen_at'>>,
    now: string,
  ) => {
    for (const i of identifiers) {
      run(
        qb
          .insertInto('profile_identifiers')
          .values({
            kind: i.kind,
            key: i.key,
            profile_id: profileId,
            value: i.value,
            first_seen_at: i.first_seen_at,
            last_seen_at: now,
          })
          .onConflict((oc) => oc.doNothing()),
      );
    }
  };

  return {
    async linkProfiles({ links, caps, newId, now }) {
      return tx(() =>
        links.map((link) => {
          if (link.identifiers.length === 0) return null;
          const seenAt = link.seen_at;
          const plan = planLink(link, load(ownersOf(link.identifiers)), caps, newId);
          for (const p of plan.create) {
            run(
              qb.insertInto('profiles').values({
                id: p.id,
                merged_into: null,
                created_at: seenAt,
                last_seen_at: seenAt,
                ip: null,
                user_agent: null,
              }),
            );
            insertIdentifiers(p.id, p.identifiers, seenAt);
          }
          if (plan.merge.length > 0) {
            run(
              qb
                .updateTable('profile_identifiers')
                .set({ profile_id: plan.survivor })
                .where('profile_id', 'in', plan.merge),
            );
            run(
              qb
                .updateTable('profiles')
                .set({ merged_into: plan.survivor })
                .where((eb) => eb.or([eb('id', 'in', plan.merge), eb('merged_into', 'in', plan.merge)])),
            );
            for (const merged of plan.merge) {
              run(
                qb
                  .insertInto('profile_merges')
                  .values({ merged_id: merged, survivor_id: plan.survivor, merged_at: now }),
              );
            }
          }
          insertIdentifiers(plan.survivor, plan.add, seenAt);
          for (const s of plan.seen) {
            run(
              qb
                .updateTable('profile_identifiers')
                .set({ last_seen_at: seenAt })
                .where('kind', '=', s.kind)
                .where('key', '=', s.key)
                .where('last_seen_at', '<', seenAt),
            );
          }
          const survivor = first(
            qb.selectFrom('profiles').select(['last_seen_at']).where('id', '=', plan.survivor),
          );
          if (survivor && survivor.last_seen_at <= seenAt) {
            run(
              qb
                .updateTable('profiles')
                .set({
                  last_seen_at: seenAt,
                  ...(link.ip ? { ip: link.ip } : {}),
                  ...(link.user_agent ? { user_agent: link.user_agent } : {}),
                })
                .where('id', '=', plan.survivor),
            );
          }
          return plan.survivor;
        }),
      );
    },

    async findProfiles({ identifiers }) {
      if (identifiers.length === 0) return [];
      return load(ownersOf(identifiers));
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
        for (const part of chunks(ids)) {
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
