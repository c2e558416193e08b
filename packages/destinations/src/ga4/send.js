/** GA4 takes at most 25 events per request, all for one client_id / user_id. */
const MAX_EVENTS_PER_REQUEST = 25;
/** GA4 drops events more than 72 hours old. */
const MAX_AGE_MICROS = 72 * 3600 * 1000000;

function refusal(payload, nowMicros) {
  if (!payload.client_id) return { code: 'INVALID_EVENT', message: 'client_id is required' };
  if (!payload.name) return { code: 'INVALID_EVENT', message: 'name is required' };
  if (payload.timestamp_micros !== undefined && payload.timestamp_micros < nowMicros - MAX_AGE_MICROS) {
    return { code: 'EVENT_TOO_OLD', message: 'GA4 does not accept events more than 72 hours old' };
  }
  return null;
}

/**
 * The production endpoint answers 2xx whatever it thinks of the events; the debug endpoint
 * (validate_only) answers { validationMessages } and is the only one that reports problems.
 */
function classify(status, body) {
  if (status >= 200 && status < 300) {
    const messages = (body && body.validationMessages) || [];
    if (messages.length === 0) return { outcome: 'delivered' };
    return {
      outcome: 'failed',
      code: 'GA4_' + (messages[0].validationCode || 'VALIDATION'),
      message: messages.map((m) => (m.fieldPath ? m.fieldPath + ': ' : '') + m.description).join(' | '),
    };
  }
  return httpFailure(status, 'HTTP_' + status, 'HTTP ' + status);
}

async function send({ events, secrets }) {
  const apiSecret = secrets.GA4_API_SECRET;
  if (!apiSecret) throw new Error('bind a secret named GA4_API_SECRET to this destination');
  const nowMicros = Date.now() * 1000;
  const outcomes = new Array(events.length);

  // Group the events by the ids a request carries once.
  const groups = new Map();
  events.forEach((e, i) => {
    const p = e.event_payload;
    const why = refusal(p, nowMicros);
    if (why) {
      outcomes[i] = { outcome: 'failed', code: why.code, message: why.message, sent: false };
      return;
    }
    const key = JSON.stringify([p.client_id, p.user_id || null, p.consent || null]);
    if (!groups.has(key)) groups.set(key, { head: p, items: [] });
    const event = { name: p.name, params: p.params || {} };
    if (p.timestamp_micros !== undefined) event.timestamp_micros = p.timestamp_micros;
    groups.get(key).items.push({ index: i, event: event });
  });

  const path = SETTINGS.validate_only ? '/debug/mp/collect' : '/mp/collect';
  const url =
    SETTINGS.base_url +
    path +
    '?measurement_id=' +
    encodeURIComponent(SETTINGS.measurement_id) +
    '&api_secret=' +
    encodeURIComponent(apiSecret);
  const requests = [];
  for (const group of groups.values()) {
    for (const items of chunks(group.items, MAX_EVENTS_PER_REQUEST)) {
      const body = { client_id: group.head.client_id, events: items.map((item) => item.event) };
      if (group.head.user_id) body.user_id = group.head.user_id;
      if (group.head.consent) body.consent = group.head.consent;
      requests.push({ body: body, items: items });
    }
  }
  await Promise.all(
    requests.map(async (request) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request.body),
      });
      const verdict = classify(res.status, await readJson(res));
      for (const item of request.items) outcomes[item.index] = verdict;
    }),
  );
  return finish(outcomes, SETTINGS.validate_only);
}
