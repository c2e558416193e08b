/** userData keys Microsoft wants as SHA-256 hex; msclkid, IP, user agent and ids are never hashed. */
const HASHED_USER_DATA = {
  em: normalise.email,
  // E.164 with the '+'.
  ph: normalise.phoneE164,
};

/** [object, key, normalise] triples for hashInPlace, over the userData of many events. */
function userDataFields(userDatas) {
  return fieldsToHash(userDatas, HASHED_USER_DATA);
}
