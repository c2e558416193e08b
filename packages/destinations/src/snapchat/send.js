/** Snap keeps events at most this old (37 days). */
const MAX_AGE_SECONDS = 37 * 86400;

/** What Snap's answer to one request means for every event of it. */
function classify(status, body) {
  if (status >= 200 && status < 300) {
    // The validate endpoint answers 200 with status INVALID for an event it would refuse.
    if (body && body.status === 'INVALID') return invalid(body, status);
    return { outcome: 'delivered' };
  }
  if (body && body.status === 'INVALID') return invalid(body, status);
  const reason = (body && (body.reason || body.message)) || 'HTTP ' + status;
  return httpFailure(status, 'SNAPCHAT_HTTP_' + status, reason);
}

/** Snap's {status: "INVALID", reason, errors?} as a failure that names what Snap named. */
function invalid(body, status) {
  const parts = [body.reason || 'INVALID'];
  const errors = body.errors || {};
  if (Array.isArray(errors.error_msgs)) parts.push(...errors.error_msgs);
  const retry = status >= 500 || status === 429;
  return { outcome: retry ? 'retry' : 'failed', code: 'SNAPCHAT_INVALID', message: parts.join(' | ') };
}

/**
 * Why Snap would refuse this event, or null. Snap answers one invalid event with a 400 for the
 * whole request, so such an event is failed here, alone, and its batch-mates are sent without it.
 */
function refusal(row, now) {
  if (!row.event_name) return { code: 'INVALID_EVENT', message: 'event_name is required' };
  if (typeof row.event_time !== 'number') {
    return { code: 'INVALID_EVENT', message: 'event_time must be Unix seconds, ISO 8601 or Unix ms' };
  }
  if (row.event_time < now - MAX_AGE_SECONDS) {
    return tooOld(
      'event_time',
      row.event_time * 1000,
      '37 days ago; Snap refuses such an event, so it was not sent',
    );
  }
  const u = row.user_data || {};
  if (!u.em && !u.ph && !u.madid && !(u.client_ip_address && u.client_user_agent)) {
    return {
      code: 'INVALID_EVENT',
      message: 'user_data needs em, ph, madid, or client_ip_address with client_user_agent',
    };
  }
  const c = row.custom_data || {};
  if (row.event_name === 'PURCHASE' && (c.value === undefined || !c.currency)) {
    return { code: 'INVALID_EVENT', message: 'PURCHASE needs custom_data.value and custom_data.currency' };
  }
  return null;
}

async function send({ events, secrets }) {
  const token = secrets.SNAPCHAT_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named SNAPCHAT_ACCESS_TOKEN to this destination');
  const now = Math.floor(Date.now() / 1000);
  const outcomes = new Array(events.length);

  // Rows Snap will accept, with the index of the event each one came from.
  const { rows, from } = acceptedRows(events, outcomes, metaStyleRow, (row) => refusal(row, now));
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userDataFields(rows.map((r) => r.user_data || {})));

  const path = '/v3/' + SETTINGS.pixel_id + '/events' + (SETTINGS.validate_only ? '/validate' : '');
  const url = SETTINGS.base_url + path + '?access_token=' + encodeURIComponent(token);
  const options = { size: SETTINGS.max_events_per_request, testMode: SETTINGS.validate_only };
  return sendInChunks(rows, from, outcomes, options, async (chunk) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: chunk }),
    });
    return { res, verdict: classify(res.status, await readJson(res)) };
  });
}
