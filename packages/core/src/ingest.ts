/**
 * Ingest: validate incoming events against their event types, then append the valid ones and one
 * pending delivery per enabled pipe on the source in ONE store transaction. An event that fails
 * validation gets its own error; its valid siblings are still stored.
 */

import type { z } from 'zod';
import type { ConfigCache } from './config.js';
import { PipesError } from './errors.js';
import { newId } from './ids.js';
import { findUnstorableJson, isVouchedStorableList } from './json-value.js';
import type { EngineObserver, EventRejectReason } from './observer.js';
import type { RejectionLog } from './rejections.js';
import { incomingEventSchema } from './schemas.js';
import type { AppendIdentity, NewEvent, Store } from './store.js';
import { formatTraceParent, inSpan, type Tracer } from './tracing/index.js';
import { type FieldIssue, zodIssues } from './validation.js';

/** What happened to one event of an ingest call. */
export type IngestEventResult =
  | { index: number; status: 'accepted'; id: string; event_id: string }
  | { index: number; status: 'duplicate'; id: string; event_id: string }
  | {
      index: number;
      status: 'rejected';
      error: { code: 'VALIDATION_FAILED' | 'UNKNOWN_EVENT_TYPE'; message: string; issues: FieldIssue[] };
    };

/**
 * The answer to an ingest call.
 *
 * @example
 * ```ts
 * const result = await pipes.ingest('web', [{ event_type: 'purchase', event_time: new Date().toISOString(), event_payload: {...} }]);
 * result.accepted; // 1
 * ```
 */
export interface IngestResult {
  source_id: string;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** One entry per event, in the order given. */
  results: IngestEventResult[];
}

export interface IngestDeps {
  store: Store;
  config: ConfigCache;
  now: () => number;
  /** Told which destinations have new work. */
  onDeliveriesCreated: (destinationIds: string[]) => void;
  /** Told what each call accepted and refused (metrics). */
  observer?: EngineObserver;
  /** Told how many events of each type a call stored (volume alerts). Must be cheap and not throw. */
  onAccepted?: (sourceId: string, perType: ReadonlyMap<string, number>) => void;
  /** Traces each call (`openpipes.ingest`); null: tracing is off. */
  tracer?: Tracer | null;
  /** Given the events a call stored (not duplicates) before it answers: identity links them. */
  onStored?: (events: NewEvent[]) => Promise<void>;
  /**
   * Identity's writes for a call's valid events, stored with them in one transaction (null: none).
   * If that transaction fails, the events are stored again without them and `onIdentityFailed` is
   * told: identity never costs an accepted event.
   */
  identityFor?: (events: NewEvent[]) => AppendIdentity | null;
  onIdentityFailed?: (err: unknown) => void;
  /** Keeps the refused events of each call (one write per call; never throws). */
  rejections?: RejectionLog;
}

/**
 * The events and identity's writes in one transaction; if it fails (nothing of it was stored),
 * the events alone: a failure of identity is told, not the caller's. A failure of the events'
 * own writes fails the second try too and reaches the caller as before.
 */
async function appendWithIdentity(
  deps: Pick<IngestDeps, 'store' | 'onIdentityFailed'>,
  input: Parameters<Store['appendEvents']>[0],
  identity: AppendIdentity,
): Promise<Array<{ duplicate: boolean; id: string }>> {
  try {
    return await deps.store.appendEvents({ ...input, identity });
  } catch (err) {
    const stored = await deps.store.appendEvents(input);
    deps.onIdentityFailed?.(err);
    return stored;
  }
}

type IngestConfig = Awaited<ReturnType<IngestDeps['config']['current']>>;

/**
 * One incoming value checked as an event: storable, well formed, of a defined type, valid against
 * its schema; the event to store (with its new id), or why it is refused.
 */
function checkEvent(
  raw: unknown,
  index: number,
  config: IngestConfig,
  now: number,
  traceParent: string | null,
  vouched: boolean,
): { rejected: IngestEventResult } | { event: NewEvent } {
  // Text and numbers no store keeps as given (NUL, lone surrogates, Infinity) are refused here
  // too, not only by the HTTP parser: embedders call ingest with objects of their own. A list the
  // HTTP parser already checked (`vouched`) is not walked twice.
  const unstorable = vouched ? null : findUnstorableJson(raw);
  if (unstorable) {
    return {
      rejected: {
        index,
        status: 'rejected',
        error: { code: 'VALIDATION_FAILED', message: summarize([unstorable]), issues: [unstorable] },
      },
    };
  }
  const fast = parseWellFormedEvent(raw);
  const parsed = fast ? { success: true as const, data: fast } : incomingEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    return {
      rejected: {
        index,
        status: 'rejected',
        error: { code: 'VALIDATION_FAILED', message: summarize(issues), issues: answered(issues) },
      },
    };
  }
  const event = parsed.data;
  const type = config.eventTypes.get(event.event_type);
  if (!type) {
    const message = `event_type "${event.event_type}" is not defined; create it first (known: ${
      [...config.eventTypes.keys()].join(', ') || 'none'
    })`;
    return {
      rejected: {
        index,
        status: 'rejected',
        error: { code: 'UNKNOWN_EVENT_TYPE', message, issues: [{ path: 'event_type', message }] },
      },
    };
  }
  const issues = type.validate(event.event_payload);
  if (issues) {
    return {
      rejected: {
        index,
        status: 'rejected',
        error: { code: 'VALIDATION_FAILED', message: summarize(issues), issues: answered(issues) },
      },
    };
  }
  const id = newId('event', now);
  return {
    event: {
      id,
      event_id: event.event_id ?? id,
      sender_event_id: event.event_id !== undefined,
      event_type: event.event_type,
      event_time: event.event_time,
      event_payload: event.event_payload,
      trace_parent: traceParent,
    },
  };
}

