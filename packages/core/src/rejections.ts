/**
 * The rejection log: events refused at collect (validation failed, unknown event type, a body that
 * is not JSON...), kept per source so an operator can see what a sender got wrong after the collect
 * answer is gone. Bounded twice over, because garbage is what an attacker sends: at most `perSource`
 * rows per source (the store trims on every write), each event cut to `maxEventBytes` and each
 * error to 4 KB of JSON. Retention prunes it with the events. Writing it never fails collect: one
 * multi-row insert per request, and a failure is logged, not answered. It is awaited (the answer
 * waits for that one insert), so a flood of refused requests cannot pile up writes in memory.
 */
import { newId } from './ids.js';
import type { Logger } from './logger.js';
import type { NewRejection, RejectionError, Store } from './store.js';

/**
 * Options of the rejection log (`createPipes({ rejections: { perSource: 200 } })`).
 *
 * @example
 * ```ts
 * createPipes({ store, secretKey, rejections: { perSource: 1000, maxEventBytes: 4096 } });
 * ```
 */
export interface RejectionLogOptions {
  /** Newest rejections kept per source. Default 1000; 0 turns the log off. */
  perSource?: number;
  /** An event's JSON text is cut to this many UTF-8 bytes (and marked `truncated`). Default 4096. */
  maxEventBytes?: number;
}

/**
 * The stored error is bounded in bytes of its JSON text, not only in characters: an unknown field
 * is reported at its own path, so a hostile sender picks the paths, and a control character is six
 * bytes in JSON (`\u0001`). At most `maxIssues` issues, and those that fit in `maxErrorBytes`.
 */
const maxIssues = 20;
const maxMessageChars = 500;
const maxErrorBytes = 4096;
const maxMessageBytes = 1024;
const maxIssuePathBytes = 256;
const maxIssueMessageBytes = 512;

/** One refused event: its error as the collect answer gave it, and the event as sent. */
export interface RejectedEvent {
  error: RejectionError;
  /** The event as parsed (stored as JSON text)... */
  event?: unknown;
  /** ...or the body's text, when it was not JSON at all. */
  text?: string;
}

export interface RejectionLog {
  /** Stores the refused events of one request; never throws (a failure is logged). */
  record(sourceId: string, rejected: RejectedEvent[]): Promise<void>;
}

/**
 * An event's JSON text cut to `maxBytes` UTF-8 bytes, without splitting a character.
 *
 * @example
 * ```ts
 * boundedEventText({ event: { a: 'x'.repeat(10_000) } }, 4096); // { text: '{"a":"xxx…', truncated: true }
 * ```
 */
export function boundedEventText(
  event: { event?: unknown; text?: string },
  maxBytes: number,
): { text: string; truncated: boolean } {
  let text: string;
  if (event.text !== undefined) {
    // PostgreSQL text cannot hold NUL; JSON.stringify escapes it, raw text must not carry it.
    text = wellFormed(event.text);
  } else {
    try {
      text = JSON.stringify(event.event) ?? String(event.event);
    } catch {
      // A value JSON cannot write (a cycle, a BigInt) from an embedder's own objects; String()
      // throws too for an object without a prototype.
      try {
        text = wellFormed(String(event.event));
      } catch {
        text = '(a value that cannot be written as text)';
      }
    }
  }
  // Cheap tests first: at most maxBytes/3 UTF-16 units always fit; more than maxBytes never do.
  if (text.length * 3 <= maxBytes) return { text, truncated: false };
  if (text.length <= maxBytes && Buffer.byteLength(text, 'utf8') <= maxBytes) {
    return { text, truncated: false };
  }
  let cut = Buffer.from(text.slice(0, maxBytes), 'utf8').subarray(0, maxBytes).toString('utf8');
  // A multi-byte character cut in half decodes as U+FFFD at the end: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return { text: cut, truncated: true };
}

/**
 * Text every store keeps as given: no NUL (PostgreSQL text refuses it) and no lone surrogate
 * (a round trip through UTF-8 turns one into U+FFFD).
 */
function wellFormed(s: string): string {
  return Buffer.from(s.replaceAll('\u0000', '\uFFFD'), 'utf8').toString('utf8');
}

/** Bytes of a value's JSON text. */
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** A well-formed string whose JSON text fits in `maxBytes` (cut with `…` when it did not). */
function clip(value: unknown, maxBytes: number): string {
  const s = typeof value === 'string' ? value : String(value ?? '');
  const text = wellFormed(s.length > maxMessageChars ? s.slice(0, maxMessageChars) : s);
  if (text.length === s.length && jsonBytes(text) <= maxBytes) return text;
  let out = '';
  let bytes = jsonBytes('…');
  for (const ch of text) {
    const more = jsonBytes(ch) - 2;
    if (bytes + more > maxBytes) break;
    out += ch;
    bytes += more;
  }
  return `${out}…`;
}

/** An error with its issues and messages bounded (what is stored, not what was answered). */
function boundedError(error: RejectionError): RejectionError {
  const bounded: RejectionError = {
    code: clip(error.code, 64),
    message: clip(error.message, maxMessageBytes),
    issues: [],
  };
  let left = maxErrorBytes - jsonBytes(bounded);
  for (const i of Array.isArray(error.issues) ? error.issues.slice(0, maxIssues) : []) {
    const issue = { path: clip(i?.path, maxIssuePathBytes), message: clip(i?.message, maxIssueMessageBytes) };
    const cost = jsonBytes(issue) + 1; // and a comma
    if (cost > left) break;
    bounded.issues.push(issue);
    left -= cost;
  }
  return bounded;
}

export function createRejectionLog(deps: {
  store: Store;
  now: () => number;
  logger: Logger;
  options: RejectionLogOptions;
}): RejectionLog {
  const perSource = deps.options.perSource ?? 1000;
  const maxEventBytes = deps.options.maxEventBytes ?? 4096;
  return {
    async record(sourceId, rejected) {
      if (perSource <= 0 || rejected.length === 0) return;
      const now = deps.now();
      let rejections: NewRejection[] = [];
      try {
        // More than `perSource` in one request would be trimmed at once: store only the last ones.
        // Inside the try: whatever an embedder's value does, ingest has already stored the rest.
        rejections = rejected.slice(-perSource).map((r) => {
          const { text, truncated } = boundedEventText(r, maxEventBytes);
          return { id: newId('rejection', now), error: boundedError(r.error), event: text, truncated };
        });
        await deps.store.appendRejections({
          sourceId,
          rejections,
          keep: perSource,
          now: new Date(now).toISOString(),
        });
      } catch (err) {
        deps.logger.warn('could not write the rejection log', {
          source_id: sourceId,
          rejected: rejected.length,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    },
  };
}
