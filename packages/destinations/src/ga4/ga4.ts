import type { DestinationDefinition } from '@openpipes/core';
import { z } from 'zod';
import { defineTemplate } from '../define-template.js';
import { platformEventNames } from '../event-names.js';
import { baseUrlSchema, destinationNameSchema, eventNamesSchema, mergeEventNames } from '../settings.js';
import { ga4SendSource, ga4TransformSource } from './sources.js';

/**
 * Most events per `send()` call; `send()` splits them into requests of at most 25 per client id.
 *
 * @example
 * ```ts
 * ga4({ measurementId: 'G-ABC123XYZ9', maxBatchSize: GA4_MAX_BATCH_SIZE });
 * ```
 */
export const GA4_MAX_BATCH_SIZE = 100;

/**
 * Canonical event type -> GA4 recommended event; `eventNames` overrides it per destination.
 *
 * @example
 * ```ts
 * ga4EventNames.lead; // 'generate_lead'
 * ```
 */
export const ga4EventNames: Readonly<Record<string, string>> = platformEventNames('ga4');

/**
 * Settings of the `ga4` template.
 *
 * @example
 * ```ts
 * ga4SettingsSchema.parse({ measurement_id: 'G-ABC123XYZ9', validate_only: true });
 * ```
 */
export const ga4SettingsSchema = z.object({
  name: destinationNameSchema('ga4'),
  /** The web data stream's measurement id. */
  measurement_id: z.string().regex(/^G-[A-Z0-9]{4,20}$/, 'measurement_id looks like "G-ABC123XYZ9"'),
  base_url: baseUrlSchema('https://www.google-analytics.com'),
  /** Send to /debug/mp/collect: GA4 validates and records nothing; deliveries are test mode. */
  validate_only: z.boolean().default(false),
  event_names: eventNamesSchema,
  max_batch_size: z.number().int().min(1).max(GA4_MAX_BATCH_SIZE).default(25),
});
export type Ga4Settings = z.input<typeof ga4SettingsSchema>;

/** Options of {@link ga4}: the template's settings in camelCase. */
export interface Ga4Options {
  measurementId: string;
  /** Default `https://www.google-analytics.com`. */
  baseUrl?: string;
  validateOnly?: boolean;
  /** Overrides of {@link ga4EventNames}; `null` stops sending that event type. */
  eventNames?: Record<string, string | null>;
  /** Default 25. */
  maxBatchSize?: number;
  /** Default `ga4`. */
  name?: string;
}

/**
 * The `ga4` template: GA4 Measurement Protocol.
 *
 * @example
 * ```ts
 * const definition = ga4Template.create({ measurement_id: 'G-ABC123XYZ9' });
 * ```
 */
export const ga4Template = defineTemplate({
  name: 'ga4',
  description:
    'GA4 Measurement Protocol: events grouped per client_id, 25 per request, debug endpoint as test mode',
  settings: ga4SettingsSchema,
  secrets: [
    {
      key: 'GA4_API_SECRET',
      description: 'Measurement Protocol API secret (Admin > Data streams > stream > Measurement Protocol)',
    },
  ],
  maxBatchSize: GA4_MAX_BATCH_SIZE,
  identifierPaths: { ga_client_id: ['client_id'], user_id: ['user_id'] },
  testMode: {
    settings: { validate_only: true },
    description: 'the /debug/mp/collect endpoint: GA4 validates and records nothing',
  },
  build(s) {
    const sourceSettings = {
      measurement_id: s.measurement_id,
      base_url: s.base_url,
      validate_only: s.validate_only,
      event_names: mergeEventNames(ga4EventNames, s.event_names),
    };
    return {
      send: ga4SendSource(sourceSettings),
      transform: ga4TransformSource(sourceSettings),
      description: `GA4 Measurement Protocol, ${s.measurement_id}${s.validate_only ? ' (validate only)' : ''}`,
    };
  },
});

/**
 * A GA4 Measurement Protocol destination.
 *
 * @example
 * ```ts
 * import { ga4 } from '@openpipes/destinations';
 *
 * const analytics = ga4({ measurementId: 'G-ABC123XYZ9' });
 * const secret = await pipes.secrets.create({ key: 'GA4_API_SECRET', value: process.env.GA4_API_SECRET! });
 * const destination = await pipes.destinations.create({ ...analytics.destination, secret_ids: [secret.id] });
 * ```
 */
export function ga4(options: Ga4Options): DestinationDefinition {
  return ga4Template.fromOptions(options);
}
