/** Retried: too frequent (40100), 40132, system errors (50000, 50002, 51xxx), 60001, 61000. */
const RETRY_CODES = [40100, 40132, 50000, 50002, 60001, 61000];
/** Never retried: invalid parameters (40000, 40002), permission (40001), batch size (40061),
 *  PII not hashed (40062), access token (40102, 40104, 40105). */
const NEVER_CODES = [40000, 40001, 40002, 40061, 40062, 40102, 40104, 40105];

/**
 * TikTok answers most errors with HTTP 200 and a non-zero code: the body decides, not the status.
 * 20001 is a partial success: the request was accepted, TikTok only reports a problem.
 */
function classify(status, body) {
  const code = body && typeof body.code === 'number' ? body.code : undefined;
  if (code === undefined) {
    if (status >= 200 && status < 300) return { outcome: 'delivered' };
    return httpFailure(status, 'HTTP_' + status, 'HTTP ' + status);
  }
  const message =
    (body.message || 'TikTok code ' + code) + (body.request_id ? ' | request_id ' + body.request_id : '');
  if (code === 0) return { outcome: 'delivered' };
  if (code === 20001) {
    console.warn('TikTok accepted the request with a warning: ' + message);
    return { outcome: 'delivered' };
  }
  let retry;
  if (NEVER_CODES.includes(code)) retry = false;
  else if (RETRY_CODES.includes(code) || (code >= 51000 && code <= 51999)) retry = true;
  else retry = code >= 50000 || status >= 500 || status === 429;
  return { outcome: retry ? 'retry' : 'failed', code: 'TIKTOK_' + code, message: message };
}

/** One event as v1.3 wants it: Unix seconds, and the user fields under their v1.3 names. */
function prepare(payload) {
  const row = Object.assign({}, payload);
  row.event_time = toUnixSeconds(row.event_time);
  row.user = Object.assign({}, row.user);
  // v1.2 transforms (the TikTok example among them) say phone_number; v1.3 says phone.
  if (row.user.phone === undefined && row.user.phone_number !== undefined)
    row.user.phone = row.user.phone_number;
  delete row.user.phone_number;
  return row;
}

async function send({ events, secrets }) {
  const token = secrets.TIKTOK_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named TIKTOK_ACCESS_TOKEN to this destination');
  const testMode = Boolean(SETTINGS.test_event_code);
  const rows = events.map((e) => prepare(e.event_payload));
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userFields(rows.map((r) => r.user)));

  const url = SETTINGS.base_url + '/open_api/' + SETTINGS.api_version + '/event/track/';
  const outcomes = [];
  for (const data of chunks(rows, SETTINGS.max_events_per_request)) {
    const body = { event_source: SETTINGS.event_source, event_source_id: SETTINGS.pixel_code, data: data };
    if (SETTINGS.test_event_code) body.test_event_code = SETTINGS.test_event_code;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'access-token': token, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const verdict = classify(res.status, await readJson(res));
    for (let i = 0; i < data.length; i++) outcomes.push(verdict);
  }
  return finish(outcomes, testMode);
}
