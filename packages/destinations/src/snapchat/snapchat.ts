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
} from '../settings.js';
import { snapchatSendSource, snapchatTransformSource } from './sources.js';

/**
 * Snapchat accepts at most this many events per request (third-party documentation; see
 * docs/destinations.md, unverified on Snap's own pages).
 *
 * @example
 * ```ts
 * snapchatCapi({ pixelId, maxBatchSize: Math.min(500, SNAPCHAT_MAX_BATCH_SIZE) });
 * ```
 */
export const SNAPCHAT_MAX_BATCH_SIZE = 2000;

/**
 * Canonical event type -> Snapchat v3 `event_name`; `eventNames` overrides it per destination.
 * Snap has no lead event: map `lead` to `SIGN_UP` or a `CUSTOM_EVENT_n` yourself if you want it.
 *
 * @example
 * ```ts
 * snapchatEventNames.purchase; // 'PURCHASE'
 * ```
 */
export const snapchatEventNames: Readonly<Record<string, string>> = platformEventNames('snapchat');

/**
 * Settings of the `snapchat-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = snapchatCapiSettingsSchema.parse({ pixel_id: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b' });
 * ```
 */
export const snapchatCapiSettingsSchema = z.object({
  name: destinationNameSchema('snapchat-capi'),
  /** The Snap Pixel id (Events Manager), a UUID. */
  pixel_id: z
    .string()
    .regex(/^[0-9a-fA-F-]{8,64}$/, 'pixel_id must be the Snap Pixel id (a UUID from Events Manager)'),
  /**
   * Test mode: send to `/v3/<pixel>/events/validate`, where Snap checks the events without
   * recording them (Events Manager shows them as test events).
   */
  validate_only: z.boolean().optional(),
  base_url: baseUrlSchema('https://tr.snapchat.com'),
  /** Used when an event does not say: `WEB`, `MOBILE_APP` or `OFFLINE`. */
  action_source: z.enum(['WEB', 'MOBILE_APP', 'OFFLINE']).default('WEB'),
  ...mappedEventSettings(SNAPCHAT_MAX_BATCH_SIZE),
  /** Snap's Limited Data Use: `["LMU"]` on every event when true (US state privacy laws). */
  limited_data_use: z.boolean().optional(),
});
export type SnapchatCapiSettings = z.input<typeof snapchatCapiSettingsSchema>;

/** Options of {@link snapchatCapi}: the template's settings in camelCase. */
export interface SnapchatCapiOptions extends CommonTemplateOptions {
  pixelId: string;
  /** Send to the validate endpoint (test mode): checked, not recorded. */
  validateOnly?: boolean;
  actionSource?: SnapchatCapiSettings['action_source'];
  /** Send `data_processing_options: ["LMU"]` with every event. */
  limitedDataUse?: boolean;
}

/**
 * The `snapchat-capi` template: Snapchat Conversions API v3.
 *
 * @example
 * ```ts
 * const definition = snapchatCapiTemplate.create({ pixel_id: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b' });
 * ```
 */
export const snapchatCapiTemplate = defineTemplate({
  name: 'snapchat-capi',
  description:
    'Snapchat Conversions API v3: batches of up to 2000, Meta-like hashed user_data, ScCid click ids, validate endpoint as test mode',
  settings: snapchatCapiSettingsSchema,
  secrets: [
    {
      key: 'SNAPCHAT_ACCESS_TOKEN',
      description: 'Conversions API token (Ads Manager > Business Details > Conversions API Tokens)',
    },
  ],
  maxBatchSize: SNAPCHAT_MAX_BATCH_SIZE,
  identifierPaths: {
    ...metaUserDataPaths,
    sc_click_id: ['user_data.sc_click_id'],
    sc_cookie1: ['user_data.sc_cookie1'],
  },
  testMode: {
    settings: { validate_only: true },
    description: 'the validate endpoint: Snap checks the events and records nothing',
  },
  build(s) {
    const sourceSettings = {
      pixel_id: s.pixel_id,
      base_url: s.base_url,
      validate_only: s.validate_only ?? false,
      action_source: s.action_source,
      ...mappedEventSources(s, snapchatEventNames, SNAPCHAT_MAX_BATCH_SIZE),
      limited_data_use: s.limited_data_use ?? false,
    };
    return {
      send: snapchatSendSource(sourceSettings),
      transform: snapchatTransformSource(sourceSettings),
      description: `Snapchat Conversions API, pixel ${s.pixel_id}${s.validate_only ? ' (validate only)' : ''}`,
    };
  },
});

/**
 * A Snapchat Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { snapchatCapi } from '@openpipes/destinations';
 *
 * const snap = snapchatCapi({ pixelId: '0b3a8f21-6c4d-4e5f-9a7b-1c2d3e4f5a6b', validateOnly: true });
 * const token = await pipes.secrets.create({ key: 'SNAPCHAT_ACCESS_TOKEN', value: process.env.SNAP_TOKEN! });
 * const destination = await pipes.destinations.create({ ...snap.destination, secret_ids: [token.id] });
 * ```
 */
export function snapchatCapi(options: SnapchatCapiOptions): DestinationDefinition {
  return snapchatCapiTemplate.fromOptions(options);
}
