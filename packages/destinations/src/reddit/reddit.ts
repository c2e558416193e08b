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
} from '../settings.js';
import { redditSendSource, redditTransformSource } from './sources.js';

/**
 * Reddit accepts at most this many events per request (docs/destinations.md: unverified).
 *
 * @example
 * ```ts
 * redditCapi({ pixelId, maxBatchSize: Math.min(500, REDDIT_MAX_BATCH_SIZE) });
 * ```
 */
export const REDDIT_MAX_BATCH_SIZE = 1000;

/**
 * Canonical event type -> Reddit `tracking_type`; `eventNames` overrides it per destination. A name
 * that is not one of Reddit's standard types is sent as `CUSTOM` with that `custom_event_name`.
 *
 * @example
 * ```ts
 * redditEventNames.purchase; // 'PURCHASE'
 * ```
 */
export const redditEventNames: Readonly<Record<string, string>> = platformEventNames('reddit');

/**
 * Settings of the `reddit-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = redditCapiSettingsSchema.parse({ pixel_id: 'a2_gv0ir2x4r0wz' });
 * ```
 */
export const redditCapiSettingsSchema = z.object({
  name: destinationNameSchema('reddit-capi'),
  /** The Reddit Pixel id (Events Manager), e.g. `a2_gv0ir2x4r0wz` or `t2_…`. */
  pixel_id: z
    .string()
    .regex(
      /^[a-z0-9]{1,3}_[A-Za-z0-9]{4,40}$/,
      'pixel_id must be the Reddit Pixel id, such as "a2_gv0ir2x4r0wz"',
    ),
  /**
   * Test mode: the test id Events Manager > Event Testing shows. Events go to Reddit's event tester
   * (not attributed); records say `test_mode: true`.
   */
  test_id: z.string().trim().min(1).max(100).optional(),
  base_url: baseUrlSchema('https://ads-api.reddit.com'),
  /** Used when an event does not say: `WEBSITE`, `APP`, `PHYSICAL_STORE` or `OTHER`. */
  action_source: z.enum(['WEBSITE', 'APP', 'PHYSICAL_STORE', 'OTHER']).default('WEBSITE'),
  ...mappedEventSettings(REDDIT_MAX_BATCH_SIZE),
  /** Limited Data Use (US state privacy laws): `user.data_processing_options.modes: ["LDU"]`. */
  limited_data_use: z.boolean().optional(),
});
export type RedditCapiSettings = z.input<typeof redditCapiSettingsSchema>;

/** Options of {@link redditCapi}: the template's settings in camelCase. */
export interface RedditCapiOptions extends CommonTemplateOptions {
  pixelId: string;
  /** Events Manager > Event Testing's test id (test mode). */
  testId?: string;
  actionSource?: RedditCapiSettings['action_source'];
  /** Send `data_processing_options: { modes: ["LDU"] }` with every event. */
  limitedDataUse?: boolean;
}

/**
 * The `reddit-capi` template: Reddit Conversions API v3.
 *
 * @example
 * ```ts
 * const definition = redditCapiTemplate.create({ pixel_id: 'a2_gv0ir2x4r0wz' });
 * ```
 */
export const redditCapiTemplate = defineTemplate({
  name: 'reddit-capi',
  description:
    'Reddit Conversions API v3: bearer conversion token, event_at in ms, Reddit email canonicalisation, rdt_cid click ids, test_id as test mode',
  settings: redditCapiSettingsSchema,
  secrets: [
    {
      key: 'REDDIT_ACCESS_TOKEN',
      description:
        'Conversion access token (Ads Manager > Events Manager > Conversions API > Generate access token)',
    },
  ],
  maxBatchSize: REDDIT_MAX_BATCH_SIZE,
  identifierPaths: {
    email: ['user.email'],
    phone: ['user.phone_number'],
    external_id: ['user.external_id'],
    ip: ['user.ip_address'],
    user_agent: ['user.user_agent'],
    rdt_cid: ['click_id'],
    rdt_uuid: ['user.uuid'],
  },
  testMode: {
    settings: { test_id: 't2_openpipes_test' },
    description:
      'the test id from Reddit Events Manager (Events Manager > Test events): events with it are not counted',
  },
  build(s) {
    const sourceSettings = {
      pixel_id: s.pixel_id,
      base_url: s.base_url,
      test_id: s.test_id,
      action_source: s.action_source,
      ...mappedEventSources(s, redditEventNames, REDDIT_MAX_BATCH_SIZE),
      limited_data_use: s.limited_data_use ?? false,
    };
    return {
      send: redditSendSource(sourceSettings),
      transform: redditTransformSource(sourceSettings),
      description: `Reddit Conversions API, pixel ${s.pixel_id}${s.test_id ? ' (test events)' : ''}`,
    };
  },
});

/**
 * A Reddit Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { redditCapi } from '@openpipes/destinations';
 *
 * const reddit = redditCapi({ pixelId: 'a2_gv0ir2x4r0wz' });
 * const token = await pipes.secrets.create({ key: 'REDDIT_ACCESS_TOKEN', value: process.env.REDDIT_TOKEN! });
 * const destination = await pipes.destinations.create({ ...reddit.destination, secret_ids: [token.id] });
 * ```
 */
export function redditCapi(options: RedditCapiOptions): DestinationDefinition {
  return redditCapiTemplate.fromOptions(options);
}
