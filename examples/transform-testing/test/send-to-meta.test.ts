/**
 * Unit tests for sends/send-to-meta.js with msw standing in for Meta: `runSend` runs the send() in
 * the sandbox production uses, and `fetch: globalThis.fetch` hands its requests to the main
 * thread's fetch, which msw's `setupServer` intercepts. No request leaves the process
 * (`onUnhandledRequest: 'error'`).
 */
import { readFileSync } from 'node:fs';
import { closeTestSandbox, runSend, type TestEvent } from '@openpipes/core/testing';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const code = readFileSync(new URL('../sends/send-to-meta.js', import.meta.url), 'utf8');
const secrets = { META_PIXEL_ID: '123456789012345', META_ACCESS_TOKEN: 'test-token' };
const events: TestEvent[] = [
  {
    event_type: 'purchase',
    event_time: '2026-05-04T10:14:22.481Z',
    event_payload: {
      event_name: 'Purchase',
      event_id: 'ord_70213',
      custom_data: { currency: 'EUR', value: 129.9 },
    },
  },
];
const endpoint = 'https://graph.facebook.com/v21.0/:pixelId/events';

/** What the msw handlers received, to assert on. */
const received: Array<{ pixelId: string; token: string | null; body: unknown }> = [];

// The default handler answers like Meta does for an accepted batch.
const server = setupServer(
  http.post(endpoint, async ({ request, params }) => {
    const token = new URL(request.url).searchParams.get('access_token');
    received.push({ pixelId: String(params.pixelId), token, body: await request.json() });
    if (token !== secrets.META_ACCESS_TOKEN) {
      return HttpResponse.json(
        { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } },
        { status: 401 },
      );
    }
    return HttpResponse.json({ events_received: 1, fbtrace_id: 'AbCdEf' });
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  received.length = 0;
});
afterAll(async () => {
  server.close();
  await closeTestSandbox();
});

describe('send-to-meta', () => {
  it('posts the events to the pixel with the bound token, and reports them delivered', async () => {
    const { value, exchanges } = await runSend(code, { events, secrets, fetch: globalThis.fetch });
    expect(value).toEqual({ outcome: 'delivered', events_received: 1 });
    expect(received).toEqual([
      { pixelId: '123456789012345', token: 'test-token', body: { data: [events[0]!.event_payload] } },
    ]);
    expect(exchanges[0]!.response!.status).toBe(200);
  });

  it("fails permanently on Meta's 400, with Meta's code and message", async () => {
    server.use(
      http.post(endpoint, () =>
        HttpResponse.json(
          { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100, is_transient: false } },
          { status: 400 },
        ),
      ),
    );
    const { value } = await runSend(code, { events, secrets, fetch: globalThis.fetch });
    expect(value).toEqual({ outcome: 'failed', code: 'META_100', message: 'Invalid parameter' });
  });

  it('asks for a retry when Meta throttles (429) or is down (503)', async () => {
    server.use(
      http.post(
        endpoint,
        () => HttpResponse.json({ error: { message: 'Too many calls', code: 4 } }, { status: 429 }),
        {
          once: true,
        },
      ),
      http.post(endpoint, () => new HttpResponse('<html>Service Unavailable</html>', { status: 503 }), {
        once: true,
      }),
    );
    const throttled = await runSend(code, { events, secrets, fetch: globalThis.fetch });
    expect(throttled.value).toMatchObject({ outcome: 'retry', code: 'META_4' });
    const down = await runSend(code, { events, secrets, fetch: globalThis.fetch });
    expect(down.value).toEqual({ outcome: 'retry', code: 'META_503', message: 'HTTP 503' });
  });

  it('a wrong token gets the 401 the handler gives, failed and not retried', async () => {
    const { value } = await runSend(code, {
      events,
      secrets: { ...secrets, META_ACCESS_TOKEN: 'revoked' },
      fetch: globalThis.fetch,
    });
    expect(value).toMatchObject({ outcome: 'failed', code: 'META_190' });
    expect(received[0]!.token).toBe('revoked');
  });
});
