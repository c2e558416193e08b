import { describe, expect, it } from 'vitest';
import { BjsonReader, BjsonUnsupported, encodeBjson } from './bjson.js';

describe('bjson host codec', () => {
  it('round-trips JSON data', () => {
    const value = {
      s: 'plain',
      l: 'latin1 é',
      w: 'wide € 😀',
      n: [0, 1, -1, 2147483647, -2147483648, 2147483648, 1.25, -0.5, 1e300],
      b: [true, false, null],
      o: { '0': 'index', nested: { list: [{}, []] }, '': 'empty key' },
    };
    expect(new BjsonReader(encodeBjson(value)).value()).toEqual(value);
  });

  it('follows JSON.stringify rules when encoding', () => {
    const decoded = new BjsonReader(
      encodeBjson({ u: undefined, f: () => 1, nan: Number.NaN, d: new Date(0), a: [undefined] }),
    ).value();
    expect(decoded).toEqual({ nan: null, d: '1970-01-01T00:00:00.000Z', a: [null] });
  });

  it('drops prototype-reaching keys when reading', () => {
    const evil = JSON.parse('{"__proto__":{"x":1},"constructor":{"prototype":{"y":1}},"ok":true}');
    const decoded = new BjsonReader(encodeBjson(evil)).value() as Record<string, unknown>;
    expect(Object.keys(decoded)).toEqual(['ok']);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('refuses tags it does not know', () => {
    expect(() => new BjsonReader(new Uint8Array([5, 0, 0x0a, 1, 1])).value()).toThrow(BjsonUnsupported);
    expect(() => new BjsonReader(new Uint8Array([9, 0])).value()).toThrow(BjsonUnsupported);
  });
});
