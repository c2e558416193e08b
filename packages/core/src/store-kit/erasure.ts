/**
 * What both stores decide alike when they erase a person (`eraseProfiles`, docs/erasure.md): the
 * tombstone a delivery record and its attempts keep, the texts searched for in the rejection log
 * and the shared state, and how a state document is scrubbed of them.
 */
import { DEFAULT_JUNK } from '../identity/junk.js';
import type { DeliveryDetail, IdentifierRef } from '../store.js';
import { type PackedValue, packJson, unpackJson } from './packed.js';

/** Texts shorter than this are not searched for: "1" would match half the rejection log. */
export const minErasureNeedle = 4;

/**
 * Whether a text may be searched for in free text. Junk values (`null`, `true`, `false`, `none`,
 * `unknown`, `undefined`...) are never a person's identifier (ingest never links them), but every
 * JSON document quotes them: an erasure "by user_id null" would otherwise delete most of the
 * rejection log and rewrite every state document, other people's entries with it.
 */
const searchable = (text: string): boolean =>
  text.length >= minErasureNeedle && !DEFAULT_JUNK.values.includes(text.trim().toLowerCase());

/**
 * The delivery `detail` of an erased record: no payload, only the time of the erasure.
 *
 * @example
 * ```ts
 * const detail = JSON.stringify(erasedDetail(now));
 * ```
 */
export const erasedDetail = (now: string): DeliveryDetail => ({
  output: null,
  request: null,
  response: null,
  error: null,
  erased_at: now,
});

/**
 * An attempt as an erased record keeps it: its number, status, time, duration and versions; the
 * request, response, error, exchanges and console lines (anything that may quote the person) go.
 *
 * @example
 * ```ts
 * const data = JSON.stringify(erasedAttempt(JSON.parse(row.data)));
 * ```
 */
export function erasedAttempt(attempt: Record<string, unknown>): Record<string, unknown> {
  return {
    number: attempt.number,
    status: attempt.status,
    started_at: attempt.started_at,
    duration_ms: attempt.duration_ms,
    pipe_version: attempt.pipe_version ?? null,
    destination_version: attempt.destination_version ?? null,
    request: null,
    response: null,
    error: null,
    exchanges: [],
    logs: [],
  };
}

/** {@link erasedDetail} as a store writes a delivery's detail: packed (`packed.ts`). */
export const packedErasedDetail = (now: string): Buffer => packJson(JSON.stringify(erasedDetail(now)));

/**
 * A stored attempt's data (packed, or JSON text written before migration 11) as its erased record
 * keeps it ({@link erasedAttempt}), packed.
 *
 * @example
 * ```ts
 * update.run(packedErasedAttempt(row.data), row.delivery_id, row.number);
 * ```
 */
export const packedErasedAttempt = (data: PackedValue): Buffer =>
  packJson(JSON.stringify(erasedAttempt(JSON.parse(unpackJson(data)) as Record<string, unknown>)));

/**
 * The texts an erasure removes from free text (rejection log, state documents): the raw values the
 * caller was given, every identifier key, and every digest of a personal identifier's stored value
 * (`{"sha256": ..., "sha256_google": ...}`), longest first so a longer one is replaced whole; never
 * a short text or a junk value (`null`, `true`...) that every document quotes.
 *
 * @example
 * ```ts
 * const needles = erasureNeedles({ identifiers: [...refs, ...stored], given: ['jane@example.com'] });
 * ```
 */
export function erasureNeedles(input: {
  identifiers: Array<IdentifierRef & { value?: string }>;
  given: string[];
}): string[] {
  const out = new Set<string>(input.given);
  for (const i of input.identifiers) {
    out.add(i.key);
    if (i.value === undefined) continue;
    try {
      const value: unknown = JSON.parse(i.value);
      if (typeof value === 'string') out.add(value);
      else if (value && typeof value === 'object')
        for (const v of Object.values(value)) if (typeof v === 'string') out.add(v);
    } catch {
      out.add(i.value);
    }
  }
  return [...out].filter(searchable).sort((a, b) => b.length - a.length);
}

/**
 * Whether `c` continues a value: letters, digits and the joiners of ids, emails and phone numbers
 * (`_ - + @`). A needle next to one is part of a longer value ("1000" inside "10000", "a1000b" or
 * "u-1000"), which is someone else's, not the person's.
 */
const continues = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_\-+@]/u.test(c);

