import { describe, expect, it } from 'vitest';
import { BjsonReader, BjsonTooDeep, BjsonUnsupported, encodeBjson, encodeBjsonOrUndefined } from './bjson.js';
import { jsonValue, seededRandom } from './json-values.testing.js';

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

  it('answers undefined for a value JSON.stringify answers undefined for, its toJSON called once', () => {
    let calls = 0;
    const answersNothing = {
      toJSON: () => {
        calls++;
        return undefined;
      },
    };
    for (const value of [undefined, () => 1, Symbol('s'), answersNothing]) {
      expect(JSON.stringify(value)).toBeUndefined();
      expect(encodeBjsonOrUndefined(value)).toBeUndefined();
      // encodeBjson writes null there, as an array holds it.
      expect(new BjsonReader(encodeBjson(value)).value()).toBeNull();
    }
    // Once each: JSON.stringify, encodeBjsonOrUndefined, encodeBjson.
    expect(calls).toBe(3);
    expect(new BjsonReader(encodeBjsonOrUndefined({ toJSON: () => null })!).value()).toBeNull();
  });

  it('reuses its buffers between encodings, also when a toJSON encodes from inside one', () => {
    const inner = { toJSON: () => new BjsonReader(encodeBjson({ x: 'inner' })).value() };
    const first = encodeBjson({ a: inner, s: 'x'.repeat(100_000) });
    const second = encodeBjson({ b: 2 });
    expect(new BjsonReader(first).value()).toEqual({ a: { x: 'inner' }, s: 'x'.repeat(100_000) });
    expect(new BjsonReader(second).value()).toEqual({ b: 2 });
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

  // QuickJS writes an object it already wrote as a reference (tag 0x13) to its pre-order index.
  // [ {a: 1}, <ref 1> ] as the guest encodes it:
  const shared = new Uint8Array([5, 1, 2, 0x61, 9, 2, 8, 1, 2, 5, 2, 0x13, 1]);

  it('reads an object written twice as two independent copies', () => {
    const scan = new BjsonReader(shared).scan();
    expect(scan).toEqual({ ok: true, refs: true });
    const value = new BjsonReader(shared, { refs: true }).read() as Array<{ a: number }>;
    expect(value).toEqual([{ a: 1 }, { a: 1 }]);
    expect(value[0]).not.toBe(value[1]);
    // Without being told to expect references, the reader refuses them.
    expect(() => new BjsonReader(shared).read()).toThrow(BjsonUnsupported);
  });

  it('refuses cycles', () => {
    // [ {a: <ref 1>} ]: the object contains itself.
    const cycle = new Uint8Array([5, 1, 2, 0x61, 9, 1, 8, 1, 2, 0x13, 1]);
    expect(new BjsonReader(cycle).scan().ok).toBe(false);
    expect(() => new BjsonReader(cycle, { refs: true }).read()).toThrow(BjsonUnsupported);
  });

  it('refuses references that expand past the limit (a tiny output standing for a huge one)', () => {
    // [ ["x" * 100], [<ref 1>, <ref 1>], [<ref 2>, <ref 2>], ... ]: each level doubles.
    const levels = 40;
    const bytes = [5, 0, 9, levels + 1, 9, 1, 7, 200, 1, ...Array(100).fill(0x78)];
    for (let i = 0; i < levels; i++) bytes.push(9, 2, 0x13, i + 1, 0x13, i + 1);
    const started = performance.now();
    expect(new BjsonReader(new Uint8Array(bytes)).scan().ok).toBe(false);
    expect(() => new BjsonReader(new Uint8Array(bytes), { refs: true }).read()).toThrow(/expand past/);
    // Expanding 2^40 references would never end; refusing them is immediate. The bound only tells
    // the two apart, so it is generous (a 100 ms bound failed on a busy machine).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('counts references written out against the per-event output limit', () => {
    // entries: [ {o: ["x" * 100]}, {o: [<ref 2>, <ref 2>, <ref 2>]} ]
    const bytes = [5, 1, 2, 0x6f, 9, 2, 8, 1, 2, 9, 1, 7, 200, 1, ...Array(100).fill(0x78)];
    bytes.push(8, 1, 2, 9, 3, 0x13, 2, 0x13, 2, 0x13, 2);
    const entries = new BjsonReader(new Uint8Array(bytes), { refs: true }).entries(250);
    expect(entries[0]).toEqual({ o: ['x'.repeat(100)] });
    expect(entries[1]).toEqual({ tooLarge: expect.any(Number) });
    expect((entries[1] as { tooLarge: number }).tooLarge).toBeGreaterThan(300);
  });

  it('writes at most maxDepth levels, counting objects with a toJSON, and throws BjsonTooDeep past them (a cycle too)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => encodeBjson(deep, 514)).toThrow(BjsonTooDeep);
    let fits: unknown = 1;
    for (let i = 0; i < 514; i++) fits = { x: fits };
    expect(new BjsonReader(encodeBjson(fits, 514)).value()).toEqual(fits);
    expect(() => encodeBjson({ x: fits }, 514)).toThrow(/input nests objects or arrays deeper than 512/);
    // An object with a toJSON is a level: what it answers sits one further down.
    expect(() => encodeBjson({ toJSON: () => fits }, 514)).toThrow(BjsonTooDeep);
    // A toJSON answering with itself is called once, as JSON.stringify calls it: {} (its toJSON a function).
    const endless = { toJSON: (): unknown => endless };
    expect(new BjsonReader(encodeBjson(endless, 514)).value()).toEqual({});
    // A cycle is too deep.
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeBjson(cycle, 514)).toThrow(BjsonTooDeep);
    // The writers are reusable after a throw.
    expect(new BjsonReader(encodeBjson({ a: 1 })).value()).toEqual({ a: 1 });
  });
});

