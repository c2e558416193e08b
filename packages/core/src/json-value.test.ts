import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  findUnstorableJson,
  isStorableText,
  isVouchedStorableList,
  jsonIssueMessages,
  locateUnstorableJson,
  markEngineIngest,
  maxJsonDepth,
  vouchStorableList,
} from './json-value.js';
import { seededRandom } from './testing/helpers.js';
import { parseOrThrow } from './validation.js';

describe('findUnstorableJson', () => {
  it('accepts JSON every store keeps as given: text with astral characters, -0, big and tiny numbers', () => {
    const value = JSON.parse(
      '{"emoji":"\\ud83d\\ude00 ok","zero":-0,"big":12345678901234567890,"tiny":1e-400,"max":1.7976931348623157e308,"list":[null,true,"é",{"k":[]}]}',
    );
    expect(findUnstorableJson(value)).toBeNull();
    // A Date is read the way JSON.stringify reads it (toJSON), undefined members are dropped.
    expect(findUnstorableJson({ at: new Date(0), skipped: undefined })).toBeNull();
  });

  it.each([
    ['1e400 (Infinity)', JSON.parse('{"a":{"revenue":1e400}}'), 'a.revenue', jsonIssueMessages.nonFinite],
    ['-1e400', JSON.parse('[0,-1e400]'), '[1]', jsonIssueMessages.nonFinite],
    ['NaN from code', { n: Number.NaN }, 'n', jsonIssueMessages.nonFinite],
    ['\\ud800 in a value', JSON.parse('{"name":"x\\ud800"}'), 'name', jsonIssueMessages.surrogate],
    ['\\udc00 alone', JSON.parse('{"l":["\\udc00"]}'), 'l[0]', jsonIssueMessages.surrogate],
    ['swapped pair \\udc00\\ud800', JSON.parse('"\\udc00\\ud800"'), '(root)', jsonIssueMessages.surrogate],
    ['\\ud800 in a key', JSON.parse('{"p":{"\\ud800":1}}'), 'p.\ud800', jsonIssueMessages.surrogateKey],
    ['NUL in a value', { a: 'x\u0000y' }, 'a', jsonIssueMessages.nul],
    ['NUL in a key', { 'k\u0000': 1 }, 'k\u0000', jsonIssueMessages.nulKey],
    ['a bigint', { id: 10n }, 'id', jsonIssueMessages.notJson],
    ['a function', { f: () => 1 }, 'f', jsonIssueMessages.notJson],
  ])('refuses %s, with its path', (_name, value, path, message) => {
    expect(findUnstorableJson(value)).toEqual({ path, message });
  });

  it('refuses a cycle but accepts the same object twice', () => {
    const shared = { a: 1 };
    expect(findUnstorableJson({ x: shared, y: [shared, shared] })).toBeNull();
    const cyclic: Record<string, unknown> = { a: { b: {} } };
    (cyclic.a as { b: Record<string, unknown> }).b.back = cyclic;
    expect(findUnstorableJson(cyclic)).toEqual({ path: 'a.b.back', message: jsonIssueMessages.cycle });
  });

  it('finds a cycle where it first closes, not after walking the cycle round to the depth limit', () => {
    // The quick walk once followed a cycle round until the depth limit told it to give up, reading
    // every earlier sibling again on each lap (512 times): a big payload beside a self-reference
    // took 30x as long to refuse. A getter counts the reads: once by each walk, no more.
    let reads = 0;
    const value: Record<string, unknown> = {};
    Object.defineProperty(value, 'data', {
      enumerable: true,
      get: () => {
        reads++;
        return 'x';
      },
    });
    value.self = value;
    expect(findUnstorableJson(value)).toEqual({ path: 'self', message: jsonIssueMessages.cycle });
    expect(reads).toBeLessThanOrEqual(2);
    // A cycle further down, through an array.
    reads = 0;
    const inner: unknown[] = [];
    inner.push(value, { up: inner });
    const outer = { list: inner };
    expect(findUnstorableJson(outer)).toEqual(locateUnstorableJson(outer));
    expect(reads).toBeLessThanOrEqual(4);
  });

  it('refuses nesting past the limit without using the call stack (100 000 levels)', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableJson(deep)?.message).toBe(jsonIssueMessages.depth);
    let fits: unknown = 1;
    for (let i = 0; i < maxJsonDepth; i++) fits = { x: fits };
    expect(findUnstorableJson(fits)).toBeNull();
  });

  it('answers as the locating walk does over 5,000 generated values, storable and not', () => {
    // Seeded, so a failure repeats.
    const { random, pick } = seededRandom(14);
    // Mostly good text, now and then a NUL or a lone surrogate (high, low or swapped).
    const text = () =>
      random() < 0.9
        ? pick(['', 'a', 'é', 'x y', '\ud83d\ude00', 'page_url'])
        : pick(['\u0000', 'x\ud800', '\udc00', '\udc00\ud800']);
    const leaf = (): unknown =>
      pick([
        () => text(),
        () => (random() < 0.9 ? random() * 1000 : pick([Number.POSITIVE_INFINITY, Number.NaN, -0])),
        () => pick([true, false, null, undefined]),
        () => {
          // toJSON answers the same on every call (both walks call it).
          const json = pick(['ok', '\u0000', 1]);
          return random() < 0.5 ? new Date(0) : { toJSON: () => json };
        },
        () => (random() < 0.95 ? 'plain' : pick<unknown>([10n, Symbol('s'), () => 1])),
      ])();
    const value = (depth: number): unknown => {
      if (depth > 4 || random() < 0.3) return leaf();
      const size = Math.floor(random() * 5);
      if (random() < 0.4) return Array.from({ length: size }, () => value(depth + 1));
      const object: Record<string, unknown> = {};
      for (let i = 0; i < size; i++) object[random() < 0.95 ? `k${i}` : `${text()}${i}`] = value(depth + 1);
      return object;
    };
    const cases: unknown[] = [];
    for (let n = 0; n < 5_000; n++) {
      const v = value(0);
      // Now and then a shared object or a cycle.
      if (v && typeof v === 'object' && !Array.isArray(v) && random() < 0.1) {
        (v as Record<string, unknown>).again = random() < 0.5 ? { ...v } : v;
      }
      cases.push(v);
    }
    // Depth around the limit, as arrays and as objects.
    for (const levels of [maxJsonDepth - 1, maxJsonDepth, maxJsonDepth + 1]) {
      let array: unknown = 1;
      let object: unknown = 'x';
      for (let i = 0; i < levels; i++) {
        array = [array];
        object = { x: object };
      }
      cases.push(array, object);
    }
    let problems = 0;
    for (const v of cases) {
      const expected = locateUnstorableJson(v);
      if (expected) problems++;
      expect(findUnstorableJson(v)).toEqual(expected);
    }
    // Both kinds of answer are exercised.
    expect(problems).toBeGreaterThan(500);
    expect(problems).toBeLessThan(cases.length - 500);
  });

  it('tells storable text from text no store keeps', () => {
    expect(isStorableText('web-shop_1 ✓ \ud83d\ude00')).toBe(true);
    expect(isStorableText('a\u0000')).toBe(false);
    expect(isStorableText('\ud800')).toBe(false);
  });
});

