/**
 * Generated values for property tests of what crosses into the guest as JSON data: every case
 * `JSON.stringify` treats specially (toJSON with its key, undefined/functions/symbols, special
 * numbers, lone surrogates, sparse arrays, integer-like keys, boxed primitives, Dates, getters),
 * from a seed, so a failure names the value that made it.
 */

/** A small seeded PRNG (mulberry32): the same seed, the same values. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2147483647,
  -2147483648,
  2147483648,
  -2147483649,
  1.5,
  -0.25,
  1e21,
  1e-7,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];
const STRINGS = [
  '',
  'plain',
  'x'.repeat(40),
  'quote " backslash \\ slash /',
  'controls \u0000\u0001\b\f\n\r\t\u001f\u007f',
  'latin1 \u00e9\u00ff',
  'wide \u20ac \u2028\u2029',
  'pair \ud83d\ude00',
  'lone high \ud800 end',
  'lone low \udfff',
  '\udc00\ud800 reversed',
  `${'long latin1 '.repeat(3)}\ud83d`,
];
const KEYS = [
  'a',
  'b',
  '10',
  '2',
  '0',
  '-1',
  '01',
  '4294967295',
  '',
  'é',
  '\u20ac',
  '\ud800',
  '"',
  'toString',
];

/** One generated value, nested at most `depth` more levels. */
export function jsonValue(random: () => number, depth = 4): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const r = random();
  if (depth <= 0 || r < 0.35) {
    const leaf = random();
    if (leaf < 0.3) return pick(NUMBERS);
    if (leaf < 0.6) return pick(STRINGS);
    if (leaf < 0.7) return pick([true, false, null]);
    if (leaf < 0.78) return pick([undefined, () => 1, Symbol('s')]);
    if (leaf < 0.84) return new Date(pick([0, 1_700_000_000_000, Number.NaN]));
    if (leaf < 0.9) return pick([new Number(-0), new String('boxed \ud800'), new Boolean(false)]);
    return pick(STRINGS) + pick(NUMBERS);
  }
  if (r < 0.55) {
    const arr: unknown[] = [];
    const n = Math.floor(random() * 5);
    for (let i = 0; i < n; i++) arr.push(jsonValue(random, depth - 1));
    if (random() < 0.2) arr.length += 2; // holes at the end
    if (random() < 0.2) delete arr[0]; // and a hole at the start
    return arr;
  }
  if (r < 0.8) {
    const obj: Record<string, unknown> = {};
    const n = Math.floor(random() * 6);
    for (let i = 0; i < n; i++) obj[pick(KEYS)] = jsonValue(random, depth - 1);
    if (random() < 0.15) {
      const hidden = jsonValue(random, depth - 1);
      Object.defineProperty(obj, 'got', { enumerable: true, get: () => hidden });
      Object.defineProperty(obj, 'hidden', { enumerable: false, value: 1 });
    }
    return obj;
  }
  // A toJSON (on an object, an array or a function) whose answer depends on the key it is given,
  // or one answering with an object that has a toJSON of its own (not called: JSON.stringify
  // calls one per value, what it answers is written as it is).
  const inner = jsonValue(random, depth - 1);
  const asObject = random() < 0.5;
  const toJSON = (key: string) => (asObject ? { key, inner } : [key, inner, undefined]);
  const holder = pick(['object', 'array', 'function', 'undefined', 'chain']);
  if (holder === 'array') return Object.assign([1, 2], { toJSON });
  if (holder === 'function') return Object.assign(() => 1, { toJSON });
  if (holder === 'undefined') return { toJSON: () => undefined };
  if (holder === 'chain') return { toJSON: () => ({ toJSON: () => inner, kept: inner }) };
  return { ignored: 1, toJSON };
}
