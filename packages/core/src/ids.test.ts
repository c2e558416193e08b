import { describe, expect, it } from 'vitest';
import { idAtTime, idTime, isId, newId } from './ids.js';

describe('newId', () => {
  it('makes prefixed ULIDs that sort in creation order, also within one millisecond', () => {
    const now = Date.parse('2026-05-04T10:14:22.481Z');
    const ids = Array.from({ length: 2000 }, (_, i) => newId('delivery', now + Math.floor(i / 500)));
    expect(ids.every((id) => isId('delivery', id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(idTime(ids[0]!)).toBe(now);
    expect(idTime(ids[1999]!)).toBe(now + 3);
  });

  it('keeps the time it was given, even when a clock goes back', () => {
    const later = Date.parse('2026-05-04T10:00:01.000Z');
    const earlier = Date.parse('2026-05-04T10:00:00.000Z');
    const a = newId('event', later);
    const b = newId('event', earlier);
    expect(idTime(a)).toBe(later);
    expect(idTime(b)).toBe(earlier);
    expect(b < a).toBe(true);
  });

  it('finds the first id at a time, for time-range cursors', () => {
    const t = Date.parse('2030-01-01T00:00:00.000Z');
    const id = newId('event', t);
    expect(idAtTime('event', t) <= id).toBe(true);
    expect(idAtTime('event', t + 1) > id).toBe(true);
    expect(idTime(idAtTime('event', t))).toBe(t);
  });

  it('clamps a time ids cannot encode: before 1970 is before every id, NaN too', () => {
    const first = newId('delivery', 0);
    for (const time of [-1, Date.parse('0000-01-01T00:00:00Z'), Number.NaN, -Infinity]) {
      const bound = idAtTime('delivery', time);
      expect(bound).toBe('evd_00000000000000000000000000');
      expect(bound <= first).toBe(true);
    }
    const last = idAtTime('delivery', Infinity);
    expect(idTime(last)).toBe(2 ** 48 - 1);
    expect(last > newId('delivery', Date.parse('9999-12-31T23:59:59Z'))).toBe(true);
  });
});
