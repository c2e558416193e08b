/**
 * The canonical fixtures' requests, byte for byte, against src/goldens/<template>.json (see
 * testing/golden.ts). Rewrite them on purpose with `UPDATE_GOLDENS=1`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DestinationTemplate } from '@openpipes/core';
import { purchaseEvent } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { ga4Template } from './ga4/ga4.js';
import { googleAdsTemplate } from './google-ads/google-ads.js';
import { dataManagerTemplate } from './google-data-manager/data-manager.js';
import { linkedinCapiTemplate } from './linkedin/linkedin.js';
import { metaCapiTemplate } from './meta/meta.js';
import { microsoftUetCapiTemplate } from './microsoft/microsoft.js';
import { pinterestCapiTemplate } from './pinterest/pinterest.js';
import { redditCapiTemplate } from './reddit/reddit.js';
import { snapchatCapiTemplate } from './snapchat/snapchat.js';
import { dataManagerPlatform } from './testing/data-manager-platform.js';
import {
  captureRequests,
  type GoldenRequest,
  goldenEventTime,
  type StandInHandler,
} from './testing/golden.js';
import { dataManagerSecrets, googleAdsSecrets } from './testing/google-stand-in.js';
import { linkedinPlatform } from './testing/linkedin-platform.js';
import { microsoftPlatform } from './testing/microsoft-platform.js';
import { pinterestPlatform } from './testing/pinterest-platform.js';
import { ga4Platform, googleAdsPlatform, metaPlatform, tiktokPlatform } from './testing/platforms.js';
import { redditPlatform } from './testing/reddit-platform.js';
import { snapchatPlatform } from './testing/snapchat-platform.js';
import { xPlatform, xSecrets } from './testing/x-platform.js';
import { tiktokEventsTemplate } from './tiktok/tiktok.js';
import { xCapiTemplate } from './x/x.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The canonical purchase with raw personal data (the transform normalises and hashes it). */
const rawPurchase = (eventTime: string) => ({
  ...purchaseEvent('ord_golden_raw', {
    hashed_email: undefined,
    hashed_phone: undefined,
    email: '  John_Smith@Gmail.com ',
    phone: '+1 (650) 555-1212',
    first_name: 'John',
    last_name: 'Smith',
    city: 'Menlo Park',
    state: 'CA',
    zip: '94025-1234',
    country: 'US',
    external_id: 'cust-42',
    client_id: '1234567890.1714816462',
    user_id: 'user-42',
    contents: [{ id: 'SKU-1', name: 'Shoe', category: 'Shoes', quantity: 2, price: 64.95 }],
    consent: { ad_user_data: 'GRANTED', ad_personalization: 'GRANTED' },
  }),
  event_time: eventTime,
});

/** The same purchase with its personal data already hashed by the sender. */
const prehashedPurchase = (eventTime: string) => ({
  ...purchaseEvent('ord_golden_hashed', {
    hashed_email: sha256('john_smith@gmail.com'),
    hashed_phone: sha256('16505551212'),
    client_id: '1234567890.1714816462',
    contents: [{ id: 'SKU-2', quantity: 1, price: 129.9 }],
  }),
  event_time: eventTime,
});

interface GoldenCase {
  template: DestinationTemplate;
  settings: Record<string, unknown>;
  /** The same template in its test mode. */
  testSettings: Record<string, unknown>;
  secrets: Record<string, string>;
  standIn: () => { handler: StandInHandler; violations: string[] };
  extra?: Array<[RegExp, string]>;
  /** Fields added to both fixtures' payloads (the platform's own click and browser ids). */
  payload?: Record<string, unknown>;
}

const snapPixel = '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b';

const google = {
  clientId: '1234567890-golden.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-golden-secret',
  refreshToken: '1//0g-golden-refresh',
  developerToken: 'dev-token-GOLDEN',
};

const x = {
  credentials: {
    consumerKey: 'xck-golden',
    consumerSecret: 'xcs-golden-secret',
    token: '1234-xat-golden',
    tokenSecret: 'xts-golden-secret',
  },
  get secrets() {
    return xSecrets(this.credentials);
  },
};

