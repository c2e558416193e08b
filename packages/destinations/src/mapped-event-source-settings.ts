/**
 * The settings the generated sources of every template that maps event names take. A module of its
 * own, without runtime imports, because each template's `settings.guest.d.ts` types the guest code's
 * `SETTINGS` from its sources.ts, and the guest type check sees only the sandbox's globals.
 */

/**
 * What a template that maps event names passes its sources (`mappedEventSources` in settings.ts);
 * each template's source settings extend it with their own fields.
 *
 * @example
 * ```ts
 * export interface AcmeSourceSettings extends MappedEventSourceSettings { account_id: string }
 * ```
 */
export interface MappedEventSourceSettings {
  /** ISO alpha-2 country that completes national phone numbers; unset: none. */
  default_country?: string | undefined;
  /** The platform's limit of events per request (send() chunks by it). */
  max_events_per_request: number;
  /** Canonical event type -> the platform's event name, the destination's overrides merged in. */
  event_names: Record<string, string>;
}
