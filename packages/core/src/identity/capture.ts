/**
 * Reads one event's identifiers (docs/identifiers.md, "Capture"): the canonical field, then the URL
 * parameter in `page_url`, then the cookie, each unwrapped to its stored form with its first-seen time;
 * personal values hashed at once, junk dropped. Pure: the same payload and time give the same result.
 */
import { type HashOptions, hashIdentifier } from './hashing.js';
import {
  ATTRIBUTES,
  type AttributeName,
  type CookieFormat,
  type HashScheme,
  IDENTIFIERS,
  type IdentifierKind,
  type IdentifierSpec,
} from './identifiers.js';
import { DEFAULT_JUNK, isJunk, type JunkPolicy } from './junk.js';

/** One identifier of an event, as a profile stores it. */
export interface CapturedIdentifier {
  kind: IdentifierKind;
  /** The value, for kinds stored raw. */
  value?: string;
  /** The digests, for personal kinds (never the raw value). */
  hashes?: Partial<Record<HashScheme, string>>;
  /** Epoch ms the identifier was first seen: the event's time, or the click's time a cookie carries. */
  firstSeen: number;
  /** Where it was read. */
  from: 'field' | 'url' | 'cookie';
}

export interface CapturedEvent {
  identifiers: CapturedIdentifier[];
  attributes: Partial<Record<AttributeName, string>>;
}

export interface CaptureOptions extends HashOptions {
  /** Epoch ms the event happened (its `event_time`, or when it was received). */
  seenAt: number;
  junk?: JunkPolicy;
}

/** At most this many values of one kind per event (`email: [...]`): a list cannot flood a profile. */
export const MAX_VALUES_PER_KIND = 5;

type Payload = Record<string, unknown>;

/** The answer when nothing is found (shared: read, never changed). */
const none: readonly never[] = [];

function texts(value: unknown): readonly string[] {
  // Most fields an event is asked for are absent or hold one string: answered without a list.
  if (value === undefined) return none;
  if (typeof value === 'string') {
    const text = value.trim();
    return text.length > 0 ? [text] : none;
  }
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item === 'string') out.push(item.trim());
    else if (typeof item === 'number' && Number.isFinite(item)) out.push(String(item));
    if (out.length === MAX_VALUES_PER_KIND) break;
  }
  return out.filter((t) => t.length > 0);
}

function queryOf(pageUrl: unknown): URLSearchParams | null {
  if (typeof pageUrl !== 'string' || pageUrl.length > 8192) return null;
  // Without a `?` a URL has no query: nothing to read, and no URL parsed to find that out (no
  // parameters and no query answer capture alike).
  if (!pageUrl.includes('?')) return null;
  try {
    return new URL(pageUrl).searchParams;
  } catch {
    return null;
  }
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `cookies` as an object of name → value, or a raw `Cookie` header (`a=1; b=2`). */
export function parseCookies(cookies: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof cookies === 'string') {
    for (const part of cookies.slice(0, 16384).split(';')) {
      const eq = part.indexOf('=');
      const name = eq < 0 ? '' : part.slice(0, eq).trim();
      if (name && !out.has(name)) out.set(name, decode(part.slice(eq + 1).trim()));
    }
  } else if (cookies && typeof cookies === 'object' && !Array.isArray(cookies)) {
    for (const [name, value] of Object.entries(cookies)) if (typeof value === 'string') out.set(name, value);
  }
  return out;
}

/** A cookie value unwrapped, with the first-seen time its format carries (clamped to `seenAt`). */
function unwrapCookie(
  format: CookieFormat,
  raw: string,
  seenAt: number,
): { value: string; at?: number } | null {
  const clamp = (ms: number) => (Number.isFinite(ms) && ms > 0 ? Math.min(ms, seenAt) : undefined);
  switch (format) {
    case 'plain':
      return { value: raw };
    case 'json-string': {
      try {
        const parsed: unknown = JSON.parse(raw);
        return typeof parsed === 'string' ? { value: parsed } : null;
      } catch {
        return { value: raw };
      }
    }
    case 'ga': {
      const m = /^GA\d+\.\d+\.(\d+\.\d+)$/.exec(raw);
      return m ? { value: m[1] as string } : null;
    }
    case 'gcl': {
      const m = /^GCL\.(\d+)\.(.+)$/.exec(raw);
      return m ? { value: m[2] as string, at: clamp(Number(m[1]) * 1000) } : null;
    }
    case 'uet':
      return raw.startsWith('_uet') && raw.length > 4 ? { value: raw.slice(4) } : null;
    case 'fb': {
      const m = /^fb\.\d\.(\d+)\.(.+)$/.exec(raw);
      return m ? { value: raw, at: clamp(Number(m[1])) } : null;
    }
  }
}

