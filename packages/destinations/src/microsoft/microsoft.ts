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
import { microsoftSendSource, microsoftTransformSource } from './sources.js';

/**
 * Events per request this template sends to Microsoft at most (docs/destinations.md: the limit is
 * unverified; third-party connectors batch 1000).
 *
 * @example
 * ```ts
 * microsoftUetCapi({ tagId, maxBatchSize: Math.min(500, MICROSOFT_UET_MAX_BATCH_SIZE) });
 * ```
 */
export const MICROSOFT_UET_MAX_BATCH_SIZE = 1000;

/**
 * Canonical event type -> UET `eventName` (the event action your conversion goals match);
 * `page_view` is sent as a `pageLoad` event without a name. `eventNames` overrides it.
 *
 * @example
 * ```ts
 * microsoftUetEventNames.purchase; // 'purchase'
 * ```
 */
export const microsoftUetEventNames: Readonly<Record<string, string>> = platformEventNames('microsoft');

/** Why the template refuses test-mode settings. */
const NO_TEST_MODE =
  "Microsoft's UET Conversions API has no test mode; send to a separate UET tag to try a setup";

/**
 * Settings of the `microsoft-uet-capi` template (snake_case, as the admin API takes them).
 *
 * @example
 * ```ts
 * const settings = microsoftUetCapiSettingsSchema.parse({ tag_id: '187000123' });
 * ```
 */
export const microsoftUetCapiSettingsSchema = z.object({
  name: destinationNameSchema('microsoft-uet-capi'),
  /** The UET tag id (Tools > UET tag). */
  tag_id: z.string().regex(/^\d{4,20}$/, 'tag_id must be the numeric UET tag id'),
  base_url: baseUrlSchema('https://capi.uet.microsoft.com'),
  ...mappedEventSettings(MICROSOFT_UET_MAX_BATCH_SIZE),
});
export type MicrosoftUetCapiSettings = z.input<typeof microsoftUetCapiSettingsSchema>;

/** Options of {@link microsoftUetCapi}: the template's settings in camelCase. */
export interface MicrosoftUetCapiOptions extends CommonTemplateOptions {
  tagId: string;
}

/**
 * The `microsoft-uet-capi` template: Microsoft Advertising UET Conversions API (a pilot Microsoft
 * enables per account).
 *
 * @example
 * ```ts
 * const definition = microsoftUetCapiTemplate.create({ tag_id: '187000123' });
 * ```
 */
export const microsoftUetCapiTemplate = defineTemplate({
  name: 'microsoft-uet-capi',
  description:
    'Microsoft Advertising UET Conversions API: bearer token from the UET tag, msclkid, hashed email and phone, ad storage consent',
  settings: microsoftUetCapiSettingsSchema,
  secrets: [
    {
      key: 'MICROSOFT_UET_TOKEN',
      description: 'Conversions API token of the UET tag (Tools > UET tag > Use Conversions API)',
    },
  ],
  maxBatchSize: MICROSOFT_UET_MAX_BATCH_SIZE,
  identifierPaths: {
    msclkid: ['userData.msclkid'],
    email: ['userData.em'],
    phone: ['userData.ph'],
    external_id: ['userData.externalId'],
    anonymous_id: ['userData.anonymousId'],
    ip: ['userData.clientIpAddress'],
    user_agent: ['userData.clientUserAgent'],
  },
  testMode: { unsupported: NO_TEST_MODE },
  build(s) {
    const sourceSettings = {
      tag_id: s.tag_id,
      base_url: s.base_url,
      ...mappedEventSources(s, microsoftUetEventNames, MICROSOFT_UET_MAX_BATCH_SIZE),
    };
    return {
      send: microsoftSendSource(sourceSettings),
      transform: microsoftTransformSource(sourceSettings),
      description: `Microsoft Advertising UET Conversions API, tag ${s.tag_id}`,
    };
  },
});

/**
 * A Microsoft Advertising UET Conversions API destination: `send()` source, default transform and
 * required secrets.
 *
 * @example
 * ```ts
 * import { microsoftUetCapi } from '@openpipes/destinations';
 *
 * const microsoft = microsoftUetCapi({ tagId: '187000123' });
 * const token = await pipes.secrets.create({ key: 'MICROSOFT_UET_TOKEN', value: process.env.UET_TOKEN! });
 * const destination = await pipes.destinations.create({ ...microsoft.destination, secret_ids: [token.id] });
 * ```
 */
export function microsoftUetCapi(options: MicrosoftUetCapiOptions): DestinationDefinition {
  return microsoftUetCapiTemplate.fromOptions(options);
}
