import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresAvailable, postgresUrl } from './testing.js';
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

  it('reads every fraction of 1 to 4 digits, and 5 and 6 digits on a stride, as the Date did', () => {
    // node-postgres computes the milliseconds as 1000 * parseFloat('.fff…'), which a Date truncates;
    // the rearranged text keeps the first three digits: both agree on every fraction tried (all
    // 1,111,110 of 1 to 6 digits were checked once; a stride keeps this test quick).
    for (let digits = 1; digits <= 6; digits++) {
      const stride = digits <= 4 ? 1 : digits === 5 ? 7 : 61;
      for (let i = 0; i < 10 ** digits; i += stride) {
        const text = `2026-12-07 02:26:56.${String(i).padStart(digits, '0')}+00`;
        const value = timestamptzValue(text);
        if (value !== before(text)) expect(value, text).toBe(before(text));
      }
    }
  });

  it("reads what a real PostgreSQL sends in every DateStyle and several time zones as node-postgres' Date did", async (context) => {
    if (!(await postgresAvailable())) return context.skip('no PostgreSQL at OPENPIPES_TEST_POSTGRES_URL');
    // Raw text back: each column's value as PostgreSQL wrote it.
    const client = new pg.Client({
      connectionString: postgresUrl,
      types: { getTypeParser: () => (text: string) => text },
    });
    await client.connect();
    // A Date as its ISO string (or 'Invalid Date'); infinity stays the number node-postgres makes.
    const shown = (value: unknown) =>
      value instanceof Date ? (Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()) : value;
    let fast = 0;
    try {
      for (const style of ['ISO, MDY', 'ISO, DMY', 'SQL, MDY', 'Postgres, DMY', 'German']) {
        for (const zone of [
          'UTC',
          'Europe/London',
          'Atlantic/Azores',
          'Asia/Kathmandu',
          'Africa/Monrovia',
          'Etc/GMT+12',
          'Australia/Brisbane',
        ]) {
          await client.query(`SET DateStyle = '${style}'`);
          await client.query(`SET TimeZone = '${zone}'`);
          const { rows } = await client.query<{ t: string }>(`SELECT t FROM unnest(ARRAY[
            '2026-12-07 02:26:56.664+00', '2026-07-07 02:26:56.1+00', '1800-01-01 00:00:00+00',
            '1500-06-01 12:00:00.123456+00', '0050-01-01 00:00:00+00', '0001-01-01 00:00:00+00',
            '0044-03-15 12:00:00+00 BC', '9999-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00',
            'infinity', '-infinity', '1960-01-01 00:00:00.5+00', '2000-02-29 23:59:59.9995+00'
          ]::timestamptz[]) AS t`);
          for (const { t } of rows) {
            const value = timestamptzValue(t);
            if (typeof value === 'string') fast++;
            expect(shown(value), `${style} ${zone} ${t}`).toEqual(shown(nodePostgres(t)));
          }
        }
      }
    } finally {
      await client.end();
    }
    // The UTC text of ISO style (and zones at +00) took the fast path; the rest fell back.
    expect(fast).toBeGreaterThan(20);
  });
});
