import { purchaseEvent, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { finalRecords, platformBed, rawContactPurchase, secretsIn } from '../testing/engine.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { parseOAuthHeader, xError, xPlatform, xSecrets } from '../testing/x-platform.js';
import { xCapi, xCapiTemplate } from './x.js';

const pixelId = 'o8z6j';
const eventIds = { purchase: 'o87ne' };
const credentials = {
  consumerKey: 'xck-consumer-key-71c2',
  consumerSecret: 'xcs-consumer-secret-9f0e4a',
  token: '1234567890-xat-access-token-55d1',
  tokenSecret: 'xts-token-secret-3b8c27',
};
const secrets = xSecrets(credentials);

const bed = platformBed();

const setup = (options: Partial<Parameters<typeof xCapi>[0]> = {}, transform?: string | null) =>
  bed.wireCase(
    xPlatform({ pixelId, credentials, ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}) }),
    xCapi({ pixelId, eventIds, baseUrl: bed.server.url, ...options }),
    secrets,
    { transform },
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: '  Test-Email@Test.com ',
    phone: '+1 (650) 555-1212',
    twclid: '23opevjt88psuo13lu8d020qkn',
    contents: [{ id: 'SKU-1', name: 'Shoe', quantity: 2, price: 64.95 }],
    ...overrides,
  });

runTemplateHarness(bed, {
  template: xCapiTemplate,
  settings: (baseUrl) => ({ pixel_id: pixelId, event_ids: eventIds, base_url: baseUrl }),
  secrets,
  standIn: () => xPlatform({ pixelId, credentials, defaultOrigin: 'https://platform.example' }),
  event: (id) => canonicalPurchase(id),
  personalData: ['Test-Email', 'test-email@test.com', '(650) 555-1212', '+16505551212'],
  badSettings: [
    { settings: { pixel_id: 'Not A Pixel' }, field: 'pixel_id' },
    { settings: { api_version: 'v12' }, field: 'api_version' },
    { settings: { event_ids: {} }, field: 'event_ids' },
    { settings: { base_url: 'ftp://ads-api.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: xError('INVALID_PARAMETER', 'Expected a valid ISO 8601 time', 400, 'conversion_time'),
    code: 'X_HTTP_400',
    field: 'conversion_time',
  },
  transient: { answer: { status: 503, body: '<html>Over capacity</html>' }, code: 'X_HTTP_503' },
  rateLimited: xError('TOO_MANY_REQUESTS', 'Rate limit exceeded', 429),
});

describe('x-capi template', () => {
  it('delivers a purchase signed with OAuth 1.0a (the oracle agrees), hashed email and E.164 phone, secrets redacted', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      conversion_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      event_id: 'o87ne',
      identifiers: [
        { twclid: '23opevjt88psuo13lu8d020qkn' },
        { hashed_email: sha256('test-email@test.com') },
        // E.164 WITH the '+', as X documents it.
        { hashed_phone_number: sha256('+16505551212') },
        { ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0 (X11; Linux x86_64)' },
      ],
      value: 129.9,
      price_currency: 'EUR',
      number_items: 2,
      conversion_id: 'ord_1',
      contents: [{ content_id: 'SKU-1', content_name: 'Shoe', content_price: 64.95, num_items: 2 }],
    });
    // X's documentation: sha256("test-email@test.com") begins e586883b.
    expect(sha256('test-email@test.com')).toMatch(/^e586883b/);
    expect(bed.server.requests.at(-1)!.url).toBe(`/12/measurement/conversions/${pixelId}`);
    // The recorder keeps the scheme and redacts the credentials of an Authorization header.
    expect(record.request!.headers.authorization).toMatch(/^OAuth /);
    // What X received carried the four credentials' signature (the stand-in's oracle checked it).
    expect(parseOAuthHeader(bed.server.requests.at(-1)!.headers.authorization)).toMatchObject({
      oauth_consumer_key: credentials.consumerKey,
      oauth_token: credentials.token,
      oauth_signature_method: 'HMAC-SHA1',
      oauth_version: '1.0',
    });
    expect(secretsIn(record, [...Object.values(secrets), 'Test-Email', 'test-email@test.com'])).toEqual([]);
  });

  it('keeps credentials with reserved characters out of records, in the RFC 3986 form the OAuth header gives them too', async () => {
    // Characters encodeURIComponent spares and OAuth's RFC 3986 encoding does not (! ' ( ) *), and
    // ones both encode (space, /, +, =, @): each credential lands in the header in a different form.
    const special = {
      consumerKey: "xck(key)!-71c2'*",
      consumerSecret: 'xcs/secret+9f0e=4a @(x)',
      token: "1234567890-xat(tok)!en'55d1*",
      tokenSecret: "xts secret!3b8c27'()",
    };
    const specialSecrets = xSecrets(special);
    const platform = xPlatform({ pixelId, credentials: special });
    // A proxy in front of X answers the first request by echoing the Authorization header it got.
    platform.answerNext((request) => ({
      status: 400,
      body: {
        errors: [{ code: 'INVALID_PARAMETER', message: `bad header: ${request.headers.authorization}` }],
      },
    }));
    const { pipes, pipe } = await bed.wire(platform, xCapi({ pixelId, eventIds, baseUrl: bed.server.url }), {
      secrets: specialSecrets,
      retry: { max_attempts: 1 },
    });
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_special'));

    const received = parseOAuthHeader(bed.server.requests.at(-1)!.headers.authorization);
    expect(received).toMatchObject({ oauth_consumer_key: special.consumerKey, oauth_token: special.token });
    const rfc3986 = (v: string) =>
      encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const header = String(bed.server.requests.at(-1)!.headers.authorization);
    expect(header).toContain(`oauth_token="${rfc3986(special.token)}"`);
    const forms = Object.values(specialSecrets).flatMap((v) => [v, encodeURIComponent(v), rfc3986(v)]);
    expect(secretsIn(record, forms)).toEqual([]);
    expect(JSON.stringify(record.response!.body)).toContain('[secret:X_ACCESS_TOKEN]');
  });

  it('puts the api_version setting in the path and signs each request with a fresh nonce', async () => {
    const { platform, pipes, pipe } = await setup({ apiVersion: '13' });
    await pipes.ingest('web', [canonicalPurchase('ord_v13_a')]);
    await finalRecords(pipes, pipe.id, 1);
    await pipes.ingest('web', [canonicalPurchase('ord_v13_b')]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(bed.server.requests.at(-1)!.url).toBe(`/13/measurement/conversions/${pixelId}`);
    expect(new Set(platform.nonces).size).toBe(2);
  });

  it('fails alone a conversion X cannot match (IP and user agent only) and sends its batch-mates', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_ok'),
      canonicalPurchase('ord_anonymous', { email: undefined, phone: undefined, twclid: undefined }),
    ]);
    expectDelivered(records, 'ord_ok');
    expectRefusedBeforeSending(records, 'ord_anonymous', {
      code: 'INVALID_EVENT',
      retryable: false,
      message: expect.stringContaining('twclid'),
    });
    expect(platform.accepted.map((c) => c.conversion_id)).toEqual(['ord_ok']);
  });

  it('a wrong token secret is a 401 from X, failed and not retried', async () => {
    const platform = xPlatform({ pixelId, credentials });
    const { pipes, pipe } = await bed.wire(platform, xCapi({ pixelId, eventIds, baseUrl: bed.server.url }), {
      secrets: { ...secrets, X_ACCESS_TOKEN_SECRET: 'not-the-token-secret' },
      retry: { max_attempts: 3, initial_delay_ms: 10 },
    });
    await pipes.ingest('web', [canonicalPurchase('ord_badsig')]);
    const [record] = await finalRecords(pipes, pipe.id, 1);
    expect(record).toMatchObject({ status: 'failed', attempt_count: 1, error: { code: 'X_HTTP_401' } });
    expect(platform.violations[0]).toMatch(/is not the oracle's/);
  });
});

