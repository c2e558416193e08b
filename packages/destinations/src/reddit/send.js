/** Reddit keeps events at most this old (7 days). */
const MAX_AGE_MS = 7 * 86400 * 1000;

/**
 * Why Reddit would refuse this event, or null. One invalid event fails the WHOLE request ("There
 * were N invalid conversion events. None were processed."), so such an event is failed here, alone,
 * and its batch-mates are sent without it.
 */
function refusal(row, now) {
  if (typeof row.event_at !== 'number') {
    return { code: 'INVALID_EVENT', message: 'event_at must be Unix milliseconds' };
  }
  if (row.event_at < now - MAX_AGE_MS) {
    return tooOld(
      'event_at',
      row.event_at,
      '7 days ago; Reddit refuses such an event (and the whole request with it), so it was not sent',
    );
  }
  const type = row.type || {};
  if (!type.tracking_type) return { code: 'INVALID_EVENT', message: 'type.tracking_type is required' };
  if (type.tracking_type === 'CUSTOM' && !type.custom_event_name) {
    return { code: 'INVALID_EVENT', message: 'type.custom_event_name is required for CUSTOM' };
  }
  if (!row.action_source) return { code: 'INVALID_EVENT', message: 'action_source is required' };
  return null;
}

/** What Reddit's answer to one request means for every event of it. */
function classify(status, body) {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  // Reddit's own {message}; an {error: {message}} envelope is read too.
  const error = (body && body.error) || {};
  const message = (body && body.message) || error.message || 'HTTP ' + status;
  return httpFailure(status, 'REDDIT_HTTP_' + status, message);
}

/**
 * Reddit's 400 may list the events it refused (`invalid_events: [{ error_message, event }]`): those
 * fail with their own message, and their batch-mates, which Reddit did not process either ("None
 * were processed"), are retried without them. Null when the answer names no event of this request.
 */
function invalidEvents(status, body, rows) {
  if (status !== 400 || !body || !Array.isArray(body.invalid_events)) return null;
  const why = {};
  for (const invalid of body.invalid_events) {
    const event = (invalid && invalid.event) || {};
    const metadata = event.metadata || event.event_metadata || {};
    if (metadata.conversion_id) why[metadata.conversion_id] = invalid.error_message || 'invalid event';
  }
  const named = rows.filter((r) => r.metadata && why[r.metadata.conversion_id] !== undefined).length;
  if (named === 0) return null;
  return rows.map((r) => {
    const message = r.metadata ? why[r.metadata.conversion_id] : undefined;
    if (message !== undefined) return { outcome: 'failed', code: 'REDDIT_INVALID_EVENT', message: message };
    return {
      outcome: 'retry',
      code: 'REDDIT_NOT_PROCESSED',
      message: 'not processed: Reddit refused ' + named + ' other event(s) of the request',
    };
  });
}

async function send({ events, secrets }) {
  const token = secrets.REDDIT_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named REDDIT_ACCESS_TOKEN to this destination');
  const now = Date.now();
  const outcomes = new Array(events.length);

  const toRow = (row) => {
    if (typeof row.event_at === 'string') row.event_at = Date.parse(row.event_at);
    if (!row.action_source) row.action_source = SETTINGS.action_source;
    row.user = Object.assign({}, row.user);
    return row;
  };
  const { rows, from } = acceptedRows(events, outcomes, toRow, (row) => refusal(row, now));
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userFields(rows.map((r) => r.user)));

  const url = SETTINGS.base_url + '/api/v3/pixels/' + SETTINGS.pixel_id + '/conversion_events';
  // Event Testing takes one event per request.
  const size = SETTINGS.test_id ? 1 : SETTINGS.max_events_per_request;
  return sendInChunks(rows, from, outcomes, { size, testMode: Boolean(SETTINGS.test_id) }, async (chunk) => {
    const data = { events: chunk };
    if (SETTINGS.test_id) data.test_id = SETTINGS.test_id;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer ' + token,
        'content-type': 'application/json',
        // Reddit throttles generic user agents; name the sender.
        'user-agent': 'openpipes-reddit-capi/1.0',
      },
      body: JSON.stringify({ data: data }),
    });
    const body = await readJson(res);
    const perEvent = invalidEvents(res.status, body, chunk);
    if (perEvent) return { verdicts: perEvent };
    return { res, verdict: classify(res.status, body) };
  });
}
