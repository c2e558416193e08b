/**
 * Consent through the templates (docs/consent.md), against the platform stand-ins, which check
 * each consent field's place and shape as the platforms document them: Google Ads and GA4 get the
 * event's Google signals, TikTok its `limited_data_use`, Meta its `data_processing_options` from
 * the destination's setting; and a pipe's requirement keeps the events without consent away.
 */
import { purchaseEvent, tcString } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { ga4 } from './ga4/ga4.js';
import { googleAdsClickConversions } from './google-ads/google-ads.js';
import { metaCapi } from './meta/meta.js';
import { byEventId, finalRecords, platformBed } from './testing/engine.js';
import { googleAdsSecrets } from './testing/google-stand-in.js';
import {
  type GoogleCredentials,
  ga4Platform,
  googleAdsPlatform,
  metaPlatform,
  tiktokPlatform,
} from './testing/platforms.js';
import { tiktokEvents } from './tiktok/tiktok.js';

const bed = platformBed();

const purchase = (id: string, consent?: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  purchaseEvent(id, { client_id: `c.${id}`, ...(consent ? { consent } : {}), ...extra });

const credentials: GoogleCredentials = {
  clientId: '1234567890-consent.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-consent-secret-1a2b3c',
  refreshToken: '1//0g-consent-refresh-9z8y7x',
  developerToken: 'dev-token-CONSENTCONSENT',
};

describe('Google Ads passes the event’s consent, and the pipe keeps back what it does not allow', () => {
  const setup = (consent: Parameters<typeof bed.wire>[2]['consent'] = null, defaultConsent?: object) =>
    bed.wire(
      googleAdsPlatform({ customerId: '1234567890', credentials }),
      googleAdsClickConversions({
        customerId: '1234567890',
        conversionActions: { purchase: '987654321' },
        baseUrl: bed.server.url,
        tokenUrl: `${bed.server.url}/token`,
        ...(defaultConsent ? { defaultConsent } : {}),
      }),
      {
        secrets: googleAdsSecrets(credentials),
        retry: { max_attempts: 1 },
        consent,
      },
    );

  it('sends adUserData and adPersonalization upper case, only what the event says, filled by default_consent', async () => {
    const { platform, pipes, pipe } = await setup(null, { ad_personalization: 'DENIED' });
    await pipes.ingest('web', [
      purchase('both', { ad_user_data: 'granted', ad_personalization: 'GRANTED', ad_storage: 'DENIED' }),
      purchase('one', { ad_user_data: 'GRANTED', tcf_string: tcString({ purposes: [1] }) }),
      purchase('none'),
    ]);
    const records = byEventId(await finalRecords(pipes, pipe.id, 3));
    expect([...records.values()].map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(platform.violations).toEqual([]);
    const byOrder = new Map(platform.accepted.map((c) => [c.orderId, c.consent]));
    expect(byOrder.get('both')).toEqual({ adUserData: 'GRANTED', adPersonalization: 'GRANTED' });
    expect(byOrder.get('one')).toEqual({ adUserData: 'GRANTED', adPersonalization: 'DENIED' });
    expect(byOrder.get('none')).toEqual({ adPersonalization: 'DENIED' });
  });

  it('filters for consent what the pipe requires and the event does not grant; none of it reaches Google', async () => {
    const { platform, pipes, pipe } = await setup({ require: ['ad_user_data'] });
    await pipes.ingest('web', [
      purchase('granted', { ad_user_data: 'GRANTED' }),
      purchase('denied', { ad_user_data: 'DENIED' }),
      purchase('unknown'),
      { ...purchase('lead', { ad_user_data: 'GRANTED' }), event_type: 'lead' },
    ]);
    const records = byEventId(await finalRecords(pipes, pipe.id, 4));
    expect(records.get('granted')).toMatchObject({ status: 'delivered', filter_reason: null });
    // Allowed by consent, but the template's transform has no conversion action for it, and says so.
    expect(records.get('lead')).toMatchObject({ status: 'filtered', filter_reason: 'no_conversion_action' });
    expect(records.get('denied')).toMatchObject({
      status: 'filtered',
      filter_reason: 'consent',
      request: null,
    });
    expect(records.get('unknown')).toMatchObject({
      status: 'filtered',
      filter_reason: 'consent',
      request: null,
    });
    expect(platform.accepted.map((c) => c.orderId)).toEqual(['granted']);
    expect(platform.violations).toEqual([]);
  });
});

describe('GA4 passes the two user-data signals as its request consent', () => {
  it('sends ad_user_data / ad_personalization only, and no consent when the event has none', async () => {
    const platform = ga4Platform({ measurementId: 'G-CONSENT123', apiSecret: 'ga4-consent-secret-77' });
    const { pipes, pipe } = await bed.wire(
      platform,
      ga4({ measurementId: 'G-CONSENT123', baseUrl: bed.server.url }),
      {
        secrets: { GA4_API_SECRET: 'ga4-consent-secret-77' },
        retry: { max_attempts: 1 },
      },
    );
    await pipes.ingest('web', [
      purchase('a', { ad_user_data: 'denied', ad_personalization: 'GRANTED', analytics_storage: 'GRANTED' }),
      purchase('b'),
    ]);
    const records = await finalRecords(pipes, pipe.id, 2);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(platform.violations).toEqual([]);
    const byClient = new Map(platform.accepted.map((a) => [a.body.client_id, a.body]));
    expect(byClient.get('c.a')?.consent).toEqual({ ad_user_data: 'DENIED', ad_personalization: 'GRANTED' });
    expect(byClient.get('c.b')).not.toHaveProperty('consent');
  });
});

describe('TikTok gets limited_data_use from the event’s consent', () => {
  it('is true when personalised ads are denied, false when granted, the event’s own flag wins, absent when unknown', async () => {
    const token = 'tt-consent-token-0f1e2d3c';
    const platform = tiktokPlatform({ pixelCode: 'C4CONSENT0000000001', token });
    const { pipes, pipe } = await bed.wire(
      platform,
      tiktokEvents({ pixelCode: 'C4CONSENT0000000001', baseUrl: bed.server.url }),
      { secrets: { TIKTOK_ACCESS_TOKEN: token }, retry: { max_attempts: 1 } },
    );
    await pipes.ingest('web', [
      purchase('denied', { ad_personalization: 'DENIED' }),
      purchase('granted', { ad_personalization: 'GRANTED' }),
      purchase('flag', { ad_personalization: 'GRANTED', limited_data_use: true }),
      purchase('unknown'),
    ]);
    const records = await finalRecords(pipes, pipe.id, 4);
    expect(records.every((r) => r.status === 'delivered')).toBe(true);
    expect(platform.violations).toEqual([]);
    const ldu = new Map(platform.accepted.map((e) => [e.event_id, e.limited_data_use]));
    expect(Object.fromEntries(ldu)).toEqual({ denied: true, granted: false, flag: true, unknown: undefined });
  });
});

describe('Meta gets data_processing_options from the destination’s setting, not from consent', () => {
  const token = 'EAAB-consent-meta-token-61c2';
  const wire = (settings: Parameters<typeof metaCapi>[0]['dataProcessingOptions']) =>
    bed.wire(
      metaPlatform({ pixelId: '112233445566', token }),
      metaCapi({
        pixelId: '112233445566',
        baseUrl: bed.server.url,
        ...(settings ? { dataProcessingOptions: settings } : {}),
      }),
      { secrets: { META_ACCESS_TOKEN: token }, retry: { max_attempts: 1 } },
    );

  const cases: Array<[string, Parameters<typeof wire>[0], Record<string, unknown>]> = [
    [
      'LDU with geolocation by default',
      {},
      {
        data_processing_options: ['LDU'],
        data_processing_options_country: 0,
        data_processing_options_state: 0,
      },
    ],
    [
      'LDU with the given country and state',
      { country: 1, state: 1000 },
      {
        data_processing_options: ['LDU'],
        data_processing_options_country: 1,
        data_processing_options_state: 1000,
      },
    ],
    ['an explicit "LDU does not apply"', { options: [] }, { data_processing_options: [] }],
    ['nothing without the setting', undefined, {}],
  ];
  for (const [name, setting, expected] of cases) {
    it(`sends ${name}, whatever the event's consent says`, async () => {
      const { platform, pipes, pipe } = await wire(setting);
      await pipes.ingest('web', [purchase('m1', { ad_user_data: 'DENIED', ad_personalization: 'DENIED' })]);
      const [record] = await finalRecords(pipes, pipe.id, 1);
      expect(record?.status).toBe('delivered');
      expect(platform.violations).toEqual([]);
      const event = platform.accepted[0]!;
      const sent = Object.fromEntries(Object.entries(event).filter(([k]) => k.startsWith('data_processing')));
      expect(sent).toEqual(expected);
      // Consent is not a Meta field: it stays out of the event.
      expect(event).not.toHaveProperty('consent');
    });
  }

  it('refuses a setting Meta would not take, naming the field', () => {
    expect(() => metaCapi({ pixelId: '112233445566', dataProcessingOptions: { country: 2 } })).toThrow(
      /data_processing_options\.country: country is 0 \(Meta geolocates\) or 1 \(United States\)/,
    );
    expect(() =>
      metaCapi({ pixelId: '112233445566', dataProcessingOptions: { options: ['GDPR' as 'LDU'] } }),
    ).toThrow(/data_processing_options\.options/);
  });
});
