import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { platformEventNames } from '../event-names.js';
import { metaUserDataPaths } from '../meta-user-data-paths.js';
import {
  baseUrlSchema,
  type CommonTemplateOptions,
  destinationNameSchema,
  mappedEventSettings,
  mappedEventSources,
  testEventCodeSchema,
} from '../settings.js';
import { metaSendSource, metaTransformSource } from './sources.js';

/**
 * Meta accepts at most this many events per request.
 *
 * @example
 * ```ts
 * metaCapi({ pixelId, maxBatchSize: Math.min(500, META_MAX_BATCH_SIZE) });
 * ```
 */
export const META_MAX_BATCH_SIZE = 1000;

/**
 * Canonical event type -> Meta standard event; `eventNames` overrides it per destination.
 *
 * @example
 * ```ts
 * metaEventNames.purchase; // 'Purchase'
 * ```
 */
export const metaEventNames: Readonly<Record<string, string>> = platformEventNames('meta');

/**
 * Settings of the `meta-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = metaCapiSettingsSchema.parse({ pixel_id: '123456789012345' }); // api_version 'v26.0', ...
 * ```
 */
export const metaCapiSettingsSchema = z.object({
  name: destinationNameSchema('meta-capi'),
  /** The dataset / pixel id. */
  pixel_id: z.string().regex(/^\d{5,20}$/, 'pixel_id must be the numeric pixel (dataset) id'),
  /** Graph API version: v25.0 (supported until 2028-07) and v26.0 are current. */
  api_version: z
    .string()
    .regex(/^v\d+\.\d+$/, 'api_version looks like "v26.0"')
    .default('v26.0'),
  /** From Events Manager > Test events. When set, every delivery is recorded as test mode. */
  test_event_code: testEventCodeSchema,
  base_url: baseUrlSchema('https://graph.facebook.com'),
  /** Used when an event does not say (`website`, `app`, `physical_store`, `system_generated`, ...). */
  action_source: z
    .enum([
      'website',
      'app',
      'email',
      'phone_call',
      'chat',
      'physical_store',
      'system_generated',
      'business_messaging',
      'other',
    ])
    .default('website'),
  ...mappedEventSettings(META_MAX_BATCH_SIZE),
  /**
   * Meta's Limited Data Use (US state privacy laws), sent with every event: not consent, a
   * processing mode of its own (docs/consent.md). `{}` asks Meta to geolocate each event
   * (country 0, state 0); `{ country: 1, state: 1000 }` says United States, California;
   * `{ options: [] }` says explicitly that LDU does not apply. Absent: nothing is sent.
   */
  data_processing_options: z
    .strictObject({
      options: z.array(z.literal('LDU')).max(1).default(['LDU']),
      country: z
        .number()
        .int()
        .refine((n) => n === 0 || n === 1, 'country is 0 (Meta geolocates) or 1 (United States)')
        .default(0),
      state: z.number().int().min(0).max(9999).default(0),
    })
    .optional(),
});
export type MetaCapiSettings = z.input<typeof metaCapiSettingsSchema>;

/**
 * Options of {@link metaCapi}: the template's settings in camelCase.
 */
export interface MetaCapiOptions extends CommonTemplateOptions {
  pixelId: string;
  /** Default `v26.0`. */
  apiVersion?: string;
  testEventCode?: string;
  actionSource?: MetaCapiSettings['action_source'];
  /** Meta's Limited Data Use flag with every event (see {@link metaCapiSettingsSchema}). */
  dataProcessingOptions?: { options?: Array<'LDU'>; country?: number; state?: number };
}

/**
 * The `meta-capi` template: Meta Conversions API.
 *
 * @example
 * ```ts
 * const definition = metaCapiTemplate.create({ pixel_id: '123456789012345', api_version: 'v26.0' });
 * ```
 */
export const metaCapiTemplate = defineTemplate({
  name: 'meta-capi',
  description:
    'Meta Conversions API: batches of up to 1000, token in the body, 7-day rule, Meta error codes classified',
  settings: metaCapiSettingsSchema,
  secrets: [
    {
      key: 'META_ACCESS_TOKEN',
      description: 'Conversions API access token (Events Manager > Settings > Generate access token)',
    },
  ],
  maxBatchSize: META_MAX_BATCH_SIZE,
  identifierPaths: {
    ...metaUserDataPaths,
    fbp: ['user_data.fbp'],
    fbc: ['user_data.fbc'],
  },
  testMode: {
    settings: { test_event_code: 'TEST12345' },
    description: 'the test event code from Events Manager > Test events',
  },
  build(s) {
    const sourceSettings = {
      pixel_id: s.pixel_id,
      api_version: s.api_version,
      base_url: s.base_url,
      test_event_code: s.test_event_code,
      action_source: s.action_source,
      ...mappedEventSources(s, metaEventNames, META_MAX_BATCH_SIZE),
      data_processing_options: s.data_processing_options,
    };
    return {
      send: metaSendSource(sourceSettings),
      transform: metaTransformSource(sourceSettings),
      description: `Meta Conversions API, pixel ${s.pixel_id}${s.test_event_code ? ' (test events)' : ''}`,
    };
  },
});

/**
 * A Meta Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { metaCapi } from '@openpipes/destinations';
 *
 * const meta = metaCapi({ pixelId: '123456789012345', apiVersion: 'v26.0', testEventCode: 'TEST12345' });
 * const token = await pipes.secrets.create({ key: 'META_ACCESS_TOKEN', value: process.env.META_TOKEN! });
 * const destination = await pipes.destinations.create({ ...meta.destination, secret_ids: [token.id] });
 * await pipes.pipes.create({ name: 'web-to-meta', source_id: web.id, destination_id: destination.id, transform: meta.transform });
 * ```
 */
export function metaCapi(options: MetaCapiOptions): DestinationDefinition {
  return metaCapiTemplate.fromOptions(options);
}
