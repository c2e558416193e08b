/**
 * The PostgreSQL store's options under `openpipes serve`, the same for the main thread's store and
 * the dispatch thread's (each opens a pool of its own on the database the settings name).
 */
import type { PostgresStoreOptions } from '@openpipes/store-postgres';

/** `openpipes serve --postgres`: where, in which schema, and whether hot statements are named. */
export interface ServePostgres {
  kind: 'postgres';
  connectionString: string;
  schema?: string;
  /**
   * false (`--no-prepared-statements`): no named (server-side prepared) statements, for a
   * transaction-pooling proxy that cannot keep them (PgBouncer before 1.21, or with
   * `max_prepared_statements = 0`, its default before 1.24).
   */
  preparedStatements?: false;
}

export function postgresStoreOptions(database: ServePostgres, applicationName: string): PostgresStoreOptions {
  return {
    connectionString: database.connectionString,
    applicationName,
    ...(database.schema ? { schema: database.schema } : {}),
    ...(database.preparedStatements === false ? { namedStatements: false } : {}),
  };
}
