/**
 * Shaping what a delivery record shows: captured HTTP exchanges become `{ url, method, headers,
 * payload }` / `{ status, body }` with JSON parsed (as the docs show them), a batch request is cut
 * down to the rows of the event the record is about, sizes are bounded, and secret values are
 * replaced with `[secret:KEY]`.
 */

import type { CapturedExchange, ConsoleLine } from '@openpipes/sandbox';
import type { RecordedExchange } from './schemas.js';
import { createRedactor, type Redactor } from './secrets/redact.js';

/** Bodies larger than this are kept as truncated text in the record. */
const maxRecordedBodyChars = 64 * 1024;
/** Console output kept per delivery attempt. */
const maxRecordedLogChars = 4 * 1024;

/** For callers without secrets: still cuts through a redactor, so every cut looks the same. */
const noSecrets = createRedactor({});

/**
 * Parses JSON text safely (no prototype keys); returns the text itself when it is not JSON, redacted
 * and cut to {@link maxRecordedBodyChars} when longer (a secret's piece at the cut is redacted too).
 */
export function parseBody(text: string | undefined, redact: Redactor = noSecrets): unknown {
  if (text === undefined || text === '') return undefined;
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return parseWithoutPrototypeKeys(text);
    } catch {
      // not JSON after all
    }
  }
  return text.length > maxRecordedBodyChars ? redact.cut(text, maxRecordedBodyChars) : text;
}

/**
 * Text that may hold a key {@link dropPrototypeKeys} drops: the name itself, or any `\u` escape
 * (which can spell it). Text without one has no such key.
 */
const mayNamePrototype = /proto|constructor|\\u/;

/**
 * `JSON.parse(text, dropPrototypeKeys)`, without the reviver's cost when it cannot drop anything: a
 * reviver that returns every other value unchanged builds the same value as no reviver at all.
 * Exported for the test that checks both agree; not part of the package's API.
 *
 * @example
 * ```ts
 * parseWithoutPrototypeKeys('{"a":1,"__proto__":{"x":1}}'); // { a: 1 }
 * ```
 */
export function parseWithoutPrototypeKeys(text: string): unknown {
  return mayNamePrototype.test(text) ? JSON.parse(text, dropPrototypeKeys) : JSON.parse(text);
}

/** A JSON.parse reviver that drops keys able to reach prototypes. */
export function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' || key === 'prototype' ? undefined : value;
}

/**
 * Cuts batch arrays down to the rows at `indices`: every top-level array property whose length is
 * the batch size (Meta and TikTok `data`, Google `conversions` and `results`, GA4 `events`) keeps
 * only this event's rows, so a record shows its own event, not 999 others.
 */
export function sliceBatch(value: unknown, batchSize: number, indices: number[]): unknown {
  if (batchSize <= 1 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = Array.isArray(item) && item.length === batchSize ? indices.map((i) => item[i]) : item;
  }
  return out;
}

/**
 * {@link sliceBatch} of one value for every event of its batch, its properties read once: a value
 * with no property of `batchSize` rows is the same JSON for each event, and is not copied for each.
 */
function slicerOf(value: unknown, batchSize: number): (indices: number[]) => unknown {
  if (batchSize <= 1 || value === null || typeof value !== 'object' || Array.isArray(value))
    return () => value;
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const items = keys.map((key) => source[key]);
  const rows = items.map((item) => Array.isArray(item) && item.length === batchSize);
  // A copy drops an own `__proto__` key and anything but a plain object's prototype: kept a copy.
  const plain = Object.getPrototypeOf(value) === Object.prototype && !keys.includes('__proto__');
  if (plain && !rows.includes(true)) return () => value;
  return (indices) => {
    const out: Record<string, unknown> = {};
    for (let k = 0; k < keys.length; k++) {
      const item = items[k];
      out[keys[k]!] = rows[k] ? indices.map((i) => (item as unknown[])[i]) : item;
    }
    return out;
  };
}

/** The value, or (when its JSON is too long) its redacted JSON text cut to the limit. */
function boundedJson(value: unknown, redact: Redactor): unknown {
  // Text bodies were bounded (and redacted) when parsed; their JSON form is not cut again.
  if (value === undefined || typeof value === 'string') return value;
  const text = JSON.stringify(value);
  if (text === undefined || text.length <= maxRecordedBodyChars) return value;
  // Redacted as a value first (credential-named fields, numbers), then as text, then cut.
  return redact.cut(JSON.stringify(redact(value)), maxRecordedBodyChars);
}

/** A captured exchange with its bodies parsed once, to be cut per event with {@link recordExchange}. */
export interface ParsedExchange {
  exchange: CapturedExchange;
  requestPayload: unknown;
  responseBody: unknown;
  /** The length of the text each body was parsed from (0 when there was none), for {@link mayExceed}. */
  requestChars?: number;
  responseChars?: number;
}

