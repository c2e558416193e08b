/**
 * Helpers for tests that run a real engine: a polling `waitFor`, `settled` deliveries, the Meta example's
 * operator flow set up through the engine API, and a Meta stand-in's answer. No test framework is
 * imported here, so `@openpipes/core/testing` loads anywhere (an app, a CLI, a script).
 */
import type { Pipes } from '../engine.js';
import type { Delivery, DeliveryAttempt, DeliveryStatus, Page } from '../schemas.js';
import type { ErasureCounts } from '../store/erasure.js';
import type { DeliveryOutcome, NewAuditEntry } from '../store.js';
import { metaExampleSend, metaExampleTransform, purchaseSchema } from './meta-example.js';
import type { RecordedTestRequest, TestResponse, TestServer } from './test-server.js';

export const testSecretKey = 'test-secret-key-0123456789abcdef';
/** The Meta access token `setupMetaExample` stores as a secret (tests check it never leaks). */
export const exampleAccessToken = 'EAAB-super-secret-access-token-7f3a9c';
/** The Meta pixel id `setupMetaExample` stores as a secret. */
export const examplePixelId = '998877665544';

/** Polls until `check` returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A stand-in for Meta's Conversions API: checks the token, answers `events_received`. */
export function metaLikeAnswer(request: RecordedTestRequest): TestResponse {
  const body = request.json as { data?: unknown[]; access_token?: string } | undefined;
  if (body?.access_token !== exampleAccessToken) {
    return {
      status: 400,
      body: {
        error: {
          message: 'Invalid OAuth access token.',
          type: 'OAuthException',
          code: 190,
          fbtrace_id: 'T1',
        },
      },
    };
  }
  return {
    status: 200,
    body: { events_received: body.data?.length ?? 0, messages: [], fbtrace_id: 'AbC123xyz' },
  };
}

/** The operator flow through the engine API: source, event types, secrets, destination, pipe. */
export async function setupMetaExample(
  pipes: Pipes,
  meta: TestServer,
  destination: { retry?: Record<string, number>; max_batch_size?: number } = {},
) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
  await pipes.eventTypes.create({ name: 'add_to_cart', schema: { type: 'object' } });
  const token = await pipes.secrets.create({
    key: 'META_ACCESS_TOKEN',
    value: exampleAccessToken,
    description: 'Meta CAPI pixel token',
  });
  const pixel = await pipes.secrets.create({ key: 'META_PIXEL_ID', value: examplePixelId });
  const dest = await pipes.destinations.create({
    name: 'meta-capi-prod',
    send: metaExampleSend(meta.url),
    max_batch_size: destination.max_batch_size ?? 1000,
    ...(destination.retry ? { retry: { ...destination.retry } } : {}),
  });
  await pipes.destinations.bindSecrets(dest.id, [token.id, pixel.id]);
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: dest.id,
    transform: metaExampleTransform,
  });
  // The example flow: new pipes and destinations start disabled; `enable` turns them on.
  if (pipe.enabled || dest.enabled) throw new Error('a new pipe or destination must start disabled');
  const pipeOn = await pipes.pipes.enable(pipe.id);
  const destinationOn = await pipes.destinations.enable(dest.id);
  if (!pipeOn.enabled || !destinationOn.enabled) throw new Error('enable must enable a disabled entity');
  return { source, destination: dest, pipe, secrets: { token, pixel } };
}

const finalStatuses: DeliveryStatus[] = ['delivered', 'filtered', 'failed', 'dead'];

