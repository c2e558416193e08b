/**
 * Delivering one claimed batch for one destination: run each pipe's transform over its events
 * (per-event attribution: an input with no output is `filtered`), batch the outputs up to the
 * destination's `max_batch_size`, run `send()`, classify each event's outcome, and build the
 * records (redacted) the store writes back.
 */

import type { CodeRef, ConsoleLine, Sandbox, SandboxEvent, SendRun, TransformRun } from '@openpipes/sandbox';
import { backoffDelayMs, classifySend, type EventVerdict } from './classify.js';
import { checkConsent } from './consent/requirement.js';
import { toPipesError } from './errors.js';
import type { TransformProfile } from './identity/stitch.js';
import { type MatchObservation, observeMatch } from './match-quality.js';
import type { EngineObserver } from './observer.js';
import { parseExchange, recordExchange, recordLogs } from './record.js';
import type {
  DeliveryAttempt,
  DeliveryError,
  DeliveryStatus,
  Destination,
  Pipe,
  RecordedExchange,
} from './schemas.js';
import type { Redactor } from './secrets/redact.js';
import type { ClaimedDelivery, DeliveryOutcome } from './store.js';
import { exchangeSpans } from './tracing/exchanges.js';
import { type Context, inSpan, SpanStatusCode, type Tracer } from './tracing/index.js';

const parentOf = (input: DeliverInput) => (input.trace ? { parent: input.trace } : {});

/** Resolves profiles for a transform call (the `profiles` argument). */
export type ProfilesResolver = (input: {
  pipe: Pipe;
  events: SandboxEvent[];
  /** With identity on: the built-in profiles, `{ [event_id]: TransformProfile }`. */
  builtIn?: Record<string, TransformProfile>;
}) => unknown | Promise<unknown>;

export interface DeliverDeps {
  sandbox: Sandbox;
  now: () => number;
  random?: () => number;
  profiles?: ProfilesResolver;
  /** Told each transform's and send's duration (metrics). */
  observer?: EngineObserver;
  /** Traces transforms and sends (`tracing/`); null or absent: off. */
  tracer?: Tracer | null;
}

export interface DeliverInput {
  destination: Destination;
  /** The pipe version to run for each claimed delivery's pipe (pinned replays included). */
  pipeFor: (delivery: ClaimedDelivery) => Pipe;
  secrets: Record<string, string>;
  redact: Redactor;
  claimed: ClaimedDelivery[];
  /** The batch span's context: transform and send spans go under it. */
  trace?: Context;
}

/** Per delivery: what it carries into send(), or why it carries nothing. */
interface Work {
  delivery: ClaimedDelivery;
  pipe: Pipe;
  outputs: SandboxEvent[];
  /** Set when the transform failed for this event. */
  transformError: DeliveryError | null;
  /** Why it carries nothing: `consent`, the transform's reason; null = the transform returned nothing. */
  filterReason: string | null;
  logs: ConsoleLine[];
  verdicts: EventVerdict[];
  exchange: RecordedExchange | null;
  exchanges: RecordedExchange[];
  testMode: boolean;
  retryAfterMs: number | null;
}

