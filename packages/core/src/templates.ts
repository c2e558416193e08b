/**
 * The contract for prebuilt destinations (`@openpipes/destinations` ships Meta CAPI, TikTok, Google
 * Ads, GA4). A template turns settings into an ordinary destination definition, plus a default
 * transform for the pipe: users own and may edit both. Core and HTTP know templates only through
 * this interface, so neither depends on the destinations package.
 */
import type { DestinationInput } from './schemas.js';

/** What a template produces: a destination to create, and a transform to start a pipe with. */
export interface DestinationDefinition {
  destination: Omit<DestinationInput, 'secret_ids' | 'enabled'> & {
    template: { name: string; settings: Record<string, unknown> };
  };
  /** A default transform from OpenPipes' canonical events to the platform's shape. */
  transform: string;
  /** Secret keys the `send()` reads; bind secrets with these keys to the destination. */
  requiredSecrets: Array<{ key: string; description: string }>;
}

/**
 * A prebuilt destination.
 *
 * @example
 * ```ts
 * const definition = template.create({ pixel_id: '123', api_version: 'v25.0' });
 * const meta = await pipes.destinations.create({ ...definition.destination, name: 'meta-capi-prod' });
 * ```
 */
export interface DestinationTemplate {
  /** Stable name used over the API: `meta-capi`, `tiktok-events`, `google-ads-click-conversions`, `ga4`. */
  name: string;
  description: string;
  /** Validates settings; throws `PipesError('VALIDATION_FAILED')` with field paths when they are wrong. */
  create(settings: unknown): DestinationDefinition;
  /**
   * The JSON Schema (draft 2020-12) of the settings `create` takes, as the client writes them
   * (defaults optional): the console generates its settings form from it.
   */
  settingsSchema?: Record<string, unknown>;
  /**
   * The platform's test mode, when it has one: a test send (`POST
   * /api/event-destinations/{id}/send-test`, mode `test`) makes the `send()` again from the
   * destination's settings with `setting` set. `needsValue`: the setting takes a value the operator
   * gives (`test_event_code`, from the platform's console); otherwise it is set to `true`.
   */
  testMode?: { setting: string; needsValue: boolean; description: string };
}
