/** Microsoft keeps events at most this old (7 days). */
const MAX_AGE_SECONDS = 7 * 86400;

/** Why Microsoft would refuse this event, or null; such an event is failed here, alone. */
function refusal(row, now) {
  if (!row.eventType) return { code: 'INVALID_EVENT', message: 'eventType is required' };
  if (!row.eventId) return { code: 'INVALID_EVENT', message: 'eventId is required (deduplication with UET)' };
  if (typeof row.eventTime !== 'number') {
    return { code: 'INVALID_EVENT', message: 'eventTime must be Unix seconds, ISO 8601 or Unix ms' };
  }
  if (row.eventTime < now - MAX_AGE_SECONDS) {
    return tooOld(
      'eventTime',
      row.eventTime * 1000,
      '7 days ago; Microsoft refuses such an event, so it was not sent',
    );
  }
  const u = row.userData || {};
  if (!u.msclkid && !u.em && !u.ph && !u.anonymousId && !u.externalId) {
    return { code: 'INVALID_EVENT', message: 'userData needs msclkid, em, ph, anonymousId or externalId' };
  }
  return null;
}

/** Microsoft's {error: {code, message, details[]}} as a message that names the fields. */
function errorMessage(status, body) {
  const error = (body && body.error) || {};
  const parts = [(error.code ? error.code + ': ' : '') + (error.message || 'HTTP ' + status)];
  for (const d of Array.isArray(error.details) ? error.details : []) {
    if (d && d.index === undefined && !d.isWarning)
      parts.push((d.propertyName || '') + ' ' + (d.errorMessage || ''));
  }
  return parts.join(' | ');
}

/**
 * The events an answer's `error.details` name by `index` (not warnings), as per-event outcomes for
 * this request's rows: those fail with their field and message; the others are delivered on a 2xx,
 * and retried on a 4xx (Microsoft may not have processed them; eventId deduplicates a repeat).
 */
function perEvent(status, body, count) {
  const error = body && body.error;
  if (!error || !Array.isArray(error.details)) return null;
  const why = {};
  for (const d of error.details) {
    if (!d || typeof d.index !== 'number') continue;
    if (d.isWarning) {
      console.warn('Microsoft warning for event ' + d.index + ': ' + d.propertyName + ' ' + d.errorMessage);
      continue;
    }
    why[d.index] = (why[d.index] ? why[d.index] + ' | ' : '') + d.propertyName + ': ' + d.errorMessage;
  }
  if (Object.keys(why).length === 0 || status >= 500) return null;
  const others =
    status >= 200 && status < 300
      ? { outcome: 'delivered' }
      : {
          outcome: 'retry',
          code: 'MICROSOFT_NOT_PROCESSED',
          message: 'not processed: other events of the request were invalid',
        };
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(
      why[i] !== undefined ? { outcome: 'failed', code: 'MICROSOFT_INVALID_EVENT', message: why[i] } : others,
    );
  }
  return out;
}

async function send({ events, secrets }) {
  const token = secrets.MICROSOFT_UET_TOKEN;
  if (!token) throw new Error('bind a secret named MICROSOFT_UET_TOKEN to this destination');
  const now = Math.floor(Date.now() / 1000);
  const outcomes = new Array(events.length);

  const toRow = (row) => {
    row.eventTime = toUnixSeconds(row.eventTime);
    if (row.userData) row.userData = Object.assign({}, row.userData);
    return row;
  };
  const { rows, from } = acceptedRows(events, outcomes, toRow, (row) => refusal(row, now));
  // A transform that left personal data unhashed is covered here (digests pass through unchanged).
  hashInPlace(userDataFields(rows.map((r) => r.userData || {})));

  const url = SETTINGS.base_url + '/v1/' + SETTINGS.tag_id + '/events';
  // No test mode: every record is a live delivery.
  const options = { size: SETTINGS.max_events_per_request, testMode: false };
  return sendInChunks(rows, from, outcomes, options, async (chunk) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      // Valid events are kept when others of the request fail validation.
      body: JSON.stringify({ data: chunk, continueOnValidationError: true }),
    });
    const body = await readJson(res);
    const mapped = perEvent(res.status, body, chunk.length);
    if (mapped) return { verdicts: mapped };
    const verdict = res.ok
      ? { outcome: 'delivered' }
      : httpFailure(res.status, 'MICROSOFT_HTTP_' + res.status, errorMessage(res.status, body));
    return { res, verdict };
  });
}
