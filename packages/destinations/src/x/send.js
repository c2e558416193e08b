/** Identifiers X matches on; IP address and user agent alone are not enough. */
const MATCHING_IDENTIFIERS = ['twclid', 'hashed_email', 'hashed_phone_number'];

/** Why X would refuse this conversion, or null: X fails a whole request for one bad conversion. */
function refusal(row) {
  const invalid = (message) => ({ code: 'INVALID_EVENT', message: message });
  if (!row.event_id) return invalid('event_id is required (the X event this conversion counts for)');
  if (typeof row.conversion_time !== 'string' || Number.isNaN(Date.parse(row.conversion_time))) {
    return invalid('conversion_time must be ISO 8601');
  }
  const ids = Array.isArray(row.identifiers) ? row.identifiers : [];
  if (!ids.some((id) => id && MATCHING_IDENTIFIERS.some((k) => id[k]))) {
    return invalid(
      'identifiers need twclid, hashed_email or hashed_phone_number (IP and user agent alone are not enough)',
    );
  }
  return null;
}

/** X's {errors: [{code, message, parameter}]} as one message naming the parameters. */
function errorMessage(status, body) {
  const errors = body && Array.isArray(body.errors) ? body.errors : [];
  if (errors.length === 0) return 'HTTP ' + status;
  return errors
    .map(
      (e) =>
        (e.code ? e.code + ': ' : '') + (e.message || '') + (e.parameter ? ' (' + e.parameter + ')' : ''),
    )
    .join(' | ');
}

async function send({ events, secrets }) {
  const names = ['X_CONSUMER_KEY', 'X_CONSUMER_SECRET', 'X_ACCESS_TOKEN', 'X_ACCESS_TOKEN_SECRET'];
  for (const name of names) {
    if (!secrets[name]) throw new Error('bind a secret named ' + name + ' to this destination');
  }
  const outcomes = new Array(events.length);
  const { rows, from } = acceptedRows(events, outcomes, (row) => row, refusal);

  const url =
    SETTINGS.base_url + '/' + SETTINGS.api_version + '/measurement/conversions/' + SETTINGS.pixel_id;
  // No test mode: every record is a live delivery.
  const options = { size: SETTINGS.max_events_per_request, testMode: false };
  return sendInChunks(rows, from, outcomes, options, async (chunk) => {
    // A fresh nonce and timestamp per request: X refuses a replayed nonce.
    const authorization = oauthHeader({
      method: 'POST',
      url: url,
      consumerKey: secrets.X_CONSUMER_KEY,
      consumerSecret: secrets.X_CONSUMER_SECRET,
      token: secrets.X_ACCESS_TOKEN,
      tokenSecret: secrets.X_ACCESS_TOKEN_SECRET,
    });
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ conversions: chunk }),
    });
    const body = await readJson(res);
    const verdict = res.ok
      ? { outcome: 'delivered' }
      : httpFailure(res.status, 'X_HTTP_' + res.status, errorMessage(res.status, body));
    return { res, verdict };
  });
}