describe('x-capi transform and settings', () => {
  it('fills twclid and the hashed email from the stitched profile, never over the event', async () => {
    const event = purchaseEvent('ord_profile', { hashed_email: undefined, hashed_phone: undefined });
    const profiles = {
      ord_profile: {
        identifiers: { email: [{ sha256: sha256('person@example.com') }], twclid: ['twclid-from-profile'] },
      },
    };
    const [row] = await runTransform(xCapi({ pixelId, eventIds }).transform, {
      events: [event] as Parameters<typeof runTransform>[1]['events'],
      profiles,
    });
    expect((row!.event_payload as { identifiers: unknown[] }).identifiers.slice(0, 2)).toEqual([
      { twclid: 'twclid-from-profile' },
      { hashed_email: sha256('person@example.com') },
    ]);
  });

  it('filters event types without an X event id, and refuses test-mode settings', async () => {
    const rows = await runTransform(xCapi({ pixelId, eventIds }).transform, {
      events: [
        { ...canonicalPurchase('ord_lead'), event_type: 'lead' },
        canonicalPurchase('ord_kept'),
      ] as Parameters<typeof runTransform>[1]['events'],
    });
    expect(rows.map((r) => (r.event_payload as { conversion_id: string }).conversion_id)).toEqual([
      'ord_kept',
    ]);
    expect(() =>
      xCapiTemplate.create({ pixel_id: pixelId, event_ids: eventIds, validate_only: true }),
    ).toThrowError(/no test mode/);
  });
});
