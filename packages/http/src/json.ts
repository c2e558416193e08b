/**
 * Parsing request bodies: JSON with a nesting limit, errors that say where (line, column, position)
 * without quoting the input back (a body may carry a secret value), and only JSON every store keeps
 * as given (core's `findUnstorableJson`): no NUL, no lone surrogate (`\ud800`), no number that does
 * not fit a double (`1e400`).
 */
import { isUtf8 } from 'node:buffer';
import { findUnstorableJson, formatPath, PipesError } from '@openpipes/core';

/**
 * Decodes a UTF-8 body (a leading byte order mark is dropped).
 * Throws `INVALID_JSON` when the bytes are not UTF-8.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) {
    throw new PipesError({ code: 'INVALID_JSON', message: 'the body is not valid UTF-8' });
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Only these can make parsed text unstorable: an escaped NUL or surrogate (raw ones cannot pass the
 * UTF-8 check), or a number that overflows a double (seen as Infinity by the walk that checks the
 * depth). Text with neither skips {@link findUnstorableJson}'s walk over the parsed value. Searched
 * for `\u` first: a regular expression run over a whole body that does not match costs more than
 * its parse.
 */
const unstorableEscape = /\\u(?:0000|[dD][89a-fA-F])/;

function mayHaveUnstorableEscape(text: string): boolean {
  return text.includes('\\u') && unstorableEscape.test(text);
}

/**
 * Parses JSON text. Throws `INVALID_JSON` (with `details.position`, `line`, `column`) for a syntax
 * error or a NUL byte, `NESTING_TOO_DEEP` when objects and arrays nest deeper than `maxDepth`, and
 * `VALIDATION_FAILED` (with the field's path in `details.issues`) for a string or key with
 * `\u0000` or a lone surrogate, or a number that does not fit a double.
 */
export function parseJson(text: string, maxDepth: number): unknown {
  const nul = text.indexOf('\0');
  if (nul !== -1) throw syntaxError(text, nul, 'a NUL byte (0x00) is not allowed in the body');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const { position, reason } = locateSyntaxError(text);
    throw syntaxError(text, position, reason);
  }
  const walk: Walk = { nonFinite: typeof value === 'number' && !Number.isFinite(value) };
  const deep = tooDeep(value, maxDepth, 1, walk);
  if (deep) {
    throw new PipesError({
      code: 'NESTING_TOO_DEEP',
      message: `the body nests objects and arrays deeper than ${maxDepth} levels (at ${formatPath(deep) || '(root)'})`,
      details: { max_depth: maxDepth, path: formatPath(deep) || '(root)' },
    });
  }
  if (walk.nonFinite || mayHaveUnstorableEscape(text)) {
    const issue = findUnstorableJson(value);
    if (issue) {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: `${issue.path}: ${issue.message}`,
        details: { issues: [issue] },
      });
    }
  }
  return value;
}

function syntaxError(text: string, position: number, reason: string): PipesError {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const column = position - lineStart + 1;
  return new PipesError({
    code: 'INVALID_JSON',
    message: `invalid JSON at line ${line}, column ${column} (position ${position}): ${reason}`,
    details: { position, line, column, reason },
  });
}

/** What {@link tooDeep} noticed on its way: a number JSON.parse read as Infinity (it overflowed). */
interface Walk {
  nonFinite: boolean;
}

/**
 * The path of the first container deeper than `max`, or null; notes in `walk` any number it passes
 * that is not finite. Recursion stops at `max + 1`; the path is built only on the way back from a
 * hit, so valid bodies allocate nothing here.
 */
function tooDeep(value: unknown, max: number, depth: number, walk: Walk): PropertyKey[] | null {
  if (value === null || typeof value !== 'object') return null;
  if (depth > max) return [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item !== null && typeof item === 'object') {
        const found = tooDeep(item, max, depth + 1, walk);
        if (found) {
          found.unshift(i);
          return found;
        }
      } else if (typeof item === 'number' && !Number.isFinite(item)) walk.nonFinite = true;
    }
    return null;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object') {
      const found = tooDeep(item, max, depth + 1, walk);
      if (found) {
        found.unshift(key);
        return found;
      }
    } else if (typeof item === 'number' && !Number.isFinite(item)) walk.nonFinite = true;
  }
  return null;
}

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Finds the first syntax error of text that `JSON.parse` refused. V8's messages quote the input
 * and do not always carry a position, so this small scanner (run only on the error path, iterative
 * so no input can exhaust the stack) says where and why in its own words.
 */
export function locateSyntaxError(text: string): { position: number; reason: string } {
  const n = text.length;
  const stack: Array<'array' | 'object'> = [];
  let i = 0;
  const fail = (reason: string) => ({
    position: Math.min(i, n),
    reason: i >= n ? 'unexpected end of input' : reason,
  });
  const skipSpace = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  // Returns an error reason, or null when a string was read (i is then past the closing quote).
  const readString = (): string | null => {
    i++;
    for (;;) {
      if (i >= n) return 'unterminated string';
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c < 0x20) return 'unescaped control character in a string';
      if (c === 0x5c) {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return 'invalid \\u escape in a string';
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          i += 2;
        } else {
          return 'invalid escape in a string';
        }
      } else {
        i++;
      }
    }
  };

  let expect: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipSpace();
    if (expect === 'key') {
      if (text[i] !== '"') return fail('expected a property name in double quotes');
      const bad = readString();
      if (bad) return fail(bad);
      skipSpace();
      if (text[i] !== ':') return fail("expected ':' after a property name");
      i++;
      expect = 'value';
      continue;
    }
    if (expect === 'after') {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        return i < n ? fail('unexpected content after the JSON value') : { position: n, reason: 'no error' };
      }
      const c = text[i];
      if (c === ',') {
        i++;
        expect = top === 'object' ? 'key' : 'value';
      } else if ((top === 'array' && c === ']') || (top === 'object' && c === '}')) {
        i++;
        stack.pop();
      } else {
        return fail(`expected ',' or '${top === 'array' ? ']' : '}'}'`);
      }
      continue;
    }
    // expect === 'value'
    const c = text[i];
    if (c === '{' || c === '[') {
      i++;
      skipSpace();
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) {
        i++;
        expect = 'after';
      } else {
        stack.push(c === '{' ? 'object' : 'array');
        expect = c === '{' ? 'key' : 'value';
      }
    } else if (c === '"') {
      const bad = readString();
      if (bad) return fail(bad);
      expect = 'after';
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      numberPattern.lastIndex = i;
      const match = numberPattern.exec(text);
      if (!match) return fail('invalid number');
      i += match[0].length;
      expect = 'after';
    } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
      i += 4;
      expect = 'after';
    } else if (text.startsWith('false', i)) {
      i += 5;
      expect = 'after';
    } else {
      return fail('unexpected character where a value was expected');
    }
  }
}
