/**
 * What JSON OpenPipes accepts, checked wherever JSON enters (the HTTP parser, `pipes.ingest`, every
 * registry write), so both stores keep exactly what was accepted:
 *
 * - text (values and keys) is well-formed Unicode without NUL: PostgreSQL's `jsonb` refuses
 *   `\u0000` and lone surrogates (`\ud800`), SQLite keeps them, and a lone surrogate is not text
 *   any platform can take (encoded as UTF-8 it becomes U+FFFD);
 * - numbers are finite doubles: `1e400` parses to Infinity, which JSON cannot hold (it would be
 *   stored and sent as `null`). `-0` is accepted and kept as `0`, and integers past 2^53 are
 *   rounded to the nearest double, as every JavaScript JSON parser does (RFC 8259 §6: JSON numbers
 *   are interoperable within IEEE 754 binary64; send ids and exact big numbers as strings). The
 *   transform and `send()` are JavaScript: they could not see more digits than a double holds;
 * - from code: no bigint, symbol or function, no cycle, at most {@link maxJsonDepth} levels (what
 *   `JSON.stringify` would throw on, or drop silently).
 */
import type { FieldIssue } from './validation.js';

/** The deepest nesting of objects and arrays accepted from code (HTTP bodies have lower limits). */
export const maxJsonDepth = 512;

/** The messages, one per kind of problem (stable: tests and clients may match them). */
export const jsonIssueMessages = {
  nul: 'the NUL character \\u0000 is not allowed (no store keeps it faithfully)',
  surrogate: 'a lone UTF-16 surrogate (such as \\ud800) is not Unicode text; send well-formed text',
  nulKey: 'this key contains the NUL character \\u0000, which is not allowed',
  surrogateKey: 'this key contains a lone UTF-16 surrogate (such as \\ud800), which is not Unicode text',
  nonFinite: 'the number does not fit a double (JSON numbers must be finite: 1e400 is not)',
  notJson: 'is not a JSON value (a bigint, a symbol or a function); send a string or a number',
  cycle: 'the value contains itself (a cycle), which JSON cannot hold',
  depth: `objects and arrays nest deeper than ${maxJsonDepth} levels`,
} as const;

// `String.prototype.isWellFormed` (Node 20+) is not in the ES2023 lib typings.
const wellFormed = (text: string) => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** The problem with one string, or null. */
function textProblem(text: string): 'nul' | 'surrogate' | null {
  if (text.includes('\0')) return 'nul';
  return wellFormed(text) ? null : 'surrogate';
}

/**
 * True when `text` is text every store keeps as given (no NUL, no lone surrogate). Lookups by a
 * name, slug or key answer "not found" for other text without asking the store: no stored name
 * can hold it, and PostgreSQL would refuse it in a query.
 *
 * @example
 * ```ts
 * isStorableText('web'); // true
 * isStorableText('web\u0000'); // false
 * ```
 */
export function isStorableText(text: string): boolean {
  return textProblem(text) === null;
}

/**
 * The first place where `value` is not JSON OpenPipes keeps as given, with its path (`a.b[2]`,
 * `(root)` for the value itself); null when all of it is. Iterative: no input can exhaust the
 * stack. Objects are read the way `JSON.stringify` reads them (own enumerable keys, `toJSON`).
 *
 * @example
 * ```ts
 * findUnstorableJson({ payload: { name: '\ud800' } });
 * // { path: 'payload.name', message: 'a lone UTF-16 surrogate (such as \\ud800) is not Unicode text; ...' }
 * findUnstorableJson(JSON.parse('{"revenue": 1e400}')); // { path: 'revenue', message: 'the number does not fit a double ...' }
 * ```
 */
export function findUnstorableJson(value: unknown): FieldIssue | null {
  // Nearly every value is storable: a walk that allocates only its path proves it, and only a value
  // it cannot vouch for is walked again by {@link locateUnstorableJson}, which finds the problem.
  // The path (the objects above the current value) gives up on a cycle where it closes, as the
  // locating walk finds it, not after walking round it to the depth limit (re-reading every
  // sibling on the way once per lap: up to 512 times the work on a cyclic value).
  return isPlainStorable(value, []) ? null : locateUnstorableJson(value);
}

/**
 * True when `value` is plain storable JSON: strings and keys well-formed, numbers finite, objects
 * and arrays no deeper than {@link maxJsonDepth}, no `toJSON`. False is "not sure", not "bad": a
 * `toJSON` method, a cycle (an object already on `path`, the objects above this value) or any
 * problem sends the value to {@link locateUnstorableJson}, so the answer and the reported problem
 * are that walk's. Recursive: the depth limit bounds the stack.
 */
