/**
 * What a transform's entry function can read of its argument, decided from the function's own source
 * text (`Function.prototype.toString` of the very function the sandbox calls, taken in the guest with
 * the reference the prelude saved before user code ran). Delivery then resolves `profiles` (identity's
 * stitching, a host's resolver) only for a transform that may read it: stitching a batch is a store
 * read and a larger input to copy into the sandbox, and the docs' own example transforms destructure
 * `profiles` without using it.
 *
 * The answer errs one way only: `false` means the function provably cannot read `profiles`; anything
 * unusual gives `true`. Provably, because the argument object is never bound to a name:
 * - the function's one parameter is an object pattern of the argument's own names only (`events`,
 *   `profiles`, `secrets`): no rest element, renaming or default, and nothing after it. Any other
 *   name is looked up on `Object.prototype`, where a getter user code defined receives the argument
 *   itself as `this`;
 * - its text has no `arguments` and no `eval` (a direct eval could reach `arguments`), and no `\u`
 *   escape (an escaped identifier could spell either, or `profiles`);
 * - if the pattern names `profiles`, the word appears nowhere else in the function's text (comments
 *   and strings included, which errs only towards `true`).
 * QuickJS gives no legacy `fn.arguments` (it reads `undefined`), so the call's arguments have no
 * other way in. A bound function, a proxy or native code has no such text and reads as `true`: the
 * engine writes theirs as `function <name>() { [native code] }` with the function's `name` property,
 * which user code sets to anything (`({ events }) {} //`), so a text with `[native code]` reads.
 */

// `function name(`, `async function name(`, `name(` (a method) or an arrow's `(`, then `{ ... })`.
const HEAD = /^(?:async\s+)?(?:function\s*\*?\s*[\w$]*\s*|[\w$]+\s*)?\(\s*\{([^{}]*)\}\s*\)/;
const UNSAFE = /\b(?:arguments|eval)\b|\\u|\[native code\]/;
// The argument's own properties (the harness calls `fn({ events, profiles, secrets })`); no other.
const OWN = new Set(['events', 'profiles', 'secrets']);

const occurrences = (text: string, word: string) =>
  text.match(new RegExp(`(?<![\\w$])${word}(?![\\w$])`, 'g'))?.length ?? 0;

/** Whether a function with this source text may read its argument's `profiles`. */
export function entryReadsProfiles(source: string): boolean {
  if (UNSAFE.test(source)) return true;
  const head = HEAD.exec(source);
  if (!head) return true;
  const names = (head[1] as string)
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (!names.every((name) => OWN.has(name))) return true;
  return names.includes('profiles') ? occurrences(source, 'profiles') > 1 : false;
}
