/** Applies the migrations of `migrations.ts` to the store's schema, safely from many processes at once. */
import { type Kysely, sql } from 'kysely';
import type { PgContext } from './connection.js';
import { migrations } from './migrations.js';

/** The highest applied migration (0 when the schema or its migrations table is missing); reads only. */
export async function readMigrationStatus(
  db: Kysely<Record<string, never>>,
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

/** Runs pending migrations, each in a transaction holding the schema's advisory lock. */
export async function runMigrations(
  db: Kysely<Record<string, never>>,
  schema: string,
  T: PgContext['T'],
): Promise<void> {
  // Fast path, no lock: every process calls migrate() at start, and usually nothing is pending.
  const { applied, latest } = await readMigrationStatus(db, schema, T);
  if (applied >= latest) return;
  for (const migration of migrations) {
    await db.transaction().execute(async (trx) => {
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
}
