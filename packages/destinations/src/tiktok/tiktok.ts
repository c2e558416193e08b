import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { platformEventNames } from '../event-names.js';
import {
  baseUrlSchema,
  type CommonTemplateOptions,
  destinationNameSchema,
  mappedEventSettings,
  mappedEventSources,
  testEventCodeSchema,
} from '../settings.js';
import { tiktokSendSource, tiktokTransformSource } from './sources.js';

/**
 * TikTok accepts at most this many events per request.
 *
 * @example
 * ```ts
 * tiktokEvents({ pixelCode, maxBatchSize: TIKTOK_MAX_BATCH_SIZE });
 * ```
 */
export const TIKTOK_MAX_BATCH_SIZE = 1000;

/**
 * Canonical event type -> TikTok standard event; `eventNames` overrides it per destination.
 *
 * @example
 * ```ts
 * tiktokEventNames.purchase; // 'CompletePayment'
 * ```
 */
export const tiktokEventNames: Readonly<Record<string, string>> = platformEventNames('tiktok');

/**
 * Settings of the `tiktok-events` template.
 *
 * @example
 * ```ts
 * const settings = tiktokEventsSettingsSchema.parse({ pixel_code: 'C4ABCDEFGH1234567890' }); // event_source 'web'
 * ```
 */
export const tiktokEventsSettingsSchema = z.object({
  name: destinationNameSchema('tiktok-events'),
  /** The pixel code (`event_source: web`), or the app / offline / CRM event set id. */
  pixel_code: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{4,64}$/, 'pixel_code is the pixel code from TikTok Events Manager'),
  api_version: z
    .string()
    .regex(/^v\d+\.\d+$/, 'api_version looks like "v1.3"')
    .default('v1.3'),
  event_source: z.enum(['web', 'app', 'offline', 'crm']).default('web'),
  /** From TikTok Events Manager > Test events. When set, every delivery is recorded as test mode. */
  test_event_code: testEventCodeSchema,
  base_url: baseUrlSchema('https://business-api.tiktok.com'),
  ...mappedEventSettings(TIKTOK_MAX_BATCH_SIZE),
});
export type TikTokEventsSettings = z.input<typeof tiktokEventsSettingsSchema>;

/** Options of {@link tiktokEvents}: the template's settings in camelCase. */
export interface TikTokEventsOptions extends CommonTemplateOptions {
  pixelCode: string;
  /** Default `v1.3`. */
  apiVersion?: string;
  /** Default `web`. */
  eventSource?: TikTokEventsSettings['event_source'];
  testEventCode?: string;
}

/**
 * The `tiktok-events` template: TikTok Events API v1.3.
 *
 * @example
 * ```ts
 * const definition = tiktokEventsTemplate.create({ pixel_code: 'C4ABCDEFGH1234567890' });
 * ```
 */
export const tiktokEventsTemplate = defineTemplate({
  name: 'tiktok-events',
  description:
    'TikTok Events API v1.3: Access-Token header, batches of up to 1000, code != 0 under HTTP 200 classified',
  settings: tiktokEventsSettingsSchema,
  secrets: [
    {
      key: 'TIKTOK_ACCESS_TOKEN',
      description:
        'Events API access token (TikTok Events Manager > pixel > Settings > Generate Access Token)',
    },
  ],
  maxBatchSize: TIKTOK_MAX_BATCH_SIZE,
  identifierPaths: {
    email: ['user.email'],
    phone: ['user.phone'],
    external_id: ['user.external_id'],
    ip: ['user.ip'],
    user_agent: ['user.user_agent'],
    ttp: ['user.ttp'],
    ttclid: ['user.ttclid'],
  },
  testMode: {
    settings: { test_event_code: 'TEST31104' },
    description: 'the test event code from TikTok Events Manager > Test events',
  },
  build(s) {
    const sourceSettings = {
      pixel_code: s.pixel_code,
      api_version: s.api_version,
      base_url: s.base_url,
      event_source: s.event_source,
      test_event_code: s.test_event_code,
      ...mappedEventSources(s, tiktokEventNames, TIKTOK_MAX_BATCH_SIZE),
    };
    return {
      send: tiktokSendSource(sourceSettings),
      transform: tiktokTransformSource(sourceSettings),
      description: `TikTok Events API ${s.api_version}, ${s.event_source} ${s.pixel_code}${s.test_event_code ? ' (test events)' : ''}`,
    };
  },
});

/**
 * A TikTok Events API v1.3 destination.
 *
 * @example
 * ```ts
 * import { tiktokEvents } from '@openpipes/destinations';
 *
 * const tiktok = tiktokEvents({ pixelCode: 'C4ABCDEFGH1234567890', testEventCode: 'TEST31104' });
 * const token = await pipes.secrets.create({ key: 'TIKTOK_ACCESS_TOKEN', value: process.env.TIKTOK_TOKEN! });
 * const destination = await pipes.destinations.create({ ...tiktok.destination, secret_ids: [token.id] });
 * ```
 */
export function tiktokEvents(options: TikTokEventsOptions): DestinationDefinition {
  return tiktokEventsTemplate.fromOptions(options);
}
