import { describe, expect, it } from 'vitest';
import { boundedEventText } from './rejections.js';

describe('boundedEventText', () => {
  it('keeps a small event whole, as JSON text', () => {
    expect(boundedEventText({ event: { a: 1, b: 'é' } }, 64)).toEqual({
      text: '{"a":1,"b":"é"}',
      truncated: false,
    });
  });

  it('cuts by UTF-8 bytes without splitting a character', () => {
    // "é" is 2 bytes and "✓" 3: a cut at 64 bytes lands inside one of them.
    const { text, truncated } = boundedEventText({ event: { v: 'é✓'.repeat(100) } }, 64);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(64);
    expect(text).not.toContain('\uFFFD');
    expect(text.startsWith('{"v":"é✓')).toBe(true);
  });

  it('keeps text that fits in bytes even when it is long in characters', () => {
    const text = 'x'.repeat(60);
    expect(boundedEventText({ text }, 64)).toEqual({ text, truncated: false });
    expect(boundedEventText({ text: 'é'.repeat(40) }, 64).truncated).toBe(true);
  });

  it('stores raw text without NUL or lone surrogates, which a store could not keep', () => {
    const { text } = boundedEventText({ text: 'a\u0000b\uD800c' }, 64);
    expect(text).toBe('a\uFFFDb\uFFFDc');
  });

  it('writes what JSON cannot (a cycle, a BigInt) as plain text instead of throwing', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(boundedEventText({ event: cycle }, 64)).toEqual({ text: '[object Object]', truncated: false });
    expect(boundedEventText({ event: 10n }, 64)).toEqual({ text: '10', truncated: false });
    expect(boundedEventText({ event: undefined }, 64)).toEqual({ text: 'undefined', truncated: false });
  });
});
