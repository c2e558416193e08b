import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import {
  baseUrlSchema,
  type CommonTemplateOptions,
  defaultCountrySchema,
  destinationNameSchema,
} from '../settings.js';
import { dataManagerSendSource, dataManagerTransformSource } from './sources.js';

/**
 * The Data Manager API takes at most this many events per `events:ingest` request.
 *
 * @example
 * ```ts
 * createPipes({ store, secretKey, dispatcher: { maxClaim: DATA_MANAGER_MAX_BATCH_SIZE } });
 * ```
 */
export const DATA_MANAGER_MAX_BATCH_SIZE = 2000;

const accountId = (what: string) =>
  z
    .string()
    .trim()
    .transform((value) => value.replace(/-/g, ''))
    .pipe(z.string().regex(/^\d{10}$/, `${what} is the 10-digit Google Ads customer id (dashes allowed)`));

const consentValue = z.enum(['GRANTED', 'DENIED']);

/**
 * Settings of the `google-data-manager` template.
 *
 * @example
 * ```ts
 * dataManagerSettingsSchema.parse({ operating_account_id: '123-456-7890', conversion_actions: { purchase: '987654321' } });
 * ```
 */
export const dataManagerSettingsSchema = z.object({
  name: destinationNameSchema('google-data-manager'),
  /** The Google Ads account that owns the conversion actions (Destination.operatingAccount). */
  operating_account_id: accountId('operating_account_id'),
  /** The account the credentials act through (a manager account or a data partner), if any. */
  login_account_id: accountId('login_account_id').optional(),
  login_account_type: z.enum(['GOOGLE_ADS', 'DATA_PARTNER']).default('GOOGLE_ADS'),
  api_version: z
    .string()
    .regex(/^v\d+$/, 'api_version looks like "v1"')
    .default('v1'),
  base_url: baseUrlSchema('https://datamanager.googleapis.com'),
  /** OAuth 2.0 token endpoint (point it at a local stand-in in tests). */
  token_url: z
    .url({ protocol: /^https?$/, error: 'token_url must be an http(s) URL' })
    .default('https://oauth2.googleapis.com/token'),
  /**
   * Canonical event type -> the numeric id of a Google Ads conversion action
   * (Destination.productDestinationId; Google refuses a resource name here). Types not listed are filtered.
   */
  conversion_actions: z
    .record(z.string().min(1), z.string().trim().regex(/^\d+$/, 'a numeric conversion action id'))
    .refine(
      (actions) => Object.keys(actions).length > 0,
      'map at least one event type to a conversion action',
    ),
  /** Event.eventSource for every event (offline conversions usually leave it unset). */
  event_source: z.enum(['WEB', 'APP', 'IN_STORE', 'PHONE', 'OTHER']).optional(),
  /** Google validates the request but ingests nothing; deliveries are recorded as test mode. */
  validate_only: z.boolean().default(false),
  /** Request-level consent: applies to every event that does not carry its own. */
  default_consent: z
    .object({ ad_user_data: consentValue.optional(), ad_personalization: consentValue.optional() })
    .optional(),
  default_country: defaultCountrySchema,
  max_batch_size: z
    .number()
    .int()
    .min(1)
    .max(DATA_MANAGER_MAX_BATCH_SIZE)
    .default(DATA_MANAGER_MAX_BATCH_SIZE),
});
export type DataManagerSettings = z.input<typeof dataManagerSettingsSchema>;