/** Accepted (not duplicate) events per event type. */
function acceptedPerType(
  stored: Array<{ duplicate: boolean }>,
  valid: Array<{ event: NewEvent }>,
): Map<string, number> {
  const perType = new Map<string, number>();
  stored.forEach((outcome, i) => {
    if (outcome.duplicate) return;
    const type = valid[i]!.event.event_type;
    perType.set(type, (perType.get(type) ?? 0) + 1);
  });
  return perType;
}

/** Refused events per reason (the lowercase error code), for the observer. */
function rejectedByReason(results: IngestEventResult[]): Partial<Record<EventRejectReason, number>> {
  const rejected: Partial<Record<EventRejectReason, number>> = {};
  for (const r of results) {
    if (r.status !== 'rejected') continue;
    const reason = r.error.code.toLowerCase() as EventRejectReason;
    rejected[reason] = (rejected[reason] ?? 0) + 1;
  }
  return rejected;
}

export function createIngest(deps: IngestDeps) {
  // `unknown`, not `IncomingEvent[]`: the engine's typed `ingest` and the collect endpoint's parsed
  // bodies both land here, and every event is validated below whatever its static type said.
  return function ingest(sourceSlug: string, events: unknown): Promise<IngestResult> {
    if (!deps.tracer) return ingestIn(sourceSlug, events, null);
    return inSpan(
      deps.tracer,
      'openpipes.ingest',
      { attributes: { 'openpipes.source': sourceSlug } },
      async (span) => {
        const result = await ingestIn(
          sourceSlug,
          events,
          span ? formatTraceParent(span.spanContext()) : null,
        );
        span?.setAttributes({
          'openpipes.events.accepted': result.accepted,
          'openpipes.events.duplicates': result.duplicates,
          'openpipes.events.rejected': result.rejected,
        });
        return result;
      },
    );
  };

  async function ingestIn(
    sourceSlug: string,
    events: unknown,
    traceParent: string | null,
  ): Promise<IngestResult> {
    const config = await deps.config.current();
    const source = config.sourcesBySlug.get(sourceSlug);
    if (!source) {
      throw new PipesError({ code: 'UNKNOWN_SOURCE', message: `no source with slug "${sourceSlug}"` });
    }
    if (!source.enabled) {
      throw new PipesError({ code: 'SOURCE_DISABLED', message: `source "${sourceSlug}" is disabled` });
    }
    const list = Array.isArray(events) ? events : [events];
    const vouched = isVouchedStorableList(events);
    const now = deps.now();

    const results: Array<IngestEventResult | null> = new Array(list.length).fill(null);
    const valid: Array<{ index: number; event: NewEvent }> = [];
    list.forEach((raw, index) => {
      const checked = checkEvent(raw, index, config, now, traceParent, vouched);
      if ('rejected' in checked) results[index] = checked.rejected;
      else valid.push({ index, event: checked.event });
    });

    const pipes = config.enabledPipesBySource.get(source.id) ?? [];
    if (valid.length > 0) {
      const deliveryIds: string[] = [];
      for (let i = 0; i < valid.length * pipes.length; i++) deliveryIds.push(newId('delivery', now));
      const input: Parameters<Store['appendEvents']>[0] = {
        sourceId: source.id,
        events: valid.map((v) => v.event),
        pipes: pipes.map((p) => ({ pipe_id: p.id, destination_id: p.destination_id })),
        deliveryIds,
        dedupSince:
          source.dedup_window_seconds > 0
            ? new Date(now - source.dedup_window_seconds * 1000).toISOString()
            : null,
        now: new Date(now).toISOString(),
      };
      const identity = deps.identityFor?.(input.events) ?? null;
      const stored = identity
        ? await appendWithIdentity(deps, input, identity)
        : await deps.store.appendEvents(input);
      stored.forEach((outcome, i) => {
        const { index, event } = valid[i]!;
        results[index] = outcome.duplicate
          ? { index, status: 'duplicate', id: outcome.id, event_id: event.event_id }
          : { index, status: 'accepted', id: event.id, event_id: event.event_id };
      });
      if (pipes.length > 0 && stored.some((s) => !s.duplicate)) {
        deps.onDeliveriesCreated([...new Set(pipes.map((p) => p.destination_id))]);
      }
      if (deps.onAccepted) {
        const perType = acceptedPerType(stored, valid);
        if (perType.size > 0) deps.onAccepted(source.id, perType);
      }
      if (deps.onStored) {
        const accepted = valid.filter((_, i) => !stored[i]!.duplicate).map((v) => v.event);
        if (accepted.length > 0) await deps.onStored(accepted);
      }
    }

    const final = results as IngestEventResult[];
    if (deps.rejections) {
      const refused = final.flatMap((r) =>
        r.status === 'rejected' ? [{ error: r.error, event: list[r.index] }] : [],
      );
      if (refused.length > 0) await deps.rejections.record(source.id, refused);
    }
    const result = {
      source_id: source.id,
      accepted: final.filter((r) => r.status === 'accepted').length,
      duplicates: final.filter((r) => r.status === 'duplicate').length,
      rejected: final.filter((r) => r.status === 'rejected').length,
      results: final,
    };
    if (deps.observer?.ingested) {
      deps.observer.ingested({
        source: source.slug,
        accepted: result.accepted,
        duplicates: result.duplicates,
        rejected: rejectedByReason(final),
      });
    }
    return result;
  }
}

