import { destinationIdentifiersSchema, PipesError } from '@openpipes/core';
import { runSend, runTransform } from '@openpipes/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findTemplate,
  ga4,
  googleAdsClickConversions,
  linkedinCapi,
  metaCapi,
  metaCapiTemplate,
  microsoftUetCapi,
  pinterestCapi,
  redditCapi,
  signedWebhook,
  snapchatCapi,
  templates,
  tiktokEvents,
  xCapi,
} from './index.js';
import { startEngine, type TestEngine } from './testing/engine.js';

const minimalSettings: Record<string, Record<string, unknown>> = {
  'meta-capi': { pixel_id: '123456789012345' },
  'tiktok-events': { pixel_code: 'C4ABCDEFGH1234567890' },
  'google-ads-click-conversions': {
    customer_id: '123-456-7890',
    conversion_actions: { purchase: '987654321' },
  },
  ga4: { measurement_id: 'G-ABC123XYZ9' },
  webhook: { url: 'https://hooks.example/openpipes' },
  'snapchat-capi': { pixel_id: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b' },
  'pinterest-capi': { ad_account_id: '549755885175' },
  'reddit-capi': { pixel_id: 'a2_gv0ir2x4r0wz' },
  'microsoft-uet-capi': { tag_id: '187000123' },
  'x-capi': { pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } },
  'linkedin-capi': { conversion_rules: { purchase: '104598' } },
  'google-data-manager': {
    operating_account_id: '1234567890',
    conversion_actions: { purchase: '987654321' },
  },
};

let engine: TestEngine | undefined;
afterAll(() => engine?.close());

