/**
 * Why Pinterest would refuse the WHOLE request for this event (its schema: required fields, and
 * em, hashed_maids, or IP with user agent), or null. Such an event is failed here, alone; what the
 * schema allows but Pinterest still cannot use comes back as that event's own status.
 */
function refusal(row) {
  for (const key of ['event_name', 'action_source', 'event_id']) {
    if (!row[key]) return { code: 'INVALID_EVENT', message: key + ' is required' };
  }
  if (typeof row.event_time !== 'number') {
    return { code: 'INVALID_EVENT', message: 'event_time must be Unix seconds, ISO 8601 or Unix ms' };
  }
  const u = row.user_data || {};
  if (!u.em && !u.hashed_maids && !(u.client_ip_address && u.client_user_agent)) {
    return {
      code: 'INVALID_EVENT',
      message: 'user_data needs em, hashed_maids, or client_ip_address with client_user_agent',
    };
  }
  return null;
}

/** Pinterest's answer for the whole request, when it is not about single events. */
function requestVerdict(status, body) {
  const code = body && typeof body.code === 'number' ? body.code : undefined;
  const message =
    ((body && body.message) || 'HTTP ' + status) + (code !== undefined ? ' (code ' + code + ')' : '');
  return httpFailure(status, 'PINTEREST_HTTP_' + status, message);
}

/** The per-event statuses of an answer (200, or the details of a 422), in request order; or null. */
function eventStatuses(body, count) {
  if (!body) return null;
  const list = Array.isArray(body.events)
    ? body.events
    : body.details && Array.isArray(body.details.events)
      ? body.details.events
      : null;
  return list && list.length === count ? list : null;
}

/** One event's status as an outcome. */
function eventVerdict(status) {
  if (status && status.status === 'processed') {
    if (status.warning_message) console.warn('Pinterest warning: ' + status.warning_message);
    return { outcome: 'delivered' };
  }
  return {
    outcome: 'failed',
    code: 'PINTEREST_EVENT_FAILED',
    message: (status && status.error_message) || 'Pinterest did not process this event',
  };
}

async function send({ events, secrets }) {
  const token = secrets.PINTEREST_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named PINTEREST_ACCESS_TOKEN to this destination');
  const outcomes = new Array(events.length);

  const { rows, from } = acceptedRows(events, outcomes, metaStyleRow, refusal);
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userDataFields(rows.map((r) => r.user_data || {})));

  const url =
    SETTINGS.base_url +
    '/v5/ad_accounts/' +
    SETTINGS.ad_account_id +
    '/events' +
    (SETTINGS.test_mode ? '?test=true' : '');
  const options = { size: SETTINGS.max_events_per_request, testMode: SETTINGS.test_mode };
  return sendInChunks(rows, from, outcomes, options, async (chunk) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      body: JSON.stringify({ data: chunk }),
    });
    const body = await readJson(res);
    // 200 and 422 ("Not all events were successfully processed") say how each event fared.
    const statuses = res.status === 200 || res.status === 422 ? eventStatuses(body, chunk.length) : null;
    if (statuses) return { verdicts: statuses.map(eventVerdict) };
    return { res, verdict: res.ok ? { outcome: 'delivered' } : requestVerdict(res.status, body) };
  });
}
