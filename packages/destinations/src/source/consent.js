// The canonical event's consent (docs/consent.md) as each platform wants it. The pipe's consent
// requirement already kept back the events it does not allow; these only pass the event's own
// signals on, so the platform applies them too. Absent stays absent (unknown is not denied).

/**
 * One consent signal as `GRANTED` / `DENIED`; undefined when the event says nothing readable.
 * @param {unknown} value
 * @returns {'GRANTED' | 'DENIED' | undefined}
 */
function consentSignal(value) {
  if (value === true) return 'GRANTED';
  if (value === false) return 'DENIED';
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toUpperCase();
  return v === 'GRANTED' || v === 'DENIED' ? v : undefined;
}

/**
 * Google's two user-data signals from the event's `consent`, snake_case (GA4's request `consent`);
 * undefined when it has neither.
 * @param {unknown} consent
 * @returns {{ ad_user_data?: string, ad_personalization?: string } | undefined}
 */
function googleConsent(consent) {
  if (!consent || typeof consent !== 'object') return undefined;
  const c = /** @type {Record<string, unknown>} */ (consent);
  /** @type {{ ad_user_data?: string, ad_personalization?: string }} */
  const out = {};
  const userData = consentSignal(c.ad_user_data);
  const personalization = consentSignal(c.ad_personalization);
  if (userData) out.ad_user_data = userData;
  if (personalization) out.ad_personalization = personalization;
  return userData || personalization ? out : undefined;
}

/**
 * TikTok's `limited_data_use`: the event's own `consent.limited_data_use` (a boolean), else true
 * when it denies personalised ads, false when it grants them, undefined when it says nothing.
 * @param {unknown} consent
 * @returns {boolean | undefined}
 */
function limitedDataUse(consent) {
  if (!consent || typeof consent !== 'object') return undefined;
  const c = /** @type {Record<string, unknown>} */ (consent);
  if (typeof c.limited_data_use === 'boolean') return c.limited_data_use;
  const personalization = consentSignal(c.ad_personalization);
  return personalization === undefined ? undefined : personalization === 'DENIED';
}
