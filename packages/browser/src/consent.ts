/**
 * The consent state the site gives the tag (from its consent banner), in the canonical event's
 * `consent` form (docs/consent.md), and what it lets the tag read and keep on the device.
 */
import type { StoragePurpose } from './identifiers.js';

/** A signal as sites write it: gtag's `'granted'`/`'denied'`, upper case, or a boolean. */
export type ConsentValue = 'granted' | 'denied' | 'GRANTED' | 'DENIED' | boolean;

/**
 * What the user consented to. Signals left out stay as they were (`consent()` updates, as gtag's
 * `consent update` does); never given, they are unknown and not sent.
 */
export interface ConsentInput {
  ad_storage?: ConsentValue;
  analytics_storage?: ConsentValue;
  ad_user_data?: ConsentValue;
  ad_personalization?: ConsentValue;
  /** An IAB TCF v2 TC string, sent as is; the tag itself reads only the four signals above. */
  tcf_string?: string;
  /** TikTok's Limited Data Use flag. */
  limited_data_use?: boolean;
}

/** The state as events carry it: `event_payload.consent`. */
export interface ConsentState {
  ad_storage?: 'GRANTED' | 'DENIED';
  analytics_storage?: 'GRANTED' | 'DENIED';
  ad_user_data?: 'GRANTED' | 'DENIED';
  ad_personalization?: 'GRANTED' | 'DENIED';
  tcf_string?: string;
  limited_data_use?: boolean;
}

const signals = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'] as const;

/**
 * `state` updated with `input`; values that are not a signal are ignored.
 *
 * @example
 * ```ts
 * mergeConsent({}, { ad_storage: 'granted', analytics_storage: false });
 * // { ad_storage: 'GRANTED', analytics_storage: 'DENIED' }
 * ```
 */
export function mergeConsent(state: ConsentState, input: ConsentInput | undefined): ConsentState {
  const next: ConsentState = { ...state };
  if (!input) return next;
  for (const name of signals) {
    const value = input[name];
    const text = typeof value === 'string' ? value.toUpperCase() : value;
    if (text === true || text === 'GRANTED') next[name] = 'GRANTED';
    else if (text === false || text === 'DENIED') next[name] = 'DENIED';
  }
  if (typeof input.tcf_string === 'string') next.tcf_string = input.tcf_string;
  if (typeof input.limited_data_use === 'boolean') next.limited_data_use = input.limited_data_use;
  return next;
}

/**
 * Whether the tag may read and keep identifiers of a purpose on the device: anything but an
 * explicit `DENIED` (unknown is the site's call: a site that must ask first starts with `denied`).
 *
 * @example
 * ```ts
 * mayStore({ ad_storage: 'DENIED' }, 'ad_storage'); // false
 * mayStore({}, 'ad_storage'); // true
 * ```
 */
export function mayStore(state: ConsentState, purpose: StoragePurpose): boolean {
  return state[purpose] !== 'DENIED';
}
