/**
 * Prepared statements for the hottest paths (ingest, outcomes), typed through the table
 * declaration. Each statement is built once with kysely — so its tables, columns and value types
 * are checked by the compiler like every other query — with named placeholders where a row's
 * values go; each row then runs the cached better-sqlite3 statement with its values laid out in
 * placeholder order. Building and compiling the query for every row instead costs more than the
 * insert itself (bench/ingest.bench.mjs).
 */
import type { CompiledQuery } from 'kysely';

const placeholder = Symbol('placeholder');

interface Placeholder {
  readonly [placeholder]: string;
}

/** Stands for the value named `name` (see {@link compileWithPlaceholders}). */
export type Param<P> = <K extends keyof P & string>(name: K) => P[K];

/** A statement compiled once, and how to lay out one row's values as its parameters. */
export interface PlaceholderStatement<P> {
  sql: string;
  parameters: (values: P) => unknown[];
}

/**
 * Compiles `build(param)` once. Parameters that are not placeholders (constants in the query) keep
 * their value.
 *
 * @example
 * ```ts
 * const find = compileWithPlaceholders<{ id: string }>((p) =>
 *   qb.selectFrom('events').select('id').where('id', '=', p('id')),
 * );
 * prepare(find.sql).get(...find.parameters({ id }));
 * ```
 */
export function compileWithPlaceholders<P extends object>(
  build: (param: Param<P>) => { compile(): CompiledQuery<unknown> },
): PlaceholderStatement<P> {
  const param = ((name: string): Placeholder => ({ [placeholder]: name })) as unknown as Param<P>;
  const compiled = build(param).compile();
  // Per parameter: the name of the row value it takes, or null for a constant of the query.
  const names = compiled.parameters.map(
    (value) => ((value as Partial<Placeholder> | null)?.[placeholder] as keyof P | undefined) ?? null,
  );
  const constants = compiled.parameters;
  return {
    sql: compiled.sql,
    parameters: (values) => names.map((name, i) => (name === null ? constants[i] : values[name])),
  };
}
