import { describe, expect, it } from 'vitest';
import { decodeUtf8, locateSyntaxError, parseJson } from './json.js';

function refusal(text: string, maxDepth = 32) {
  try {
    parseJson(text, maxDepth);
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('parseJson accepted the input');
}

describe('parseJson', () => {
  it('parses valid JSON, including escapes and unicode', () => {
    expect(parseJson('{"a":[1,-2.5e3,true,null,"x\\n\\u00e9"]}', 32)).toEqual({
      a: [1, -2500, true, null, 'x\né'],
    });
  });

  it.each([
    ['{"a":}', 5, 'unexpected character where a value was expected'],
    ['{"a":1', 6, 'unexpected end of input'],
    ['[1,2,]', 5, 'unexpected character where a value was expected'],
    ['{"a" 1}', 5, "expected ':' after a property name"],
    ['{a:1}', 1, 'expected a property name in double quotes'],
    ['"abc', 4, 'unexpected end of input'],
    ['{"a":1} x', 8, 'unexpected content after the JSON value'],
    ['["\u0001"]', 2, 'unescaped control character in a string'],
    ['["\\x"]', 2, 'invalid escape in a string'],
    ['[01]', 2, "expected ',' or ']'"],
    ['tru', 0, 'unexpected character where a value was expected'],
    ['', 0, 'unexpected end of input'],
  ])('locates the error in %j at position %i', (text, position, reason) => {
    expect(locateSyntaxError(text)).toEqual({ position, reason });
    const error = refusal(text);
    expect(error.code).toBe('INVALID_JSON');
    expect(error.details).toMatchObject({ position, reason });
  });

  it.each([
    ['{"a":1e400}', 'a'],
    ['{"a":[0,-1E+999]}', 'a[1]'],
    ['{"a":1.5e0309}', 'a'],
    [`{"a":${'9'.repeat(400)}}`, 'a'],
    // Past a double by its digits and a short exponent together (neither alone is long).
    [`{"a":${'9'.repeat(250)}e60}`, 'a'],
    [`{"a": [1, -${'9'.repeat(300)}.5e9]}`, 'a[1]'],
    [`{"a":\n${'2'.repeat(210)}e99}`, 'a'],
    ['1e400', '(root)'],
    ['[[[{"x":[1,2,{"y":1e999}]}]]]', '[0][0][0].x[2].y'],
    // The first problem in the body's order, whichever kind it is.
    ['{"a":"\\u0000","b":1e400}', 'a'],
    ['{"a":1e400,"b":"\\u0000"}', 'a'],
    ['{"a":"caf\\u00e9","b":"\\ud800"}', 'b'],
    ['{"a":"x\\uD800"}', 'a'],
    ['{"a":"\\udfff"}', 'a'],
    ['{"a":{"\\udbff\\ud800":1}}', 'a.\udbff\ud800'],
    ['["\\u0000"]', '[0]'],
  ])('refuses %s with VALIDATION_FAILED at its path', (text, path) => {
    const error = refusal(text);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toMatchObject({ issues: [{ path }] });
  });

  it('keeps surrogate pairs, tiny numbers, -0 and big integers (as JSON.parse reads them)', () => {
    expect(parseJson('{"e":"\\ud83d\\ude00","t":1e-400,"z":-0,"b":12345678901234567890}', 32)).toEqual({
      e: '\ud83d\ude00',
      t: 0,
      z: -0,
      b: 12345678901234567000,
    });
  });

  it('never quotes the input in its message (a body may hold a secret)', () => {
    const error = refusal('{"key":"K","value":"sk-live-secret-value-123","x":}');
    expect(error.message).not.toContain('sk-live');
    expect(JSON.stringify(error.details)).not.toContain('sk-live');
  });

  it('counts lines and columns', () => {
    expect(refusal('{\n  "a": 1,\n  "b": }').details).toMatchObject({ line: 3, column: 8, position: 19 });
  });

  it('refuses nesting deeper than the limit, naming where', () => {
    expect(parseJson(`${'['.repeat(32)}${']'.repeat(32)}`, 32)).toBeInstanceOf(Array);
    const error = refusal(`{"a":${'['.repeat(32)}${']'.repeat(32)}}`);
    expect(error.code).toBe('NESTING_TOO_DEEP');
    expect(error.details.path).toBe(`a${'[0]'.repeat(31)}`);
  });

  it('survives a body nested 500,000 levels deep', () => {
    const error = refusal(`${'['.repeat(500_000)}${']'.repeat(500_000)}`);
    expect(error.code).toBe('NESTING_TOO_DEEP');
  });

  it('refuses NUL bytes and \\u0000 escapes, but not an escaped backslash before u0000', () => {
    expect(refusal('["a\u0000"]')).toMatchObject({ code: 'INVALID_JSON', details: { position: 3 } });
    expect(refusal('{"a":{"b":"x\\u0000"}}')).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'a.b' }] },
    });
    expect(refusal('{"k\\u0000":1}').details).toMatchObject({ issues: [{ path: 'k\u0000' }] });
    expect(parseJson('["\\\\u0000"]', 32)).toEqual(['\\u0000']);
  });
});

describe('decodeUtf8', () => {
  it('drops a byte order mark and refuses invalid UTF-8', () => {
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x5b, 0x5d]))).toBe('[]');
    expect(() => decodeUtf8(new Uint8Array([0x5b, 0xff, 0x5d]))).toThrow(/not valid UTF-8/);
  });
});