/**
 * Whether a value parsed from `chars` characters of JSON may be longer than `max` as JSON (and so
 * may any cut of it, which {@link sliceBatch} makes of fewer rows): JSON.stringify writes each
 * character of a string at most as a 6-character `\uXXXX`, a number of n ≥ 1 characters in at most
 * 5.25 n (`1e20` is `100000000000000000000`), and drops whitespace; so the JSON is at most 6 times
 * its text. When it is not more than `max`, no JSON of it needs writing to know it fits.
 */
function mayExceed(chars: number | undefined, max: number): boolean {
  return chars === undefined || chars * 6 > max;
}

/**
 * Parses an exchange's bodies once per batch (not once per event: a batch has up to thousands).
 * Text that is not JSON is redacted and cut here; a response body the sandbox already cut at its
 * size limit has a secret's piece at its end redacted.
 */
export function parseExchange(exchange: CapturedExchange, redact: Redactor = noSecrets): ParsedExchange {
  const response = exchange.response;
  let responseBody: unknown;
  if (response) {
    responseBody = response.truncated
      ? parseBody(redact.cutEnd(response.body), redact)
      : parseBody(response.body, redact);
  }
  return {
    exchange,
    requestPayload: parseBody(exchange.request.body, redact),
    responseBody,
    requestChars: exchange.request.body?.length ?? 0,
    // A capped body was parsed from its redacted text, not from this one: its JSON is measured.
    ...(response && !response.truncated ? { responseChars: response.body.length } : {}),
  };
}

/**
 * What every event's record of one exchange shares, redacted once per batch instead of once per
 * event (a batch has up to thousands): the URL, method, headers, status, error and times, and the
 * whole request payload and response body, which each event's record then cuts down to its own
 * rows. Redaction works value by value (each string or number with the name of its field), so the
 * rows cut from the redacted whole are the rows redacted one event at a time.
 */
interface SharedParts {
  url: string;
  method: string;
  headers: CapturedExchange['request']['headers'];
  payload: Whole;
  response: { status: number; headers: Record<string, string>; body: Whole } | null;
  error: RecordedExchange['error'];
  started_at: string;
  duration_ms: number;
}

/** A body redacted whole, and whether every cut of it fits in a record uncut. */
interface Whole {
  raw: unknown;
  redacted: unknown;
  /** The rows at `indices` of the redacted whole ({@link slicerOf}). */
  slice: (indices: number[]) => unknown;
  /**
   * The whole's JSON is within {@link maxRecordedBodyChars}, so each event's rows are too; when it
   * is not, each event's rows are measured (and cut) on their own as {@link boundedJson} does.
   */
  fits: boolean;
  /** When it does not fit: the length of the JSON of the raw rows at `indices` ({@link measureOf}). */
  measure: ((indices: number[]) => number) | null;
}

/**
 * The length of `JSON.stringify(sliceBatch(raw, batchSize, indices))` for any `indices`, from the
 * JSON of each row and of each other property written once: a batch's rows are measured once, not
 * once per event. `raw` is parsed JSON (plain data), whose JSON is the JSON of its parts joined.
 */
function measureOf(raw: unknown, batchSize: number): { total: number; at: (indices: number[]) => number } {
  if (batchSize <= 1 || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const total = JSON.stringify(raw)?.length ?? 0;
    return { total, at: () => total };
  }
  // `{` and `}`, each kept property's `"key":` and value, the commas between them.
  let fixed = 2;
  let kept = 0;
  const batchRows: number[][] = [];
  for (const [key, item] of Object.entries(raw)) {
    const rows = Array.isArray(item) && item.length === batchSize;
    const text = rows ? '' : JSON.stringify(item);
    if (text === undefined) continue;
    fixed += JSON.stringify(key).length + 1 + (rows ? 2 : text.length);
    kept++;
    if (rows) batchRows.push(Array.from(item, (row) => (JSON.stringify(row) ?? 'null').length));
  }
  fixed += Math.max(0, kept - 1);
  const at = (indices: number[]) => {
    let length = fixed;
    for (const lengths of batchRows) {
      for (const i of indices) length += lengths[i] ?? 4; // `null` for a row that is not there
      length += Math.max(0, indices.length - 1);
    }
    return length;
  };
  return { total: at(Array.from({ length: batchSize }, (_, i) => i)), at };
}

/** Each exchange's shared parts, for the redactor they were redacted with. */
const sharedCache = new WeakMap<
  ParsedExchange,
  { redact: Redactor; batchSize: number; parts: SharedParts }
>();

