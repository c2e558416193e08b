/** user keys TikTok wants as SHA-256: email (trim, lowercase), phone (E.164), external_id.
 *  ip, user_agent, ttp and ttclid are never hashed. */
const HASHED_USER = {
  email: normalise.email,
  phone: normalise.phoneE164,
  external_id: normalise.trim,
};

/** [object, key, normalise] triples for hashInPlace, over the user objects of many events. */
function userFields(users) {
  return fieldsToHash(users, HASHED_USER);
}
