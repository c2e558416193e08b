/**
 * Google's rule for an email address (Data Manager "Format user data"): lowercase, no whitespace
 * anywhere, and no dots before @ for gmail.com / googlemail.com.
 * @param {string} s
 */
function dataManagerEmail(s) {
  return normalise.withoutGmailDots(s.replace(/\s+/g, '').toLowerCase());
}

/**
 * [object, key, normalise] triples for hashInPlace over a userData.userIdentifiers list: email,
 * phone (E.164 with '+'), and an address's given and family names (lowercase, trimmed). An
 * address's regionCode and postalCode are never hashed.
 * @param {Array<Record<string, any>>} identifiers
 */
function identifierFields(identifiers) {
  /** @type {Array<[Record<string, any>, string, (s: string) => string]>} */
  const fields = [];
  const lowerTrim = (/** @type {string} */ s) => s.trim().toLowerCase();
  for (const id of identifiers) {
    if ('emailAddress' in id) fields.push([id, 'emailAddress', dataManagerEmail]);
    if ('phoneNumber' in id) fields.push([id, 'phoneNumber', normalise.phoneE164]);
    if (id.address && typeof id.address === 'object') {
      fields.push([id.address, 'givenName', lowerTrim]);
      fields.push([id.address, 'familyName', lowerTrim]);
    }
  }
  return fields;
}

/**
 * Identifiers that are still whole after hashing: an address needs all four of its parts.
 * @param {Array<Record<string, any>>} identifiers
 */
function completeIdentifiers(identifiers) {
  return identifiers.filter((id) => {
    if (id.address) {
      const a = id.address;
      return Boolean(a.givenName && a.familyName && a.regionCode && a.postalCode);
    }
    return Object.keys(id).length > 0;
  });
}

/**
 * Google's consent signal: CONSENT_GRANTED / CONSENT_DENIED, from GRANTED / DENIED.
 * @param {string | undefined} signal
 */
function dataManagerConsentValue(signal) {
  if (signal === 'GRANTED') return 'CONSENT_GRANTED';
  if (signal === 'DENIED') return 'CONSENT_DENIED';
  return undefined;
}

/**
 * { ad_user_data, ad_personalization } (GRANTED / DENIED) -> Data Manager's Consent, or undefined.
 * @param {{ ad_user_data?: string, ad_personalization?: string } | null | undefined} consent
 */
function dataManagerConsent(consent) {
  if (!consent) return undefined;
  /** @type {{ adUserData?: string, adPersonalization?: string }} */
  const out = {};
  const userData = dataManagerConsentValue(consent.ad_user_data);
  const personalization = dataManagerConsentValue(consent.ad_personalization);
  if (userData) out.adUserData = userData;
  if (personalization) out.adPersonalization = personalization;
  return userData || personalization ? out : undefined;
}