const cases: GoldenCase[] = [
  {
    template: metaCapiTemplate,
    settings: { pixel_id: '998877665544' },
    testSettings: { pixel_id: '998877665544', test_event_code: 'TEST12345' },
    secrets: { META_ACCESS_TOKEN: 'EAAB-golden-token' },
    standIn: () => metaPlatform({ pixelId: '998877665544', token: 'EAAB-golden-token' }),
  },
  {
    template: tiktokEventsTemplate,
    settings: { pixel_code: 'C4GOLDEN1234567890' },
    testSettings: { pixel_code: 'C4GOLDEN1234567890', test_event_code: 'TEST31104' },
    secrets: { TIKTOK_ACCESS_TOKEN: 'tiktok-golden-token' },
    standIn: () => tiktokPlatform({ pixelCode: 'C4GOLDEN1234567890', token: 'tiktok-golden-token' }),
  },
  {
    template: googleAdsTemplate,
    settings: {
      customer_id: '123-456-7890',
      login_customer_id: '111-222-3333',
      conversion_actions: { purchase: '987654321' },
    },
    testSettings: {
      customer_id: '123-456-7890',
      login_customer_id: '111-222-3333',
      conversion_actions: { purchase: '987654321' },
      validate_only: true,
    },
    secrets: googleAdsSecrets(google),
    standIn: () =>
      googleAdsPlatform({ customerId: '1234567890', loginCustomerId: '1112223333', credentials: google }),
    // The stand-in issues a random access token; the upload carries it.
    extra: [[/ya29\.test-access-token-[\w-]+/g, '<ACCESS_TOKEN>']],
  },
  {
    template: ga4Template,
    settings: { measurement_id: 'G-GOLDEN123' },
    testSettings: { measurement_id: 'G-GOLDEN123', validate_only: true },
    secrets: { GA4_API_SECRET: 'ga4-golden-secret' },
    standIn: () => ga4Platform({ measurementId: 'G-GOLDEN123', apiSecret: 'ga4-golden-secret' }),
  },
  {
    template: snapchatCapiTemplate,
    settings: { pixel_id: snapPixel },
    testSettings: { pixel_id: snapPixel, validate_only: true },
    secrets: { SNAPCHAT_ACCESS_TOKEN: 'snap-golden-token' },
    standIn: () => snapchatPlatform({ pixelId: snapPixel, token: 'snap-golden-token' }),
    payload: { sc_click_id: 'a3f4b5c6-golden-sccid', sc_cookie1: 'golden-scid-cookie' },
  },
  {
    template: pinterestCapiTemplate,
    settings: { ad_account_id: '549755885175' },
    testSettings: { ad_account_id: '549755885175', test_mode: true },
    secrets: { PINTEREST_ACCESS_TOKEN: 'pina-golden-token' },
    standIn: () => pinterestPlatform({ adAccountId: '549755885175', token: 'pina-golden-token' }),
    payload: { epik: 'dj0yJnU9golden-epik' },
  },
  {
    template: redditCapiTemplate,
    settings: { pixel_id: 'a2_golden0pixel' },
    testSettings: { pixel_id: 'a2_golden0pixel', test_id: 't2_golden_tester' },
    secrets: { REDDIT_ACCESS_TOKEN: 'reddit-golden-token' },
    standIn: () => redditPlatform({ pixelId: 'a2_golden0pixel', token: 'reddit-golden-token' }),
    payload: { rdt_cid: 'golden-rdt-cid', rdt_uuid: '1714816462.golden-rdt-uuid' },
  },
  {
    template: microsoftUetCapiTemplate,
    settings: { tag_id: '187000123' },
    // No test mode: the "test mode" golden is the same two-event batch sent live.
    testSettings: { tag_id: '187000123' },
    secrets: { MICROSOFT_UET_TOKEN: 'uet-golden-token' },
    standIn: () => microsoftPlatform({ tagId: '187000123', token: 'uet-golden-token' }),
    payload: { msclkid: 'cdd4afcccb1c9a4cad9544dd7e5006d5-1' },
  },
  {
    template: xCapiTemplate,
    settings: { pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } },
    // No test mode: the "test mode" golden is the same two-event batch sent live.
    testSettings: { pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } },
    secrets: x.secrets,
    standIn: () => xPlatform({ pixelId: 'o8z6j', credentials: x.credentials }),
    // Each request has a fresh nonce and the current time, so its signature changes (the stand-in's
    // oracle checked it); the rest of the header is exact.
    extra: [
      [/oauth_nonce="[0-9a-f]+"/g, 'oauth_nonce="<NONCE>"'],
      [/oauth_timestamp="\d+"/g, 'oauth_timestamp="<TIMESTAMP>"'],
      [/oauth_signature="[A-Za-z0-9%]+"/g, 'oauth_signature="<SIGNATURE>"'],
    ],
    payload: { twclid: '23opevjt88psuo13lu8d020qkn' },
  },
  {
    template: linkedinCapiTemplate,
    settings: { conversion_rules: { purchase: '104598' } },
    // No test mode: the "test mode" golden is the same two-event batch sent live.
    testSettings: { conversion_rules: { purchase: '104598' } },
    secrets: { LINKEDIN_ACCESS_TOKEN: 'AQV-golden-token' },
    standIn: () => linkedinPlatform({ token: 'AQV-golden-token', ruleIds: ['104598'] }),
    payload: { li_fat_id: 'df9a2b5c-golden-li-fat-id' },
  },
  {
    template: dataManagerTemplate,
    settings: {
      operating_account_id: '123-456-7890',
      login_account_id: '111-222-3333',
      conversion_actions: { purchase: '987654321' },
    },
    testSettings: {
      operating_account_id: '123-456-7890',
      login_account_id: '111-222-3333',
      conversion_actions: { purchase: '987654321' },
      validate_only: true,
    },
    secrets: dataManagerSecrets(google),
    standIn: () =>
      dataManagerPlatform({
        operatingAccountId: '1234567890',
        loginAccountId: '1112223333',
        credentials: google,
      }),
    // The stand-in issues a random access token; the request carries it.
    extra: [[/ya29\.dm-access-token-[\w-]+/g, '<ACCESS_TOKEN>']],
  },
];

