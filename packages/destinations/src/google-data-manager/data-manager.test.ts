import { identifiersInOutputs } from '@openpipes/core';
import { purchaseEvent, runTransform, type TestResponse } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import {
  type DataManagerCredentials,
  dataManagerError,
  dataManagerPlatform,
} from '../testing/data-manager-platform.js';
import {
  finalRecords,
  finalRecordsById,
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
import { dataManagerSecrets } from '../testing/google-stand-in.js';
import { deliverAll, expectDelivered } from '../testing/outcomes.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { dataManagerTemplate, googleDataManager } from './data-manager.js';

const credentials: DataManagerCredentials = {
  clientId: '1234567890-dm.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-dm-client-secret-8c1d2e3f',
  refreshToken: '1//0g-dm-refresh-token-4a5b6c7d8e9f',
};
const secrets = dataManagerSecrets(credentials);
const operatingAccountId = '1234567890';
const loginAccountId = '1112223333';

const bed = platformBed();

type Options = Partial<Parameters<typeof googleDataManager>[0]>;
const options = (extra: Options = {}) => ({
  operatingAccountId: '123-456-7890',
  loginAccountId: '111-222-3333',
  conversionActions: { purchase: '987654321', lead: '987654322' },
  baseUrl: bed.server.url,
  tokenUrl: `${bed.server.url}/token`,
  ...extra,
});
const standIn = () => dataManagerPlatform({ operatingAccountId, loginAccountId, credentials });

async function setup(extra: Options = {}, wire: Partial<WireOptions> = {}) {
  return bed.wire(
    standIn(),
    googleDataManager(options(extra)),
    { secrets, retry: { max_attempts: 1 }, ...wire },
    { maxClaim: 2000 },
  );
}

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: ' John.Smith @Gmail.com ',
    phone: '+1 (650) 555-1212',
    gclid: `gclid-${orderId}`,
    ...overrides,
  });

runTemplateHarness(bed, {
  template: dataManagerTemplate,
  settings: (baseUrl) => ({
    operating_account_id: '123-456-7890',
    login_account_id: '111-222-3333',
    conversion_actions: { purchase: '987654321' },
    base_url: baseUrl,
    token_url: `${baseUrl}/token`,
  }),
  secrets,
  standIn,
  event: (id) => canonicalPurchase(id),
  personalData: ['John.Smith', 'johnsmith@gmail.com', '(650) 555-1212', '+16505551212'],
  unmappedReason: 'no_conversion_action',
  badSettings: [
    { settings: { operating_account_id: '12-34' }, field: 'operating_account_id' },
    // Google takes the numeric id in productDestinationId, never the resource name.
    {
      settings: { conversion_actions: { purchase: 'customers/1234567890/conversionActions/1' } },
      field: 'conversion_actions.purchase',
    },
    { settings: { conversion_actions: {} }, field: 'conversion_actions' },
    { settings: { default_consent: { ad_user_data: 'UNSPECIFIED' } }, field: 'default_consent.ad_user_data' },
  ],
  permanent: {
    answer: dataManagerError(
      400,
      'INVALID_ARGUMENT',
      'There was a problem with the request.',
      'INVALID_FORMAT',
      [
        {
          field: 'events[0].adIdentifiers.gclid',
          description: 'Format is invalid.',
          reason: 'INVALID_FORMAT',
        },
      ],
    ),
    code: 'GOOGLE_DATA_MANAGER_INVALID_FORMAT',
    field: 'events[0].adIdentifiers.gclid',
  },
  transient: {
    answer: dataManagerError(503, 'UNAVAILABLE', 'The service is currently unavailable.'),
    code: 'GOOGLE_DATA_MANAGER_UNAVAILABLE',
  },
  rateLimited: dataManagerError(429, 'RESOURCE_EXHAUSTED', 'Too many requests.', 'RESOURCE_EXHAUSTED'),
  dispatcher: { maxClaim: 2000 },
});

