/** Google's email rule: trim, lowercase, and no dots before @ for gmail.com / googlemail.com. */
function googleEmail(s) {
  return normalise.withoutGmailDots(normalise.email(s));
}

/** [object, key, normalise] triples for hashInPlace over userIdentifiers: email and phone (E.164). */
function identifierFields(identifiers) {
  const fields = [];
  for (const id of identifiers) {
    if ('hashedEmail' in id) fields.push([id, 'hashedEmail', googleEmail]);
    if ('hashedPhoneNumber' in id) fields.push([id, 'hashedPhoneNumber', normalise.phoneE164]);
  }
  return fields;
}

/** A bare conversion action id becomes its resource name. */
function conversionActionName(action) {
  const text = String(action);
  return /^\d+$/.test(text) ? 'customers/' + SETTINGS.customer_id + '/conversionActions/' + text : text;
}
