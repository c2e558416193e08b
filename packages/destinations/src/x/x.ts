import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import {
  baseUrlSchema,
  type CommonTemplateOptions,
  defaultCountrySchema,
  destinationNameSchema,
} from '../settings.js';
import { xSendSource, xTransformSource } from './sources.js';

/**
 * X accepts at most this many conversions per request (X's "Web Conversions" reference).
 *
 * @example
 * ```ts
 * xCapi({ pixelId: 'o8z6j', eventIds: { purchase: 'o87ne' }, maxBatchSize: Math.min(100, X_MAX_BATCH_SIZE) });
 * ```
 */
export const X_MAX_BATCH_SIZE = 500;

/** Why the template refuses test-mode settings. */
const NO_TEST_MODE =
  "X's Conversions API has no test mode; send to a separate event (or ad account) to try a setup";

/** An X id: the base-36 text Events Manager shows. */
const base36 = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[0-9a-z]{2,20}$/, `${what} must be the base-36 id Events Manager shows (such as "o8z6j")`);

/**
 * Settings of the `x-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = xCapiSettingsSchema.parse({ pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } });
 * ```
 */
export const xCapiSettingsSchema = z.object({
  name: destinationNameSchema('x-capi'),
  /** The Base Tag (pixel) id of the ad account, base 36. */
  pixel_id: base36('pixel_id'),
  /**
   * Canonical event type -> the X event id (base 36, or `tw-<pixel>-<event>`) it counts for. X's
   * events are configured per account, so there are no defaults; other event types are filtered.
   */
  event_ids: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'event types are letters, digits, "_", ".", ":" or "-"'),
      z
        .string()
        .trim()
        .regex(/^(tw-[0-9a-z]+-)?[0-9a-z]{2,20}$/, 'an X event id is base 36, or tw-<pixel>-<event>'),
    )
    .refine((ids) => Object.keys(ids).length > 0, 'map at least one event type to an X event id'),
  /** The Ads API version in the path (`12` when this was written; X retires old versions). */
  api_version: z
    .string()
    .regex(/^\d{1,3}$/, 'api_version is the Ads API version number, such as "12"')
    .default('12'),
  base_url: baseUrlSchema('https://ads-api.x.com'),
  default_country: defaultCountrySchema,
  max_batch_size: z.number().int().min(1).max(X_MAX_BATCH_SIZE).default(X_MAX_BATCH_SIZE),
});
export type XCapiSettings = z.input<typeof xCapiSettingsSchema>;

/** Options of {@link xCapi}: the template's settings in camelCase. */
export interface XCapiOptions
  extends Pick<CommonTemplateOptions, 'baseUrl' | 'defaultCountry' | 'maxBatchSize' | 'name'> {
  pixelId: string;
  /** Canonical event type -> X event id. */
  eventIds: Record<string, string>;
  /** Default `12`. */
  apiVersion?: string;
}

/**
 * The `x-capi` template: X (Twitter) Conversions API, OAuth 1.0a signed in the sandbox.
 *
 * @example
 * ```ts
 * const definition = xCapiTemplate.create({ pixel_id: 'o8z6j', event_ids: { purchase: 'o87ne' } });
 * ```
 */
export const xCapiTemplate = defineTemplate({
  name: 'x-capi',
  description:
    'X Conversions API: OAuth 1.0a (HMAC-SHA1) signed in the sandbox, batches of up to 500, twclid, hashed email and phone',
  settings: xCapiSettingsSchema,
  secrets: [
    { key: 'X_CONSUMER_KEY', description: 'API key (consumer key) of your X developer app' },
    { key: 'X_CONSUMER_SECRET', description: 'API key secret (consumer secret) of your X developer app' },
    { key: 'X_ACCESS_TOKEN', description: 'Access token of the user with access to the ad account' },
    { key: 'X_ACCESS_TOKEN_SECRET', description: 'Access token secret of that user' },
  ],
  maxBatchSize: X_MAX_BATCH_SIZE,
  identifierPaths: {
    twclid: ['identifiers[].twclid'],
    email: ['identifiers[].hashed_email'],
    phone: ['identifiers[].hashed_phone_number'],
    ip: ['identifiers[].ip_address'],
    user_agent: ['identifiers[].user_agent'],
  },
  testMode: { unsupported: NO_TEST_MODE },
  build(s) {
    const sourceSettings = {
      pixel_id: s.pixel_id,
      api_version: s.api_version,
      base_url: s.base_url,
      default_country: s.default_country,
      max_events_per_request: X_MAX_BATCH_SIZE,
      event_ids: s.event_ids,
    };
    return {
      send: xSendSource(sourceSettings),
      transform: xTransformSource(sourceSettings),
      description: `X Conversions API, pixel ${s.pixel_id} (Ads API v${s.api_version})`,
    };
  },
});

/**
 * An X Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { xCapi } from '@openpipes/destinations';
 *
 * const x = xCapi({ pixelId: 'o8z6j', eventIds: { purchase: 'o87ne' } });
 * // bind X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET
 * const destination = await pipes.destinations.create({ ...x.destination, secret_ids });
 * ```
 */
export function xCapi(options: XCapiOptions): DestinationDefinition {
  return xCapiTemplate.fromOptions(options);
}
