/**
 * Identity on PostgreSQL: profiles, their identifiers and merge history. The merge rules are core's
 * (`planLink`); this module loads what a link touches and applies the plan. Every `linkProfiles` call
 * is one transaction holding the schema's identity advisory lock, so two processes linking the same
 * identifiers at once apply their plans one after the other and end in one profile (a lock per
 * identifier would not do: a merge moves identifiers no link named).
 */
import {
  type IdentifierKind,
  planLink,
  type StoredIdentifier,
  type StoredProfile,
} from '@openpipes/core/identity';
import { isoTime, type PostgresTables, type ProfileMethods } from '@openpipes/core/store-kit';
import { type ExpressionBuilder, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';

type Trx = Transaction<PostgresTables>;

/** The store's identity methods. */
export function profileMethods({ q, guard, tx, schema }: PgContext): ProfileMethods {
  const ownersOf = async (
    trx: Trx | undefined,
    refs: Array<{ kind: string; key: string }>,
  ): Promise<string[]> => {
    if (refs.length === 0) return [];
    const rows = await q(trx)
      .selectFrom('profile_identifiers')
      .select('profile_id')
      .distinct()
      .where((eb) =>
        eb(
          eb.refTuple('kind', 'key'),
          'in',
          refs.map((r) => eb.tuple(r.kind, r.key)),
        ),
      )
      .execute();
    return rows.map((r) => r.profile_id);
  };

  const load = async (trx: Trx | undefined, ids: string[]): Promise<StoredProfile[]> => {
    if (ids.length === 0) return [];
    const profiles = new Map<string, StoredProfile>();
    const rows = await q(trx).selectFrom('profiles').selectAll().where('id', 'in', ids).execute();
    for (const p of rows) {
      profiles.set(p.id, {
        id: p.id,
        created_at: isoTime(p.created_at),
        last_seen_at: isoTime(p.last_seen_at),
        ip: p.ip,
        user_agent: p.user_agent,
        identifiers: [],
      });
    }
    const identifiers = await q(trx)
      .selectFrom('profile_identifiers')
      .select((eb) => [
        'kind',
        'key',
        'profile_id',
        eb.cast<string>('value', 'text').as('value'),
        'first_seen_at',
        'last_seen_at',
      ])
      .where('profile_id', 'in', ids)
      .execute();
    for (const r of identifiers) {
      profiles.get(r.profile_id)?.identifiers.push({
        kind: r.kind as IdentifierKind,
        key: r.key,
        value: r.value,
        first_seen_at: isoTime(r.first_seen_at),
        last_seen_at: isoTime(r.last_seen_at),
      });
    }
    return [...profiles.values()];
  };

  const insertIdentifiers = async (
    trx: Trx,
    profileId: string,
    identifiers: Array<Omit<StoredIdentifier, 'last_seen_at'>>,
    seenAt: string,
  ) => {
    if (identifiers.length === 0) return;
    await q(trx)
      .insertInto('profile_identifiers')
      .values(
        identifiers.map((i) => ({
          kind: i.kind,
          key: i.key,
          profile_id: profileId,
          value: i.value,
          first_seen_at: i.first_seen_at,
          last_seen_at: seenAt,
        })),
      )
      .onConflict((oc) => oc.columns(['kind', 'key']).doNothing())
      .execute();
  };

  return {
    linkProfiles: ({ links, caps, newId, now }) =>
      guard(() =>
        tx(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext(${`openpipes:identity:${schema}`}))`.execute(trx);
          const out: Array<string | null> = [];
          for (const link of links) {
            if (link.identifiers.length === 0) {
              out.push(null);
              continue;
            }
            const seenAt = link.seen_at;
            if (link.event_ref) {
              const eventRef = link.event_ref;
              await q(trx)
                .insertInto('event_identifiers')
                .values(link.identifiers.map((i) => ({ kind: i.kind, key: i.key, event_ref: eventRef })))
                .onConflict((oc) => oc.doNothing())
                .execute();
            }
            const plan = planLink(link, await load(trx, await ownersOf(trx, link.identifiers)), caps, newId);
            for (const p of plan.create) {
              await q(trx)
                .insertInto('profiles')
                .values({
                  id: p.id,
                  merged_into: null,
                  created_at: seenAt,
                  last_seen_at: seenAt,
                  ip: null,
                  user_agent: null,
                })
                .execute();
              await insertIdentifiers(trx, p.id, p.identifiers, seenAt);
            }
            if (plan.merge.length > 0) {
              await q(trx)
                .updateTable('profile_identifiers')
                .set({ profile_id: plan.survivor })
                .where('profile_id', 'in', plan.merge)
                .execute();
              await q(trx)
                .updateTable('profiles')
                .set({ merged_into: plan.survivor })
                .where((eb) => eb.or([eb('id', 'in', plan.merge), eb('merged_into', 'in', plan.merge)]))
                .execute();
              await q(trx)
                .insertInto('profile_merges')
                .values(
                  plan.merge.map((merged) => ({
                    merged_id: merged,
                    survivor_id: plan.survivor,
                    merged_at: now,
                  })),
                )
                .execute();
            }
            await insertIdentifiers(trx, plan.survivor, plan.add, seenAt);
            if (plan.seen.length > 0) {
              await q(trx)
                .updateTable('profile_identifiers')
                .set({ last_seen_at: seenAt })
                .where((eb) =>
                  eb(
                    eb.refTuple('kind', 'key'),
                    'in',
                    plan.seen.map((s) => eb.tuple(s.kind, s.key)),
                  ),
                )
                .where('last_seen_at', '<', seenAt)
                .execute();
            }
            await q(trx)
              .updateTable('profiles')
              .set({
                last_seen_at: seenAt,
                ...(link.ip ? { ip: link.ip } : {}),
                ...(link.user_agent ? { user_agent: link.user_agent } : {}),
              })
              .where('id', '=', plan.survivor)
              .where('last_seen_at', '<=', seenAt)
              .execute();
            out.push(plan.survivor);
          }
          return out;
        }),
      ),

    findProfiles: ({ identifiers }) =>
      guard(async () => load(undefined, await ownersOf(undefined, identifiers))),

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
        return tx(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext(${`openpipes:identity:${schema}`}))`.execute(trx);
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