function sharedParts(parsed: ParsedExchange, batchSize: number, redact: Redactor): SharedParts {
  const cached = sharedCache.get(parsed);
  if (cached?.redact === redact && cached.batchSize === batchSize) return cached.parts;
  const { exchange } = parsed;
  const whole = (key: string, raw: unknown, chars: number | undefined, text: () => string): Whole => {
    try {
      // The parsed body is this exchange's own and is not changed: rows without secrets are kept.
      const redacted = redact.kept(key, raw);
      const slice = slicerOf(redacted, batchSize);
      if (raw === undefined || typeof raw === 'string' || !mayExceed(chars, maxRecordedBodyChars)) {
        return { raw, redacted, slice, fits: true, measure: null };
      }
      const { total, at } = measureOf(raw, batchSize);
      return { raw, redacted, slice, fits: total <= maxRecordedBodyChars, measure: at };
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      // Nested deeper than a walk (redaction, JSON.stringify) can go: recorded as its text,
      // redacted and cut, rather than failing the batch after it was sent.
      const cut = redact.cut(text(), maxRecordedBodyChars);
      return { raw: cut, redacted: cut, slice: () => cut, fits: true, measure: null };
    }
  };
  const parts: SharedParts = {
    url: redact.under('url', exchange.request.url),
    method: redact.under('method', exchange.request.method),
    headers: redact.under('headers', exchange.request.headers),
    payload: whole('payload', parsed.requestPayload, parsed.requestChars, () => exchange.request.body ?? ''),
    response: exchange.response
      ? {
          status: redact.under('status', exchange.response.status),
          headers: redact.under('headers', exchange.response.headers),
          body: whole('body', parsed.responseBody, parsed.responseChars, () => {
            const { body, truncated } = exchange.response!;
            return truncated ? redact.cutEnd(body) : body;
          }),
        }
      : null,
    error: redact.under('error', exchange.error ?? null),
    started_at: redact.under('started_at', exchange.startedAt),
    duration_ms: redact.under('duration_ms', exchange.durationMs),
  };
  sharedCache.set(parsed, { redact, batchSize, parts });
  return parts;
}

/**
 * An event's rows of a body its record shows, redacted and bounded. Rows whose JSON fits are cut
 * from the redacted whole (the rows redacted on their own, without walking them again); only rows
 * too long for a record are redacted and cut as text on their own.
 */
function rowsOf(key: string, whole: Whole, batchSize: number, indices: number[], redact: Redactor): unknown {
  if (whole.fits || (whole.measure?.(indices) ?? 0) <= maxRecordedBodyChars) {
    return whole.slice(indices);
  }
  // Too long for a record: redacted as a value, then as text, then cut ({@link boundedJson}).
  return redact.under(key, boundedJson(sliceBatch(whole.raw, batchSize, indices), redact));
}

/**
 * A captured exchange as a record shows it, for the events at `indices` of a batch. The parts all
 * events share are redacted once per exchange and redactor ({@link sharedParts}); the record's own
 * field names are ours and are never redacted.
 */
export function recordExchange(
  parsed: ParsedExchange,
  batchSize: number,
  indices: number[],
  redact: Redactor,
): RecordedExchange {
  const shared = sharedParts(parsed, batchSize, redact);
  const request = {
    url: shared.url,
    method: shared.method,
    headers: shared.headers,
    payload: rowsOf('payload', shared.payload, batchSize, indices, redact),
  };
  const response = shared.response
    ? {
        status: shared.response.status,
        headers: shared.response.headers,
        body: rowsOf('body', shared.response.body, batchSize, indices, redact),
      }
    : null;
  return {
    request,
    response,
    error: shared.error,
    started_at: shared.started_at,
    duration_ms: shared.duration_ms,
  };
}

/** The line the sandbox adds after the line it cut at its console limit. */
const consoleCutMarker = '[console output truncated';

/**
 * Console lines for one delivery's attempt, redacted and bounded to {@link maxRecordedLogChars}: a
 * line is redacted whole before it is cut, and a line the sandbox already cut (the one before its
 * "console output truncated" line) has a secret's piece at its end redacted.
 */
export function recordLogs(lines: ConsoleLine[], redact: Redactor): ConsoleLine[] {
  const out: ConsoleLine[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (used >= maxRecordedLogChars) {
      out.push({ level: 'warn', message: `[${lines.length - i} more console lines not kept]` });
      break;
    }
    const cutBefore = lines[i + 1]?.message.startsWith(consoleCutMarker) === true;
    let message = cutBefore ? redact.cutEnd(line.message) : redact.text(line.message);
    if (used + message.length > maxRecordedLogChars)
      message = redact.cut(message, maxRecordedLogChars - used);
    used += message.length;
    out.push({ level: line.level, message });
  }
  return out;
}