// An ISO 8601 date-time with an offset, which `incomingEventSchema` accepts as written.
const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Days in each month of a common year (February's leap day is added below). */
const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * True when the parts of a matched date-time are in range (no February 30th, no hour 24). February
 * follows `Date.UTC`, which reads years 0–99 as 1900–1999.
 */
function inRange(m: RegExpExecArray): boolean {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const y = year < 100 ? year + 1900 : year;
  const leap = month === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  return (
    day <= monthDays[month - 1]! + (leap ? 1 : 0) &&
    Number(m[4]) <= 23 &&
    Number(m[5]) <= 59 &&
    Number(m[6]) <= 59 &&
    offsetOk
  );
}

/**
 * The common case without zod: a plain event whose fields are all well formed. It accepts a subset
 * of what `incomingEventSchema` accepts and returns exactly what it would; anything else (including
 * every invalid event, for its error messages) goes through the schema. Worth it because zod is
 * the largest share of ingest's own CPU time (see bench/collect.bench.mjs).
 */
export function parseWellFormedEvent(raw: unknown): IncomingEventData | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const { event_type, event_time, event_payload, event_id } = raw as Record<string, unknown>;
  // Any other key is an error the schema words (events are strict objects).
  if (Object.keys(raw).length !== (event_id === undefined ? 3 : 4)) return null;
  if (typeof event_type !== 'string' || event_type.length === 0 || event_type.length > 100) return null;
  if (
    event_id !== undefined &&
    (typeof event_id !== 'string' || event_id.length === 0 || event_id.length > 256)
  ) {
    return null;
  }
  if (event_type.includes('\u0000') || (event_id as string | undefined)?.includes('\u0000')) return null;
  if (
    event_payload === null ||
    typeof event_payload !== 'object' ||
    Array.isArray(event_payload) ||
    Object.getPrototypeOf(event_payload) !== Object.prototype
  ) {
    return null;
  }
  if (typeof event_time !== 'string') return null;
  const match = isoDateTime.exec(event_time);
  if (!match || !inRange(match)) return null;
  const time = canonicalTime(event_time);
  if (time === null) return null;
  const out: IncomingEventData = {
    event_type,
    event_time: time,
    event_payload: event_payload as Record<string, unknown>,
  };
  if (event_id !== undefined) out.event_id = event_id as string;
  return out;
}

/**
 * A matched, in-range date-time as `toISOString` writes it (null: no Date reads it). Text already in that form (UTC, three
 * digits of milliseconds: what most senders write) is its own answer, without a Date parsed and
 * written per event.
 */
function canonicalTime(text: string): string | null {
  if (text.length === 24 && text.charCodeAt(19) === 46 && text.charCodeAt(23) === 90) return text;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

type IncomingEventData = z.output<typeof incomingEventSchema>;

/**
 * Issues answered per refused event. An unknown field is an issue of its own, so a 1 MB body of
 * one event with 100,000 short unknown keys would otherwise be answered with ~8 MB of issues; the
 * message still counts them all ("and N more").
 */
export const maxIssuesPerEvent = 100;

function answered(issues: FieldIssue[]): FieldIssue[] {
  return issues.length > maxIssuesPerEvent ? issues.slice(0, maxIssuesPerEvent) : issues;
}

function summarize(issues: FieldIssue[]): string {
  const head = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  return issues.length > 3 ? `${head} (and ${issues.length - 3} more)` : head;
}
