const REQUIRED_SECRETS = [
  'GOOGLE_ADS_CLIENT_ID',
  'GOOGLE_ADS_CLIENT_SECRET',
  'GOOGLE_ADS_REFRESH_TOKEN',
  'GOOGLE_ADS_DEVELOPER_TOKEN',
];
/** Error codes worth retrying (request level or per row). */
const TRANSIENT = [
  'TRANSIENT_ERROR',
  'INTERNAL_ERROR',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'RESOURCE_TEMPORARILY_EXHAUSTED',
];
/** gRPC statuses worth retrying. UNAUTHENTICATED (after one refresh), PERMISSION_DENIED and
 *  INVALID_ARGUMENT are not. */
const RETRY_STATUSES = ['RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED'];

/** The OAuth client and refresh token among the bound secrets (google-oauth.js). */
function oauthCredentials(secrets) {
  return {
    clientId: secrets.GOOGLE_ADS_CLIENT_ID,
    clientSecret: secrets.GOOGLE_ADS_CLIENT_SECRET,
    refreshToken: secrets.GOOGLE_ADS_REFRESH_TOKEN,
  };
}

// ---- conversions -------------------------------------------------------------------------------
/** snake_case keys -> camelCase (the REST API's JSON names), deeply; values are left alone. */
function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const key of Object.keys(value)) {
    out[key.replace(/_([a-z0-9])/g, (_m, c) => c.toUpperCase())] = camelKeys(value[key]);
  }
  return out;
}

/** One event's payload as a ClickConversion: names, date format, resource name, consent. */
function toConversion(payload) {
  const c = camelKeys(payload);
  if (c.conversionAction !== undefined) c.conversionAction = conversionActionName(c.conversionAction);
  if (c.conversionDateTime !== undefined) c.conversionDateTime = googleDateTime(c.conversionDateTime);
  if (c.conversionValue !== undefined) c.conversionValue = Number(c.conversionValue);
  if (!c.consent && SETTINGS.default_consent) {
    c.consent = {};
    if (SETTINGS.default_consent.ad_user_data) c.consent.adUserData = SETTINGS.default_consent.ad_user_data;
    if (SETTINGS.default_consent.ad_personalization)
      c.consent.adPersonalization = SETTINGS.default_consent.ad_personalization;
  }
  c.userIdentifiers = Array.isArray(c.userIdentifiers)
    ? c.userIdentifiers.map((id) => Object.assign({}, id))
    : [];
  return c;
}

/** Hashes what a transform left unhashed, drops empty identifiers, keeps Google's maximum of 5. */
function finishIdentifiers(conversions) {
  hashInPlace(identifierFields(conversions.flatMap((c) => c.userIdentifiers)));
  for (const c of conversions) {
    const kept = c.userIdentifiers.filter((id) => Object.keys(id).length > 0).slice(0, 5);
    if (kept.length > 0) c.userIdentifiers = kept;
    else delete c.userIdentifiers;
  }
}

// ---- answers -----------------------------------------------------------------------------------
/** { conversionUploadError: 'CLICK_NOT_FOUND' } -> 'CLICK_NOT_FOUND'. */
function errorName(errorCode) {
  if (!errorCode || typeof errorCode !== 'object') return 'UNKNOWN';
  for (const key of Object.keys(errorCode)) {
    if (typeof errorCode[key] === 'string') return errorCode[key];
  }
  return 'UNKNOWN';
}

/** ' (at conversions[0].gclid)' from a GoogleAdsError's location, so the record names the field. */
function fieldPath(location) {
  const elements = (location && location.fieldPathElements) || [];
  if (elements.length === 0) return '';
  const path = elements
    .map((el) => el.fieldName + (typeof el.index === 'number' ? '[' + el.index + ']' : ''))
    .join('.');
  return ' (at ' + path + ')';
}

/** A request-level error ({ error: { code, message, status, details } }) for every row. */
function requestError(status, body) {
  const error = (body && body.error) || {};
  const names = [];
  const messages = [];
  for (const detail of error.details || []) {
    for (const e of detail.errors || []) {
      names.push(errorName(e.errorCode));
      if (e.message) messages.push(e.message + fieldPath(e.location));
    }
  }
  const retry =
    status === 429 ||
    status >= 500 ||
    RETRY_STATUSES.includes(error.status) ||
    names.some((n) => TRANSIENT.includes(n));
  return {
    outcome: retry ? 'retry' : 'failed',
    code: 'GOOGLE_ADS_' + (names[0] || error.status || 'HTTP_' + status),
    message: [error.message || 'HTTP ' + status].concat(messages).join(' | '),
  };
}