describe('google-data-manager template', () => {
  it('ingests with a refreshed token, the operating and login accounts, HEX digests by Google’s rules, consent; no secret in the record', async () => {
    const { platform, pipes, pipe } = await setup({ defaultConsent: { ad_user_data: 'GRANTED' } });
    await pipes.ingest('web', [
      canonicalPurchase('ord_1', {
        first_name: ' John ',
        last_name: 'Smith',
        country: 'us',
        zip: '94025',
        consent: { ad_personalization: 'DENIED' },
      }),
    ]);
    const [record] = await finalRecords(pipes, pipe.id, 1);

    expect(platform.violations).toEqual([]);
    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    const ingest = bed.server.requests.find((r) => r.url.endsWith('/events:ingest'))!;
    expect(ingest.url).toBe('/v1/events:ingest');
    expect(ingest.headers.authorization).toBe(`Bearer ${platform.issued[0]}`);
    // No developer token: the Data Manager API does not take one.
    expect(ingest.headers['developer-token']).toBeUndefined();
    const body = ingest.json as Record<string, unknown>;
    expect(body).toEqual({
      destinations: [
        {
          operatingAccount: { accountType: 'GOOGLE_ADS', accountId: operatingAccountId },
          productDestinationId: '987654321',
          loginAccount: { accountType: 'GOOGLE_ADS', accountId: loginAccountId },
        },
      ],
      events: [expect.any(Object)],
      encoding: 'HEX',
      // default_consent is the request's; the event's own signal overrides it per event.
      consent: { adUserData: 'CONSENT_GRANTED' },
    });
    expect(platform.accepted[0]).toEqual({
      transactionId: 'ord_1',
      eventTimestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      conversionValue: 129.9,
      currency: 'EUR',
      adIdentifiers: { gclid: 'gclid-ord_1' },
      userData: {
        userIdentifiers: [
          // Google's rule: lowercase, no whitespace anywhere, no dots before @ for gmail.com.
          { emailAddress: sha256('johnsmith@gmail.com') },
          // E.164 with the '+'.
          { phoneNumber: sha256('+16505551212') },
          {
            address: {
              givenName: sha256('john'),
              familyName: sha256('smith'),
              regionCode: 'US',
              postalCode: '94025',
            },
          },
        ],
      },
      consent: { adPersonalization: 'CONSENT_DENIED' },
    });
    // Google's own example: sha256("jane.doe@example.com") (dots kept outside gmail.com).
    expect(sha256('jane.doe@example.com')).toMatch(/^86e0b9e5/);

    const exchanges = record!.attempts![0]!.exchanges;
    expect(exchanges.map((e) => e.request.url)).toEqual([
      `${bed.server.url}/token`,
      `${bed.server.url}/v1/events:ingest`,
    ]);
    expect(secretsIn(record, [...Object.values(secrets), ...platform.issued, 'John.Smith'])).toEqual([]);
  });

  it('sends one request per conversion action, each with its own destination', async () => {
    const { platform, pipes, pipe } = await setup();
    await pipes.ingest('web', [
      canonicalPurchase('ord_a'),
      { ...canonicalPurchase('lead_a'), event_type: 'lead' },
      canonicalPurchase('ord_b'),
    ]);
    const records = await finalRecords(pipes, pipe.id, 3);
    expect(platform.violations).toEqual([]);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    const sent = platform.requests.map((r) => [
      (r.body.destinations as Array<{ productDestinationId: string }>)[0]!.productDestinationId,
      (r.body.events as Array<{ transactionId: string }>).map((e) => e.transactionId),
    ]);
    expect(sent).toEqual([
      ['987654321', ['ord_a', 'ord_b']],
      ['987654322', ['lead_a']],
    ]);
  });

  it('fails only the events a refused request names (events[3], events[7]) and sends the other eight again', async () => {
    const { platform, pipes, pipe } = await setup();
    let refusals = 0;
    platform.rejectEvent = (index, event) => {
      // Only the first request is refused: the second carries the eight others.
      if (refusals > 0 && platform.requests.length > 1) return null;
      if (index !== 3 && index !== 7) return null;
      refusals++;
      return {
        reason: 'INVALID_FORMAT',
        field: 'adIdentifiers.gclid',
        description: `Format is invalid: ${(event.adIdentifiers as { gclid: string }).gclid}`,
      };
    };
    const records = await deliverAll(
      platform,
      pipes,
      pipe.id,
      Array.from({ length: 10 }, (_, i) => canonicalPurchase(`ord_pf_${i}`)),
    );
    const first = platform.requests[0]!.body.events as Array<{ transactionId: string }>;
    const failedIds = [first[3]!.transactionId, first[7]!.transactionId];
    expect(platform.requests.map((r) => r.events)).toEqual([10, 8]);
    expect([...records.values()].filter((r) => r.status === 'delivered')).toHaveLength(8);
    for (const id of failedIds) {
      expect(records.get(id)).toMatchObject({
        status: 'failed',
        error: {
          code: 'GOOGLE_DATA_MANAGER_INVALID_FORMAT',
          retryable: false,
          message: expect.stringContaining(`adIdentifiers.gclid: Format is invalid: gclid-${id}`),
        },
      });
    }
    expect(platform.accepted.map((e) => e.transactionId)).not.toContain(failedIds[0]);
  });

  it('fails alone an event with no identifier at all, which Google would refuse the whole request for', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_ok'),
      canonicalPurchase('ord_anonymous', { email: undefined, phone: undefined, gclid: undefined }),
    ]);
    expectDelivered(records, 'ord_ok');
    expect(records.get('ord_anonymous')).toMatchObject({
      status: 'failed',
      error: { code: 'INVALID_EVENT', retryable: false, message: expect.stringContaining('no identifier') },
    });
    expect(platform.accepted.map((e) => e.transactionId)).toEqual(['ord_ok']);
  });

  it('refreshes the token once on 401 and ingests again; a second 401 fails as UNAUTHENTICATED', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAcrossRevokedToken(platform, pipes, pipe.id, canonicalPurchase);
    expect(platform.requests.map((r) => r.unauthenticated)).toEqual([false, true, false]);

    platform.answerNext(
      dataManagerError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
    );
    platform.revokeTokens();
    await pipes.ingest('web', [canonicalPurchase('ord_third')]);
    const third = (await finalRecordsById(pipes, pipe.id, 3)).get('ord_third');
    // Revoked: the first try is refused, the refreshed token gets the scripted 401.
    expect(third).toMatchObject({
      status: 'failed',
      error: { code: 'GOOGLE_DATA_MANAGER_UNAUTHENTICATED', retryable: false },
    });
    expect(secretsIn([...records.values(), third], [...Object.values(secrets), ...platform.issued])).toEqual(
      [],
    );
  });

  itSendsValidateOnlyInTestMode(setup, canonicalPurchase, (platform) => platform.requests);
});

