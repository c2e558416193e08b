/**
 * One request per run of at most SETTINGS.max_batch_size events: `{"events": [...]}`, signed per
 * Standard Webhooks v1 (https://www.standardwebhooks.com, spec/standard-webhooks.md):
 *   webhook-id         msg_ + the first 32 hex digits of SHA-256 over the message's event ids,
 *                      sorted and joined with "\n": the same events give the same id on every retry
 *   webhook-timestamp  Unix seconds of this attempt
 *   webhook-signature  v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the bytes
 *                      that WEBHOOK_SECRET's whsec_<base64> encodes
 */
/** The HMAC key: the bytes a `whsec_<base64>` secret encodes (the prefix is optional, as in the spec's libraries). */
function signingKey(secret) {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error('WEBHOOK_SECRET must look like whsec_<base64> (Standard Webhooks)');
  }
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** SETTINGS.headers with every {{secret:NAME}} replaced by that bound secret's value. */
function customHeaders(secrets) {
  const out = {};
  for (const name of Object.keys(SETTINGS.headers)) {
    out[name] = SETTINGS.headers[name].replace(/\{\{secret:([A-Za-z_][A-Za-z0-9_]*)\}\}/g, (_, key) => {
      const value = secrets[key];
      if (value === undefined) throw new Error('bind a secret named ' + key + ' to this destination');
      return value;
    });
  }
  return out;
}

/** base64 of HMAC-SHA256(key bytes, content), computed on the host. */
function signature(key, content) {
  const hex = openpipes.hmacSha256Hex(key, content);
  let bytes = '';
  for (let i = 0; i < hex.length; i += 2) bytes += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(bytes);
}

/**
 * The message id: stable for the same events, whatever their order in the batch. An event without
 * an `id` (an edited transform) counts by its content's digest, so other events never share it.
 */
function messageId(payloads) {
  const ids = payloads
    .map((p) =>
      p && p.id !== undefined && p.id !== null
        ? String(p.id)
        : 'sha256:' + openpipes.sha256Hex(JSON.stringify(p)),
    )
    .sort();
  return 'msg_' + openpipes.sha256Hex(ids.join('\n')).slice(0, 32);
}

/** Retry-After in seconds (a number or an HTTP date), or undefined. */
function retryAfterSeconds(value) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** As every destination: 2xx delivered; 408, 429 and 5xx retried; any other status failed. */
function classify(status, text) {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  const detail = text ? ': ' + text.slice(0, 500) : '';
  return httpFailure(status, 'HTTP_' + status, 'HTTP ' + status + detail);
}

async function send({ events, secrets }) {
  const secret = secrets.WEBHOOK_SECRET;
  if (!secret) throw new Error('bind a secret named WEBHOOK_SECRET to this destination');
  const key = signingKey(secret);
  const headers = customHeaders(secrets);
  const outcomes = [];
  let retryAfter;
  for (const batch of chunks(events, SETTINGS.max_batch_size)) {
    const payloads = batch.map((e) => e.event_payload);
    const body = JSON.stringify({ events: payloads });
    const id = messageId(payloads);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const res = await fetch(SETTINGS.url, {
      method: SETTINGS.method,
      headers: Object.assign({}, headers, {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': 'v1,' + signature(key, id + '.' + timestamp + '.' + body),
      }),
      body: body,
    });
    const verdict = classify(res.status, await res.text());
    const hint = retryAfterSeconds(res.headers.get('retry-after'));
    if (verdict.outcome === 'retry' && hint !== undefined) retryAfter = Math.max(retryAfter || 0, hint);
    for (let i = 0; i < batch.length; i++) outcomes.push(verdict);
  }
  const result = finish(outcomes, false);
  if (retryAfter !== undefined) result.retry_after_seconds = retryAfter;
  return result;
}
