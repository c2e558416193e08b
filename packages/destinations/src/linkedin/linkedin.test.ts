import { purchaseEvent, runTransform } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import {
  type CaseWiring,
  daysOld,
  finalRecordsById,
  platformBed,
  rawContactPurchase,
  secretsIn,
} from '../testing/engine.js';
import { linkedinBatchAnswer, linkedinError, linkedinPlatform } from '../testing/linkedin-platform.js';
import { deliverAll, deliverOne, expectDelivered, expectRefusedBeforeSending } from '../testing/outcomes.js';
import { sha256 } from '../testing/sha256.js';
import { runTemplateHarness } from '../testing/template-harness.js';
import { linkedinCapi, linkedinCapiTemplate } from './linkedin.js';

const token = 'AQV-linkedin-token-4e1b9c';
const conversionRules = { purchase: '104598' };

const secrets = { LINKEDIN_ACCESS_TOKEN: token };
const bed = platformBed();

const setup = (options: Partial<Parameters<typeof linkedinCapi>[0]> = {}, wiring: CaseWiring = {}) =>
  bed.wireCase(
    linkedinPlatform({ token, ruleIds: ['104598'], version: options.linkedinVersion ?? '202601' }),
    linkedinCapi({ conversionRules, baseUrl: bed.server.url, ...options }),
    secrets,
    wiring,
  );

const canonicalPurchase = (orderId: string, overrides: Record<string, unknown> = {}) =>
  rawContactPurchase(orderId, {
    email: ' Jane.Doe@Example.com ',
    li_fat_id: 'df9a2b5c-5e1f-4b8a-9c3d-2e7f6a1b0c4d',
    first_name: 'Jane',
    last_name: 'Doe',
    company: 'Acme',
    country: 'us',
    ...overrides,
  });

/** An element already in LinkedIn's shape (for a pipe without transform). */
const element = (eventId: string, overrides: Record<string, unknown> = {}) => ({
  event_type: 'purchase',
  event_time: new Date().toISOString(),
  event_id: eventId,
  event_payload: {
    conversion: 'urn:lla:llaPartnerConversion:104598',
    conversionHappenedAt: Date.now(),
    conversionValue: { currencyCode: 'EUR', amount: '10.5' },
    eventId,
    user: { userIds: [{ idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: `fat-${eventId}` }] },
    ...overrides,
  },
});

runTemplateHarness(bed, {
  template: linkedinCapiTemplate,
  settings: (baseUrl) => ({ conversion_rules: conversionRules, base_url: baseUrl }),
  secrets,
  standIn: () => linkedinPlatform({ token, ruleIds: ['104598'] }),
  event: (id) => canonicalPurchase(id),
  personalData: ['Jane.Doe@Example', 'jane.doe@example.com'],
  badSettings: [
    { settings: { conversion_rules: { purchase: 'rule-1' } }, field: 'conversion_rules.purchase' },
    { settings: { conversion_rules: {} }, field: 'conversion_rules' },
    { settings: { linkedin_version: '2026-01' }, field: 'linkedin_version' },
    { settings: { base_url: 'ftp://api.example' }, field: 'base_url' },
  ],
  permanent: {
    answer: linkedinError(400, 'Invalid value for field /conversionValue/currencyCode'),
    code: 'LINKEDIN_HTTP_400',
    field: 'conversionValue',
  },
  transient: { answer: linkedinError(503, 'Service Unavailable'), code: 'LINKEDIN_HTTP_503' },
  rateLimited: linkedinError(429, 'Resource level throttle limit exceeded'),
});

