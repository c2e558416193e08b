/**
 * Replaces secret values with `[secret:KEY]` in anything OpenPipes records or logs. Values are found
 * as written, URL-encoded and base64-encoded (Basic auth), inside any string of a JSON-like value;
 * a number equal to a secret value is replaced too. Headers, query parameters and body fields whose
 * names say they hold credentials are masked even when their value is not a known secret, because a
 * token pasted into code is still a token.
 */

export type Redactor = <T>(value: T) => T;

const sensitiveNames = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'access-token',
  'access_token',
  'x-api-key',
  'api-key',
  'api_key',
  'api_secret',
  'client_secret',
  'refresh_token',
  'developer-token',
  'developer_token',
  'password',
]);

/** True when a header, query parameter or field name is one that carries credentials. */
export function isSensitiveName(name: string): boolean {
  return sensitiveNames.has(name.toLowerCase());
}

const marker = /^\[secret:[A-Za-z0-9_]+\]$/;

/**
 * @example
 * ```ts
 * const redact = createRedactor({ META_ACCESS_TOKEN: 'EAAB...' });
 * redact({ url: 'https://x/?access_token=EAAB...' }); // { url: 'https://x/?access_token=[secret:META_ACCESS_TOKEN]' }
 * ```
 */
export function createRedactor(secrets: Record<string, string>): Redactor {
  // Each secret is searched as written, URL-encoded and base64-encoded. Long values (tokens) are
  // replaced wherever they appear. Short ones (pixel or account ids) only where they stand alone,
  // not inside a longer run of letters and digits: "123456789" must not mangle "fb.1.1234567890".
  const patterns: Array<{ pattern: RegExp; replacement: string; length: number }> = [];
  for (const [key, value] of Object.entries(secrets)) {
    if (!value) continue;
    const replacement = `[secret:${key}]`;
    const forms = new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]);
    for (const form of forms) {
      const escaped = form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const bounded = form.length < 16;
      const source = bounded ? `(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])` : escaped;
      patterns.push({ pattern: new RegExp(source, 'g'), replacement, length: form.length });
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  patterns.sort((a, b) => b.length - a.length);
  const exactNumbers = new Map<string, string>();
  for (const [key, value] of Object.entries(secrets)) exactNumbers.set(value, `[secret:${key}]`);

  const redactString = (text: string): string => {
    let out = text;
    for (const { pattern, replacement } of patterns) {
      pattern.lastIndex = 0;
      out = out.replace(pattern, replacement);
    }
    return maskQueryParams(out);
  };

  const walk = (value: unknown, key: string | null): unknown => {
    if (typeof value === 'string') {
      if (key !== null && isSensitiveName(key) && !marker.test(value)) {
        const redacted = redactString(value);
        return redacted === value ? '[redacted]' : redacted;
      }
      return redactString(value);
    }
    if (typeof value === 'number' || typeof value === 'bigint') {
      return exactNumbers.get(String(value)) ?? value;
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, null));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[redactString(k)] = walk(v, k);
      return out;
    }
    return value;
  };

  return <T>(value: T): T => walk(value, null) as T;
}

/** Masks credential-named query parameters in anything that looks like a URL or a query string. */
function maskQueryParams(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(
    /([?&])([A-Za-z_-]+)=([^&#\s"]*)/g,
    (whole, sep: string, name: string, value: string) => {
      if (!isSensitiveName(name) || value === '' || /^(%5B|\[)secret(%3A|:)/i.test(value)) return whole;
      return `${sep}${name}=[redacted]`;
    },
  );
}