/** Each kind's field and its aliases, in the order they are read (built once, not per event). */
const fieldNames = new Map<IdentifierSpec, readonly string[]>(
  IDENTIFIERS.map((s) => [s, [s.field, ...s.aliases]]),
);

/** The scheme a digest given as such is kept under. */
const sha256Only: readonly HashScheme[] = ['sha256'];

/** The cookies of an event that sends none (shared: read, never changed). */
const noCookies: ReadonlyMap<string, string> = new Map();

/**
 * Each attribute with its field and aliases, in the order they are read, each with its bit in
 * {@link readersOf}'s `attribute`.
 */
let attributeBit = 1;
const attributeFields = (
  Object.entries(ATTRIBUTES) as [AttributeName, (typeof ATTRIBUTES)[AttributeName]][]
).map(([name, attribute]) => {
  const fields = [attribute.field, ...attribute.aliases].map((field): [string, number] => {
    const bit = attributeBit;
    attributeBit <<= 1;
    return [field, bit];
  });
  return [name, fields] as const;
});
if (attributeBit <= 0) throw new Error('capture keeps one bit per attribute field: at most 30');

/**
 * Which rows of the table read a field name, as bits (a row's bit is `1 << its index`): as the
 * kind's value or alias (`value`), as its digest (`hashed`), or as an attribute's field or alias
 * (`attribute`, one bit per field of {@link attributeFields}, in order). An event's payload is read
 * key by key once, instead of looking up each of the ~30 names (mostly absent) the table has.
 */
const readersOf = new Map<string, { value: number; hashed: number; attribute: number }>();
function readerOf(name: string) {
  let reader = readersOf.get(name);
  if (!reader) {
    reader = { value: 0, hashed: 0, attribute: 0 };
    readersOf.set(name, reader);
  }
  return reader;
}
if (IDENTIFIERS.length > 31) throw new Error('capture keeps one bit per identifier row: at most 31');
for (const [n, spec] of IDENTIFIERS.entries()) {
  for (const name of [spec.field, ...spec.aliases]) readerOf(name).value |= 1 << n;
  if (spec.hashedField) readerOf(spec.hashedField).hashed |= 1 << n;
}
for (const [, fields] of attributeFields) for (const [name, bit] of fields) readerOf(name).attribute |= bit;

/** The fields of `body` capture reads, as the bits of {@link readersOf}. */
function fieldsPresent(body: Payload): { value: number; hashed: number; attribute: number } {
  const present = { value: 0, hashed: 0, attribute: 0 };
  for (const key in body) {
    const reader = readersOf.get(key);
    if (reader === undefined) continue;
    present.value |= reader.value;
    present.hashed |= reader.hashed;
    present.attribute |= reader.attribute;
  }
  return present;
}

function fieldValues(spec: IdentifierSpec, payload: Payload): readonly string[] {
  for (const name of fieldNames.get(spec) ?? [spec.field, ...spec.aliases]) {
    const found = texts(payload[name]);
    if (found.length) return found;
  }
  return none;
}

interface Found {
  value: string;
  at: number;
  from: CapturedIdentifier['from'];
}

function capture(
  spec: IdentifierSpec,
  payload: Payload | null,
  query: URLSearchParams | null,
  cookies: ReadonlyMap<string, string>,
  seenAt: number,
): readonly Found[] {
  const fromField = payload ? fieldValues(spec, payload) : none;
  if (fromField.length) return fromField.map((value) => ({ value, at: seenAt, from: 'field' as const }));
  if (query) {
    for (const param of spec.urlParams) {
      const value = query.get(param)?.trim();
      if (!value) continue;
      // A click id in the URL becomes the value the platform takes: Meta wants `fb.1.<ms>.<fbclid>`.
      return [
        { value: spec.kind === 'fbc' ? `fb.1.${seenAt}.${value}` : value, at: seenAt, from: 'url' as const },
      ];
    }
  }
  if (cookies.size === 0) return none;
  for (const cookie of spec.cookies) {
    const raw = cookies.get(cookie.name);
    const unwrapped = raw === undefined ? null : unwrapCookie(cookie.format, raw.trim(), seenAt);
    if (unwrapped) return [{ value: unwrapped.value, at: unwrapped.at ?? seenAt, from: 'cookie' as const }];
  }
  return none;
}

