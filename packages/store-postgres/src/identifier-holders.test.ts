/**
 * The profiles holding a link's identifiers (`holdersOf`, read by every ingest that links and by the
 * dispatcher's profile lookups) are found through `profile_identifiers_pkey`, one probe per
 * identifier, whatever the table's size: joined to the identifiers, the planner hashed the whole
 * table below ~100,000 rows, so every ingest read every identifier. Their rows are then locked
 * through the primary key alone, not ANDed with the index of every live profile. Both in the
 * generic plan too, which the named statement keeps (named-statements.ts).
 */
import type { PostgresTables } from '@openpipes/core/store-kit';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, schemaTable } from './connection.js';
import { holdersOf, ownersLocked } from './identity-lock.js';
import { postgresAvailable, postgresUrl, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('holders', 1);
afterEach(stores.close);

/** The key of stored identifier `n` (as the bench's: ordered). */
const keyOf = (n: number) => n.toString(16).padStart(8, '0').repeat(8);

/**
 * The plan of `statement`: the custom one (its parameters' values known), or the generic one, which
 * a named statement (named-statements.ts) keeps after five custom ones: `EXPLAIN EXECUTE` of it
 * prepared, `plan_cache_mode` forced for the transaction (an `EXPLAIN` with parameters always plans
 * with their values on PostgreSQL 15).
 */
/** A text or text[] parameter as a SQL literal (EXECUTE's arguments inside EXPLAIN take no parameters). */
const literalOf = (value: unknown): string => {
  const text = Array.isArray(value)
    ? `{${value.map((v) => `"${String(v).replace(/["\\]/g, '\\$&')}"`).join(',')}}`
    : String(value);
  return `'${text.replaceAll("'", "''")}'`;
};

async function explain(db: Kysely<PostgresTables>, statement: RawBuilder<unknown>, generic: boolean) {
  return db.connection().execute(async (conn) => {
    const compiled = statement.compile(conn);
    await sql.raw(`PREPARE explained AS ${compiled.sql}`).execute(conn);
    try {
      await sql
        .raw(`BEGIN; SET LOCAL plan_cache_mode = ${generic ? 'force_generic_plan' : 'force_custom_plan'}`)
        .execute(conn);
      const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN EXECUTE explained(${sql.raw(
        compiled.parameters.map(literalOf).join(', '),
      )})`.execute(conn);
      return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await sql.raw('ROLLBACK; DEALLOCATE explained').execute(conn);
    }
  });
}

describe.skipIf(!available)('holdersOf', () => {
  it('finds the holders by index probes, not by reading the table, and finds each once', async () => {
    const { schema } = await stores.open();
    // 40,000 identifiers of 10,000 profiles, then the statistics a running deployment would have.
    await query(`INSERT INTO "${schema}".profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      SELECT k.kind, lpad(to_hex(n), 8, '0'), 'prf_' || (n / 4), 'null', now(), now()
      FROM generate_series(0, 9999) AS n, unnest(ARRAY['email', 'phone', 'fbp', 'fbc']) AS k(kind)`);
    await query(`UPDATE "${schema}".profile_identifiers SET key = repeat(key, 8)`);
    await query(`ANALYZE "${schema}".profile_identifiers`);
    // A link call of 100 events: 400 identifiers, two of them held (by one profile and another).
    const refs = Array.from({ length: 400 }, (_, i) => ({ kind: 'email', key: keyOf(20_000 + i) }));
    refs[7] = { kind: 'email', key: keyOf(12) };
    refs[9] = { kind: 'phone', key: keyOf(13) };
    refs[11] = { kind: 'fbp', key: keyOf(101) };

    const { db } = createConnection({
      connectionString: postgresUrl,
      poolSize: 1,
      applicationName: 'holders',
    });
    stores.closing(() => db.destroy());
    const T = schemaTable(schema);
    const held = await sql<{ ids: string[] }>`SELECT ${holdersOf(T, refs)} AS ids`.execute(db);
    expect([...(held.rows[0]?.ids ?? [])].sort()).toEqual(['prf_25', 'prf_3']);

    // The custom plan (the refs' values known) and the generic one a named statement keeps.
    for (const generic of [false, true]) {
      const text = await explain(db, sql`SELECT ${holdersOf(T, refs)}`, generic);
      expect(text).toContain('profile_identifiers_pkey');
      expect(text).not.toMatch(/Seq Scan on profile_identifiers/);
    }
  });

  it('locks the live holders through the primary key alone, passing over a merged one', async () => {
    const { schema } = await stores.open();
    // 20,000 live profiles, as a young deployment has them: not analyzed yet.
    await query(`INSERT INTO "${schema}".profiles (id, merged_into, created_at, last_seen_at)
      SELECT 'prf_' || n, NULL, now(), now() FROM generate_series(0, 19999) AS n`);
    await query(`UPDATE "${schema}".profiles SET merged_into = 'prf_2' WHERE id = 'prf_1'`);
    await query(`INSERT INTO "${schema}".profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      VALUES ('email', 'a', 'prf_1', 'null', now(), now()), ('email', 'b', 'prf_2', 'null', now(), now())`);
    const refs = [
      { kind: 'email', key: 'a' },
      { kind: 'email', key: 'b' },
      { kind: 'email', key: 'c' },
    ];

    const { db } = createConnection({
      connectionString: postgresUrl,
      poolSize: 1,
      applicationName: 'holders',
    });
    stores.closing(() => db.destroy());
    const T = schemaTable(schema);
    const { rows } = await db.transaction().execute((trx) => ownersLocked(T, refs).execute(trx));
    expect([...(rows[0]?.owners ?? [])].sort()).toEqual(['prf_1', 'prf_2']);
    expect(rows[0]?.locked).toEqual(['prf_2']);

    for (const generic of [false, true]) {
      const text = await explain(db, ownersLocked(T, refs), generic);
      expect(text).toContain('profiles_pkey');
      expect(text).not.toContain('profiles_last_seen');
    }
  });
});
