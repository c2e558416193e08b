import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { baseUrlSchema, batchSizeSchema, defaultCountrySchema, destinationNameSchema } from '../settings.js';
import { googleAdsSendSource, googleAdsTransformSource } from './sources.js';

/**
 * Google Ads accepts at most this many conversions per uploadClickConversions request.
 *
 * @example
 * ```ts
 * createPipes({ store, secretKey, dispatcher: { maxClaim: GOOGLE_ADS_MAX_BATCH_SIZE } });
 * ```
 */
export const GOOGLE_ADS_MAX_BATCH_SIZE = 2000;

const customerId = (what: string) =>
  z
    .string()
    .trim()
    .transform((value) => value.replace(/-/g, ''))
    .pipe(z.string().regex(/^\d{10}$/, `${what} is the 10-digit customer id (dashes allowed)`));

const consentValue = z.enum(['GRANTED', 'DENIED', 'UNSPECIFIED']);

/**
 * Settings of the `google-ads-click-conversions` template.
 *
 * @example
 * ```ts
 * googleAdsSettingsSchema.parse({ customer_id: '123-456-7890', conversion_actions: { purchase: '987654321' } });
 * ```
 */
export const googleAdsSettingsSchema = z.object({
  name: destinationNameSchema('google-ads-click-conversions'),
  /** The Google Ads account the conversions belong to. */
  customer_id: customerId('customer_id'),
  /** The manager account the credentials act through (`login-customer-id` header), if any. */
  login_customer_id: customerId('login_customer_id').optional(),
  api_version: z
    .string()
    .regex(/^v\d+$/, 'api_version looks like "v26"')
    .default('v26'),
  base_url: baseUrlSchema('https://googleads.googleapis.com'),
  /** OAuth 2.0 token endpoint (point it at a local stand-in in tests). */
  token_url: z
    .url({ protocol: /^https?$/, error: 'token_url must be an http(s) URL' })
    .default('https://oauth2.googleapis.com/token'),
  /**
   * Canonical event type -> conversion action id (or resource name
   * `customers/X/conversionActions/Y`). Event types not listed are filtered.
   */
  conversion_actions: z
    .record(
      z.string().min(1),
      z
        .string()
        .trim()
        .regex(
          /^(\d+|customers\/\d+\/conversionActions\/\d+)$/,
          'a conversion action id, or customers/X/conversionActions/Y',
        ),
    )
    .refine(
      (actions) => Object.keys(actions).length > 0,
      'map at least one event type to a conversion action',
    ),
  /** Google validates the request but records nothing; deliveries are recorded as test mode. */
  validate_only: z.boolean().default(false),
  /** Consent sent with conversions whose event does not carry its own. */
  default_consent: z
    .object({ ad_user_data: consentValue.optional(), ad_personalization: consentValue.optional() })
    .optional(),
  default_country: defaultCountrySchema,
  max_batch_size: batchSizeSchema(GOOGLE_ADS_MAX_BATCH_SIZE),
});
export type GoogleAdsSettings = z.input<typeof googleAdsSettingsSchema>;

/** Options of {@link googleAdsClickConversions}: the template's settings in camelCase. */
export interface GoogleAdsClickConversionsOptions {
  /** `123-456-7890` or `1234567890`. */
  customerId: string;
  loginCustomerId?: string;
  /** Event type -> conversion action id, e.g. `{ purchase: '987654321' }`. */
  conversionActions: Record<string, string>;
  /** Default `v26`. */
  apiVersion?: string;
  /** Default `https://googleads.googleapis.com`. */
  baseUrl?: string;
  /** Default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  validateOnly?: boolean;
  defaultConsent?: GoogleAdsSettings['default_consent'];
  defaultCountry?: string;
  /** Default 2000 (Google's limit). */
  maxBatchSize?: number;
  /** Default `google-ads-click-conversions`. */
  name?: string;
}

/**
 * The `google-ads-click-conversions` template: Google Ads ConversionUploadService.UploadClickConversions.
 *
 * @example
 * ```ts
 * const definition = googleAdsTemplate.create({ customer_id: '123-456-7890', conversion_actions: { purchase: '987654321' } });
 * ```
 */
export const googleAdsTemplate = defineTemplate({
  name: 'google-ads-click-conversions',
  description:
    'Google Ads uploadClickConversions: OAuth refresh-token flow, partialFailure with per-row errors, batches of up to 2000',
  settings: googleAdsSettingsSchema,
  secrets: [
    { key: 'GOOGLE_ADS_CLIENT_ID', description: 'OAuth 2.0 client id (Google Cloud console)' },
    { key: 'GOOGLE_ADS_CLIENT_SECRET', description: 'OAuth 2.0 client secret' },
    {
      key: 'GOOGLE_ADS_REFRESH_TOKEN',
      description: 'OAuth 2.0 refresh token of a user with access to the account (scope adwords)',
    },
    { key: 'GOOGLE_ADS_DEVELOPER_TOKEN', description: 'Google Ads API developer token (API Center)' },
  ],
  maxBatchSize: GOOGLE_ADS_MAX_BATCH_SIZE,
  identifierPaths: {
    email: ['userIdentifiers[].hashedEmail'],
    phone: ['userIdentifiers[].hashedPhoneNumber'],
    gclid: ['gclid'],
    gbraid: ['gbraid'],
    wbraid: ['wbraid'],
  },
  testMode: {
    settings: { validate_only: true },
    description: 'validateOnly: Google checks the request and records nothing',
  },
  build(s) {
    const sourceSettings = {
      customer_id: s.customer_id,
      login_customer_id: s.login_customer_id,
      api_version: s.api_version,
      base_url: s.base_url,
      token_url: s.token_url,
      validate_only: s.validate_only,
      default_country: s.default_country,
      default_consent: s.default_consent,
      conversion_actions: s.conversion_actions,
      max_conversions_per_request: GOOGLE_ADS_MAX_BATCH_SIZE,
    };
    return {
      send: googleAdsSendSource(sourceSettings),
      transform: googleAdsTransformSource(sourceSettings),
      description: `Google Ads click conversions, customer ${s.customer_id}${s.validate_only ? ' (validate only)' : ''}`,
    };
  },
});

/**
 * A Google Ads click-conversions destination. Bind the four `GOOGLE_ADS_*` secrets it lists in
 * `requiredSecrets`. To fill 2000-conversion requests, let the dispatcher claim that many at once
 * (`createPipes({ dispatcher: { maxClaim: 2000 } })`; the default claim is 1000).
 *
 * @example
 * ```ts
 * import { googleAdsClickConversions } from '@openpipes/destinations';
 *
 * const google = googleAdsClickConversions({
 *   customerId: '123-456-7890',
 *   loginCustomerId: '111-222-3333',
 *   conversionActions: { purchase: '987654321', lead: '987654322' },
 * });
 * const destination = await pipes.destinations.create({ ...google.destination, secret_ids: googleSecretIds });
 * ```
 */
export function googleAdsClickConversions(options: GoogleAdsClickConversionsOptions): DestinationDefinition {
  return googleAdsTemplate.fromOptions(options);
}
