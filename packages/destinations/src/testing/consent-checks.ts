/**
 * What each platform accepts for its consent and data-processing fields, as its docs describe them
 * (docs/consent.md). The stand-ins in platforms.ts call these so a template that sends a signal in
 * the wrong place or shape is a listed violation, not a silent pass.
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** GA4 Measurement Protocol request `consent`: only `ad_user_data` / `ad_personalization`, `GRANTED` | `DENIED`. */
export function ga4ConsentProblem(consent: unknown): string | null {
  if (consent === undefined) return null;
  if (!isObject(consent)) return 'consent must be an object';
  for (const [key, value] of Object.entries(consent)) {
    if (key !== 'ad_user_data' && key !== 'ad_personalization')
      return `consent.${key} is not a GA4 consent field`;
    if (value !== 'GRANTED' && value !== 'DENIED') return `consent.${key} must be GRANTED or DENIED`;
  }
  return null;
}

/** Google Ads ClickConversion `consent`: `adUserData` / `adPersonalization`, a ConsentStatus. */
export function googleAdsConsentProblem(consent: unknown): string | null {
  if (consent === undefined) return null;
  if (!isObject(consent)) return 'consent must be an object';
  for (const [key, value] of Object.entries(consent)) {
    if (key !== 'adUserData' && key !== 'adPersonalization') return `consent.${key} is not a Consent field`;
    if (!['GRANTED', 'DENIED', 'UNSPECIFIED', 'UNKNOWN'].includes(value as string)) {
      return `consent.${key} must be a ConsentStatus (GRANTED, DENIED, ...)`;
    }
  }
  return null;
}

/** TikTok event `limited_data_use`: a boolean on the event, nowhere else. */
export function tiktokLimitedDataUseProblem(event: Json): string | null {
  if (event.limited_data_use !== undefined && typeof event.limited_data_use !== 'boolean') {
    return 'limited_data_use must be a boolean';
  }
  if (isObject(event.user) && 'limited_data_use' in event.user)
    return 'limited_data_use belongs on the event';
  if ('consent' in event) return 'consent is not a TikTok event field';
  return null;
}

/**
 * Meta server event `data_processing_options`: `[]` or `["LDU"]`; with LDU, country 0 (geolocate)
 * or 1 (US) and a state code (0 geolocate, 1000 California); no country or state without LDU.
 */
export function metaDataProcessingProblem(event: Json): string | null {
  const options = event.data_processing_options;
  const country = event.data_processing_options_country;
  const state = event.data_processing_options_state;
  if ('consent' in event) return 'consent is not a Meta server event field';
  if (options === undefined) {
    return country !== undefined || state !== undefined
      ? 'data_processing_options_country/state without data_processing_options'
      : null;
  }
  if (!Array.isArray(options) || options.some((o) => o !== 'LDU')) {
    return 'data_processing_options must be [] or ["LDU"]';
  }
  if (options.length === 0) {
    return country !== undefined || state !== undefined ? 'country/state only go with ["LDU"]' : null;
  }
  if (country !== 0 && country !== 1) return 'data_processing_options_country must be 0 or 1';
  if (!Number.isInteger(state) || (state as number) < 0)
    return 'data_processing_options_state must be 0 or a state code';
  return null;
}