/**
 * HTTP 200 with partialFailureError is NOT a full success: each error names its row in
 * location.fieldPathElements ({ fieldName: 'conversions', index }). Rows without an error went in.
 */
function rowOutcomes(body, size) {
  const failure = body.partialFailureError;
  const perRow = {};
  let placed = 0;
  for (const detail of failure.details || []) {
    for (const e of detail.errors || []) {
      const path = (e.location && e.location.fieldPathElements) || [];
      const at = path.find((p) => p.fieldName === 'conversions' && p.index !== undefined);
      const index = at ? Number(at.index) : -1;
      if (!(index >= 0 && index < size)) continue;
      const name = errorName(e.errorCode);
      if (!perRow[index]) perRow[index] = [];
      perRow[index].push({ name: name, message: e.message || name });
      placed++;
    }
  }
  const results = Array.isArray(body.results) ? body.results : [];
  const outcomes = [];
  for (let i = 0; i < size; i++) {
    const errors = perRow[i];
    if (errors) {
      outcomes.push({
        outcome: errors.every((e) => TRANSIENT.includes(e.name)) ? 'retry' : 'failed',
        code: 'GOOGLE_ADS_' + errors[0].name,
        message: errors.map((e) => e.message).join(' | '),
      });
    } else if (
      placed === 0 &&
      (results.length !== size || !results[i] || Object.keys(results[i]).length === 0)
    ) {
      // No error names its row: a row Google left empty (or, without results, every row) failed.
      outcomes.push({
        outcome: 'failed',
        code: 'GOOGLE_ADS_PARTIAL_FAILURE',
        message: failure.message || 'partial failure',
      });
    } else {
      outcomes.push({ outcome: 'delivered' });
    }
  }
  return outcomes;
}

async function post(conversions, token, secrets) {
  const headers = {
    authorization: 'Bearer ' + token,
    'developer-token': secrets.GOOGLE_ADS_DEVELOPER_TOKEN,
    'content-type': 'application/json',
  };
  if (SETTINGS.login_customer_id) headers['login-customer-id'] = SETTINGS.login_customer_id;
  const body = { conversions: conversions, partialFailure: true };
  if (SETTINGS.validate_only) body.validateOnly = true;
  return fetch(
    SETTINGS.base_url +
      '/' +
      SETTINGS.api_version +
      '/customers/' +
      SETTINGS.customer_id +
      ':uploadClickConversions',
    { method: 'POST', headers: headers, body: JSON.stringify(body) },
  );
}

/** Uploads one request's worth of conversions; one outcome per conversion. */
async function upload(conversions, secrets) {
  const credentials = oauthCredentials(secrets);
  let auth = await accessToken(credentials, null);
  if (auth.error) return conversions.map(() => auth.error);
  let res = await post(conversions, auth.token, secrets);
  if (res.status === 401) {
    // Revoked or expired early: refresh once and try again.
    auth = await accessToken(credentials, auth.token);
    if (auth.error) return conversions.map(() => auth.error);
    res = await post(conversions, auth.token, secrets);
    if (res.status === 401) forgetAccessToken();
  }
  const body = await readJson(res);
  if (!res.ok) {
    const verdict = requestError(res.status, body);
    return conversions.map(() => verdict);
  }
  if (!body || !body.partialFailureError) return conversions.map(() => ({ outcome: 'delivered' }));
  return rowOutcomes(body, conversions.length);
}

async function send({ events, secrets }) {
  for (const key of REQUIRED_SECRETS) {
    if (!secrets[key]) throw new Error('bind a secret named ' + key + ' to this destination');
  }
  const conversions = events.map((e) => toConversion(e.event_payload));
  finishIdentifiers(conversions);
  const outcomes = [];
  for (const batch of chunks(conversions, SETTINGS.max_conversions_per_request)) {
    for (const outcome of await upload(batch, secrets)) outcomes.push(outcome);
  }
  return finish(outcomes, SETTINGS.validate_only);
}