/**
 * Where `needle` occurs in `text` from `from` as a whole value (a token), or -1. A neighbour that
 * continues a value rules an occurrence out, and so does a dot between value characters
 * ("mary.jane@x.test" does not quote "jane@x.test"; "1000.5" does not quote "1000"), while a dot
 * that ends a sentence does not. Neighbours are only tested on a side where the needle itself ends
 * in a value character.
 */
function tokenAt(text: string, needle: string, from = 0): number {
  if (needle.length === 0) return -1;
  const checkBefore = continues(needle[0]);
  const checkAfter = continues(needle[needle.length - 1]);
  for (let i = text.indexOf(needle, from); i >= 0; i = text.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    const before = text[i - 1];
    const after = text[end];
    const joinedBefore = checkBefore && (continues(before) || (before === '.' && continues(text[i - 2])));
    const joinedAfter = checkAfter && (continues(after) || (after === '.' && continues(text[end + 1])));
    if (!joinedBefore && !joinedAfter) return i;
  }
  return -1;
}

/** `text` with every whole occurrence of every needle replaced by `[erased]`. */
function replaceTokens(text: string, needles: string[]): string {
  let out = text;
  for (const n of needles) {
    let i = tokenAt(out, n);
    while (i >= 0) {
      out = `${out.slice(0, i)}[erased]${out.slice(i + n.length)}`;
      i = tokenAt(out, n, i + '[erased]'.length);
    }
  }
  return out;
}

/**
 * `value` with every needle in every string (keys too) replaced by `[erased]`, and whether anything
 * changed. Works on parsed JSON, so the document stays valid whatever the needle looks like. Only a
 * whole value is replaced (see {@link quotesAny}): "1000" is not erased out of "order 10000".
 *
 * @example
 * ```ts
 * const { value, changed } = scrubNeedles(JSON.parse(row.value), needles);
 * ```
 */
export function scrubNeedles(value: unknown, needles: string[]): { value: unknown; changed: boolean } {
  let changed = false;
  const text = (s: string) => {
    const out = replaceTokens(s, needles);
    if (out !== s) changed = true;
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [text(k), walk(x)]));
    return v;
  };
  const scrubbed = walk(value);
  return { value: scrubbed, changed };
}

/**
 * True when `text` quotes one of the needles as a whole value: bounded on each side by something
 * that cannot continue a value (a quote, a space, `:`, `=`, `,`, the start or end of the text...).
 * A substring is not enough: an erasure of a person whose user id is "1000" would otherwise delete
 * every rejection that mentions "10000" or "a1000b", other people's with them.
 *
 * @example
 * ```ts
 * quotesAny('{"user_id":"1000"}', ['1000']); // true
 * quotesAny('{"user_id":"10000"}', ['1000']); // false
 * ```
 */
export const quotesAny = (text: string, needles: string[]): boolean =>
  needles.some((n) => tokenAt(text, n) >= 0);

/**
 * True when a stored JSON text (a rejected event as sent, an error) quotes one of the needles as a
 * whole value: in its raw text (so numbers are found as written, and a truncated text that no
 * longer parses still is), or in any string or key once parsed (so a value written with JSON
 * escapes, `jane\u0040x.test`, is found too).
 *
 * @example
 * ```ts
 * jsonQuotesAny('{"email":"jane\\u0040x.test"}', ['jane@x.test']); // true
 * ```
 */
export function jsonQuotesAny(text: string, needles: string[]): boolean {
  if (quotesAny(text, needles)) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return scrubNeedles(parsed, needles).changed;
}

/**
 * True when an entry of the rejection log quotes one of the needles ({@link jsonQuotesAny}) in the
 * event as sent or in its error: the entry goes with the person.
 *
 * @example
 * ```ts
 * const doomed = candidates.filter((r) => rejectionQuotesAny(r, needles)).map((r) => r.id);
 * ```
 */
export const rejectionQuotesAny = (entry: { event: string; error: string }, needles: string[]): boolean =>
  jsonQuotesAny(entry.event, needles) || jsonQuotesAny(entry.error, needles);

/**
 * The shared state documents (key, JSON text) that quote a needle, each scrubbed of them
 * ({@link scrubNeedles}): what the store writes back; the others are left as they are.
 *
 * @example
 * ```ts
 * for (const row of scrubStates(rows, needles)) update.run(row.value, row.key);
 * ```
 */
export function scrubStates(
  rows: Array<{ key: string; value: string }>,
  needles: string[],
): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  for (const row of rows) {
    const scrubbed = scrubNeedles(JSON.parse(row.value), needles);
    if (scrubbed.changed) out.push({ key: row.key, value: JSON.stringify(scrubbed.value) });
  }
  return out;
}
