/**
 * OAuth 1.0a request signing (RFC 5849 §3.4, HMAC-SHA1), as X's "Creating a signature" page
 * describes it. Only query parameters and the oauth_* parameters are signed: a JSON body is not
 * (§3.4.1.3.1 signs form-encoded bodies only).
 */
/** The sandbox's host-backed node:crypto (HMAC-SHA1 is not among the openpipes.* helpers). */
function nodeCrypto() {
  // Through globalThis: a bare require() would make the type checker read this file as a CommonJS module.
  return globalThis.require('node:crypto');
}

/**
 * RFC 5849 §3.6: every byte of the UTF-8 text percent-encoded with uppercase hex, except the
 * unreserved characters A-Z a-z 0-9 - . _ ~ (encodeURIComponent also spares ! * ' ( )).
 */
function oauthEncode(value) {
  return encodeURIComponent(String(value)).replace(
    /[!*'()]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** §3.4.1.2: scheme and host lowercase, the default port dropped, no query or fragment. */
function baseStringUri(url) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]+)([^?#]*)/.exec(url);
  if (!m) throw new Error('cannot sign a request to ' + url);
  const scheme = m[1].toLowerCase();
  let host = m[2].toLowerCase();
  if ((scheme === 'http' && host.endsWith(':80')) || (scheme === 'https' && host.endsWith(':443'))) {
    host = host.slice(0, host.lastIndexOf(':'));
  }
  return scheme + '://' + host + (m[3] || '/');
}

/** The query parameters of a URL as decoded [name, value] pairs (names may repeat). */
function queryPairs(url) {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const query = url.slice(q + 1).split('#')[0];
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const decode = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
      return eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))];
    });
}

/**
 * The signature base string (§3.4.1): METHOD & enc(base URI) & enc(normalised parameters), the
 * parameters encoded first, then sorted by name and value (§3.4.1.3.2).
 */
function signatureBaseString(method, url, oauthParams, extraParams) {
  const pairs = queryPairs(url).concat(extraParams || []);
  for (const name of Object.keys(oauthParams)) pairs.push([name, oauthParams[name]]);
  const encoded = pairs.map(([k, v]) => [oauthEncode(k), oauthEncode(v)]);
  encoded.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  const normalised = encoded.map(([k, v]) => k + '=' + v).join('&');
  return method.toUpperCase() + '&' + oauthEncode(baseStringUri(url)) + '&' + oauthEncode(normalised);
}

/** base64 HMAC-SHA1 of the base string, keyed with enc(consumer secret) & enc(token secret). */
function hmacSha1Signature(baseString, consumerSecret, tokenSecret) {
  const key = oauthEncode(consumerSecret) + '&' + oauthEncode(tokenSecret || '');
  return nodeCrypto().createHmac('sha1', key).update(baseString).digest('base64');
}

/**
 * The `Authorization: OAuth ...` header of one request. `fixed` pins nonce and timestamp (tests
 * against published vectors); otherwise each request gets a fresh nonce and the current time.
 * `extraParams` are form-body parameters to sign (none for a JSON body).
 */
function oauthHeader(input) {
  const fixed = input.fixed || {};
  const params = {
    oauth_consumer_key: input.consumerKey,
    oauth_nonce: fixed.nonce || nodeCrypto().randomUUID().replace(/-/g, ''),
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(fixed.timestamp || Math.floor(Date.now() / 1000)),
    oauth_token: input.token,
    oauth_version: '1.0',
  };
  const base = signatureBaseString(input.method, input.url, params, input.extraParams);
  params.oauth_signature = hmacSha1Signature(base, input.consumerSecret, input.tokenSecret);
  return (
    'OAuth ' +
    Object.keys(params)
      .sort()
      .map((k) => oauthEncode(k) + '="' + oauthEncode(params[k]) + '"')
      .join(', ')
  );
}
