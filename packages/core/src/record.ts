/**
 * Shaping what a delivery record shows: captured HTTP exchanges become `{ url, method, headers,
 * payload }` / `{ status, body }` with JSON parsed (as the brief shows them), a batch request is cut
 * down to the rows of the event the record is about, sizes are bounded, and secret values are
 * replaced with `[secret:KEY]`.
 */

import type { CapturedExchange, ConsoleLine } from './sandbox/types.js';
import type { RecordedExchange } from './schemas.js';
import type { Redactor } from './secrets/redact.js';

/** Bodies larger than this are kept as truncated text in the record. */
const maxRecordedBodyChars = 64 * 1024;
/** Console output kept per delivery attempt. */
const maxRecordedLogChars = 4 * 1024;

/** Parses JSON text safely (no prototype keys); returns the text itself when it is not JSON. */
export function parseBody(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text, dropPrototypeKeys);
    } catch {
      // not JSON after all
    }
  }
  return text.length > maxRecordedBodyChars
    ? `${text.slice(0, maxRecordedBodyChars)}… [truncated ${text.length - maxRecordedBodyChars} chars]`
    : text;
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

function boundedJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  if (text === undefined || text.length <= maxRecordedBodyChars) return value;
  return `${text.slice(0, maxRecordedBodyChars)}… [truncated ${text.length - maxRecordedBodyChars} chars]`;
}

/** A captured exchange with its bodies parsed once, to be cut per event with {@link recordExchange}. */
export interface ParsedExchange {
  exchange: CapturedExchange;
  requestPayload: unknown;
  responseBody: unknown;
}

/** Parses an exchange's bodies once per batch (not once per event: a batch has up to thousands). */
export function parseExchange(exchange: CapturedExchange): ParsedExchange {
  return {
    exchange,
    requestPayload: parseBody(exchange.request.body),
    responseBody: exchange.response ? parseBody(exchange.response.body) : undefined,
  };
}

/** A captured exchange as a record shows it, for the events at `indices` of a batch. */
export function recordExchange(
  parsed: ParsedExchange,
  batchSize: number,
  indices: number[],
  redact: Redactor,
): RecordedExchange {
  const { exchange } = parsed;
  const request = {
    url: exchange.request.url,
    method: exchange.request.method,
    headers: exchange.request.headers,
    payload: boundedJson(sliceBatch(parsed.requestPayload, batchSize, indices)),
  };
  const response = exchange.response
    ? {
        status: exchange.response.status,
        headers: exchange.response.headers,
        body: boundedJson(sliceBatch(parsed.responseBody, batchSize, indices)),
      }
    : null;
  return redact({
    request,
    response,
    error: exchange.error ?? null,
    started_at: exchange.startedAt,
    duration_ms: exchange.durationMs,
  });
}

/** Console lines for one delivery's attempt, bounded. */
export function recordLogs(lines: ConsoleLine[], redact: Redactor): ConsoleLine[] {
  const out: ConsoleLine[] = [];
  let used = 0;
  for (const line of lines) {
    if (used >= maxRecordedLogChars) {
      out.push({ level: 'warn', message: `[${lines.length - out.length} more console lines not kept]` });
      break;
    }
    const message = line.message.slice(0, maxRecordedLogChars - used);
    used += message.length;
    out.push({ level: line.level, message });
  }
  return redact(out);
}
