/** Applies the migrations of `migrations.ts` to the store's schema, safely from many processes at once. */
import type { PostgresTables } from '@openpipes/core/store-kit';
import { type Kysely, sql } from 'kysely';
import type { PgContext } from './connection.js';
import { migrations } from './migrations.js';

/** The highest applied migration (0 when the schema or its migrations table is missing); reads only. */
export async function readMigrationStatus(
  db: Kysely<PostgresTables>,
  schema: string,
  T: PgContext['T'],
): Promise<{ applied: number; latest: number }> {
  const latest = migrations[migrations.length - 1]!.version;
  const { rows: exists } = await sql<{ table: string | null }>`
    SELECT to_regclass(${`${schema}.openpipes_migrations`})::text AS table
  `.execute(db);
  if (!exists[0]?.table) return { applied: 0, latest };
  const { rows } = await sql<{ version: number | null }>`
    SELECT max(version) AS version FROM ${T('openpipes_migrations')}
  `.execute(db);
  return { applied: rows[0]?.version ?? 0, latest };
}

/** Runs pending migrations under the schema's advisory lock, each in a transaction of its own. */
export async function runMigrations(
  db: Kysely<PostgresTables>,
  schema: string,
  T: PgContext['T'],
): Promise<void> {
  // Fast path, no lock: every process calls migrate() at start, and usually nothing is pending.
  const { applied, latest } = await readMigrationStatus(db, schema, T);
  if (applied >= latest) return;
  const lockKey = `openpipes:migrate:${schema}`;
  // One connection holds the schema's session advisory lock across every pending migration, so one
  // process applies them all while another waits and then finds nothing left to do (with only the
  // per-transaction lock, two processes could take turns: each migration still applied once, but
  // by either). Each migration also takes the transaction lock, as releases before this one did,
  // so a process running an older release still waits for this one.
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext(${lockKey}))`.execute(conn);
    try {
      for (const migration of migrations) {
        await conn.transaction().execute(async (trx) => {
          // Held until commit: a second process waits here, then finds the migration applied.
          await sql`SELECT pg_advisory_xact_lock(hashtext(${`openpipes:migrate:${schema}`}))`.execute(trx);
          await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(trx);
          await sql`
            CREATE TABLE IF NOT EXISTS ${T('openpipes_migrations')} (
              version integer PRIMARY KEY,
              name text NOT NULL,
              applied_at timestamptz NOT NULL DEFAULT now(),
              applied_by text NOT NULL
            )
          `.execute(trx);
          const { rows } = await sql`
            SELECT 1 FROM ${T('openpipes_migrations')} WHERE version = ${migration.version}
          `.execute(trx);
          if (rows.length > 0) return;
          await sql`SELECT set_config('search_path', ${schema}, true)`.execute(trx);
          await sql.raw(migration.sql).execute(trx);
          await sql`
            INSERT INTO ${T('openpipes_migrations')} (version, name, applied_by)
            VALUES (${migration.version}, ${migration.name},
              current_setting('application_name') || ' pid ' || pg_backend_pid())
          `.execute(trx);
        });
      }
    } finally {
      // A broken connection has released the lock already; only an unlock on a live one matters.
      await sql`SELECT pg_advisory_unlock(hashtext(${lockKey}))`.execute(conn).catch(() => {});
    }
  });
}