describe('linkedin-capi template', () => {
  it('delivers a purchase as a Rest.li batch create with SHA256_EMAIL and li_fat_id, the token redacted', async () => {
    const { platform, pipes, pipe } = await setup();
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_1'));

    expect(record).toMatchObject({ status: 'delivered', test_mode: false, error: null });
    expect(platform.accepted[0]).toEqual({
      conversion: 'urn:lla:llaPartnerConversion:104598',
      conversionHappenedAt: expect.any(Number),
      conversionValue: { currencyCode: 'EUR', amount: '129.9' },
      eventId: 'ord_1',
      user: {
        userIds: [
          { idType: 'SHA256_EMAIL', idValue: sha256('jane.doe@example.com') },
          {
            idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID',
            idValue: 'df9a2b5c-5e1f-4b8a-9c3d-2e7f6a1b0c4d',
          },
        ],
        userInfo: { firstName: 'Jane', lastName: 'Doe', companyName: 'Acme', countryCode: 'US' },
      },
    });
    const sent = bed.server.requests.at(-1)!;
    expect(sent.url).toBe('/rest/conversionEvents');
    expect(sent.headers).toMatchObject({
      'linkedin-version': '202601',
      'x-restli-protocol-version': '2.0.0',
      'x-restli-method': 'BATCH_CREATE',
    });
    expect(record.request!.headers).toMatchObject({
      authorization: 'Bearer [secret:LINKEDIN_ACCESS_TOKEN]',
    });
    expect(secretsIn(record, [token, 'Jane.Doe@Example', 'jane.doe@example.com'])).toEqual([]);
  });

  it('sends the LinkedIn-Version the settings name', async () => {
    const { platform, pipes, pipe } = await setup({ linkedinVersion: '202604' });
    const record = await deliverOne(platform, pipes, pipe.id, canonicalPurchase('ord_v'));
    expect(record.status).toBe('delivered');
    expect(bed.server.requests.at(-1)!.headers['linkedin-version']).toBe('202604');
  });

  it('marks only the elements a 200 batch answer failed', async () => {
    const { platform, pipes, pipe } = await setup();
    platform.answerNext(
      linkedinBatchAnswer([201, { status: 400, message: '/user/userIds/0/idValue :: unknown member' }, 201]),
    );
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_a'),
      canonicalPurchase('ord_b'),
      canonicalPurchase('ord_c'),
    ]);
    expectDelivered(records, 'ord_a', 'ord_c');
    expect(records.get('ord_b')).toMatchObject({
      status: 'failed',
      error: {
        code: 'LINKEDIN_ELEMENT_400',
        retryable: false,
        message: expect.stringContaining('/user/userIds'),
      },
    });
  });

  it('fails the elements a 422 names by index and retries the batch-mates LinkedIn did not create', async () => {
    const { platform, pipes, pipe } = await setup({}, { maxAttempts: 2, transform: null });
    await pipes.ingest('web', [
      element('evt_ok_1'),
      element('evt_bad', { conversionValue: { currencyCode: 'EUR', amount: 10.5 } }),
      element('evt_ok_2'),
    ]);
    const records = await finalRecordsById(pipes, pipe.id, 3);
    // The stand-in saw the invalid element (as LinkedIn would) and refused the batch.
    expect(platform.violations).toEqual([
      'Index: 1, ERROR :: /conversionValue/amount :: must be a decimal string',
    ]);
    expect(records.get('evt_bad')).toMatchObject({
      status: 'failed',
      attempt_count: 1,
      error: {
        code: 'LINKEDIN_INVALID_ELEMENT',
        message: expect.stringContaining('/conversionValue/amount'),
      },
    });
    for (const id of ['evt_ok_1', 'evt_ok_2']) {
      expect(records.get(id)).toMatchObject({ status: 'delivered', attempt_count: 2 });
      expect(records.get(id)!.attempts![0]!.error).toMatchObject({ code: 'LINKEDIN_NOT_PROCESSED' });
    }
    expect(platform.accepted.map((e) => e.eventId).sort()).toEqual(['evt_ok_1', 'evt_ok_2']);
  });

  it('fails alone a conversion older than 90 days or without any user id, before sending', async () => {
    const { platform, pipes, pipe } = await setup();
    const records = await deliverAll(platform, pipes, pipe.id, [
      canonicalPurchase('ord_ok'),
      daysOld(canonicalPurchase('ord_old'), 91),
      canonicalPurchase('ord_nobody', { email: undefined, li_fat_id: undefined, first_name: undefined }),
    ]);
    expectDelivered(records, 'ord_ok');
    expectRefusedBeforeSending(records, 'ord_old', { code: 'EVENT_TOO_OLD' });
    expect(records.get('ord_nobody')).toMatchObject({ status: 'failed', error: { code: 'INVALID_EVENT' } });
    expect(platform.accepted.map((e) => e.eventId)).toEqual(['ord_ok']);
  });
});

describe('linkedin-capi transform and settings', () => {
  it('takes li_fat_id and the hashed email from the stitched profile, and a full rule URN as it is', async () => {
    const event = purchaseEvent('ord_profile', { hashed_email: undefined, hashed_phone: undefined });
    const profiles = {
      ord_profile: {
        identifiers: { email: [{ sha256: sha256('jane.doe@example.com') }], li_fat_id: ['fat-from-profile'] },
      },
    };
    const definition = linkedinCapi({ conversionRules: { purchase: 'urn:lla:llaPartnerConversion:777' } });
    const [row] = await runTransform(definition.transform, {
      events: [event] as Parameters<typeof runTransform>[1]['events'],
      profiles,
    });
    expect(row!.event_payload).toMatchObject({
      conversion: 'urn:lla:llaPartnerConversion:777',
      user: {
        userIds: [
          { idType: 'SHA256_EMAIL', idValue: sha256('jane.doe@example.com') },
          { idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: 'fat-from-profile' },
        ],
      },
    });
  });

  it('refuses test-mode settings and needs a conversion rule', () => {
    expect(() =>
      linkedinCapiTemplate.create({ conversion_rules: conversionRules, test_mode: true }),
    ).toThrowError(/no test mode/);
    expect(() => linkedinCapiTemplate.create({ conversion_rules: {} })).toThrowError(/conversion_rules/);
  });
});
