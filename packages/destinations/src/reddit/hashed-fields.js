/**
 * Reddit's email canonicalisation (its Manual Advanced Matching page): lowercase, drop everything
 * from the first '+' in the local part, then every non-alphanumeric character of the local part.
 * 'Al.ice$+Apple@Example.Com' -> 'alice@example.com'.
 */
function redditEmail(s) {
  const email = s.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at <= 0) return email;
  const local = email
    .slice(0, at)
    .split('+')[0]
    .replace(/[^a-z0-9]/g, '');
  return local + '@' + email.slice(at + 1);
}

/** `user` keys Reddit wants as SHA-256 hex. user_agent, click_id and uuid are never hashed. */
const HASHED_USER = {
  email: redditEmail,
  // E.164 with the '+'.
  phone_number: normalise.phoneE164,
  external_id: normalise.trim,
  // Reddit takes the IP hashed; IPv6 letters lowercased so one address has one digest.
  ip_address: (s) => s.trim().toLowerCase(),
};

/** [object, key, normalise] triples for hashInPlace, over the `user` of many events. */
function userFields(users) {
  return fieldsToHash(users, HASHED_USER);
}
