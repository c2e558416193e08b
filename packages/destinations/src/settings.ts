/**
 * zod pieces the templates' settings share. Settings are snake_case (they arrive as JSON through
 * `POST /api/event-destinations {"template", "settings"}`); the factories take camelCase options and
 * translate.
 */
import { z } from 'zod';
import type { MappedEventSourceSettings } from './mapped-event-source-settings.js';

/**
 * An http(s) base URL without a trailing slash. Defaults to the platform's; point it at a staging
 * proxy or a local stand-in in tests.
 */
export function baseUrlSchema(defaultUrl: string) {
  return z
    .url({ protocol: /^https?$/, error: 'base_url must be an http(s) URL' })
    .refine((value) => !new URL(value).search && !new URL(value).hash, {
      message: 'base_url must not have a query or fragment',
    })
    .transform((value) => value.replace(/\/+$/, ''))
    .default(defaultUrl);
}

/** ISO 3166-1 alpha-2 country used to complete national phone numbers before hashing. */
export const defaultCountrySchema = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'default_country must be an ISO 3166-1 alpha-2 code such as "US"')
  .transform((value) => value.toUpperCase())
  .optional();

/** Canonical event type -> the platform's event name; merged over the template's defaults. */
export const eventNamesSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'event types are letters, digits, "_", ".", ":" or "-"'),
    z.string().trim().min(1).max(100).nullable(),
  )
  .optional();

/** A destination name for the created destination (the API caller may override it). */
export const destinationNameSchema = (fallback: string) =>
  z.string().trim().min(1).max(200).default(fallback);

/** A test code as the platforms issue them (Events Manager / TikTok Events Manager "Test events"). */
export const testEventCodeSchema = z.string().trim().min(1).max(100).optional();

/** Events per request: from 1 to the platform's `limit`; `fallback` (default: the limit) when unset. */
export function batchSizeSchema(limit: number, fallback = limit) {
  return z.number().int().min(1).max(limit).default(fallback);
}

/**
 * The settings a platform template that maps event names and completes phone numbers has, in this
 * order: `default_country`, `event_names`, `max_batch_size` (up to the platform's limit). Spread
 * into the template's `z.object` where they stand.
 *
 * @example
 * ```ts
 * z.object({ name: destinationNameSchema('acme'), account_id: z.string(), ...mappedEventSettings(500) });
 * ```
 */
export function mappedEventSettings(limit: number) {
  return {
    default_country: defaultCountrySchema,
    event_names: eventNamesSchema,
    max_batch_size: batchSizeSchema(limit),
  };
}

/**
 * What such a template's sources take of those settings: the country, the platform's limit per
 * request, and its event-name map with the destination's overrides merged over it.
 */
export function mappedEventSources(
  settings: { default_country?: string | undefined; event_names?: Record<string, string | null> | undefined },
  eventNames: Readonly<Record<string, string>>,
  limit: number,
): MappedEventSourceSettings {
  return {
    default_country: settings.default_country,
    max_events_per_request: limit,
    event_names: mergeEventNames(eventNames, settings.event_names),
  };
}

/** Merges overrides over defaults; an override of `null` removes the mapping (events are filtered). */
export function mergeEventNames(
  defaults: Record<string, string>,
  overrides: Record<string, string | null> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { ...defaults };
  for (const [eventType, name] of Object.entries(overrides ?? {})) {
    if (name === null) delete out[eventType];
    else out[eventType] = name;
  }
  return out;
}

/** Drops undefined fields so generated sources show only what was set. */
export function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A template's settings schema as JSON Schema, as a client writes the settings (fields with a
 * default are optional; checks zod cannot express, like refinements, are left to `create`).
 *
 * @example
 * ```ts
 * settingsJsonSchema(metaCapiSettingsSchema).properties.pixel_id; // { type: 'string', pattern: ... }
 * ```
 */
export function settingsJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * The options every platform template's camelCase factory takes: each is the camelCase twin of a
 * setting of the same meaning (`baseUrl` -> `base_url`), documented on the template's settings schema.
 *
 * @example
 * ```ts
 * export interface AcmeOptions extends CommonTemplateOptions { accountId: string }
 * ```
 */
export interface CommonTemplateOptions {
  /** The platform's API host (default: the platform's own); tests point it at a local stand-in. */
  baseUrl?: string;
  /** ISO alpha-2 country that completes national phone numbers before hashing. */
  defaultCountry?: string;
  /** Overrides of the template's event-name map; `null` stops sending that event type. */
  eventNames?: Record<string, string | null>;
  /** Events per request; default and maximum: the platform's limit. */
  maxBatchSize?: number;
  /** Name of the destination to create. Default: the template's name. */
  name?: string;
}