/** Runs transforms and sends for a claimed batch; returns one outcome per claimed delivery. */
export async function deliverBatch(deps: DeliverDeps, input: DeliverInput): Promise<DeliveryOutcome[]> {
  const startedAt = deps.now();
  const { destination } = input;
  // One batch's outputs and request carry the same texts: each is searched for secrets once.
  const redact = input.redact.remembering();

  // 1. Transform, grouped by pipe version (one sandbox call per group).
  const groups = new Map<string, { pipe: Pipe; deliveries: ClaimedDelivery[] }>();
  for (const delivery of input.claimed) {
    const pipe = input.pipeFor(delivery);
    const key = `${pipe.id}@${pipe.version}`;
    const group = groups.get(key) ?? { pipe, deliveries: [] };
    group.deliveries.push(delivery);
    groups.set(key, group);
  }
  const work: Work[] = [];
  for (const { pipe, deliveries } of groups.values()) {
    work.push(
      ...(await inSpan(
        deps.tracer ?? null,
        'openpipes.transform',
        {
          attributes: { 'openpipes.pipe': pipe.name, 'openpipes.batch.size': deliveries.length },
          ...parentOf(input),
        },
        () => transformGroup(deps, pipe, deliveries, input.secrets),
      )),
    );
  }

  // 2. Send, in batches of at most max_batch_size outputs.
  const sendable = work.filter((w) => w.transformError === null && w.outputs.length > 0);
  const slots = sendable.flatMap((w) => w.outputs.map((output) => ({ work: w, output })));
  const code: CodeRef = {
    kind: 'send',
    owner: destination.id,
    version: destination.version,
    code: destination.send,
  };
  for (let start = 0; start < slots.length; start += destination.max_batch_size) {
    const batch = slots.slice(start, start + destination.max_batch_size);
    const run = await inSpan(
      deps.tracer ?? null,
      'openpipes.send',
      {
        attributes: { 'openpipes.destination': destination.name, 'openpipes.batch.size': batch.length },
        ...parentOf(input),
      },
      async (span) => {
        let sent: SendRun;
        try {
          sent = await deps.sandbox.send({
            code,
            events: batch.map((s) => s.output),
            secrets: input.secrets,
          });
        } catch (err) {
          // The sandbox contract says send() never rejects; if it does, treat it as a crashed worker.
          const error = toPipesError(err);
          sent = {
            error: { code: 'WORKER_CRASHED', message: error.message },
            exchanges: [],
            logs: [],
            durationMs: 0,
          };
        }
        if (span && deps.tracer) exchangeSpans(deps.tracer, span, sent, redact);
        if (span && sent.error) span.setStatus({ code: SpanStatusCode.ERROR, message: sent.error.code });
        return sent;
      },
    );
    deps.observer?.sent?.({ destination: destination.name, seconds: run.durationMs / 1000, ok: !run.error });
    const classification = classifySend(run, batch.length, deps.now());
    const logs = recordLogs(run.logs, redact);
    // Rows of the request belong to the events send() actually sent, in order; an event it
    // refused before sending (sent: false) has no row and its record shows no request.
    const rows: Array<number | null> = [];
    let sentCount = 0;
    for (const verdict of classification.events) rows.push(verdict.sent === false ? null : sentCount++);
    const indicesByWork = new Map<Work, number[]>();
    batch.forEach((slot, i) => {
      const indices = indicesByWork.get(slot.work) ?? [];
      const row = rows[i];
      if (row !== null && row !== undefined) indices.push(row);
      indicesByWork.set(slot.work, indices);
    });
    const parsed = run.exchanges.map((exchange) => parseExchange(exchange, redact));
    for (const [w, indices] of indicesByWork) {
      if (indices.length > 0) {
        const exchanges = parsed.map((ex) => recordExchange(ex, sentCount, indices, redact));
        w.exchanges.push(...exchanges);
        w.exchange = exchanges.length > 0 ? exchanges[exchanges.length - 1]! : w.exchange;
      }
      w.logs.push(...logs);
      w.testMode ||= classification.testMode;
      if (classification.retryAfterMs !== null) {
        w.retryAfterMs = Math.max(w.retryAfterMs ?? 0, classification.retryAfterMs);
      }
    }
    batch.forEach((slot, i) => {
      slot.work.verdicts.push(classification.events[i]!);
    });
  }

  // 3. Outcomes.
  const finishedAt = deps.now();
  // The batch's times as text and whether its destination declares identifiers, once per batch.
  const batch: BatchFacts = {
    startedAt,
    finishedAt,
    startedIso: new Date(startedAt).toISOString(),
    finishedIso: new Date(finishedAt).toISOString(),
    measuresMatch: Boolean(destination.identifiers) && Object.keys(destination.identifiers ?? {}).length > 0,
  };
  return work.map((w) => outcomeFor(deps, destination, w, batch, redact));
}

async function transformGroup(
  deps: DeliverDeps,
  pipe: Pipe,
  claimed: ClaimedDelivery[],
  secrets: Record<string, string>,
): Promise<Work[]> {
  // The pipe's consent requirement is checked on the event as it came in, before the transform:
  // an event without the consent never reaches user code or send(), and says why on its record.
  const consentless: Work[] = [];
  const deliveries: ClaimedDelivery[] = [];
  for (const delivery of claimed) {
    if (checkConsent(pipe.consent, delivery.event.event_payload).met) deliveries.push(delivery);
    else consentless.push({ ...blankWork(delivery, pipe), filterReason: 'consent' });
  }
  if (deliveries.length === 0) return consentless;
  return [...consentless, ...(await transformAllowed(deps, pipe, deliveries, secrets))];
}

/** A delivery's work before anything ran. */
const blankWork = (delivery: ClaimedDelivery, pipe: Pipe): Work => ({
  delivery,
  pipe,
  outputs: [],
  transformError: null,
  filterReason: null,
  logs: [],
  verdicts: [],
  exchange: null,
  exchanges: [],
  testMode: false,
  retryAfterMs: null,
});

