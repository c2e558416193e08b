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
import { pinterestSendSource, pinterestTransformSource } from './sources.js';

/**
 * Pinterest accepts at most this many events per request (`maxItems` of its OpenAPI description).
 *
 * @example
 * ```ts
 * pinterestCapi({ adAccountId, maxBatchSize: Math.min(500, PINTEREST_MAX_BATCH_SIZE) });
 * ```
 */
export const PINTEREST_MAX_BATCH_SIZE = 1000;

/**
 * Canonical event type -> Pinterest `event_name`; `eventNames` overrides it per destination.
 *
 * @example
 * ```ts
 * pinterestEventNames.purchase; // 'checkout'
 * ```
 */
export const pinterestEventNames: Readonly<Record<string, string>> = platformEventNames('pinterest');

/**
 * Settings of the `pinterest-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = pinterestCapiSettingsSchema.parse({ ad_account_id: '549755885175' });
 * ```
 */
export const pinterestCapiSettingsSchema = z.object({
  name: destinationNameSchema('pinterest-capi'),
  /** The ad account the conversions belong to (Ads Manager). */
  ad_account_id: z.string().regex(/^\d{1,20}$/, 'ad_account_id must be the numeric Pinterest ad account id'),
  /** Test mode: `?test=true`, Pinterest validates and answers as usual but records nothing. */
  test_mode: z.boolean().optional(),
  base_url: baseUrlSchema('https://api.pinterest.com'),
  /** Used when an event does not say: `web`, `app_android`, `app_ios` or `offline`. */
  action_source: z.enum(['web', 'app_android', 'app_ios', 'offline']).default('web'),
  ...mappedEventSettings(PINTEREST_MAX_BATCH_SIZE),
  /** Limited Data Processing (US state privacy laws): `custom_data.opt_out_type: "LDP"` on every event. */
  limited_data_processing: z.boolean().optional(),
});
export type PinterestCapiSettings = z.input<typeof pinterestCapiSettingsSchema>;

/** Options of {@link pinterestCapi}: the template's settings in camelCase. */
export interface PinterestCapiOptions extends CommonTemplateOptions {
  adAccountId: string;
  /** `?test=true`: validated, not recorded. */
  testMode?: boolean;
  actionSource?: PinterestCapiSettings['action_source'];
  /** Send `opt_out_type: "LDP"` with every event. */
  limitedDataProcessing?: boolean;
}

/**
 * The `pinterest-capi` template: Pinterest Conversions API (v5).
 *
 * @example
 * ```ts
 * const definition = pinterestCapiTemplate.create({ ad_account_id: '549755885175' });
 * ```
 */
export const pinterestCapiTemplate = defineTemplate({
  name: 'pinterest-capi',
  description:
    'Pinterest Conversions API v5: bearer token, batches of up to 1000, per-event statuses mapped to records, epik click ids, test=true as test mode',
  settings: pinterestCapiSettingsSchema,
  secrets: [
    {
      key: 'PINTEREST_ACCESS_TOKEN',
      description:
        'Conversion access token (Ads Manager > Conversions > Conversions API > Generate new token)',
    },
  ],
  maxBatchSize: PINTEREST_MAX_BATCH_SIZE,
  identifierPaths: {
    ...metaUserDataPaths,
    epik: ['user_data.click_id'],
  },
  testMode: {
    settings: { test_mode: true },
    description: 'test=true: Pinterest takes the events as test events, not counted in reporting',
  },
  build(s) {
    const sourceSettings = {
      ad_account_id: s.ad_account_id,
      base_url: s.base_url,
      test_mode: s.test_mode ?? false,
      action_source: s.action_source,
      ...mappedEventSources(s, pinterestEventNames, PINTEREST_MAX_BATCH_SIZE),
      limited_data_processing: s.limited_data_processing ?? false,
    };
    return {
      send: pinterestSendSource(sourceSettings),
      transform: pinterestTransformSource(sourceSettings),
      description: `Pinterest Conversions API, ad account ${s.ad_account_id}${s.test_mode ? ' (test)' : ''}`,
    };
  },
});

/**
 * A Pinterest Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { pinterestCapi } from '@openpipes/destinations';
 *
 * const pinterest = pinterestCapi({ adAccountId: '549755885175', testMode: true });
 * const token = await pipes.secrets.create({ key: 'PINTEREST_ACCESS_TOKEN', value: process.env.PINTEREST_TOKEN! });
 * const destination = await pipes.destinations.create({ ...pinterest.destination, secret_ids: [token.id] });
 * ```
 */
export function pinterestCapi(options: PinterestCapiOptions): DestinationDefinition {
  return pinterestCapiTemplate.fromOptions(options);
}
