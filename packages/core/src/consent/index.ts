/**
 * Consent: reading an event's consent signals and IAB TCF v2 string, and checking them against a
 * pipe's requirement (docs/consent.md).
 *
 * @example
 * ```ts
 * import { checkConsent } from '@openpipes/core';
 * checkConsent({ require: ['ad_user_data'] }, event.event_payload); // { met: true } or why not
 * ```
 */
export {
  type ConsentPurpose,
  type ConsentRequirement,
  type ConsentSignal,
  type ConsentState,
  type ConsentVerdict,
  checkConsent,
  consentPurposePattern,
  consentSignals,
  type EventConsent,
  readConsent,
  readSignal,
  tcfPurposesForSignal,
} from './requirement.js';
export { decodeTcString, hasVendorConsent, maxTcStringLength, type TcfCore, TcfDecodeError } from './tcf.js';
