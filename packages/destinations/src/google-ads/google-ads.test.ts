import { googleExampleTransform, purchaseEvent, type TestResponse } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import {
  finalRecords,
  platformBed,
  rawContactPurchase,
  secretsIn,
  type WireOptions,
} from '../testing/engine.js';
import {
  deliverAcrossRevokedToken,
  googleSendRunner,
  itClassifiesGoogleErrors,
  itHandlesRefreshTokenRefusal,
  itSendsValidateOnlyInTestMode,
} from '../testing/google-send.js';
import { googleAdsSecrets } from '../testing/google-stand-in.js';
import { deliverAll, deliverOne } from '../testing/outcomes.js';
import { type GoogleCredentials, googleAdsError, googleAdsPlatform } from '../testing/platforms.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { googleAdsClickConversions, googleAdsTemplate } from './google-ads.js';

const credentials: GoogleCredentials = {
  clientId: '1234567890-abcdefg.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-client-secret-8c1d2e3f',
  refreshToken: '1//0g-refresh-token-4a5b6c7d8e9f',
  developerToken: 'dev-token-ABCDEFGHIJKLMNOP',
};
const secrets = googleAdsSecrets(credentials);
const customerId = '1234567890';
const loginCustomerId = '1112223333';

const bed = platformBed();

const options = (extra: Partial<Parameters<typeof googleAdsClickConversions>[0]> = {}) => ({
  customerId: '123-456-7890',
  loginCustomerId: '111-222-3333',
  conversionActions: { purchase: '987654321', lead: '987654322' },
  baseUrl: bed.server.url,
  tokenUrl: `${bed.server.url}/token`,
  ...extra,
});

async function setup(
  extra: Partial<Parameters<typeof googleAdsClickConversions>[0]> = {},
  wire: Partial<WireOptions> = {},
) {
  const platform = googleAdsPlatform({ customerId, loginCustomerId, credentials });
  const definition = googleAdsClickConversions(options(extra));
  return bed.wire(
    platform,
    definition,
    {
      secrets,
      retry: { max_attempts: 1 },
      ...wire,
    },
    { maxClaim: 2000 },
  );
}

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: 'John.Smith@Gmail.com ',
    phone: '+1 (650) 555-1212',
    gclid: `gclid-${orderId}`,
    ...overrides,
  });

const everySecret = () => [...Object.values(credentials)];

runTemplateHarness(bed, {
  template: googleAdsTemplate,
  settings: (baseUrl) => ({
    customer_id: '123-456-7890',
    login_customer_id: '111-222-3333',
    conversion_actions: { purchase: '987654321' },
    base_url: baseUrl,
    token_url: `${baseUrl}/token`,
  }),
  secrets,
  standIn: () => googleAdsPlatform({ customerId, loginCustomerId, credentials }),
  event: (id) => canonicalPurchase(id),
  personalData: ['John.Smith@Gmail.com', 'johnsmith@gmail.com', '(650) 555-1212'],
  unmappedReason: 'no_conversion_action',
  badSettings: [
    { settings: { customer_id: '12-34' }, field: 'customer_id' },
    { settings: { conversion_actions: {} }, field: 'conversion_actions' },
    { settings: { token_url: 'not a url' }, field: 'token_url' },
  ],
  permanent: {
    answer: {
      status: 400,
      body: {
        error: {
          code: 400,
          message: 'Request contains an invalid argument.',
          status: 'INVALID_ARGUMENT',
          details: [
            {
              '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure',
              errors: [
                {
                  errorCode: { fieldError: 'REQUIRED' },
                  message: 'The required field was not present.',
                  location: {
                    fieldPathElements: [
                      { fieldName: 'conversions', index: 0 },
                      { fieldName: 'conversion_action' },
                    ],
                  },
                },
              ],
              requestId: 'req-123',
            },
          ],
        },
      },
    },
    code: 'GOOGLE_ADS_REQUIRED',
    field: 'conversions[0].conversion_action',
  },
  transient: {
    answer: googleAdsError(503, 'UNAVAILABLE', 'The service is currently unavailable.', {
      internalError: 'TRANSIENT_ERROR',
    }),
    code: 'GOOGLE_ADS_TRANSIENT_ERROR',
  },
  rateLimited: googleAdsError(429, 'RESOURCE_EXHAUSTED', 'Too many requests.', {
    quotaError: 'RESOURCE_EXHAUSTED',
  }),
  dispatcher: { maxClaim: 2000 },
});