/** One event's identifiers and last-seen attributes, in the form a profile stores them. */
export function captureIdentifiers(payload: unknown, options: CaptureOptions): CapturedEvent {
  const result: CapturedEvent = { identifiers: [], attributes: {} };
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return result;
  const body = payload as Payload;
  const junk = options.junk ?? DEFAULT_JUNK;
  const query = queryOf(body.page_url);
  const cookies = body.cookies === undefined ? noCookies : parseCookies(body.cookies);
  const present = fieldsPresent(body);
  for (let n = 0; n < IDENTIFIERS.length; n++) {
    const spec = IDENTIFIERS[n]!;
    const bit = 1 << n;
    // Only a field present, a query or cookies can give this kind anything.
    const fromFields = (present.value & bit) !== 0;
    if (!fromFields && query === null && cookies.size === 0 && (present.hashed & bit) === 0) continue;
    for (const found of capture(spec, fromFields ? body : null, query, cookies, options.seenAt)) {
      if (isJunk(spec.kind, found.value, junk)) continue;
      if (spec.stored === 'raw') {
        result.identifiers.push({
          kind: spec.kind,
          firstSeen: found.at,
          from: found.from,
          value: found.value,
        });
        continue;
      }
      const kind = spec.kind as 'email' | 'phone' | 'external_id';
      const hashes = hashIdentifier(kind, found.value, spec.stored, options);
      if (hashes) result.identifiers.push({ kind: spec.kind, firstSeen: found.at, from: found.from, hashes });
    }
    if (
      spec.hashedField &&
      (present.hashed & bit) !== 0 &&
      !result.identifiers.some((i) => i.kind === spec.kind)
    ) {
      for (const digest of texts(body[spec.hashedField])) {
        const hashes = hashIdentifier(spec.kind as 'email' | 'phone', digest, sha256Only);
        if (hashes?.sha256 === digest.toLowerCase()) {
          result.identifiers.push({ kind: spec.kind, hashes, firstSeen: options.seenAt, from: 'field' });
        }
      }
    }
  }
  for (const [name, fields] of attributeFields) {
    for (const [field, bit] of fields) {
      if ((present.attribute & bit) === 0) continue;
      const value = body[field];
      if (typeof value === 'string' && value.trim() && value.length <= 1024) {
        result.attributes[name] = value.trim();
        break;
      }
    }
  }
  return result;
}

/**
 * The captures made of payload objects still in use, so one delivery captures each event once:
 * stitching captures the event it hands the transform, and match quality (after the send) reads the
 * same capture of the same object instead of capturing it again. Weak, so a payload's entry goes
 * with the payload.
 */
const captures = new WeakMap<object, CapturedEvent>();

/**
 * {@link captureIdentifiers}, remembered for this payload object: a later {@link capturedBefore} of
 * the same object returns it without reading the payload again.
 */
export function captureAndRemember(payload: unknown, options: CaptureOptions): CapturedEvent {
  const captured = captureIdentifiers(payload, options);
  if (payload && typeof payload === 'object') captures.set(payload, captured);
  return captured;
}

/**
 * The capture {@link captureAndRemember} made of this very payload object, if any. Which kinds an
 * event carries does not depend on the time it was captured at (only first-seen times do), so a
 * caller asking which identifiers are present may use it whatever `seenAt` it was made with.
 */
export function capturedBefore(payload: unknown): CapturedEvent | undefined {
  return payload && typeof payload === 'object' ? captures.get(payload) : undefined;
}

/** Each kind's spec, the first of the table's rows for it (as a search of the table finds it). */
const specOfKind = new Map<IdentifierKind, IdentifierSpec>();
for (const spec of IDENTIFIERS) if (!specOfKind.has(spec.kind)) specOfKind.set(spec.kind, spec);

/**
 * Whether an identifier first seen at `firstSeen` may still be offered at `now`: within its kind's
 * window (docs/identifiers.md), which `windows` may override per kind (days; null = never expires).
 */
export function isOfferable(
  identifier: Pick<CapturedIdentifier, 'kind' | 'firstSeen'>,
  now: number,
  windows: Partial<Record<IdentifierKind, number | null>> = {},
): boolean {
  const spec = specOfKind.get(identifier.kind);
  if (!spec) return false;
  const days = identifier.kind in windows ? windows[identifier.kind] : spec.windowDays;
  if (days === null || days === undefined) return true;
  return now - identifier.firstSeen <= days * 86_400_000;
}
