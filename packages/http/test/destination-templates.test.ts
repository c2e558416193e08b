/**
 * The prebuilt templates of @openpipes/destinations over the admin API: `POST /api/event-destinations`
 * with `{"template": name, "settings": ...}` creates each one, answers its default transform and the
 * secrets to bind, and refuses bad settings naming the field.
 */
import { templates } from '@openpipes/destinations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './client.js';
import { type Fixture, startFixture } from './servers.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture('node', { templates });
});
afterAll(() => f?.close());

/** Minimal settings, the secrets the template needs, and a setting it must refuse. */
const cases = [
  {
    template: 'snapchat-capi',
    settings: { pixel_id: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b' },
    secrets: ['SNAPCHAT_ACCESS_TOKEN'],
    bad: { pixel_id: 'not a pixel' },
    badPath: 'pixel_id',
  },
  {
    template: 'pinterest-capi',
    settings: { ad_account_id: '549755885175', test_mode: true },
    secrets: ['PINTEREST_ACCESS_TOKEN'],
    bad: { ad_account_id: 'act_1' },
    badPath: 'ad_account_id',
  },
  {
    template: 'reddit-capi',
    settings: { pixel_id: 'a2_gv0ir2x4r0wz' },
    secrets: ['REDDIT_ACCESS_TOKEN'],
    bad: { pixel_id: '12345' },
    badPath: 'pixel_id',
  },
  {
    template: 'microsoft-uet-capi',
    settings: { tag_id: '187000123' },
    secrets: ['MICROSOFT_UET_TOKEN'],
    // No test mode: asking for one is refused, naming the setting.
    bad: { tag_id: '187000123', test_event_code: 'TEST1' },
    badPath: 'test_event_code',
  },
  {
    template: 'x-capi',
    settings: { pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } },
    secrets: ['X_CONSUMER_KEY', 'X_CONSUMER_SECRET', 'X_ACCESS_TOKEN', 'X_ACCESS_TOKEN_SECRET'],
    // No test mode: asking for one is refused, naming the setting.
    bad: { pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' }, validate_only: true },
    badPath: 'validate_only',
  },
  {
    template: 'linkedin-capi',
    settings: { conversion_rules: { purchase: '104598' }, linkedin_version: '202604' },
    secrets: ['LINKEDIN_ACCESS_TOKEN'],
    bad: { conversion_rules: { purchase: 'rule-1' } },
    badPath: 'conversion_rules.purchase',
  },
  {
    template: 'google-data-manager',
    settings: {
      operating_account_id: '1234567890',
      login_account_id: '1112223333',
      conversion_actions: { purchase: '987654321', lead: '987654322' },
      validate_only: true,
    },
    secrets: [
      'GOOGLE_DATA_MANAGER_CLIENT_ID',
      'GOOGLE_DATA_MANAGER_CLIENT_SECRET',
      'GOOGLE_DATA_MANAGER_REFRESH_TOKEN',
    ],
    // productDestinationId is the numeric id: Google refuses a resource name there.
    bad: {
      operating_account_id: '1234567890',
      conversion_actions: { purchase: 'customers/1234567890/conversionActions/987654321' },
    },
    badPath: 'conversion_actions.purchase',
  },
];

describe('second-wave templates over the admin API', () => {
  it.each(cases.map((c) => [c.template, c] as const))('creates %s by name', async (name, c) => {
    const listed = await call(f, 'GET', '/api/event-destination-templates');
    expect(listed.json.data.map((t: { name: string }) => t.name)).toContain(name);

    const answer = await call(f, 'POST', '/api/event-destinations', {
      body: { template: name, settings: c.settings },
    });
    expect(answer.status).toBe(201);
    expect(answer.json).toMatchObject({ name, enabled: false, template: { name, settings: c.settings } });
    expect(answer.json.required_secrets.map((s: { key: string }) => s.key)).toEqual(c.secrets);
    expect(answer.json.default_transform).toContain('function transform');

    const bad = await call(f, 'POST', '/api/event-destinations', {
      body: { template: name, settings: c.bad, name: `${name}-bad` },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
    expect(bad.json.error.details.issues.map((i: { path: string }) => i.path)).toContain(c.badPath);
  });
});
