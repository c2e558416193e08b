/**
 * Consent and linking (docs/identifiers.md, "Consent and linking"): which of an event's identifiers
 * may join a profile. Linking is what lets an identifier of one event reach a platform with another
 * event, so an identifier whose consent was denied is never linked and never offered by stitching.
 * It is still indexed under its event (`event_identifiers`), so erasure finds the event. And an
 * event that denies a signal is offered none of the kinds it governs, not even its profile's.
 *
 * | signal denied       | identifiers kept out of profiles                                        |
 * |---------------------|-------------------------------------------------------------------------|
 * | `ad_user_data`      | every kind, and the event's IP and user agent                           |
 * | `ad_storage`        | advertising cookies and click ids: fbp, fbc, ttp, ttclid, gclid, gbraid, wbraid, msclkid, sc_click_id, sc_cookie1, epik, rdt_cid, rdt_uuid, li_fat_id, twclid |
 * | `analytics_storage` | `ga_client_id` (the `_ga` cookie)                                       |
 *
 * Only `denied` withholds: a signal the event does not give (old events, sites without a banner)
 * is unknown and links as before. The signals are read as the pipes read them (`readConsent`: a TC
 * string answers the Google signals it covers).
 */
import { readConsent } from '../consent/requirement.js';
import type { CapturedIdentifier } from './capture.js';
import type { IdentifierKind } from './identifiers.js';

/** The storage signal a kind needs besides `ad_user_data`; null: `ad_user_data` alone. */
export const storageSignalOf: Readonly<Record<IdentifierKind, 'ad_storage' | 'analytics_storage' | null>> = {
  user_id: null,
  anonymous_id: null,
  external_id: null,
  email: null,
  phone: null,
  ga_client_id: 'analytics_storage',
  fbp: 'ad_storage',
  fbc: 'ad_storage',
  ttp: 'ad_storage',
  ttclid: 'ad_storage',
  gclid: 'ad_storage',
  gbraid: 'ad_storage',
  wbraid: 'ad_storage',
  msclkid: 'ad_storage',
  sc_click_id: 'ad_storage',
  sc_cookie1: 'ad_storage',
  epik: 'ad_storage',
  rdt_cid: 'ad_storage',
  rdt_uuid: 'ad_storage',
  li_fat_id: 'ad_storage',
  twclid: 'ad_storage',
};

/** An event's identifiers split by what its consent allows. */
export interface ConsentSplit {
  /** May be linked into profiles and offered by stitching. */
  linkable: CapturedIdentifier[];
  /** Denied: indexed under the event for erasure only. */
  withheld: CapturedIdentifier[];
  /** False when `ad_user_data` is denied: the event's IP and user agent stay out of profiles. */
  attributes: boolean;
  /**
   * Whether the event's consent allows a kind at all: stitching offers the event none of the kinds
   * it denies, not even from its profile (the event's consent is the person's latest word).
   */
  allows: (kind: IdentifierKind) => boolean;
}

/** The answers of a consent that allows every kind, or none: shared, not a closure per event. */
const allowsEvery = () => true;
const allowsNone = () => false;

/**
 * Splits captured identifiers by the event's consent.
 *
 * @example
 * ```ts
 * const captured = captureIdentifiers(payload, { seenAt: Date.now() });
 * const { linkable, withheld } = splitByConsent(payload, captured.identifiers);
 * ```
 */
export function splitByConsent(
  payload: Record<string, unknown>,
  identifiers: CapturedIdentifier[],
): ConsentSplit {
  if (payload.consent === undefined || payload.consent === null)
    return { linkable: identifiers, withheld: [], attributes: true, allows: allowsEvery };
  const consent = readConsent(payload);
  if (consent.state('ad_user_data') === 'denied')
    return { linkable: [], withheld: identifiers, attributes: false, allows: allowsNone };
  const denied = {
    ad_storage: consent.state('ad_storage') === 'denied',
    analytics_storage: consent.state('analytics_storage') === 'denied',
  };
  const allows = (kind: IdentifierKind) => {
    const signal = storageSignalOf[kind];
    return signal === null || !denied[signal];
  };
  const linkable: CapturedIdentifier[] = [];
  const withheld: CapturedIdentifier[] = [];
  for (const i of identifiers) (allows(i.kind) ? linkable : withheld).push(i);
  return { linkable, withheld, attributes: true, allows };
}