type Golden = Record<'raw' | 'prehashed' | 'test_mode_batch', GoldenRequest[]>;

describe('golden requests of the canonical fixtures', () => {
  it.each(cases.map((c) => [c.template.name, c] as const))(
    '%s sends exactly its golden requests',
    async (name, c) => {
      const time = goldenEventTime();
      const capture = async (
        settings: Record<string, unknown>,
        fixtures: ReturnType<typeof rawPurchase>[],
      ) => {
        const events = fixtures.map((e) => ({ ...e, event_payload: { ...e.event_payload, ...c.payload } }));
        const standIn = c.standIn();
        const requests = await captureRequests({
          definition: c.template.create(settings),
          events,
          secrets: c.secrets,
          handler: standIn.handler,
          renderings: time.renderings,
          ...(c.extra ? { extra: c.extra } : {}),
        });
        // The stand-in found nothing wrong: the goldens are requests the platform accepts.
        expect(standIn.violations).toEqual([]);
        return requests;
      };
      const actual: Golden = {
        raw: await capture(c.settings, [rawPurchase(time.iso)]),
        prehashed: await capture(c.settings, [prehashedPurchase(time.iso)]),
        test_mode_batch: await capture(c.testSettings, [rawPurchase(time.iso), prehashedPurchase(time.iso)]),
      };
      const file = join(import.meta.dirname, 'goldens', `${name}.json`);
      if (process.env.UPDATE_GOLDENS === '1') writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
      expect(existsSync(file), `${file} is missing: run with UPDATE_GOLDENS=1`).toBe(true);
      expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    },
  );
});
