/** Meta error codes worth retrying: temporary (1, 2), throttling (4, 17, 341, 613, 80000-80014), wait (368). */
const RETRY_CODES = [1, 2, 4, 17, 341, 368, 613];
/** Never retried: invalid or expired token (190), permissions (10, 200-299), invalid parameter (100). */
function neverRetry(code) {
  return code === 190 || code === 10 || code === 100 || (code >= 200 && code <= 299);
}

/** What Meta's answer means for every event of the request. */
function classify(status, body) {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  const error = (body && body.error) || {};
  const code = typeof error.code === 'number' ? error.code : undefined;
  const parts = [error.message || 'HTTP ' + status];
  if (error.error_user_title) parts.push(error.error_user_title);
  if (error.error_user_msg) parts.push(error.error_user_msg);
  if (error.error_subcode) parts.push('subcode ' + error.error_subcode);
  if (error.fbtrace_id) parts.push('fbtrace_id ' + error.fbtrace_id);
  const message = parts.join(' | ');
  let retry;
  if (code !== undefined && neverRetry(code)) retry = false;
  else if (code !== undefined && (RETRY_CODES.includes(code) || (code >= 80000 && code <= 80014)))
    retry = true;
  else retry = status >= 500 || status === 429 || status === 408;
  return {
    outcome: retry ? 'retry' : 'failed',
    code: code !== undefined ? 'META_' + code : 'HTTP_' + status,
    message: message,
  };
}

/**
 * Why Meta would refuse this event, or null. One invalid event makes Meta reject the WHOLE
 * request, so such an event is failed here, alone, and its batch-mates are sent without it.
 */
function refusal(row, now) {
  if (!row.event_name) return { code: 'INVALID_EVENT', message: 'event_name is required' };
  if (typeof row.event_time !== 'number') {
    return { code: 'INVALID_EVENT', message: 'event_time must be Unix seconds, ISO 8601 or Unix ms' };
  }
  if (row.event_time < now - 7 * 86400) {
    return tooOld(
      'event_time',
      row.event_time * 1000,
      '7 days ago; Meta refuses such an event (and the whole request with it), so it was not sent',
    );
  }
  if (!row.user_data || Object.keys(row.user_data).length === 0) {
    return { code: 'INVALID_EVENT', message: 'user_data needs at least one customer information parameter' };
  }
  if (row.action_source === 'website' && !row.user_data.client_user_agent) {
    return { code: 'INVALID_EVENT', message: 'website events need user_data.client_user_agent' };
  }
  return null;
}

async function send({ events, secrets }) {
  const token = secrets.META_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named META_ACCESS_TOKEN to this destination');
  const now = Math.floor(Date.now() / 1000);
  const testMode = Boolean(SETTINGS.test_event_code);
  const outcomes = new Array(events.length);

  // Rows Meta will accept, with the index of the event each one came from.
  const { rows, from } = acceptedRows(events, outcomes, metaStyleRow, (row) => refusal(row, now));
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userDataFields(rows.map((r) => r.user_data)));

  const url = SETTINGS.base_url + '/' + SETTINGS.api_version + '/' + SETTINGS.pixel_id + '/events';
  const rowChunks = chunks(rows, SETTINGS.max_events_per_request);
  const fromChunks = chunks(from, SETTINGS.max_events_per_request);
  for (let c = 0; c < rowChunks.length; c++) {
    const body = { data: rowChunks[c], access_token: token };
    if (SETTINGS.test_event_code) body.test_event_code = SETTINGS.test_event_code;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const verdict = classify(res.status, await readJson(res));
    for (const i of fromChunks[c]) outcomes[i] = verdict;
  }
  return finish(outcomes, testMode);
}
