// Google's OAuth 2.0 refresh-token flow, shared by the Google templates' send() (Google Ads, Data
// Manager): POST SETTINGS.token_url with grant_type=refresh_token, the client id and secret and the
// refresh token; the access token answered is cached until shortly before it expires.
//
// Cached at module level: it survives from one send() to the next while this destination version's
// sandbox context stays warm. Contexts may be recycled at any time; the cache is then empty and the
// next call simply fetches a new token. Uses readJson and httpFailure (send-plumbing).

/** @type {{ key: string, value: string, expiresAt: number } | null} */
let cachedToken = null;
/** @type {Promise<{ token?: string, error?: { outcome: string, code: string, message: string } }> | null} */
let pendingToken = null; // a refresh in flight, shared by concurrent send() calls

/**
 * Identifies the credentials, so rotating a secret drops the token made with the old one.
 * @param {{ clientId: string, refreshToken: string }} credentials
 */
function credentialsKey(credentials) {
  return openpipes.sha256Hex(credentials.clientId + '\n' + credentials.refreshToken);
}

/**
 * Exchanges the refresh token for an access token: { token } or { error: outcome }.
 * @param {{ clientId: string, clientSecret: string, refreshToken: string }} credentials
 * @param {string} key
 */
async function refreshAccessToken(credentials, key) {
  const res = await fetch(SETTINGS.token_url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      refresh_token: credentials.refreshToken,
    }).toString(),
  });
  const body = await readJson(res);
  if (res.ok && body && typeof body.access_token === 'string') {
    const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
    // Use it until shortly before it expires: 5 minutes early, or a tenth of a short lifetime.
    const margin = Math.min(300, lifetime / 10);
    cachedToken = { key: key, value: body.access_token, expiresAt: Date.now() + (lifetime - margin) * 1000 };
    return { token: body.access_token };
  }
  const reason = (body && (body.error_description || body.error)) || 'HTTP ' + res.status;
  return {
    error: httpFailure(
      res.status,
      'GOOGLE_OAUTH_' + String((body && body.error) || 'HTTP_' + res.status).toUpperCase(),
      'access token refresh failed: ' + reason,
    ),
  };
}

/**
 * The cached access token, or a new one. rejected: a token the API just answered 401 to.
 * @param {{ clientId: string, clientSecret: string, refreshToken: string }} credentials
 * @param {string | null | undefined} rejected
 */
async function accessToken(credentials, rejected) {
  const key = credentialsKey(credentials);
  const c = cachedToken;
  if (c && c.key === key && c.value !== rejected && Date.now() < c.expiresAt) return { token: c.value };
  if (!pendingToken) {
    pendingToken = refreshAccessToken(credentials, key).finally(() => {
      pendingToken = null;
    });
  }
  return pendingToken;
}

/** Drops the cached token (the API refused even a fresh one). */
function forgetAccessToken() {
  cachedToken = null;
}
