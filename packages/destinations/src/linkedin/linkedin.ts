import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { baseUrlSchema, type CommonTemplateOptions, destinationNameSchema } from '../settings.js';
import { linkedinSendSource, linkedinTransformSource } from './sources.js';

/**
 * LinkedIn accepts at most this many elements in one batch create (docs/destinations.md, LinkedIn).
 *
 * @example
 * ```ts
 * linkedinCapi({ conversionRules: { purchase: '104598' }, maxBatchSize: Math.min(500, LINKEDIN_MAX_BATCH_SIZE) });
 * ```
 */
export const LINKEDIN_MAX_BATCH_SIZE = 5000;

/** Why the template refuses test-mode settings. */
const NO_TEST_MODE =
  "LinkedIn's Conversions API has no test mode; send to a separate conversion rule to try a setup";

/**
 * Settings of the `linkedin-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = linkedinCapiSettingsSchema.parse({ conversion_rules: { purchase: '104598' } });
 * ```
 */
export const linkedinCapiSettingsSchema = z.object({
  name: destinationNameSchema('linkedin-capi'),
  /**
   * Canonical event type -> the conversion rule (its numeric id, or the full
   * `urn:lla:llaPartnerConversion:<id>`) created with `conversionMethod: CONVERSIONS_API`. The rule
   * fixes the conversion type on LinkedIn's side; event types without one are filtered.
   */
  conversion_rules: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'event types are letters, digits, "_", ".", ":" or "-"'),
      z
        .string()
        .trim()
        .regex(
          /^(urn:lla:llaPartnerConversion:)?\d{1,20}$/,
          'a conversion rule is its numeric id or urn:lla:llaPartnerConversion:<id>',
        ),
    )
    .refine((rules) => Object.keys(rules).length > 0, 'map at least one event type to a conversion rule'),
  /** The `LinkedIn-Version` header, `YYYYMM`; LinkedIn sunsets a version after about a year. */
  linkedin_version: z
    .string()
    .regex(/^20\d{2}(0[1-9]|1[0-2])$/, 'linkedin_version is YYYYMM, such as "202601"')
    .default('202601'),
  base_url: baseUrlSchema('https://api.linkedin.com'),
  max_batch_size: z.number().int().min(1).max(LINKEDIN_MAX_BATCH_SIZE).default(LINKEDIN_MAX_BATCH_SIZE),
});
export type LinkedInCapiSettings = z.input<typeof linkedinCapiSettingsSchema>;

/** Options of {@link linkedinCapi}: the template's settings in camelCase. */
export interface LinkedInCapiOptions
  extends Pick<CommonTemplateOptions, 'baseUrl' | 'maxBatchSize' | 'name'> {
  /** Canonical event type -> conversion rule id or URN. */
  conversionRules: Record<string, string>;
  /** `LinkedIn-Version`, `YYYYMM`. Default `202601`. */
  linkedinVersion?: string;
}

/**
 * The `linkedin-capi` template: LinkedIn Conversions API (Rest.li 2.0 batch create).
 *
 * @example
 * ```ts
 * const definition = linkedinCapiTemplate.create({ conversion_rules: { purchase: '104598' } });
 * ```
 */
export const linkedinCapiTemplate = defineTemplate({
  name: 'linkedin-capi',
  description:
    'LinkedIn Conversions API: Rest.li 2.0 batch create of up to 5000, SHA256_EMAIL and li_fat_id, a conversion rule per event type, per-element errors',
  settings: linkedinCapiSettingsSchema,
  secrets: [
    {
      key: 'LINKEDIN_ACCESS_TOKEN',
      description:
        'OAuth access token with rw_conversions (and r_ads) of a member with access to the ad account',
    },
  ],
  maxBatchSize: LINKEDIN_MAX_BATCH_SIZE,
  identifierPaths: {
    email: ['user.userIds[idType=SHA256_EMAIL].idValue'],
    li_fat_id: ['user.userIds[idType=LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID].idValue'],
    first_name: ['user.userInfo.firstName'],
    last_name: ['user.userInfo.lastName'],
  },
  testMode: { unsupported: NO_TEST_MODE },
  build(s) {
    const sourceSettings = {
      linkedin_version: s.linkedin_version,
      base_url: s.base_url,
      max_events_per_request: LINKEDIN_MAX_BATCH_SIZE,
      conversion_rules: s.conversion_rules,
    };
    return {
      send: linkedinSendSource(sourceSettings),
      transform: linkedinTransformSource(sourceSettings),
      description: `LinkedIn Conversions API (LinkedIn-Version ${s.linkedin_version})`,
    };
  },
});

/**
 * A LinkedIn Conversions API destination: `send()` source, default transform and required secrets.
 *
 * @example
 * ```ts
 * import { linkedinCapi } from '@openpipes/destinations';
 *
 * const linkedin = linkedinCapi({ conversionRules: { purchase: '104598', lead: '104599' } });
 * const token = await pipes.secrets.create({ key: 'LINKEDIN_ACCESS_TOKEN', value: process.env.LI_TOKEN! });
 * const destination = await pipes.destinations.create({ ...linkedin.destination, secret_ids: [token.id] });
 * ```
 */
export function linkedinCapi(options: LinkedInCapiOptions): DestinationDefinition {
  return linkedinCapiTemplate.fromOptions(options);
}
