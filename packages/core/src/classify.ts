/**
 * Deciding what a `send()` call achieved, per event, and when to try again.
 *
 * 1. A structured result returned by `send()` (see `sendResultSchema`) decides, per event when it
 *    says so: this is how platforms that answer HTTP 200 with an error body are classified right.
 * 2. Otherwise the LAST captured HTTP exchange decides: 2xx delivered; 408, 425, 429, 5xx,
 *    timeouts, resets and DNS failures retryable; other 4xx permanent.
 * 3. A `send()` that threw is classified by the exchange it was handling (a `throw` after a 503 is
 *    retryable), else as a permanent user-code error; sandbox timeouts and crashes are retryable.
 */
import type { CapturedExchange, SendRun } from '@openpipes/sandbox';
import { type DeliveryError, type RetryPolicy, type SendResult, sendResultSchema } from './schemas.js';
import { formatPath } from './validation.js';

export type Verdict = 'delivered' | 'failed' | 'retry';

export interface EventVerdict {
  verdict: Verdict;
  error: DeliveryError | null;
  /** False when send() reported that it did not put this event in any request. */
  sent?: boolean;
}

export interface SendClassification {
  /** One verdict per event passed to `send()`, in order. */
  events: EventVerdict[];
  /** The platform asked us to wait at least this long (Retry-After or `retry_after_seconds`). */
  retryAfterMs: number | null;
  testMode: boolean;
  /** The exchange shown as the record's request/response: the last one. */
  mainExchange: CapturedExchange | null;
}

/** HTTP statuses worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Network-level fetch failures that are never retried: a refused address, an oversized answer, a
 * request the sandbox would not send, a host name that does not exist (docs/concepts.md lists why).
 * Everything else (timeouts, resets, refused connections, temporary DNS failures, TLS failures) is.
 */
const PERMANENT_NETWORK_ERRORS = new Set([
  'EGRESS_DENIED',
  'RESPONSE_TOO_LARGE',
  'INVALID_REQUEST',
  'DNS_NOT_FOUND',
]);

function isRetryableNetworkError(code: string): boolean {
  return !PERMANENT_NETWORK_ERRORS.has(code);
}