describe('parseOrThrow', () => {
  it('refuses unstorable JSON before the schema sees it, naming the path', () => {
    const schema = z.object({ name: z.string() });
    expect(() => parseOrThrow(schema, { name: '\ud800' }, 'thing')).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_FAILED',
        details: { issues: [{ path: 'name', message: jsonIssueMessages.surrogate }] },
      }),
    );
  });

  it('names each unknown key of a strict object at its own path', () => {
    const schema = z.strictObject({ enabled: z.boolean().optional(), nested: z.strictObject({}).optional() });
    let caught: unknown;
    try {
      parseOrThrow(schema, { enbled: false, nested: { x: 1 } }, 'toggle');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'VALIDATION_FAILED' });
    const issues = (caught as { details: { issues: Array<{ path: string; message: string }> } }).details
      .issues;
    expect(issues.map((i) => i.path).sort()).toEqual(['enbled', 'nested.x']);
    for (const issue of issues) expect(issue.message).toContain('unknown field');
    expect((caught as Error).message).toContain('enbled');
  });
});

describe('vouchStorableList', () => {
  it('marks a list only when its checks went as deep as ingest’s own, for an engine’s own ingest', () => {
    const ingest = () => {};
    markEngineIngest(ingest);
    const checked = [{ a: 1 }];
    const shallow = [{ a: 1 }];
    const wrapped = [{ a: 1 }];
    vouchStorableList(checked, 32, ingest);
    vouchStorableList(shallow, maxJsonDepth + 1, ingest);
    // Another ingest (an embedder's wrapper of the engine's) may change the events first.
    vouchStorableList(wrapped, 32, () => {});
    expect(isVouchedStorableList(checked)).toBe(true);
    expect(isVouchedStorableList(shallow)).toBe(false);
    expect(isVouchedStorableList(wrapped)).toBe(false);
    expect(isVouchedStorableList([...checked])).toBe(false);
    expect(isVouchedStorableList(checked[0])).toBe(false);
  });
});
