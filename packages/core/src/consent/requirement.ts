/**
 * Reading an event's consent and checking it against what a pipe requires (docs/consent.md).
 * Pure: the engine calls {@link checkConsent} on each claimed delivery before its transform runs;
 * an event that does not meet the requirement is recorded as `filtered` with
 * `filter_reason: "consent"` and never reaches the transform or `send()`.
 */
import { decodeTcString, hasVendorConsent, type TcfCore } from './tcf.js';

/** The Google consent mode signals the canonical event carries in `event_payload.consent`. */
export const consentSignals = [
  'ad_storage',
  'analytics_storage',
  'ad_user_data',
  'ad_personalization',
] as const;
export type ConsentSignal = (typeof consentSignals)[number];

/** A purpose a pipe may require: a consent signal, or a TCF purpose (`tcf_purpose_1` .. `tcf_purpose_24`). */
export type ConsentPurpose = ConsentSignal | `tcf_purpose_${number}`;

/** What is known about one purpose of one event. */
export type ConsentState = 'granted' | 'denied' | 'unknown';

/** A pipe's consent requirement (`pipe.consent`). */
export interface ConsentRequirement {
  /** Every purpose listed must be granted. */
  require: readonly string[];
  /** What an unknown purpose counts as: `deny` (the default) filters the event, `allow` lets it through. */
  unknown?: 'deny' | 'allow';
  /**
   * With a TC string, the purposes it answers count as granted only when this vendor (its Global
   * Vendor List id, e.g. 755 for Google) has the user's consent too.
   */
  tcf_vendor_id?: number | undefined;
}

/** Matches every purpose name a requirement may list. */
export const consentPurposePattern =
  /^(ad_storage|analytics_storage|ad_user_data|ad_personalization|tcf_purpose_([1-9]|1[0-9]|2[0-4]))$/;

/**
 * The TCF purposes each Google signal stands for when the event has no explicit value for it but
 * carries a TC string (Google's own consent mode mapping): storing on the device is purpose 1;
 * personalised ads need profiles and selection (3, 4); sending user data for ads needs 1 and 7
 * (measure ad performance). `analytics_storage` has no TCF purpose: it stays unknown.
 */
export const tcfPurposesForSignal: Readonly<Record<ConsentSignal, readonly number[]>> = {
  ad_storage: [1],
  ad_user_data: [1, 7],
  ad_personalization: [3, 4],
  analytics_storage: [],
};

/**
 * Reads one explicit signal value: `GRANTED`/`granted`/`true` or `DENIED`/`denied`/`false`. Absent
 * (`undefined`, `null`, `''`) is unknown. A value that is present but none of these (`"no"`, `0`,
 * `"false"`, an object) is denied: a signal the sender set and we cannot read is no licence to
 * send, as with a TC string that cannot be read.
 */
export function readSignal(value: unknown): ConsentState {
  if (value === undefined || value === null || value === '') return 'unknown';
  if (value === true) return 'granted';
  if (value === false) return 'denied';
  const v = typeof value === 'string' ? value.trim().toUpperCase() : '';
  return v === 'GRANTED' ? 'granted' : 'denied';
}

/** The TC string of an event's consent: `consent.tcf_string` (alias `consent.gdpr_consent`). */
function tcStringOf(consent: Record<string, unknown>): unknown {
  return consent.tcf_string ?? consent.gdpr_consent;
}

/**
 * What an event says about each purpose. Explicit signals win; a signal left out is derived from
 * the TC string when there is one; a TC string that cannot be read answers `denied` for every
 * purpose it would have answered (a broken CMP is no licence to send).
 */
export interface EventConsent {
  state(purpose: string): ConsentState;
  /** The decoded TC string; null when there is none or it could not be read. */
  tcf: TcfCore | null;
  /** Why the TC string could not be read; null when it could or there is none. */
  tcfError: string | null;
}

/**
 * Reads an event payload's `consent` object.
 *
 * @example
 * ```ts
 * readConsent({ consent: { ad_user_data: 'GRANTED' } }).state('ad_user_data'); // 'granted'
 * readConsent({}).state('ad_storage'); // 'unknown': old events without the field
 * ```
 */
export function readConsent(
  payload: Record<string, unknown> | null | undefined,
  options: { tcfVendorId?: number | undefined } = {},
): EventConsent {
  const raw = payload?.consent;
  const consent =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const tcString = tcStringOf(consent);
  let tcf: TcfCore | null = null;
  let tcfError: string | null = null;
  if (tcString !== undefined && tcString !== null && tcString !== '') {
    try {
      tcf = decodeTcString(typeof tcString === 'string' ? tcString : '');
    } catch (err) {
      tcfError = err instanceof Error ? err.message : String(err);
    }
  }
  const hasTcf = tcf !== null || tcfError !== null;
  const vendorOk =
    tcf === null || options.tcfVendorId === undefined || hasVendorConsent(tcf, options.tcfVendorId);

  const fromTcf = (purposes: readonly number[]): ConsentState => {
    if (!hasTcf || purposes.length === 0) return 'unknown';
    if (tcf === null || !vendorOk) return 'denied';
    return purposes.every((p) => tcf!.purposeConsents.includes(p)) ? 'granted' : 'denied';
  };

  return {
    tcf,
    tcfError,
    state(purpose) {
      const tcfPurpose = /^tcf_purpose_(\d+)$/.exec(purpose);
      if (tcfPurpose) return fromTcf([Number(tcfPurpose[1])]);
      if (!(consentSignals as readonly string[]).includes(purpose)) return 'unknown';
      const explicit = readSignal(consent[purpose]);
      if (explicit !== 'unknown') return explicit;
      return fromTcf(tcfPurposesForSignal[purpose as ConsentSignal]);
    },
  };
}

/** The answer of {@link checkConsent}: met, or the first purpose that is not and what it is. */
export type ConsentVerdict = { met: true } | { met: false; purpose: string; state: 'denied' | 'unknown' };

/**
 * Whether an event meets a pipe's requirement: every required purpose granted, or unknown with
 * `unknown: 'allow'`. A pipe without a requirement (null) lets every event through.
 *
 * @example
 * ```ts
 * checkConsent({ require: ['ad_user_data'] }, { consent: { ad_user_data: 'DENIED' } });
 * // { met: false, purpose: 'ad_user_data', state: 'denied' }
 * ```
 */
export function checkConsent(
  requirement: ConsentRequirement | null | undefined,
  payload: Record<string, unknown> | null | undefined,
): ConsentVerdict {
  if (!requirement || requirement.require.length === 0) return { met: true };
  const consent = readConsent(payload, { tcfVendorId: requirement.tcf_vendor_id });
  const allowUnknown = requirement.unknown === 'allow';
  for (const purpose of requirement.require) {
    const state = consent.state(purpose);
    if (state === 'granted') continue;
    if (state === 'unknown' && allowUnknown) continue;
    return { met: false, purpose, state };
  }
  return { met: true };
}