describe('encodeBjson stands for what JSON.stringify makes of a value', () => {
  it('decodes as JSON.parse(JSON.stringify(value)), keys in the same order, for generated values', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const value = jsonValue(seededRandom(seed));
      const text = JSON.stringify(value);
      if (text === undefined) continue;
      const decoded = new BjsonReader(encodeBjson(value, 514)).value();
      expect(JSON.stringify(decoded), `seed ${seed}`).toBe(text);
      expect(decoded, `seed ${seed}`).toStrictEqual(JSON.parse(text));
    }
  });

  it('writes the count of an object with many kept properties (one, two or three bytes) in front of them', () => {
    for (const size of [127, 128, 300, 20_000]) {
      const wide: Record<string, unknown> = { skipped: undefined };
      for (let i = 0; i < size; i++) wide[`k${i}`] = i % 7 === 0 ? { nested: [i, { i }] } : i;
      const value = [{ before: 1 }, wide, { after: 'x' }];
      expect(new BjsonReader(encodeBjson(value)).value()).toStrictEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  it('calls each toJSON once, with its key, and reads each property once', () => {
    const keys: string[] = [];
    let reads = 0;
    const value = {
      a: { toJSON: (key: string) => keys.push(key) },
      list: [0, { toJSON: (key: string) => keys.push(key) }],
      get counted() {
        return ++reads;
      },
    };
    expect(new BjsonReader(encodeBjson(value)).value()).toEqual({ a: 1, list: [0, 2], counted: 1 });
    expect(keys).toEqual(['a', '1']);
  });

  it('throws what JSON.stringify throws: a BigInt, a getter that throws', () => {
    const bigint = () => JSON.stringify({ n: 1n });
    expect(() => encodeBjson({ n: 1n })).toThrow(new RegExp(captureMessage(bigint)));
    expect(() => encodeBjson({ n: Object(1n) })).toThrow(TypeError);
    const boom = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('a getter that throws');
      },
    });
    expect(() => encodeBjson([boom])).toThrow('a getter that throws');
  });

  it('throws for a BigInt a toJSON answers with, even where the host gave BigInt a toJSON of its own', () => {
    // JSON.stringify calls one toJSON per value, then throws for the BigInt it answered with; an
    // encoder that asked JSON.stringify about that BigInt got the prototype's string and wrote
    // nothing, and the guest read the bytes after it as the value.
    const prototype = BigInt.prototype as { toJSON?: () => string };
    prototype.toJSON = function (this: bigint) {
      return String(this);
    };
    try {
      for (const answer of [5n, Object(5n)]) {
        const value = { a: { toJSON: () => answer }, b: 'after' };
        expect(() => JSON.stringify(value)).toThrow(TypeError);
        expect(() => encodeBjson(value)).toThrow(TypeError);
      }
    } finally {
      delete prototype.toJSON;
    }
  });

  it('unboxes a Number object as JSON.stringify does (ToNumber: its valueOf answering a BigInt throws)', () => {
    const value = [Object.assign(new Number(1), { valueOf: () => 5n })];
    expect(() => JSON.stringify(value)).toThrow(TypeError);
    expect(() => encodeBjson(value)).toThrow(TypeError);
  });

  it('asks a Proxy only what JSON.stringify asks it (no getPrototypeOf)', () => {
    const proxy = new Proxy(
      { a: 1 },
      {
        getPrototypeOf() {
          throw new Error('getPrototypeOf asked');
        },
      },
    );
    expect(new BjsonReader(encodeBjson([proxy])).value()).toEqual(JSON.parse(JSON.stringify([proxy])));
  });
});

function captureMessage(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not throw');
}