function isPlainStorable(value: unknown, path: object[]): boolean {
  switch (typeof value) {
    case 'string':
      return textProblem(value) === null;
    case 'number':
      return Number.isFinite(value);
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (
    path.length >= maxJsonDepth ||
    typeof (value as { toJSON?: unknown }).toJSON === 'function' ||
    path.includes(value as object)
  ) {
    return false;
  }
  path.push(value as object);
  const plain = Array.isArray(value) ? isPlainArray(value, path) : isPlainObject(value as object, path);
  path.pop();
  return plain;
}

function isPlainArray(array: unknown[], path: object[]): boolean {
  for (let i = 0; i < array.length; i++) if (!isPlainStorable(array[i], path)) return false;
  return true;
}

function isPlainObject(object: object, path: object[]): boolean {
  for (const name of Object.keys(object)) {
    if (textProblem(name) !== null) return false;
    if (!isPlainStorable((object as Record<string, unknown>)[name], path)) return false;
  }
  return true;
}

/**
 * Lists of values already proven storable where they were parsed: the HTTP collect route marks the
 * events of a body its parser checked (text without `\\u0000`, lone surrogates or numbers that do
 * not fit a double, nested no deeper than {@link maxJsonDepth}) and hands the list straight to
 * ingest, which then does not walk each event again. Weak: a list's mark goes with the list.
 */
const vouchedLists = new WeakSet<readonly unknown[]>();

/**
 * The engines' own `ingest` functions (`createPipes` marks each): the only ones a list is vouched
 * for. Any other `ingest` (an embedder's wrapper around the engine's, say) may change the events
 * before it hands them on, so its lists are walked as any embedder's objects are.
 */
const engineIngests = new WeakSet<object>();

/** Marks `ingest` as an engine's own (engine.ts). */
export function markEngineIngest(ingest: object): void {
  engineIngests.add(ingest);
}

/**
 * Marks `list` as checked JSON, fresh from `JSON.parse` of text that passed the parser's checks with
 * containers nested at most `checkedDepth` deep, to be handed to `ingest` at once. Nothing is marked
 * for a list checked less deep than ingest would check it (past {@link maxJsonDepth}), nor for an
 * `ingest` that is not an engine's own ({@link markEngineIngest}): a wrapper may change the events
 * first. Internal: only the HTTP collect route calls it, just before it calls that `ingest`.
 */
export function vouchStorableList(list: readonly unknown[], checkedDepth: number, ingest: unknown): void {
  if (checkedDepth <= maxJsonDepth && typeof ingest === 'function' && engineIngests.has(ingest)) {
    vouchedLists.add(list);
  }
}

/** True when {@link vouchStorableList} marked `list`: its items need no {@link findUnstorableJson}. */
export function isVouchedStorableList(list: unknown): boolean {
  return Array.isArray(list) && vouchedLists.has(list);
}

/**
 * {@link findUnstorableJson}'s walk that finds the first problem and its path (exported for the test
 * that checks the fast walk agrees with it; not part of the package's API).
 *
 * @example
 * ```ts
 * locateUnstorableJson({ a: [1, '\u0000'] }); // { path: 'a[1]', message: 'the NUL character ...' }
 * ```
 */
export function locateUnstorableJson(value: unknown): FieldIssue | null {
  // Each visited value is a node; a path is rebuilt from the parent links only when a problem is found.
  const keys: Array<PropertyKey | null> = [null];
  const parents: number[] = [-1];
  const pathOf = (node: number): string => {
    const parts: PropertyKey[] = [];
    for (let n = node; n > 0; n = parents[n]!) parts.push(keys[n]!);
    let out = '';
    for (let i = parts.length - 1; i >= 0; i--) {
      const part = parts[i]!;
      out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
    }
    return out || '(root)';
  };
  const issue = (node: number, message: string): FieldIssue => ({ path: pathOf(node), message });

  // Work items: a value to visit (node, depth), or the end of an object's subtree (to leave the
  // set of objects on the current path, which is how a cycle is told from a shared reference).
  const stack: Array<{ value: unknown; node: number; depth: number } | { leave: object }> = [
    { value, node: 0, depth: 0 },
  ];
  const onPath = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('leave' in item) {
      onPath.delete(item.leave);
      continue;
    }
    let current = item.value;
    const { node, depth } = item;
    if (
      current !== null &&
      typeof current === 'object' &&
      typeof (current as { toJSON?: unknown }).toJSON === 'function'
    ) {
      const key = keys[node];
      current = (current as { toJSON(key: string): unknown }).toJSON(key === null ? '' : String(key));
    }
    switch (typeof current) {
      case 'string': {
        const problem = textProblem(current);
        if (problem) return issue(node, jsonIssueMessages[problem]);
        continue;
      }
      case 'number':
        if (!Number.isFinite(current)) return issue(node, jsonIssueMessages.nonFinite);
        continue;
      case 'boolean':
      case 'undefined':
        continue;
      case 'bigint':
      case 'symbol':
      case 'function':
        return issue(node, jsonIssueMessages.notJson);
    }
    if (current === null) continue;
    const object = current as object;
    if (onPath.has(object)) return issue(node, jsonIssueMessages.cycle);
    if (depth >= maxJsonDepth) return issue(node, jsonIssueMessages.depth);
    onPath.add(object);
    stack.push({ leave: object });
    // Children are pushed last-first so they are visited in order (the first problem is reported).
    if (Array.isArray(object)) {
      for (let i = object.length - 1; i >= 0; i--) {
        keys.push(i);
        parents.push(node);
        stack.push({ value: object[i], node: keys.length - 1, depth: depth + 1 });
      }
      continue;
    }
    const names = Object.keys(object);
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i]!;
      keys.push(name);
      parents.push(node);
      const child = keys.length - 1;
      const problem = textProblem(name);
      if (problem) {
        // Reported before any value: a bad key is found wherever it sits among its siblings.
        return issue(child, problem === 'nul' ? jsonIssueMessages.nulKey : jsonIssueMessages.surrogateKey);
      }
      stack.push({ value: (object as Record<string, unknown>)[name], node: child, depth: depth + 1 });
    }
  }
  return null;
}