describe('google-ads-click-conversions template', () => {
  it('uploads with a refreshed access token, developer-token and login-customer-id; partialFailure always true; no secret in the record', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.issued).toHaveLength(1);
    const upload = bed.server.requests.find((r) => r.url.endsWith(':uploadClickConversions'))!;
    expect(upload.url).toBe(`/v26/customers/${customerId}:uploadClickConversions`);
    expect(upload.headers).toMatchObject({
      authorization: `Bearer ${platform.issued[0]}`,
      'developer-token': credentials.developerToken,
      'login-customer-id': loginCustomerId,
    });
    expect(upload.json).toMatchObject({ partialFailure: true });
    expect((upload.json as { validateOnly?: boolean }).validateOnly).toBeUndefined();
    expect(platform.accepted[0]).toMatchObject({
      gclid: 'gclid-ord_1',
      conversionAction: `customers/${customerId}/conversionActions/987654321`,
      conversionValue: 129.9,
      currencyCode: 'EUR',
      orderId: 'ord_1',
      userIdentifiers: [
        // Google's rule drops the dots of a gmail.com local part: "johnsmith@gmail.com".
        { hashedEmail: sha256('johnsmith@gmail.com') },
        // SHA-256 of "+16505551212".
        { hashedPhoneNumber: '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8' },
      ],
    });
    expect(platform.accepted[0]!.conversionDateTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00:00$/);

    // The token exchange is on the record too, redacted.
    const exchanges = record.attempts![0]!.exchanges;
    expect(exchanges.map((e) => e.request.url)).toEqual([
      `${bed.server.url}/token`,
      `${bed.server.url}/v26/customers/${customerId}:uploadClickConversions`,
    ]);
    expect(secretsIn(record, [...everySecret(), ...platform.issued, 'John.Smith'])).toEqual([]);
  });

  it('runs the Google example transform unchanged in front of send()', async () => {
    const { platform, pipes, pipe } = await setup(
      {},
      {
        transform: googleExampleTransform,
        secrets: { ...secrets, GOOGLE_ADS_CONVERSION_ACTION: '987654321' },
      },
    );
    await pipes.ingest('web', [purchaseEvent('ord_b1'), purchaseEvent('ord_b2')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    // The Google example writes snake_case names and milliseconds; send() makes them what the REST API takes.
    expect(platform.accepted[0]).toMatchObject({
      conversionAction: `customers/${customerId}/conversionActions/987654321`,
      userIdentifiers: [{ hashedEmail: 'a'.repeat(64) }, { hashedPhoneNumber: 'b'.repeat(64) }],
    });
  });

  it("maps partial failure rows 3 and 7 of 10 to their events: eight delivered, two failed with the platform's message", async () => {
    const { platform, pipes, pipe } = await setup();
    const messages: Record<number, { name: string; message: string }> = {
      3: {
        name: 'CLICK_NOT_FOUND',
        message: 'The click associated with the given identifier or iOS URL parameter was not found.',
      },
      7: {
        name: 'CLICK_CONVERSION_ALREADY_EXISTS',
        message: 'This conversion has already been uploaded for the given click.',
      },
    };
    platform.failRows = (index) => messages[index] ?? null;
    const records = await deliverAll(
      platform,
      pipes,
      pipe.id,
      Array.from({ length: 10 }, (_, i) => canonicalPurchase(`ord_pf_${i}`)),
    );
    expect(bed.server.requests.filter((r) => r.url.endsWith(':uploadClickConversions'))).toHaveLength(1);
    const sent = (bed.server.requests.at(-1)!.json as { conversions: Array<{ orderId: string }> })
      .conversions;
    const failedIds = [sent[3]!.orderId, sent[7]!.orderId];
    expect([...records.values()].filter((r) => r.status === 'delivered')).toHaveLength(8);
    expect(records.get(failedIds[0]!)).toMatchObject({
      status: 'failed',
      error: { code: 'GOOGLE_ADS_CLICK_NOT_FOUND', message: messages[3]!.message, retryable: false },
    });
    expect(records.get(failedIds[1]!)).toMatchObject({
      status: 'failed',
      error: { code: 'GOOGLE_ADS_CLICK_CONVERSION_ALREADY_EXISTS', message: messages[7]!.message },
    });
    // A record shows its own row of the request and of the results.
    const failed = records.get(failedIds[0]!)!;
    expect((failed.request!.payload as { conversions: unknown[] }).conversions).toEqual([
      expect.objectContaining({ orderId: failedIds[0] }),
    ]);
    expect((failed.response!.body as { results: unknown[] }).results).toEqual([{}]);
  });

  it('caches the access token across batches: 2500 events, 2 uploads of at most 2000, 1 token request', async () => {
    const { platform, pipes, pipe } = await setup({}, { destination: { concurrency: 1 } });
    await pipes.ingest(
      'web',
      Array.from({ length: 2500 }, (_, i) => canonicalPurchase(`ord_split_${i}`)),
    );
    const records = await finalRecords(pipes, pipe.id, 2500);
    expect(platform.violations).toEqual([]);
    expect(records.filter((r) => r.status === 'delivered')).toHaveLength(2500);
    expect(platform.uploads.map((u) => u.rows)).toEqual([2000, 500]);
    expect(platform.issued).toHaveLength(1);

    await pipes.ingest('web', [canonicalPurchase('ord_later')]);
    await finalRecords(pipes, pipe.id, 2501, false);
    expect(platform.uploads).toHaveLength(3);
    expect(platform.issued).toHaveLength(1);
  });

  it('refreshes the token once on 401 and uploads again', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAcrossRevokedToken(platform, pipes, pipe.id, canonicalPurchase);
    expect(platform.uploads.map((u) => [u.token, u.unauthenticated])).toEqual([
      [platform.issued[0], false],
      [platform.issued[0], true],
      [platform.issued[1], false],
    ]);
    const exchanges = records.get('ord_second')!.attempts![0]!.exchanges;
    expect(exchanges.map((e) => e.response?.status)).toEqual([401, 200, 200]);
    expect(secretsIn([...records.values()], [...everySecret(), ...platform.issued])).toEqual([]);
  });

  it('fails as UNAUTHENTICATED, not retried, when the refreshed token is refused too', async () => {
    const { platform, pipes, pipe } = await setup();
    platform.acceptTokens = false;
    await pipes.ingest('web', [canonicalPurchase('ord_denied')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({
      status: 'failed',
      error: { code: 'GOOGLE_ADS_UNAUTHENTICATED', retryable: false },
    });
    expect(platform.issued).toHaveLength(2);
    expect(platform.uploads).toHaveLength(2);
  });

  itSendsValidateOnlyInTestMode(setup, canonicalPurchase, (platform) => platform.uploads);
});

describe('google-ads-click-conversions send() classification', () => {
  const send = googleSendRunner(bed, {
    standIn: () => googleAdsPlatform({ customerId, loginCustomerId, credentials }),
    send: () => googleAdsClickConversions(options()).destination.send,
    payload: () => ({
      gclid: 'g1',
      conversionAction: '987654321',
      conversionDateTime: new Date().toISOString(),
    }),
    secrets,
  });
  const run = async (answer?: TestResponse, tokenAnswer?: TestResponse) =>
    (await send(answer, tokenAnswer)).value;

  itClassifiesGoogleErrors('googleAds', run, googleAdsError);
  itHandlesRefreshTokenRefusal(run);
});

describe('google-ads-click-conversions settings', () => {
  it('rejects a malformed customer id and an empty conversion action map', () => {
    expect(() =>
      googleAdsTemplate.create({ customer_id: '12-34', conversion_actions: { purchase: '1' } }),
    ).toThrowError(/customer_id/);
    expect(() =>
      googleAdsTemplate.create({ customer_id: '1234567890', conversion_actions: {} }),
    ).toThrowError(/conversion_actions/);
    expect(() =>
      googleAdsTemplate.create({
        customer_id: '1234567890',
        conversion_actions: { purchase: '1' },
        max_batch_size: 2001,
      }),
    ).toThrowError(/max_batch_size/);
  });

  it('asks for the four OAuth and developer secrets and batches of 2000', () => {
    const definition = googleAdsTemplate.create({
      customer_id: '123-456-7890',
      conversion_actions: { purchase: '1' },
    });
    expect(definition.requiredSecrets.map((s) => s.key)).toEqual(Object.keys(secrets));
    expect(definition.destination.max_batch_size).toBe(2000);
    expect(definition.destination.send).toContain('"token_url": "https://oauth2.googleapis.com/token"');
  });
});
