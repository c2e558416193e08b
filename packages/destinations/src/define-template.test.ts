import { PipesError } from '@openpipes/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTemplate } from './define-template.js';
import { destinationNameSchema } from './settings.js';

const settings = z.object({
  name: destinationNameSchema('acme'),
  account_id: z.string().regex(/^\d+$/, 'account_id is the numeric account id'),
  api_version: z.string().default('v1'),
  max_batch_size: z.number().int().min(1).max(50).default(50),
});

const acme = (testMode: Parameters<typeof defineTemplate>[0]['testMode']) =>
  defineTemplate({
    name: 'acme',
    description: 'Acme',
    settings,
    secrets: [{ key: 'ACME_TOKEN', description: 'token' }],
    maxBatchSize: 50,
    identifiers: ['email'],
    testMode,
    build: (s) => ({
      send: `async function send() { return { outcome: 'delivered' }; } // ${s.account_id}`,
      transform: 'function transform({ events }) { return events; }',
      description: `Acme ${s.account_id} ${s.api_version}`,
    }),
  });

describe('defineTemplate', () => {
  it('makes the destination, its template settings without undefined fields, and the required secrets', () => {
    const definition = acme({ settings: { test_event_code: 'T1' }, description: 'Acme test events' }).create({
      account_id: '42',
    });
    expect(definition).toEqual({
      destination: {
        name: 'acme',
        description: 'Acme 42 v1',
        send: "async function send() { return { outcome: 'delivered' }; } // 42",
        max_batch_size: 50,
        template: {
          name: 'acme',
          settings: { name: 'acme', account_id: '42', api_version: 'v1', max_batch_size: 50 },
        },
      },
      transform: 'function transform({ events }) { return events; }',
      requiredSecrets: [{ key: 'ACME_TOKEN', description: 'token' }],
    });
  });

  it('reports bad settings as VALIDATION_FAILED naming the field', () => {
    expect(() =>
      acme({ settings: { test_event_code: 'T1' }, description: 'Acme test events' }).create({
        account_id: 'x',
      }),
    ).toThrowError(/invalid acme settings: account_id: account_id is the numeric account id/);
  });

  it('fromOptions turns camelCase options into snake_case settings and drops undefined ones', () => {
    const template = acme({ settings: { test_event_code: 'T1' }, description: 'Acme test events' });
    expect(template.fromOptions({ accountId: '7', apiVersion: undefined, maxBatchSize: 10 })).toEqual(
      template.create({ account_id: '7', max_batch_size: 10 }),
    );
  });

  it('a template without a test mode refuses test-mode settings with its reason', () => {
    const template = acme({ unsupported: 'Acme has no test mode; use a separate test account' });
    let error: unknown;
    try {
      template.create({ account_id: '42', test_event_code: 'TEST1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PipesError);
    expect(error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('Acme has no test mode'),
      details: { issues: [{ path: 'test_event_code' }] },
    });
    expect(() => template.create({ account_id: '42' })).not.toThrow();
  });
});

describe('defineTemplate: what clients see of a template', () => {
  it('gives the JSON Schema of the settings and the setting that switches test mode on', () => {
    const withCode = acme({ settings: { test_event_code: 'T1' }, description: 'Acme test events' });
    expect(withCode.testMode).toEqual({
      setting: 'test_event_code',
      needsValue: true,
      description: 'Acme test events',
    });
    const properties = (withCode.settingsSchema as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(properties)).toEqual(expect.arrayContaining(['account_id', 'api_version']));
    expect(
      acme({ settings: { validate_only: true }, description: 'checked, not recorded' }).testMode,
    ).toEqual({
      setting: 'validate_only',
      needsValue: false,
      description: 'checked, not recorded',
    });
    expect(acme({ unsupported: 'Acme has no test mode' }).testMode).toBeUndefined();
  });
});
