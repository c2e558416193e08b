/**
 * Consent and linking end to end, on SQLite and PostgreSQL, with the real Meta template and a Meta
 * stand-in on loopback (docs/identifiers.md, "Consent and linking"): a page view whose `ad_storage`
 * was DENIED lands with `?fbclid=` and an `_fbp` cookie; a consented login links its anonymous id to
 * a user id and an email; a consented backend purchase with only the user id leaves with the hashed
 * email but without the fbc and fbp the denied page view carried. With `respectConsent: false` the
 * same story leaves with both (as before this setting existed).
 */
import { startTestServer, type TestServer, waitFor } from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { backends, ingestStory, setupMetaPurchases, startEngine } from './stitching.js';

const TOKEN = 'meta-token-consent';

describe.each(await backends('consent-link'))('consent and linking end to end ($name)', (backend) => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** The story; returns the user_data of the purchase as it reached Meta. */
  async function story(respectConsent: boolean | undefined): Promise<Record<string, unknown>> {
    const meta: TestServer = await startTestServer(() => ({
      body: { events_received: 1, messages: [], fbtrace_id: 'T1' },
    }));
    closers.push(() => meta.close());
    const pipes = await startEngine(backend, closers, {
      identity: respectConsent === undefined ? true : { respectConsent },
      egressAllow: [meta.host],
    });
    const { pipe } = await setupMetaPurchases(pipes, { metaUrl: meta.url, token: TOKEN });
    const granted = { ad_user_data: 'GRANTED', ad_storage: 'GRANTED', ad_personalization: 'GRANTED' };
    await ingestStory(pipes, 'denied', {
      page: { ad_user_data: 'GRANTED', ad_storage: 'DENIED' },
      later: granted,
    });
    const [record] = await waitFor(
      async () => {
        const { data } = await pipes.deliveries.list(pipe.id);
        return data.length === 1 && !['pending', 'retrying', 'sending'].includes(data[0]!.status) && data;
      },
      20_000,
      'the purchase at its final status',
    );
    expect([record!.status, record!.filter_reason, record!.error]).toEqual(['delivered', null, null]);
    const body = meta.requests[0]!.json as { data: Array<{ user_data: Record<string, unknown> }> };
    return body.data[0]!.user_data;
  }

  it('an fbclid and _fbp from a page view whose ad_storage was denied never reach Meta with a later consented purchase', async () => {
    const user = await story(undefined);
    // The consented login's email is stitched: linking still works, only the denied ids are out.
    expect(user.em).toBeDefined();
    expect(user.fbc).toBeUndefined();
    expect(user.fbp).toBeUndefined();
    expect(user.client_ip_address).toBe('203.0.113.7');
  }, 60_000);

  it('with respectConsent: false the denied page view’s fbc and fbp are stitched as before', async () => {
    const user = await story(false);
    expect(user.em).toBeDefined();
    expect(user.fbc).toMatch(/^fb\.1\.\d+\.IwAR0denied$/);
    expect(user.fbp).toBe('fb.1.1700000000000.4242');
  }, 60_000);
});