/** Waits until `count` deliveries of a pipe are in a final status; returns them (all pages). */
export async function settled(
  pipes: Pipes,
  pipeId: string,
  count: number,
  timeoutMs = 15_000,
): Promise<Delivery[]> {
  return waitFor(
    async () => {
      // A page holds at most 1000 deliveries: read them all, or a count above 1000 never settles.
      const all: Delivery[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<Delivery> = await pipes.deliveries.list(pipeId, {
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        all.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      const done = all.filter((d) => finalStatuses.includes(d.status));
      return done.length >= count ? all : null;
    },
    timeoutMs,
    `${count} settled deliveries`,
  );
}

/**
 * Stops an engine, then closes the store it ran on, even when stopping failed: `stop()` leaves the
 * store open (whoever made a store closes it), and a test made both.
 *
 * @example
 * ```ts
 * afterEach(() => stopAndClose(pipes, { graceMs: 2000 }));
 * ```
 */
export async function stopAndClose(pipes: Pipes, options: { graceMs?: number } = {}): Promise<void> {
  try {
    await pipes.stop(options);
  } finally {
    await pipes.store.close();
  }
}

/**
 * A seeded pseudo-random generator (mulberry32) for generated-input tests, so a failure repeats:
 * `random()` in [0, 1), `pick(list)` one of its items.
 *
 * @example
 * ```ts
 * const { random, pick } = seededRandom(14);
 * const key = random() < 0.85 ? pick(['a', 'b']) : '__proto__';
 * ```
 */
export function seededRandom(seed: number): { random: () => number; pick: <T>(list: readonly T[]) => T } {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  return { random, pick };
}

/**
 * The audit entry of an erasure a data protection officer (`dpo`) asked for, as `eraseProfiles`
 * takes it: for store tests that erase without the engine.
 *
 * @example
 * ```ts
 * await store.eraseProfiles({ identifiers, given: [], eventIdDigest, now, audit: erasureAudit('aud_1', now) });
 * ```
 */
export function erasureAudit(id: string, createdAt: string): (counts: ErasureCounts) => NewAuditEntry {
  return (counts) => ({
    id,
    actor: 'dpo',
    action: 'erase',
    entity_kind: 'profile',
    entity_id: counts.profile_ids[0] ?? 'none',
    before: null,
    after: { ...counts },
    request_id: null,
    created_at: createdAt,
  });
}

/**
 * An outcome with no detail and no attempt, as store tests complete a claimed delivery: filtered
 * for consent, retrying at `retryAt`, delivered at `now`.
 */
export function bareOutcome(
  id: string,
  status: DeliveryOutcome['status'],
  now: string,
  retryAt: string | null,
): DeliveryOutcome {
  return {
    id,
    status,
    pipe_version: 1,
    destination_version: 1,
    test_mode: false,
    filter_reason: status === 'filtered' ? 'consent' : null,
    next_attempt_at: status === 'retrying' ? retryAt : null,
    delivered_at: status === 'delivered' ? now : null,
    detail: { output: null, request: null, response: null, error: null },
    attempt: null,
  };
}

/** What {@link deliveredOutcome} takes: the attempt's parts, and the detail when not the attempt's. */
export interface DeliveredOutcomeInput {
  id: string;
  now: string;
  output: unknown[] | null;
  request: DeliveryAttempt['request'];
  response: DeliveryAttempt['response'];
  number?: number;
  durationMs?: number;
  exchanges?: DeliveryAttempt['exchanges'];
  detail?: DeliveryOutcome['detail'];
}

/**
 * A delivered outcome as the engine records it for `completeDeliveries`: version 1 of pipe and
 * destination, the attempt's request and response also in the detail (unless `detail` is given).
 */
export function deliveredOutcome({
  id,
  now,
  output,
  request,
  response,
  number = 1,
  durationMs = 12,
  exchanges = [],
  detail = { output, request, response, error: null },
}: DeliveredOutcomeInput): DeliveryOutcome {
  return {
    id,
    status: 'delivered',
    pipe_version: 1,
    destination_version: 1,
    test_mode: false,
    filter_reason: null,
    next_attempt_at: null,
    delivered_at: now,
    detail,
    attempt: {
      number,
      status: 'delivered',
      started_at: now,
      duration_ms: durationMs,
      pipe_version: 1,
      destination_version: 1,
      request,
      response,
      error: null,
      exchanges,
      logs: [],
    },
  };
}
