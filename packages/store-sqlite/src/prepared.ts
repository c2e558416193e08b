/**
 * SQL text for the hottest paths (ingest, outcomes), checked against the table declaration.
 *
 * Those statements stay raw better-sqlite3 prepared statements with positional parameters: building
 * them with kysely per row costs its compile every time, and even a statement compiled once with
 * named placeholders (laying each row's values out by name) cost ~5 µs more CPU per ingested event
 * than positional arguments (bench/ingest.bench.mjs, cpu_us_per_event 24 → 33). Their table and
 * column names go through {@link columnsOf}, so a renamed or misspelt column is still a compile
 * error; the arguments follow the order the columns are named in.
 */
import type { SqliteTables } from '@openpipes/core/store-kit';

/**
 * Names columns of `table` for SQL text: `columnsOf('events')('id', 'source_id')` is `id, source_id`,
 * and a column the declaration does not have does not compile.
 *
 * @example
 * ```ts
 * const E = columnsOf('events');
 * const text = `INSERT INTO events (${E('id', 'source_id')}) VALUES (?, ?)`;
 * ```
 */
export const columnsOf =
  <T extends keyof SqliteTables>(_table: T) =>
  <C extends keyof SqliteTables[T] & string>(...names: C[]): string =>
    names.join(', ');
