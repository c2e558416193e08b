/**
 * parseJson refuses a body without walking it (no escape that can be unstorable, no number the
 * depth walk saw as Infinity) or after findUnstorableJson's walk: seeded random bodies with numbers
 * that overflow a double (by exponent, by digits, both, negative) or just fit, escapes of NUL and
 * surrogates (and escaped backslashes that only look like them), keys such as `__proto__`, in any
 * position and nesting, with whitespace around: it refuses exactly what that walk refuses, at the
 * same path.
 */
import { findUnstorableJson } from '@openpipes/core';
import { expect, it } from 'vitest';
import { parseJson } from './json.js';

let seed = 12345;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
const numbers = [
  '1e308',
  '1e309',
  '-1e309',
  '1E+400',
  '-1E+400',
  '1.7976931348623157e308',
  '1.7976931348623159e308',
  '-1.7976931348623159e308',
  '179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9',
  `${'9'.repeat(309)}`,
  `-${'9'.repeat(309)}`,
  `${'9'.repeat(308)}`,
  `0.${'0'.repeat(400)}1`,
  `${'1'.repeat(200)}e109`,
  `${'1'.repeat(200)}e108`,
  '0e99999',
  '-0',
  '1e-400',
  '123',
  '4.5e+2',
  `1${'0'.repeat(308)}`,
  `1${'0'.repeat(309)}`,
];
const strings = [
  '"a"',
  '"\\u0000"',
  '"\\ud800"',
  '"\\uD83D\\uDE00"',
  '"\\\\u0000"',
  '"\\\\ud800"',
  '"x\\udfffy"',
  '"caf\\u00e9"',
];
const ws = () => pick(['', ' ', '\n', '\t', ' \r\n ']);
function value(depth: number): string {
  const r = rnd();
  if (depth > 6 || r < 0.4) return ws() + (rnd() < 0.7 ? pick(numbers) : pick(strings)) + ws();
  if (r < 0.7) {
    const n = Math.floor(rnd() * 4);
    return `[${Array.from({ length: n }, () => value(depth + 1)).join(',')}]`;
  }
  const n = Math.floor(rnd() * 4);
  const keys = ['"a"', '"__proto__"', '"constructor"', '"\\u0000k"', '"toJSON"', '"b"'];
  return `{${Array.from({ length: n }, () => `${ws()}${pick(keys)}${ws()}:${value(depth + 1)}`).join(',')}}`;
}

it('refuses exactly the bodies findUnstorableJson refuses, at the same path', () => {
  let refused = 0;
  for (let i = 0; i < 20000; i++) {
    const text = value(0);
    const parsed = JSON.parse(text);
    const expected = findUnstorableJson(parsed);
    let got: unknown = null;
    try {
      parseJson(text, 64);
    } catch (err) {
      got = err;
    }
    if (expected) refused++;
    expect({ text: text.slice(0, 300), refused: got !== null }).toEqual({
      text: text.slice(0, 300),
      refused: expected !== null,
    });
    if (expected)
      expect((got as { details: { issues: Array<{ path: string }> } }).details.issues[0]!.path).toBe(
        expected.path,
      );
  }
  expect(refused).toBeGreaterThan(1000);
});
