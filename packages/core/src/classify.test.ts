import type { CapturedExchange, SendRun } from '@openpipes/sandbox';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, classifySend, parseRetryAfter } from './classify.js';
import { spendsAttempt } from './deliver.js';
import { judgeBatch } from './dispatch/breaker.js';
import { retryPolicySchema } from './schemas.js';

const now = Date.parse('2026-05-04T10:00:00.000Z');

function exchange(
  status: number | null,
  body = '{}',
  headers: Record<string, string> = {},
): CapturedExchange {
  return {
    request: { url: 'https://platform.example/events', method: 'POST', headers: {}, body: '{}' },
    ...(status === null
      ? { error: { code: 'CONNECTION', message: 'ECONNRESET' } }
      : { response: { status, headers, body } }),
    startedAt: new Date(now).toISOString(),
    durationMs: 5,
  };
}
const run = (partial: Partial<SendRun>): SendRun => ({ exchanges: [], logs: [], durationMs: 1, ...partial });

describe('classifySend without a structured result', () => {
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [400, 'failed'],
    [401, 'failed'],
    [404, 'failed'],
    [408, 'retry'],
    [425, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('classifies HTTP %i as %s', (status, verdict) => {
    const result = classifySend(run({ exchanges: [exchange(status)] }), 2, now);
    expect(result.events.map((e) => e.verdict)).toEqual([verdict, verdict]);
    if (verdict !== 'delivered') expect(result.events[0]?.error?.code).toBe(`HTTP_${status}`);
  });

  it('lets the last exchange decide (a token refresh that failed first does not fail the batch)', () => {
    const result = classifySend(run({ exchanges: [exchange(401), exchange(200)] }), 1, now);
    expect(result.events[0]?.verdict).toBe('delivered');
    expect(result.mainExchange?.response?.status).toBe(200);
  });

  it('retries network failures but not refused egress', () => {
    expect(classifySend(run({ exchanges: [exchange(null)] }), 1, now).events[0]?.verdict).toBe('retry');
    const denied = exchange(null);
    denied.error = { code: 'EGRESS_DENIED', message: 'refused' };
    expect(classifySend(run({ exchanges: [denied] }), 1, now).events[0]).toMatchObject({
      verdict: 'failed',
      error: { code: 'EGRESS_DENIED', retryable: false },
    });
  });

  it.each([
    ['TLS', 'TLS failure: certificate has expired (CERT_HAS_EXPIRED)', 'retry'],
    ['DNS', 'could not resolve a.test: temporary DNS failure (EAI_AGAIN): x', 'retry'],
    ['DNS_NOT_FOUND', 'could not resolve a.test: the name does not exist (ENOTFOUND)', 'failed'],
    ['CONNECTION', 'connect ECONNREFUSED', 'retry'],
    ['TIMEOUT', 'fetch timed out after 10000 ms', 'retry'],
  ])('classifies a %s fetch failure (documented in docs/concepts.md)', (code, message, verdict) => {
    const failed = exchange(null);
    failed.error = { code, message };
    expect(classifySend(run({ exchanges: [failed] }), 1, now).events[0]).toMatchObject({
      verdict,
      error: { code, message, retryable: verdict === 'retry', stage: 'send' },
    });
    // The same failure, uncaught by send(): the record names the failure, not "user code threw".
    const threw = {
      code: 'USER_CODE_ERROR' as const,
      message: `TypeError: fetch failed: ${message}`,
      line: 2,
    };
    expect(classifySend(run({ error: threw, exchanges: [failed] }), 1, now).events[0]).toMatchObject({
      verdict,
      error: { code, message: threw.message, retryable: verdict === 'retry', line: 2 },
    });
  });

  it('judges a send() that threw by the exchange it was handling', () => {
    const threw = { code: 'USER_CODE_ERROR' as const, message: 'bad status', line: 7 };
    expect(classifySend(run({ error: threw, exchanges: [exchange(503)] }), 1, now).events[0]).toMatchObject({
      verdict: 'retry',
      error: { code: 'USER_CODE_ERROR', line: 7, retryable: true },
    });
    expect(classifySend(run({ error: threw, exchanges: [exchange(400)] }), 1, now).events[0]?.verdict).toBe(
      'failed',
    );
    expect(classifySend(run({ error: threw }), 1, now).events[0]?.verdict).toBe('failed');
    expect(
      classifySend(run({ error: { code: 'TIMEOUT', message: 'send() took too long' } }), 1, now).events[0]
        ?.verdict,
    ).toBe('retry');
  });

  it('takes Retry-After from the answer, in seconds or as an HTTP date', () => {
    expect(
      classifySend(run({ exchanges: [exchange(429, '{}', { 'Retry-After': '7' })] }), 1, now).retryAfterMs,
    ).toBe(7000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});

describe('classifySend with a structured result', () => {
  it('fails an HTTP 200 the code says failed, and retries what it says to retry', () => {
    const value = { outcome: 'retry', message: 'Too frequent', code: 40100, retry_after_seconds: 3 };
    const result = classifySend(run({ value, exchanges: [exchange(200)] }), 2, now);
    expect(result.events[0]).toMatchObject({
      verdict: 'retry',
      error: { code: '40100', message: 'Too frequent' },
    });
    expect(result.retryAfterMs).toBe(3000);
  });

  it('classifies each event of a partial result, and notes the events that were not sent', () => {
    const value = {
      outcome: 'partial',
      test_mode: true,
      events: [
        { outcome: 'delivered' },
        { outcome: 'failed', message: 'CLICK_NOT_FOUND' },
        { outcome: 'failed', code: 'EVENT_TOO_OLD', message: 'older than 7 days', sent: false },
      ],
    };
    const result = classifySend(run({ value, exchanges: [exchange(200)] }), 3, now);
    expect(result.testMode).toBe(true);
    expect(result.events.map((e) => [e.verdict, e.error?.message ?? null, e.sent ?? true])).toEqual([
      ['delivered', null, true],
      ['failed', 'CLICK_NOT_FOUND', true],
      ['failed', 'older than 7 days', false],
    ]);
  });

  it('refuses a malformed result with a message that says where', () => {
    const wrongCount = classifySend(run({ value: { outcome: 'partial', events: [] } }), 2, now);
    expect(wrongCount.events[0]?.error?.message).toMatch(/partial.*0 events.*given 2/);
    const badOutcome = classifySend(run({ value: { outcome: 'maybe' } }), 1, now);
    expect(badOutcome.events[0]?.error).toMatchObject({ code: 'INVALID_OUTPUT' });
    expect(badOutcome.events[0]?.error?.message).toContain('outcome');
  });

  it('leaves an ordinary platform answer to the HTTP status', () => {
    const value = { events_received: 2, fbtrace_id: 'x' };
    expect(classifySend(run({ value, exchanges: [exchange(200)] }), 2, now).events[0]?.verdict).toBe(
      'delivered',
    );
  });
});

describe('backoffDelayMs', () => {
  const policy = retryPolicySchema.parse({});

  it('grows from seconds to minutes to hours, with jitter, and stops at the cap', () => {
    const low = (n: number) => backoffDelayMs(policy, n, () => 0);
    const high = (n: number) => backoffDelayMs(policy, n, () => 1);
    expect([low(1), high(1)]).toEqual([1000, 2000]);
    expect(high(4)).toBe(128_000);
    expect(high(7)).toBe(8_192_000); // ~2.3 h
    expect(high(8)).toBe(6 * 3600 * 1000);
    expect(high(20)).toBe(6 * 3600 * 1000);
    for (let n = 1; n < 8; n++) expect(low(n + 1)).toBeGreaterThanOrEqual(low(n));
  });
});

describe('a send() whose worker died after its request left', () => {
  const crashed = (bystander: boolean) =>
    classifySend(
      run({
        error: {
          code: 'WORKER_CRASHED',
          message: 'its sandbox worker died after this call’s request had left',
          ...(bystander ? { bystander: true as const } : {}),
        },
      }),
      1,
      now,
    ).events[0]!.error!;

  it('is retried; a bystander is not charged its retry budget nor its destination’s breaker', () => {
    const own = crashed(false);
    const neighbours = crashed(true);
    expect([own.retryable, own.stage, spendsAttempt(own)]).toEqual([true, 'send', true]);
    expect([neighbours.retryable, neighbours.stage, spendsAttempt(neighbours)]).toEqual([
      true,
      'engine',
      false,
    ]);
    const batch = (error: typeof own) => judgeBatch([{ status: 'retrying', detail: { error } }]);
    expect(batch(own).destinationFailed).toBe(true);
    expect(batch(neighbours).destinationFailed).toBe(false);
  });
});
