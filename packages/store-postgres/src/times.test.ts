import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { timestamptzValue } from './times.js';

const nodePostgres = pg.types.getTypeParser(1184, 'text') as (text: string) => Date;
/** What the store made of a time before: node-postgres' Date, as an ISO string. */
const before = (text: string) => nodePostgres(text).toISOString();
const iso = (v: string | Date) => (v instanceof Date ? v.toISOString() : v);

describe('timestamptzValue', () => {
  it('rearranges UTC text into the same ISO string as a parsed Date, without a Date', () => {
    for (const text of [
      '2026-12-07 02:26:56.664+00',
      '2026-12-07 02:26:56+00',
      '2026-12-07 02:26:56.6+00',
      '2026-12-07 02:26:56.66+00',
      '2026-12-07 02:26:56.664999+00',
      '2000-01-01 00:00:00.001+00',
      '1970-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999+00',
    ]) {
      const value = timestamptzValue(text);
      expect(typeof value, text).toBe('string');
      expect(value, text).toBe(before(text));
    }
  });

  it('leaves every other text to node-postgres: offsets, BC, infinity, five-digit years', () => {
    for (const text of [
      '2026-12-07 03:26:56.664+01',
      '2026-12-07 08:11:56.664+05:45',
      '2026-12-06 21:26:56-05',
      '0044-03-15 12:00:00+00 BC',
      '12026-12-07 02:26:56+00',
    ]) {
      const value = timestamptzValue(text);
      expect(value, text).toBeInstanceOf(Date);
      expect(iso(value), text).toBe(before(text));
    }
    expect(timestamptzValue('infinity')).toEqual(nodePostgres('infinity'));
  });
});