describe('google-data-manager send() classification', () => {
  const send = googleSendRunner(bed, {
    standIn,
    send: () => googleDataManager(options()).destination.send,
    payload: () => ({
      eventTimestamp: `${new Date().toISOString().slice(0, 19)}Z`,
      adIdentifiers: { gclid: 'g1' },
    }),
    secrets,
  });
  const run = async (answer?: TestResponse, tokenAnswer?: TestResponse) => {
    const { platform, value } = await send(answer, tokenAnswer);
    expect(platform.violations).toEqual([]);
    return value;
  };

  itClassifiesGoogleErrors('dataManager', run, dataManagerError);
  itHandlesRefreshTokenRefusal(run);
});

describe('google-data-manager transform', () => {
  it('fills gclid and the Google email digest from the stitched profile; filters unmapped event types', async () => {
    const definition = googleDataManager(options());
    const event = purchaseEvent('ord_profile', {
      hashed_email: undefined,
      hashed_phone: undefined,
      gclid: undefined,
    });
    const profiles = {
      ord_profile: {
        identifiers: {
          email: [{ sha256: sha256('john.smith@gmail.com'), sha256_google: sha256('johnsmith@gmail.com') }],
          gclid: ['gclid-from-profile'],
        },
      },
    };
    const rows = await runTransform(definition.transform, {
      events: [event, { ...purchaseEvent('ord_view'), event_type: 'page_view' }] as Parameters<
        typeof runTransform
      >[1]['events'],
      profiles,
    });
    // page_view has no conversion action: filtered, so one event comes out.
    expect(rows).toHaveLength(1);
    expect(rows[0]!.event_payload).toMatchObject({
      productDestinationId: '987654321',
      adIdentifiers: { gclid: 'gclid-from-profile' },
      userData: { userIdentifiers: [{ emailAddress: sha256('johnsmith@gmail.com') }] },
    });
  });

  it('keeps at most 10 user identifiers and passes digests a sender made through', async () => {
    const definition = googleDataManager(options());
    const emails = Array.from({ length: 12 }, (_, i) => `buyer${i}@example.com`);
    const [row] = await runTransform(definition.transform, {
      events: [
        canonicalPurchase('ord_many', {
          email: emails,
          phone: undefined,
          hashed_phone: sha256('+16505551212'),
        }),
      ],
    });
    const ids = (row!.event_payload.userData as { userIdentifiers: unknown[] }).userIdentifiers;
    expect(ids).toHaveLength(10);
    expect(ids[0]).toEqual({ emailAddress: sha256('buyer0@example.com') });

    const [few] = await runTransform(definition.transform, {
      events: [
        canonicalPurchase('ord_few', {
          phone: undefined,
          hashed_phone: sha256('+16505551212').toUpperCase(),
        }),
      ],
    });
    expect((few!.event_payload.userData as { userIdentifiers: unknown[] }).userIdentifiers).toEqual([
      { emailAddress: sha256('johnsmith@gmail.com') },
      { phoneNumber: sha256('+16505551212') },
    ]);
  });
});

describe('google-data-manager match quality', () => {
  it('declares where each identifier it sends sits, and every declared path finds the transform’s output', async () => {
    const definition = googleDataManager(options());
    const outputs = await runTransform(definition.transform, {
      events: [
        canonicalPurchase('ord_mq', { first_name: 'John', last_name: 'Smith', country: 'US', zip: '94025' }),
        canonicalPurchase('ord_mq_app', { gclid: undefined, gbraid: 'gb-1', wbraid: 'wb-1' }),
      ],
    });
    expect(identifiersInOutputs(definition.destination.identifiers!, outputs).sort()).toEqual(
      [...dataManagerTemplate.identifiers].sort(),
    );
  });
});

describe('google-data-manager settings', () => {
  it('asks for the three OAuth secrets, no developer token, and batches of 2000', () => {
    const definition = dataManagerTemplate.create({
      operating_account_id: '123-456-7890',
      conversion_actions: { purchase: '1' },
    });
    expect(definition.requiredSecrets.map((s) => s.key)).toEqual(Object.keys(secrets));
    expect(definition.destination.max_batch_size).toBe(2000);
    expect(definition.destination.send).toContain('"token_url": "https://oauth2.googleapis.com/token"');
    expect(definition.destination.send).toContain('"base_url": "https://datamanager.googleapis.com"');
  });
});
