/** user_data keys Meta wants as SHA-256 of the normalised value. client_ip_address,
 *  client_user_agent, fbc and fbp are never hashed. */
const HASHED_USER_DATA = {
  em: normalise.email,
  ph: normalise.phoneDigits,
  fn: normalise.name,
  ln: normalise.name,
  ct: normalise.letters,
  st: normalise.letters,
  zp: normalise.zip,
  country: normalise.country,
  ge: normalise.gender,
  db: normalise.dateOfBirth,
  external_id: normalise.trim,
};

/** [object, key, normalise] triples for hashInPlace, over the user_data of many events. */
function userDataFields(userDatas) {
  return fieldsToHash(userDatas, HASHED_USER_DATA);
}
