/**
 * `timestamptz` values read as the engine's ISO strings, for the store's own pool. node-postgres
 * parses each into a `Date` (a regular expression and a `Date.UTC`) and the store turns it back
 * into a string with `toISOString()`: two allocations and two conversions per time column per row,
 * 4% of the server's CPU end to end (every claimed delivery carries six times, every stitched
 * identifier two). PostgreSQL sends them in UTC as text (`2026-12-07 02:26:56.664+00` with
 * DateStyle ISO and TimeZone UTC), which rearranges into the ISO form without parsing; anything
 * else (another session time zone, another DateStyle, BC, infinity) goes to node-postgres' parser,
 * and `isoTime` reads the `Date` as before. A pool the caller passes keeps its own parsers.
 */
import pg from 'pg';

/** node-postgres' type id of `timestamptz`. */
const timestamptzOid = 1184;
const parseTimestamptz = pg.types.getTypeParser(timestamptzOid, 'text') as (text: string) => Date;

/**
 * The ISO string of a `timestamptz` text in UTC (milliseconds, truncated as `Date` does), or the
 * `Date` node-postgres makes of any other text.
 *
 * @example
 * ```ts
 * timestamptzValue('2026-12-07 02:26:56.66+00'); // '2026-12-07T02:26:56.660Z'
 * timestamptzValue('2026-12-07 03:26:56+01'); // a Date (2026-12-07T02:26:56.000Z)
 * ```
 */
export function timestamptzValue(text: string): string | Date {
  const n = text.length;
  // 'YYYY-MM-DD HH:MM:SS' then '+00', or a fraction of 1 to 6 digits then '+00'.
  if (
    n >= 22 &&
    n <= 29 &&
    text.charCodeAt(4) === 45 /* - */ &&
    text.charCodeAt(10) === 32 /* space */ &&
    text.charCodeAt(n - 3) === 43 /* + */ &&
    text.charCodeAt(n - 2) === 48 /* 0 */ &&
    text.charCodeAt(n - 1) === 48 /* 0 */
  ) {
    const date = text.slice(0, 10);
    const time = text.slice(11, 19);
    if (n === 22) return `${date}T${time}.000Z`;
    if (text.charCodeAt(19) === 46 /* . */) {
      const fraction = text.slice(20, n - 3);
      if (/^\d+$/.test(fraction)) return `${date}T${time}.${`${fraction}00`.slice(0, 3)}Z`;
    }
  }
  return parseTimestamptz(text);
}

/** The type parsers of the store's own pool: node-postgres' own, but for `timestamptz`. */
export const storeTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === timestamptzOid && format !== 'binary'
      ? timestamptzValue
      : (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format),
};
