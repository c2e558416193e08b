/**
 * What both stores decide alike when they erase a person (`eraseProfiles`, docs/erasure.md): the
 * tombstone a delivery record and its attempts keep, the texts searched for in the rejection log
 * and the shared state, and how a state document is scrubbed of them.
 */
import { DEFAULT_JUNK } from '../identity/junk.js';
import type { DeliveryDetail, IdentifierRef } from '../store.js';

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
 * `value` with every needle in every string (keys too) replaced by `[erased]`, and whether anything
 * changed. Works on parsed JSON, so the document stays valid whatever the needle looks like.
 *
 * @example
 * ```ts
 * const { value, changed } = scrubNeedles(JSON.parse(row.value), needles);
 * ```
 */
export function scrubNeedles(value: unknown, needles: string[]): { value: unknown; changed: boolean } {
  let changed = false;
  const text = (s: string) => {
    let out = s;
    for (const n of needles) if (out.includes(n)) out = out.split(n).join('[erased]');
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

/** True when `text` contains one of the needles. */
export const quotesAny = (text: string, needles: string[]): boolean => needles.some((n) => text.includes(n));