describe('templates', () => {
  it('exports the templates by the names the admin API uses', () => {
    expect(templates.map((t) => t.name)).toEqual([
      'meta-capi',
      'tiktok-events',
      'google-ads-click-conversions',
      'ga4',
      'webhook',
      'snapchat-capi',
      'pinterest-capi',
      'reddit-capi',
      'microsoft-uet-capi',
      'x-capi',
      'linkedin-capi',
      'google-data-manager',
    ]);
    expect(findTemplate('meta-capi')).toBe(metaCapiTemplate);
    expect(findTemplate('nope')).toBeNull();
  });

  it('describes its settings as JSON Schema and has a test mode whose setting changes send(), or refuses one', () => {
    for (const template of templates) {
      const schema = template.settingsSchema as { type: string; properties: Record<string, unknown> };
      expect(schema.type, template.name).toBe('object');
      const mode = template.testMode;
      const settings = minimalSettings[template.name] as Record<string, unknown>;
      if (!mode) {
        // A platform without a test mode: asking for one is refused, saying so.
        expect(() => template.create({ ...settings, test_event_code: 'TEST1' }), template.name).toThrowError(
          /no test mode/,
        );
        continue;
      }
      expect(Object.keys(schema.properties), template.name).toContain(mode.setting);
      const value = mode.needsValue ? 'TEST12345' : true;
      const normal = template.create(settings).destination.send;
      const test = template.create({ ...settings, [mode.setting]: value }).destination.send;
      expect(test, template.name).not.toBe(normal);
      if (mode.needsValue) expect(test).toContain('TEST12345');
    }
  });

  it('creates, for every template, a destination and a pipe whose code compiles in the sandbox', async () => {
    engine = await startEngine([]);
    const { pipes } = engine;
    const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
    for (const template of templates) {
      const definition = template.create(minimalSettings[template.name]);
      // Every secret send() reads is listed in requiredSecrets, and nothing more.
      const read = [...definition.destination.send.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);
      const required = definition.requiredSecrets.map((s) => s.key);
      expect(new Set(read)).toEqual(new Set(required));

      const destination = await pipes.destinations.create(definition.destination);
      expect(destination).toMatchObject({
        name: template.name,
        template: { name: template.name, settings: expect.any(Object) },
        enabled: false,
      });
      await pipes.pipes.create({
        name: `web-to-${template.name}`,
        source_id: source.id,
        destination_id: destination.id,
        transform: definition.transform,
      });
    }
  });

  it('reports bad settings as VALIDATION_FAILED with the field paths', () => {
    for (const template of templates) {
      let error: unknown;
      try {
        template.create({ base_url: 'ftp://example.com', url: 'ftp://example.com', max_batch_size: 0 });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PipesError);
      expect((error as PipesError).code).toBe('VALIDATION_FAILED');
      const paths = ((error as PipesError).details as { issues: Array<{ path: string }> }).issues.map(
        (i) => i.path,
      );
      // The webhook has a url where the platforms have a base_url.
      const urlField = template.name === 'webhook' ? 'url' : 'base_url';
      expect(paths).toEqual(expect.arrayContaining([urlField, 'max_batch_size']));
    }
  });

  it('the factories make the same definition as the templates', () => {
    expect(metaCapi({ pixelId: '123456789012345' })).toEqual(
      metaCapiTemplate.create(minimalSettings['meta-capi']),
    );
    expect(tiktokEvents({ pixelCode: 'C4ABCDEFGH1234567890' })).toEqual(
      findTemplate('tiktok-events')!.create(minimalSettings['tiktok-events']),
    );
    expect(
      googleAdsClickConversions({ customerId: '123-456-7890', conversionActions: { purchase: '987654321' } }),
    ).toEqual(
      findTemplate('google-ads-click-conversions')!.create(minimalSettings['google-ads-click-conversions']),
    );
    expect(ga4({ measurementId: 'G-ABC123XYZ9' })).toEqual(findTemplate('ga4')!.create(minimalSettings.ga4));
    expect(signedWebhook({ url: 'https://hooks.example/openpipes' })).toEqual(
      findTemplate('webhook')!.create(minimalSettings.webhook),
    );
    expect(snapchatCapi({ pixelId: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b' })).toEqual(
      findTemplate('snapchat-capi')!.create(minimalSettings['snapchat-capi']),
    );
    expect(pinterestCapi({ adAccountId: '549755885175' })).toEqual(
      findTemplate('pinterest-capi')!.create(minimalSettings['pinterest-capi']),
    );
    expect(redditCapi({ pixelId: 'a2_gv0ir2x4r0wz' })).toEqual(
      findTemplate('reddit-capi')!.create(minimalSettings['reddit-capi']),
    );
    expect(microsoftUetCapi({ tagId: '187000123' })).toEqual(
      findTemplate('microsoft-uet-capi')!.create(minimalSettings['microsoft-uet-capi']),
    );
    expect(xCapi({ pixelId: 'o8z6j', eventIds: { purchase: 'o87ne' } })).toEqual(
      findTemplate('x-capi')!.create(minimalSettings['x-capi']),
    );
    expect(linkedinCapi({ conversionRules: { purchase: '104598' } })).toEqual(
      findTemplate('linkedin-capi')!.create(minimalSettings['linkedin-capi']),
    );
  });

  it('default transforms map the canonical event types and filter the others; settings can rename or drop', async () => {
    const definition = metaCapi({
      pixelId: '123456789012345',
      eventNames: { lead: null, signup: 'CompleteRegistration' },
    });
    const at = new Date().toISOString();
    const out = await runTransform(definition.transform, {
      events: ['purchase', 'add_to_cart', 'lead', 'signup', 'unknown'].map((eventType) => ({
        event_type: eventType,
        event_time: at,
        event_payload: { email: 'a@b.example', user_agent: 'UA' },
      })),
    });
    expect(out.map((o) => o.event_payload.event_name)).toEqual([
      'Purchase',
      'AddToCart',
      'CompleteRegistration',
    ]);
  });

  it('a send() whose secret is not bound says which secret to bind', async () => {
    for (const template of templates) {
      const definition = template.create(minimalSettings[template.name]);
      const missing = definition.requiredSecrets[0]!.key;
      await expect(
        runSend(definition.destination.send, {
          events: [{ event_type: 'purchase', event_time: new Date().toISOString(), event_payload: {} }],
          secrets: {},
        }),
      ).rejects.toThrowError(new RegExp(`bind a secret named ${missing}`));
    }
  });
});

describe('templates over the admin API', () => {
  it('plugs into a handler that takes DestinationTemplate[]', () => {
    // The HTTP package's option type: a mutable array of the core contract.
    const accept = (list: import('@openpipes/core').DestinationTemplate[]) => list.length;
    expect(accept(templates)).toBe(templates.length);
  });
});

describe('match quality declarations', () => {
  it('every template but the webhook says where each identifier it sends sits, in a form a destination accepts', () => {
    for (const template of templates) {
      const settings = minimalSettings[template.name] as Record<string, unknown>;
      const { destination } = template.create(settings);
      if (template.name === 'webhook') {
        expect(destination.identifiers, template.name).toBeUndefined();
        continue;
      }
      expect(destinationIdentifiersSchema.parse(destination.identifiers), template.name).toBeDefined();
      expect(Object.keys(destination.identifiers ?? {}).sort(), template.name).toEqual(
        [...(template as unknown as { identifiers: string[] }).identifiers].sort(),
      );
    }
  });
});
