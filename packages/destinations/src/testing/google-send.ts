/**
 * What the two Google templates' tests share (tests only): one purchase sent straight to `send()`
 * against the stand-in, the table of error answers each must retry or fail, and the OAuth
 * refresh-token cases of source/google-oauth.js, which both templates paste.
 */
import type { Delivery, IncomingEvent, Pipes } from '@openpipes/core';
import { type RecordedTestRequest, runSend, type TestResponse } from '@openpipes/core/testing';
import { expect, it } from 'vitest';
import { byEventId, finalRecords, type platformBed } from './engine.js';

/** The part of a `send()` result these tests read. */
export interface SendOutcome {
  outcome: string;
  code?: string;
  message?: string;
}

export interface GoogleSendCase<P> {
  standIn: () => P;
  /** The template's `send()` source. */
  send: () => string;
  /** The event's payload as the template's transform would make it. */
  payload: () => Record<string, unknown>;
  secrets: Record<string, string>;
}

/**
 * `run(answer, tokenAnswer)`: sends one purchase through a fresh stand-in on `bed`, the API's next
 * answer scripted as `answer` and the token endpoint (`/token`) answering `tokenAnswer` when given.
 */
export function googleSendRunner<
  P extends {
    handler: (request: RecordedTestRequest) => TestResponse;
    answerNext(answer: TestResponse): void;
  },
>(bed: ReturnType<typeof platformBed>, sendCase: GoogleSendCase<P>) {
  return async (answer?: TestResponse, tokenAnswer?: TestResponse) => {
    const platform = sendCase.standIn();
    if (answer) platform.answerNext(answer);
    bed.server.handle((request) =>
      tokenAnswer && request.url === '/token' ? tokenAnswer : platform.handler(request),
    );
    const { value } = await runSend(sendCase.send(), {
      events: [
        { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: sendCase.payload() },
      ],
      secrets: sendCase.secrets,
      fetch: globalThis.fetch,
    });
    return { platform, value: value as SendOutcome };
  };
}

/** Registers the refresh-token case: a refused token fails, an unavailable token endpoint retries. */
export function itHandlesRefreshTokenRefusal(
  run: (answer?: TestResponse, tokenAnswer?: TestResponse) => Promise<SendOutcome>,
) {
  it('fails on a refused refresh token (invalid_grant) and retries when the token endpoint is down', async () => {
    expect(
      await run(undefined, {
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
      }),
    ).toMatchObject({ outcome: 'failed', code: 'GOOGLE_OAUTH_INVALID_GRANT' });
    expect(await run(undefined, { status: 503, body: 'unavailable' })).toMatchObject({
      outcome: 'retry',
      code: 'GOOGLE_OAUTH_HTTP_503',
    });
  });
}

/**
 * Delivers `ord_first` (one access token issued and cached), revokes every token at the stand-in,
 * then delivers `ord_second`: the 401 must cost one token refresh inside the same attempt, not a
 * retry. Expects that, and returns both deliveries by event id for the template's own checks.
 */
export async function deliverAcrossRevokedToken(
  platform: { issued: string[]; revokeTokens(): void },
  pipes: Pipes,
  pipeId: string,
  event: (orderId: string) => IncomingEvent,
): Promise<Map<string, Delivery>> {
  await pipes.ingest('web', [event('ord_first')]);
  await finalRecords(pipes, pipeId, 1);
  platform.revokeTokens();
  await pipes.ingest('web', [event('ord_second')]);
  const records = byEventId(await finalRecords(pipes, pipeId, 2));
  expect(records.get('ord_second')).toMatchObject({ status: 'delivered', attempt_count: 1 });
  expect(platform.issued).toHaveLength(2);
  return records;
}

/**
 * Registers the test-mode case both Google templates share: with `validateOnly` set, the one
 * request says so (`requestsOf` lists what the stand-in received) and the delivery is recorded
 * `test_mode: true`.
 */
export function itSendsValidateOnlyInTestMode<P>(
  setup: (extra: { validateOnly: boolean }) => Promise<{ platform: P; pipes: Pipes; pipe: { id: string } }>,
  event: (orderId: string) => IncomingEvent,
  requestsOf: (platform: P) => unknown[],
) {
  it('sends validateOnly in test mode and records the deliveries as test mode', async () => {
    const { platform, pipes, pipe } = await setup({ validateOnly: true });
    await pipes.ingest('web', [event('ord_validate')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'delivered', test_mode: true });
    expect(requestsOf(platform)).toEqual([expect.objectContaining({ validateOnly: true })]);
  });
}

/** The detail each template's errors carry: Google Ads' GoogleAdsFailure errorCode, Data Manager's ErrorInfo reason. */
interface GoogleErrorDetails {
  googleAds: Record<string, string>;
  dataManager: string;
}
type GoogleTemplate = keyof GoogleErrorDetails;