/** Options of {@link googleDataManager}: the template's settings in camelCase. */
export interface GoogleDataManagerOptions extends Omit<CommonTemplateOptions, 'eventNames'> {
  /** `123-456-7890` or `1234567890`. */
  operatingAccountId: string;
  loginAccountId?: string;
  /** Default `GOOGLE_ADS`. */
  loginAccountType?: 'GOOGLE_ADS' | 'DATA_PARTNER';
  /** Event type -> numeric conversion action id, e.g. `{ purchase: '987654321' }`. */
  conversionActions: Record<string, string>;
  /** Default `v1`. */
  apiVersion?: string;
  /** Default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  eventSource?: DataManagerSettings['event_source'];
  validateOnly?: boolean;
  defaultConsent?: DataManagerSettings['default_consent'];
}

/**
 * The `google-data-manager` template: Google's Data Manager API `events:ingest`, for Google Ads
 * offline conversions and enhanced conversions for leads.
 *
 * @example
 * ```ts
 * const definition = dataManagerTemplate.create({ operating_account_id: '123-456-7890', conversion_actions: { purchase: '987654321' } });
 * ```
 */
export const dataManagerTemplate = defineTemplate({
  name: 'google-data-manager',
  description:
    'Google Data Manager API events:ingest: offline conversions and enhanced conversions for leads, OAuth refresh-token flow, batches of up to 2000',
  settings: dataManagerSettingsSchema,
  secrets: [
    { key: 'GOOGLE_DATA_MANAGER_CLIENT_ID', description: 'OAuth 2.0 client id (Google Cloud console)' },
    { key: 'GOOGLE_DATA_MANAGER_CLIENT_SECRET', description: 'OAuth 2.0 client secret' },
    {
      key: 'GOOGLE_DATA_MANAGER_REFRESH_TOKEN',
      description:
        'OAuth 2.0 refresh token of a user with access to the account (scope https://www.googleapis.com/auth/datamanager)',
    },
  ],
  maxBatchSize: DATA_MANAGER_MAX_BATCH_SIZE,
  identifierPaths: {
    email: ['userData.userIdentifiers[].emailAddress'],
    phone: ['userData.userIdentifiers[].phoneNumber'],
    gclid: ['adIdentifiers.gclid'],
    gbraid: ['adIdentifiers.gbraid'],
    wbraid: ['adIdentifiers.wbraid'],
    first_name: ['userData.userIdentifiers[].address.givenName'],
    last_name: ['userData.userIdentifiers[].address.familyName'],
    country: ['userData.userIdentifiers[].address.regionCode'],
    zip: ['userData.userIdentifiers[].address.postalCode'],
  },
  testMode: {
    settings: { validate_only: true },
    description: 'validateOnly: Google checks the request and ingests nothing',
  },
  build(s) {
    const sourceSettings = {
      operating_account_id: s.operating_account_id,
      login_account_id: s.login_account_id,
      login_account_type: s.login_account_type,
      api_version: s.api_version,
      base_url: s.base_url,
      token_url: s.token_url,
      validate_only: s.validate_only,
      event_source: s.event_source,
      default_country: s.default_country,
      default_consent: s.default_consent,
      conversion_actions: s.conversion_actions,
      max_events_per_request: DATA_MANAGER_MAX_BATCH_SIZE,
    };
    return {
      send: dataManagerSendSource(sourceSettings),
      transform: dataManagerTransformSource(sourceSettings),
      description: `Google Data Manager, account ${s.operating_account_id}${s.validate_only ? ' (validate only)' : ''}`,
    };
  },
});

/**
 * A Google Data Manager destination (Google Ads offline conversions and enhanced conversions for
 * leads). Bind the three `GOOGLE_DATA_MANAGER_*` secrets it lists in `requiredSecrets`; no developer
 * token is needed. To fill 2000-event requests, let the dispatcher claim that many at once.
 *
 * @example
 * ```ts
 * import { googleDataManager } from '@openpipes/destinations';
 *
 * const google = googleDataManager({
 *   operatingAccountId: '123-456-7890',
 *   conversionActions: { purchase: '987654321', lead: '987654322' },
 *   defaultConsent: { ad_user_data: 'GRANTED' },
 * });
 * const destination = await pipes.destinations.create({ ...google.destination, secret_ids });
 * ```
 */
export function googleDataManager(options: GoogleDataManagerOptions): DestinationDefinition {
  return dataManagerTemplate.fromOptions(options);
}
