/** LinkedIn keeps conversions at most this old (90 days). */
const MAX_AGE_MS = 90 * 86400 * 1000;

/** Why LinkedIn would refuse this element, or null; such an event is failed here, alone. */
function refusal(row, now) {
  if (!row.conversion) return { code: 'INVALID_EVENT', message: 'conversion (the rule URN) is required' };
  if (typeof row.conversionHappenedAt !== 'number') {
    return { code: 'INVALID_EVENT', message: 'conversionHappenedAt must be epoch milliseconds' };
  }
  if (row.conversionHappenedAt < now - MAX_AGE_MS) {
    return tooOld(
      'conversionHappenedAt',
      row.conversionHappenedAt,
      '90 days ago; LinkedIn refuses such a conversion, so it was not sent',
    );
  }
  const user = row.user || {};
  const ids = Array.isArray(user.userIds) ? user.userIds : [];
  if (ids.length === 0 && !(user.userInfo && user.userInfo.firstName && user.userInfo.lastName)) {
    return {
      code: 'INVALID_EVENT',
      message:
        'user needs userIds (SHA256_EMAIL or LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID) or userInfo with both names',
    };
  }
  return null;
}

/** LinkedIn's error body ({message, serviceErrorCode, status}) as one line. */
function errorMessage(status, body) {
  if (!body) return 'HTTP ' + status;
  return (body.serviceErrorCode ? body.serviceErrorCode + ': ' : '') + (body.message || 'HTTP ' + status);
}

/**
 * Per-element outcomes of one batch: a 2xx lists `elements[{status, error?}]` in request order; a
 * 422 names the bad elements as "Index: n, ERROR :: /path :: why" lines (the batch was not
 * created: the others are retried, and eventId deduplicates a repeat). null when neither applies.
 */
function perElement(status, body, count) {
  if (status >= 200 && status < 300 && body && Array.isArray(body.elements)) {
    const out = [];
    for (let i = 0; i < count; i++) {
      const el = body.elements[i] || {};
      if (el.status === undefined || (el.status >= 200 && el.status < 300))
        out.push({ outcome: 'delivered' });
      else {
        const message = (el.error && el.error.message) || 'element status ' + el.status;
        const retry = el.status >= 500 || el.status === 429;
        out.push({
          outcome: retry ? 'retry' : 'failed',
          code: 'LINKEDIN_ELEMENT_' + el.status,
          message: message,
        });
      }
    }
    return out;
  }
  if (status === 422 && body && typeof body.message === 'string') {
    const why = {};
    for (const line of body.message.split('\n')) {
      const m = /Index:\s*(\d+),\s*ERROR\s*::\s*(.*)/.exec(line);
      if (!m) continue;
      const i = Number(m[1]);
      why[i] = (why[i] ? why[i] + ' | ' : '') + m[2].trim();
    }
    if (Object.keys(why).length === 0) return null;
    const out = [];
    for (let i = 0; i < count; i++) {
      out.push(
        why[i] !== undefined
          ? { outcome: 'failed', code: 'LINKEDIN_INVALID_ELEMENT', message: why[i] }
          : {
              outcome: 'retry',
              code: 'LINKEDIN_NOT_PROCESSED',
              message: 'not created: other elements of the batch were invalid',
            },
      );
    }
    return out;
  }
  return null;
}

async function send({ events, secrets }) {
  const token = secrets.LINKEDIN_ACCESS_TOKEN;
  if (!token) throw new Error('bind a secret named LINKEDIN_ACCESS_TOKEN to this destination');
  const now = Date.now();
  const outcomes = new Array(events.length);
  const { rows, from } = acceptedRows(
    events,
    outcomes,
    (row) => row,
    (row) => refusal(row, now),
  );

  const url = SETTINGS.base_url + '/rest/conversionEvents';
  // No test mode: every record is a live delivery.
  const options = { size: SETTINGS.max_events_per_request, testMode: false };
  return sendInChunks(rows, from, outcomes, options, async (chunk) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer ' + token,
        'content-type': 'application/json',
        'LinkedIn-Version': SETTINGS.linkedin_version,
        'X-Restli-Protocol-Version': '2.0.0',
        'X-RestLi-Method': 'BATCH_CREATE',
      },
      body: JSON.stringify({ elements: chunk }),
    });
    const body = await readJson(res);
    const mapped = perElement(res.status, body, chunk.length);
    if (mapped) return { verdicts: mapped };
    const verdict = res.ok
      ? { outcome: 'delivered' }
      : httpFailure(res.status, 'LINKEDIN_HTTP_' + res.status, errorMessage(res.status, body));
    return { res, verdict };
  });
}
