import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findUnstorableJson, isStorableText, jsonIssueMessages, maxJsonDepth } from './json-value.js';
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

  it('refuses nesting past the limit without using the call stack (100 000 levels)', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableJson(deep)?.message).toBe(jsonIssueMessages.depth);
    let fits: unknown = 1;
    for (let i = 0; i < maxJsonDepth; i++) fits = { x: fits };
    expect(findUnstorableJson(fits)).toBeNull();
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