/**
 * Transform code whose entry function the sandbox found never reads `profiles` (TransformRun's
 * `profilesUnread`, decided from the function the sandbox calls): its later batches skip resolving
 * them (stitching is a store read per batch). By code text, so any edit is asked again; bounded.
 */
const unreadProfiles = new Set<string>();
const UNREAD_PROFILES_LIMIT = 512;

function rememberProfilesUnread(code: string, unread: boolean): void {
  if (!unread) {
    unreadProfiles.delete(code);
    return;
  }
  if (unreadProfiles.has(code)) return;
  if (unreadProfiles.size >= UNREAD_PROFILES_LIMIT) unreadProfiles.clear();
  unreadProfiles.add(code);
}

/**
 * One sandbox run of the batch, with `profiles` resolved unless this code's entry was found never to
 * read them. That finding is from an earlier run, in another context or another engine's sandbox
 * (the set is by code text only), whose entry may differ (a top level that picks it by its stack or
 * memory limit, or at random): a run given `{}` whose own sandbox does not say so again is redone
 * with the profiles resolved, so no output ever rests on the skip.
 */
async function transformRun(
  deps: DeliverDeps,
  pipe: Pipe,
  code: string,
  events: SandboxEvent[],
  secrets: Record<string, string>,
): Promise<TransformRun> {
  const run = async (skip: boolean) => {
    const profiles = deps.profiles && !skip ? await deps.profiles({ pipe, events }) : {};
    return deps.sandbox.transform({
      code: { kind: 'transform', owner: pipe.id, version: pipe.version, code },
      events,
      profiles: profiles ?? {},
      secrets,
    });
  };
  const skipped = deps.profiles !== undefined && unreadProfiles.has(code);
  let result = await run(skipped);
  if (skipped && result.profilesUnread !== true) result = await run(false);
  rememberProfilesUnread(code, result.profilesUnread === true);
  return result;
}

async function transformAllowed(
  deps: DeliverDeps,
  pipe: Pipe,
  deliveries: ClaimedDelivery[],
  secrets: Record<string, string>,
): Promise<Work[]> {
  const events: SandboxEvent[] = deliveries.map((d) => ({
    event_type: d.event.event_type,
    event_time: d.event.event_time,
    event_payload: d.event.event_payload,
    event_id: d.event_id,
  }));
  const blank = (delivery: ClaimedDelivery) => blankWork(delivery, pipe);

  if (pipe.transform === null) {
    // Pass-through: the event goes out exactly as a transform sees it, `event_id` included — the
    // platforms deduplicate on it, and at-least-once delivery re-sends after a crash.
    return deliveries.map((delivery, i) => ({ ...blank(delivery), outputs: [events[i]!] }));
  }

  try {
    const run = await transformRun(deps, pipe, pipe.transform, events, secrets);
    deps.observer?.transformed?.({ pipe: pipe.name, seconds: run.durationMs / 1000, ok: true });
    return deliveries.map((delivery, i) => {
      const result = run.results[i];
      // The fresh work takes the logs in place (as the spread of a copy with `logs` would).
      const work = blank(delivery);
      work.logs = [...run.logs];
      if (!result) {
        work.transformError = {
          code: 'INVALID_OUTPUT',
          message: 'the sandbox returned no result for this event',
          retryable: true,
          stage: 'transform',
        };
      } else if (result.ok) {
        work.outputs = result.outputs;
        work.filterReason = result.filter_reason ?? null;
      } else {
        const failure = result.error;
        work.transformError = {
          code: failure.code,
          message: failure.message,
          retryable: failure.code === 'WORKER_CRASHED',
          stage: 'transform',
          ...(failure.line === undefined ? {} : { line: failure.line }),
          ...(failure.column === undefined ? {} : { column: failure.column }),
        };
      }
      return work;
    });
  } catch (err) {
    deps.observer?.transformed?.({ pipe: pipe.name, seconds: 0, ok: false });
    const error = toPipesError(err);
    const details = (error.details ?? {}) as { line?: number; column?: number };
    const retryable = error.code === 'WORKER_CRASHED' || error.retryable;
    return deliveries.map((delivery) => ({
      ...blank(delivery),
      transformError: {
        code: error.code,
        message: error.message,
        retryable,
        stage: 'transform' as const,
        ...(details.line === undefined ? {} : { line: details.line }),
        ...(details.column === undefined ? {} : { column: details.column }),
      },
    }));
  }
}

