/**
 * What the two Google templates' `send()` classification tests share (tests only): one purchase
 * sent straight to `send()` against the stand-in, and the OAuth refresh-token cases of
 * source/google-oauth.js, which both templates paste.
 */
import { type RecordedTestRequest, runSend, type TestResponse } from '@openpipes/core/testing';
import { expect, it } from 'vitest';
import type { platformBed } from './engine.js';

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