/**
 * One error answer, per template that gets it: its detail (none: the bare status) and the code its
 * `send()` must fail with; no code: it must retry.
 */
interface GoogleErrorCase {
  status: number;
  grpc: string;
  googleAds?: { detail?: GoogleErrorDetails['googleAds']; code?: string };
  dataManager?: { detail?: GoogleErrorDetails['dataManager']; code?: string };
}

/** The error classification both Google templates' `send()` must make. */
export const googleErrorCases: GoogleErrorCase[] = [
  {
    status: 500,
    grpc: 'INTERNAL',
    googleAds: { detail: { internalError: 'INTERNAL_ERROR' } },
    dataManager: { detail: 'INTERNAL_ERROR' },
  },
  {
    status: 503,
    grpc: 'UNAVAILABLE',
    googleAds: { detail: { internalError: 'TRANSIENT_ERROR' } },
    dataManager: {},
  },
  {
    status: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    googleAds: { detail: { quotaError: 'RESOURCE_EXHAUSTED' } },
    dataManager: { detail: 'RESOURCE_EXHAUSTED' },
  },
  {
    status: 504,
    grpc: 'DEADLINE_EXCEEDED',
    googleAds: { detail: { internalError: 'DEADLINE_EXCEEDED' } },
    dataManager: { detail: 'DEADLINE_EXCEEDED' },
  },
  // A transient error under a 400 is still transient.
  { status: 400, grpc: 'INVALID_ARGUMENT', googleAds: { detail: { internalError: 'TRANSIENT_ERROR' } } },
  { status: 409, grpc: 'ABORTED', dataManager: {} },
  {
    status: 400,
    grpc: 'INVALID_ARGUMENT',
    googleAds: { detail: { fieldError: 'REQUIRED' }, code: 'GOOGLE_ADS_REQUIRED' },
    dataManager: {
      detail: 'INVALID_CONVERSION_ACTION_ID',
      code: 'GOOGLE_DATA_MANAGER_INVALID_CONVERSION_ACTION_ID',
    },
  },
  {
    status: 403,
    grpc: 'PERMISSION_DENIED',
    googleAds: {
      detail: { authorizationError: 'USER_PERMISSION_DENIED' },
      code: 'GOOGLE_ADS_USER_PERMISSION_DENIED',
    },
    dataManager: { detail: 'PERMISSION_DENIED', code: 'GOOGLE_DATA_MANAGER_PERMISSION_DENIED' },
  },
  {
    status: 400,
    grpc: 'FAILED_PRECONDITION',
    dataManager: {
      detail: 'TERMS_AND_CONDITIONS_NOT_SIGNED',
      code: 'GOOGLE_DATA_MANAGER_TERMS_AND_CONDITIONS_NOT_SIGNED',
    },
  },
  {
    status: 400,
    grpc: 'INVALID_ARGUMENT',
    googleAds: { code: 'GOOGLE_ADS_INVALID_ARGUMENT' },
    dataManager: { code: 'GOOGLE_DATA_MANAGER_INVALID_ARGUMENT' },
  },
];

/**
 * Registers {@link googleErrorCases} for `template`: `run(answer)` sends one purchase with the API
 * answering `answer`, which `errorAnswer` builds in the template's own error format. A case with a
 * code must fail with it, naming Google's message; one without must retry.
 */
export function itClassifiesGoogleErrors<T extends GoogleTemplate>(
  template: T,
  run: (answer: TestResponse) => Promise<SendOutcome>,
  errorAnswer: (
    status: number,
    grpc: string,
    message: string,
    detail?: GoogleErrorDetails[T],
  ) => TestResponse,
) {
  const cases = googleErrorCases.flatMap(({ status, grpc, ...perTemplate }) => {
    const own = perTemplate[template] as { detail?: GoogleErrorDetails[T]; code?: string } | undefined;
    const shown = own?.detail === undefined ? 'no detail' : JSON.stringify(own.detail);
    return own ? [{ status, grpc, detail: own.detail, code: own.code, shown }] : [];
  });
  it.each(cases.filter((c) => c.code === undefined))(
    'retries HTTP $status $grpc ($shown)',
    async ({ status, grpc, detail }) => {
      expect(await run(errorAnswer(status, grpc, 'try again later', detail))).toMatchObject({
        outcome: 'retry',
      });
    },
  );
  it.each(cases.filter((c) => c.code !== undefined))(
    'never retries HTTP $status $grpc ($shown)',
    async ({ status, grpc, detail, code }) => {
      const value = await run(errorAnswer(status, grpc, 'request is wrong', detail));
      expect(value).toMatchObject({ outcome: 'failed', code });
      expect(value.message).toContain('request is wrong');
    },
  );
}
