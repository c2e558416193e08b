const REQUIRED_SECRETS = [
  'GOOGLE_DATA_MANAGER_CLIENT_ID',
  'GOOGLE_DATA_MANAGER_CLIENT_SECRET',
  'GOOGLE_DATA_MANAGER_REFRESH_TOKEN',
];
/** google.rpc.Status codes worth retrying. UNAUTHENTICATED (after one refresh), PERMISSION_DENIED
 *  and INVALID_ARGUMENT are not. */
const RETRY_STATUSES = ['RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED'];
/** ErrorInfo reasons worth retrying. */
const RETRY_REASONS = ['INTERNAL_ERROR', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'];
/** Google's maximum of user identifiers per event (TOO_MANY_USER_IDENTIFIERS). */
const USER_IDENTIFIER_LIMIT = 10;

/** The OAuth client and refresh token among the bound secrets (google-oauth.js). */
function oauthCredentials(secrets) {
  return {
    clientId: secrets.GOOGLE_DATA_MANAGER_CLIENT_ID,
    clientSecret: secrets.GOOGLE_DATA_MANAGER_CLIENT_SECRET,
    refreshToken: secrets.GOOGLE_DATA_MANAGER_REFRESH_TOKEN,
  };
}

// ---- events ------------------------------------------------------------------------------------
/**
 * One event as a Data Manager Event, with the conversion action it goes to beside it: the
 * payload's productDestinationId, else the one its event type is mapped to.
 */
function toEvent(e) {
  const event = Object.assign({}, e.event_payload);
  const action = event.productDestinationId;
  delete event.productDestinationId;
  if (event.conversionValue !== undefined) event.conversionValue = Number(event.conversionValue);
  if (event.userData && Array.isArray(event.userData.userIdentifiers)) {
    const ids = event.userData.userIdentifiers.map((id) =>
      Object.assign({}, id, id.address ? { address: Object.assign({}, id.address) } : {}),
    );
    // A transform may leave values unhashed: hash them here, as Google wants them (HEX).
    hashInPlace(identifierFields(ids));
    const kept = completeIdentifiers(ids).slice(0, USER_IDENTIFIER_LIMIT);
    if (kept.length > 0) event.userData = { userIdentifiers: kept };
    else delete event.userData;
  }
  return { action: action === undefined ? SETTINGS.conversion_actions[e.event_type] : action, event: event };
}

/** Why Google would refuse this event whatever else is in the request, or null. */
function eventProblem(item) {
  if (!item.action || !/^\d+$/.test(String(item.action))) {
    return 'productDestinationId must be a numeric conversion action id';
  }
  if (!item.event.eventTimestamp) return 'eventTimestamp is required';
  const ad = item.event.adIdentifiers;
  const hasAd = ad && (ad.gclid || ad.gbraid || ad.wbraid);
  if (!hasAd && !item.event.userData) {
    return 'the event has no identifier: adIdentifiers (gclid, gbraid, wbraid) or userData';
  }
  return null;
}

/** The Destination of one conversion action: the operating account, and the login account if any. */
function destination(action) {
  const d = {
    operatingAccount: { accountType: 'GOOGLE_ADS', accountId: SETTINGS.operating_account_id },
    productDestinationId: String(action),
  };
  if (SETTINGS.login_account_id) {
    d.loginAccount = { accountType: SETTINGS.login_account_type, accountId: SETTINGS.login_account_id };
  }
  return d;
}

// ---- answers -----------------------------------------------------------------------------------
/** The details of a google.rpc.Status by their type: ErrorInfo reasons and BadRequest field violations. */
function statusDetails(error) {
  const reasons = [];
  const violations = [];
  for (const detail of (error && error.details) || []) {
    const type = String(detail['@type'] || '');
    if (type.endsWith('google.rpc.ErrorInfo') && detail.reason) reasons.push(detail.reason);
    if (type.endsWith('google.rpc.BadRequest')) {
      for (const v of detail.fieldViolations || []) violations.push(v);
    }
  }
  return { reasons: reasons, violations: violations };
}

/** 'events[3].userData...' -> 3; -1 when the violation is not about one event. */
function eventIndex(violation) {
  const m = /^events\[(\d+)\]/.exec(String(violation.field || ''));
  return m ? Number(m[1]) : -1;
}

function violationText(v) {
  return (v.field ? v.field + ': ' : '') + (v.description || v.reason || 'invalid');
}

/** The request-level verdict of an error answer, for every event of the request. */
function requestError(status, body) {
  const error = (body && body.error) || {};
  const details = statusDetails(error);
  const retry =
    status === 429 ||
    status >= 500 ||
    RETRY_STATUSES.includes(error.status) ||
    details.reasons.some((r) => RETRY_REASONS.includes(r));
  return {
    outcome: retry ? 'retry' : 'failed',
    code: 'GOOGLE_DATA_MANAGER_' + (details.reasons[0] || error.status || 'HTTP_' + status),
    message: [error.message || 'HTTP ' + status].concat(details.violations.map(violationText)).join(' | '),
  };
}

async function post(action, events, token) {
  const body = { destinations: [destination(action)], events: events, encoding: 'HEX' };
  const consent = dataManagerConsent(SETTINGS.default_consent);
  // Request-level consent; an event's own consent overrides it.
  if (consent) body.consent = consent;
  if (SETTINGS.validate_only) body.validateOnly = true;
  return fetch(SETTINGS.base_url + '/' + SETTINGS.api_version + '/events:ingest', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** One request: { status, body } of the answer, or { error } when no token could be had. */
async function ingest(action, events, credentials) {
  let auth = await accessToken(credentials, null);
  if (auth.error) return { error: auth.error };
  let res = await post(action, events, auth.token);
  if (res.status === 401) {
    // Revoked or expired early: refresh once and try again.
    auth = await accessToken(credentials, auth.token);
    if (auth.error) return { error: auth.error };
    res = await post(action, events, auth.token);
    if (res.status === 401) forgetAccessToken();
  }
  return { status: res.status, ok: res.ok, body: await readJson(res) };
}

/**
 * Sends one conversion action's events; one outcome per event. Google takes a request whole or
 * not at all (no partial failure): when its 400 names only some events (BadRequest field
 * violations at events[i]), those fail with Google's words and the others are sent once more
 * without them.
 */
async function upload(action, events, credentials) {
  const answer = await ingest(action, events, credentials);
  if (answer.error) return events.map(() => answer.error);
  if (answer.ok) return events.map(() => ({ outcome: 'delivered' }));
  const verdict = requestError(answer.status, answer.body);
  const details = statusDetails(answer.body && answer.body.error);
  const indices = details.violations.map(eventIndex);
  const perEvent = verdict.outcome === 'failed' && indices.length > 0 && indices.every((i) => i >= 0);
  if (!perEvent) return events.map(() => verdict);

  const outcomes = events.map(() => null);
  details.violations.forEach((v, n) => {
    const i = indices[n];
    if (i >= events.length) return;
    const previous = outcomes[i];
    outcomes[i] = {
      outcome: 'failed',
      code: verdict.code,
      message: (previous ? previous.message + ' | ' : '') + violationText(v),
    };
  });
  const rest = [];
  outcomes.forEach((o, i) => {
    if (!o) rest.push(i);
  });
  if (rest.length === events.length) return events.map(() => verdict);
  if (rest.length > 0) {
    const again = await ingest(
      action,
      rest.map((i) => events[i]),
      credentials,
    );
    const second = again.error
      ? rest.map(() => again.error)
      : again.ok
        ? rest.map(() => ({ outcome: 'delivered' }))
        : rest.map(() => requestError(again.status, again.body));
    rest.forEach((i, n) => {
      outcomes[i] = second[n];
    });
  }
  return outcomes;
}

async function send({ events, secrets }) {
  for (const key of REQUIRED_SECRETS) {
    if (!secrets[key]) throw new Error('bind a secret named ' + key + ' to this destination');
  }
  const credentials = oauthCredentials(secrets);
  const items = events.map(toEvent);
  const outcomes = items.map(() => null);
  // One request per conversion action (one Destination each), at most max_events_per_request events.
  const groups = {};
  items.forEach((item, i) => {
    const problem = eventProblem(item);
    if (problem) {
      // Google would refuse the whole request for it: it fails alone, its batch-mates go on.
      outcomes[i] = { outcome: 'failed', code: 'INVALID_EVENT', message: problem };
      return;
    }
    const key = String(item.action);
    if (!groups[key]) groups[key] = [];
    groups[key].push(i);
  });
  for (const action of Object.keys(groups)) {
    for (const batch of chunks(groups[action], SETTINGS.max_events_per_request)) {
      const answers = await upload(
        action,
        batch.map((i) => items[i].event),
        credentials,
      );
      batch.forEach((i, n) => {
        outcomes[i] = answers[n];
      });
    }
  }
  return finish(outcomes, SETTINGS.validate_only);
}