/** `Retry-After` in seconds or as an HTTP date, as milliseconds from `now`; null when absent/invalid. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

function header(exchange: CapturedExchange | null, name: string): string | undefined {
  const headers = exchange?.response?.headers;
  if (!headers) return undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

function responseMessage(exchange: CapturedExchange): string {
  const response = exchange.response!;
  const body = response.body.length > 500 ? `${response.body.slice(0, 500)}…` : response.body;
  return `HTTP ${response.status}${body ? `: ${body}` : ''}`;
}

function all(count: number, verdict: EventVerdict): EventVerdict[] {
  return Array.from({ length: count }, () => verdict);
}

function byExchange(exchange: CapturedExchange, count: number): EventVerdict[] {
  if (exchange.error) {
    const retryable = isRetryableNetworkError(exchange.error.code);
    return all(count, {
      verdict: retryable ? 'retry' : 'failed',
      error: { code: exchange.error.code, message: exchange.error.message, retryable, stage: 'send' },
    });
  }
  const status = exchange.response!.status;
  if (status >= 200 && status < 300) return all(count, { verdict: 'delivered', error: null });
  const retryable = isRetryableStatus(status);
  return all(count, {
    verdict: retryable ? 'retry' : 'failed',
    error: { code: `HTTP_${status}`, message: responseMessage(exchange), retryable, stage: 'response' },
  });
}

function fromResult(result: SendResult, count: number): EventVerdict[] | string {
  const toVerdict = (outcome: 'delivered' | 'failed' | 'retry', message?: string, code?: string | number) => {
    if (outcome === 'delivered') return { verdict: 'delivered' as const, error: null };
    const retryable = outcome === 'retry';
    return {
      verdict: outcome,
      error: {
        code: code === undefined ? (retryable ? 'DESTINATION_RETRY' : 'DESTINATION_REJECTED') : String(code),
        message: message ?? (retryable ? 'send() asked for a retry' : 'send() reported a failure'),
        retryable,
        stage: 'send' as const,
      },
    };
  };
  if (result.outcome !== 'partial') return all(count, toVerdict(result.outcome, result.message, result.code));
  if (!result.events || result.events.length !== count) {
    return `send() returned outcome "partial" with ${result.events?.length ?? 'no'} events; it was given ${count}`;
  }
  return result.events.map((e) =>
    e.sent === false
      ? { ...toVerdict(e.outcome, e.message, e.code), sent: false }
      : toVerdict(e.outcome, e.message, e.code),
  );
}

/** Classifies one `send()` run over `count` events. */
export function classifySend(run: SendRun, count: number, now: number): SendClassification {
  const mainExchange = run.exchanges.length > 0 ? run.exchanges[run.exchanges.length - 1]! : null;
  let retryAfterMs = parseRetryAfter(header(mainExchange, 'retry-after'), now);
  let testMode = false;
  let events: EventVerdict[];

  if (run.error) {
    const failure = run.error;
    const sandboxRetryable = failure.code === 'TIMEOUT' || failure.code === 'WORKER_CRASHED';
    const error: DeliveryError = {
      code: failure.code,
      message: failure.message,
      retryable: sandboxRetryable,
      // A neighbour's code killed the worker after this request left: not this destination's
      // failure (its breaker does not count it) nor its code's (its retry budget is not charged).
      stage: failure.bystander ? 'engine' : 'send',
      ...(failure.line === undefined ? {} : { line: failure.line }),
      ...(failure.column === undefined ? {} : { column: failure.column }),
    };
    if (!sandboxRetryable && mainExchange && (mainExchange.error || !isSuccess(mainExchange))) {
      // The code threw while handling a failed exchange: that exchange says whether to retry.
      const verdict = byExchange(mainExchange, 1)[0]!;
      const network = mainExchange.error;
      // A fetch that failed below HTTP (TLS, DNS, a reset) and was not caught: the record says what
      // failed (`TLS`, `DNS_NOT_FOUND`, ...), not that user code threw.
      const message = network
        ? failure.message.includes(network.message)
          ? failure.message
          : `${network.message} (send() threw: ${failure.message})`
        : `${failure.message} (${verdict.error?.message})`;
      events = all(count, {
        verdict: verdict.verdict,
        error: {
          ...error,
          ...(network ? { code: network.code } : {}),
          retryable: verdict.verdict === 'retry',
          message,
        },
      });
    } else {
      events = all(count, { verdict: sandboxRetryable ? 'retry' : 'failed', error });
    }
  } else if (isStructured(run.value)) {
    const parsed = sendResultSchema.safeParse(run.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      events = all(count, {
        verdict: 'failed',
        error: {
          code: 'INVALID_OUTPUT',
          message: `send() returned an invalid result at ${formatPath(issue.path) || '(root)'}: ${issue.message}`,
          retryable: false,
          stage: 'send',
        },
      });
    } else {
      const verdicts = fromResult(parsed.data, count);
      events =
        typeof verdicts === 'string'
          ? all(count, {
              verdict: 'failed',
              error: { code: 'INVALID_OUTPUT', message: verdicts, retryable: false, stage: 'send' },
            })
          : verdicts;
      testMode = parsed.data.test_mode ?? false;
      if (parsed.data.retry_after_seconds !== undefined)
        retryAfterMs = parsed.data.retry_after_seconds * 1000;
    }
  } else if (mainExchange) {
    events = byExchange(mainExchange, count);
  } else {
    // send() made no request and reported nothing: nothing failed.
    events = all(count, { verdict: 'delivered', error: null });
  }
  return { events, retryAfterMs, testMode, mainExchange };
}

function isSuccess(exchange: CapturedExchange): boolean {
  const status = exchange.response?.status ?? 0;
  return status >= 200 && status < 300;
}

/** A value is a structured send result when it is an object with an `outcome` key. */
function isStructured(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && 'outcome' in value;
}

/**
 * Delay before attempt `attempt + 1`, given that `attempt` attempts have failed: exponential
 * backoff with "equal jitter" (half fixed, half random), so the first retry comes within seconds,
 * later ones minutes and then hours apart, and many failing deliveries do not retry in lockstep.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponential = policy.initial_delay_ms * policy.multiplier ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.max_delay_ms, exponential);
  return Math.round(capped / 2 + (random() * capped) / 2);
}
