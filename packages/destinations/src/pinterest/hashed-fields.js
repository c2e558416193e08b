/** user_data keys Pinterest wants as lists of SHA-256 of the normalised value (its API description).
 *  client_ip_address, client_user_agent and click_id are never hashed. */
const HASHED_USER_DATA = {
  em: normalise.email,
  // Digits with the country code, no symbols or leading zeros.
  ph: normalise.phoneDigits,
  fn: normalise.name,
  ln: normalise.name,
  // City without spaces or punctuation; state as its two-letter code.
  ct: normalise.letters,
  st: normalise.letters,
  zp: normalise.zip,
  country: normalise.country,
  // Pinterest also takes 'n' (non-binary).
  ge: (s) => {
    const g = s.trim().toLowerCase().charAt(0);
    return g === 'f' || g === 'm' || g === 'n' ? g : '';
  },
  db: normalise.dateOfBirth,
  external_id: normalise.trim,
  hashed_maids: (s) => s.trim().toLowerCase(),
};

/** [object, key, normalise] triples for hashInPlace, every value a list (Pinterest wants lists). */
function userDataFields(userDatas) {
  const fields = [];
  for (const userData of userDatas) {
    for (const key of Object.keys(HASHED_USER_DATA)) {
      if (!(key in userData)) continue;
      const value = userData[key];
      if (value !== undefined && value !== null && !Array.isArray(value)) userData[key] = [value];
      fields.push([userData, key, HASHED_USER_DATA[key]]);
    }
  }
  return fields;
}