/**
 * Whether a retried attempt that ended with `error` counts against the retry budget: all do but a
 * neighbour's crash (a `send()` whose worker another call's code killed after its request left, see
 * classifySend), which costs no attempt; the budget's age limit still bounds its retries.
 *
 * @example
 * ```ts
 * spendsAttempt({ code: 'WORKER_CRASHED', message: '…', retryable: true, stage: 'engine' }); // false
 * ```
 */
export function spendsAttempt(error: DeliveryError | null): boolean {
  return !(error?.code === 'WORKER_CRASHED' && error.stage === 'engine');
}

/** What every outcome of one batch shares: its clock readings, and whether match quality is measured. */
interface BatchFacts {
  startedAt: number;
  finishedAt: number;
  startedIso: string;
  finishedIso: string;
  /** The destination declares where its identifiers sit (a custom send() without it is not measured). */
  measuresMatch: boolean;
}

function outcomeFor(
  deps: DeliverDeps,
  destination: Destination,
  w: Work,
  batch: BatchFacts,
  redact: Redactor,
): DeliveryOutcome {
  const { startedAt, finishedAt } = batch;
  const attemptNumber = w.delivery.attempt_count + 1;
  let status: DeliveryStatus;
  let error: DeliveryError | null = null;

  if (w.transformError) {
    error = w.transformError;
    status = error.retryable ? 'retrying' : 'failed';
  } else if (w.outputs.length === 0) {
    status = 'filtered';
  } else {
    // Worst verdict over this delivery's outputs: failed > retry > delivered.
    const failed = w.verdicts.find((v) => v.verdict === 'failed');
    const retry = w.verdicts.find((v) => v.verdict === 'retry');
    if (failed) {
      status = 'failed';
      error = failed.error;
    } else if (retry) {
      status = 'retrying';
      error = retry.error;
    } else {
      status = 'delivered';
    }
  }

  let nextAttemptAt: string | null = null;
  if (status === 'retrying') {
    // A replay starts a fresh retry budget: count attempts and age from the re-queue.
    const budgetAttempt = attemptNumber - w.delivery.attempts_before_replay;
    const budgetStart = Date.parse(w.delivery.replayed_at ?? w.delivery.created_at);
    const policy = destination.retry;
    const age = finishedAt - budgetStart;
    const delay = Math.max(backoffDelayMs(policy, budgetAttempt, deps.random), w.retryAfterMs ?? 0);
    const outOfAttempts = spendsAttempt(error) && budgetAttempt >= policy.max_attempts;
    if (outOfAttempts || age + delay > policy.max_age_seconds * 1000) {
      status = 'dead';
    } else {
      nextAttemptAt = new Date(finishedAt + delay).toISOString();
    }
  }

  // Outputs are not changed after this: what holds no secret is recorded as it is, not copied.
  const output = w.outputs.length > 0 ? redact.kept(null, w.outputs) : null;
  const safeError = error ? redact(error) : null;
  const attempt: DeliveryAttempt | null =
    status === 'filtered'
      ? null
      : {
          number: attemptNumber,
          status,
          started_at: batch.startedIso,
          duration_ms: finishedAt - startedAt,
          pipe_version: w.pipe.version,
          destination_version: destination.version,
          request: w.exchange?.request ?? null,
          response: w.exchange?.response ?? null,
          error: safeError,
          exchanges: w.exchanges,
          logs: recordLogs(w.logs, redact),
        };

  // Match quality, from what left: only delivered events of a destination that declares where
  // its identifiers sit (a custom send() without the declaration is not measured).
  let match: MatchObservation | null = null;
  if (status === 'delivered' && batch.measuresMatch && destination.identifiers) {
    match = observeMatch(destination.identifiers, w.delivery.event.event_payload, w.outputs, finishedAt);
  }

  return {
    id: w.delivery.id,
    status: status as DeliveryOutcome['status'],
    pipe_version: w.pipe.version,
    destination_version: destination.version,
    test_mode: w.testMode,
    filter_reason: status === 'filtered' ? (w.filterReason ?? 'transform') : null,
    next_attempt_at: nextAttemptAt,
    delivered_at: status === 'delivered' ? batch.finishedIso : null,
    detail: {
      output,
      request: w.exchange?.request ?? null,
      response: w.exchange?.response ?? null,
      error: safeError,
    },
    attempt,
    match,
  };
}
