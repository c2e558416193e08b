/**
 * Finding a secret in text, whatever shape it has taken: for tests that prove no piece of a secret
 * is stored or shown. Independent of the redactor: encodings come from the platform's own APIs, and
 * a text is read back every way it could hide a value (percent- and form-decoded, JSON-unescaped,
 * every base64, base64url and hex run decoded at every alignment).
 */

/**
 * The encodings of `value` the platform produces without anyone asking, by name. Base64 of the
 * value after 0, 1 and 2 other bytes (`user:` and friends) is included, whole.
 *
 * @example
 * ```ts
 * for (const [name, text] of Object.entries(platformEncodings(token))) console.log(name, text);
 * ```
 */
export function platformEncodings(value: string): Record<string, string> {
  const bytes = Buffer.from(value, 'utf8');
  const url = new URL('https://api.example/');
  url.pathname = `/v1/${value}/events`;
  const query = new URL('https://api.example/v1/events');
  query.searchParams.set('access_token', value);
  const out: Record<string, string> = {
    raw: value,
    json: JSON.stringify(value).slice(1, -1),
    json_in_json: JSON.stringify(JSON.stringify(value)).slice(1, -1),
    encode_uri_component: encodeURIComponent(value),
    // RFC 3986 (OAuth 1.0a, RFC 5849 §3.6): `!'()*` encoded too, and encoded again in a base string.
    rfc3986: strictEncode(value),
    rfc3986_twice: strictEncode(strictEncode(value)),
    encode_uri_component_twice: encodeURIComponent(encodeURIComponent(value)),
    encode_uri: encodeURI(value),
    url_search_params: new URLSearchParams({ access_token: value }).toString(),
    url_parsed_path: new URL(`https://api.example/v1/${value}/events`).href,
    url_path_setter: url.href,
    url_search_params_setter: query.href,
    url_parsed_query: new URL(`https://api.example/v1/events?token=${value}`).href,
    hex: bytes.toString('hex'),
    hex_upper: bytes.toString('hex').toUpperCase(),
  };
  for (const prefix of ['', 'u', 'us', 'user:']) {
    const framed = Buffer.concat([Buffer.from(prefix), bytes]);
    out[`base64_after_${prefix.length}`] = framed.toString('base64');
    out[`base64url_after_${prefix.length}`] = framed.toString('base64url');
    out[`basic_after_${prefix.length}`] = `Basic ${framed.toString('base64')}`;
  }
  return out;
}

/** Percent-encoding as RFC 3986 defines it: everything but A-Z a-z 0-9 - . _ ~, uppercase hex. */
function strictEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Bytes as a latin1 string, so byte sequences compare with regular expressions. */
const bytesOf = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** %XX (and `+` as a space) decoded, on a latin1 byte string. */
function percentDecode(bytes: string, plusIsSpace: boolean): string {
  const source = plusIsSpace ? bytes.replace(/\+/g, ' ') : bytes;
  return source.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

function jsonUnescape(text: string): string {
  const escapes: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  return text.replace(/\\u([0-9a-fA-F]{4})|\\(.)/g, (_, hex: string | undefined, c: string) =>
    hex ? String.fromCharCode(Number.parseInt(hex, 16)) : (escapes[c] ?? c),
  );
}

const base64Run = /[A-Za-z0-9+/\-_]{11,}/g; // 8 bytes need 11 characters
const hexRun = /[0-9a-fA-F]{16,}/g; // 8 bytes need 16

/**
 * Calls `visit` with every reading of `text`, as latin1 strings of bytes: as is, percent-decoded
 * (with and without `+` as space, and twice), JSON-unescaped (once and twice), and each base64, base64url and
 * hex run long enough to hold 8 bytes, decoded at every alignment.
 */
export function eachReading(text: string, visit: (reading: string) => void): void {
  const plain = [text];
  if (text.includes('\\')) {
    plain.push(jsonUnescape(text));
    plain.push(jsonUnescape(plain[1]!));
  }
  for (const t of plain) {
    const bytes = bytesOf(t);
    visit(bytes);
    if (bytes.includes('%')) {
      const once = percentDecode(bytes, false);
      visit(once);
      // Encoded twice (an OAuth signature base string): %2520 -> %20 -> ' '.
      if (once.includes('%')) visit(percentDecode(once, false));
    }
    if (bytes.includes('%') || bytes.includes('+')) visit(percentDecode(bytes, true));
    for (const match of t.matchAll(base64Run)) {
      const run = match[0].replace(/-/g, '+').replace(/_/g, '/');
      for (let offset = 0; offset < 4; offset++) {
        const chunk = run.slice(offset);
        visit(Buffer.from(chunk.slice(0, chunk.length - (chunk.length % 4)), 'base64').toString('latin1'));
      }
    }
    for (const match of t.matchAll(hexRun)) {
      for (let offset = 0; offset < 2; offset++) {
        const chunk = match[0].slice(offset);
        visit(Buffer.from(chunk.slice(0, chunk.length - (chunk.length % 2)), 'hex').toString('latin1'));
      }
    }
  }
}

/** Every reading of `text` (see {@link eachReading}). */
export function readings(text: string): string[] {
  const out: string[] = [];
  eachReading(text, (r) => out.push(r));
  return out;
}

/**
 * Which of `pieces` some reading of `text` contains (matches do not overlap, so when pieces
 * overlap one another not every one found is listed: the answer is empty exactly when none is).
 */
export function foundPieces(text: string, pieces: string[]): string[] {
  if (pieces.length === 0) return [];
  const bytes = [...new Set(pieces)].map(bytesOf).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(bytes.map((b) => b.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'g');
  const found = new Set<string>();
  eachReading(text, (reading) => {
    for (const match of reading.matchAll(pattern))
      found.add(Buffer.from(match[0], 'latin1').toString('utf8'));
  });
  return [...found];
}

/** Every piece of `value` `window` characters long (the whole value when it is shorter). */
export function piecesOf(value: string, window = 8): string[] {
  const chars = [...value];
  const size = Math.min(window, chars.length);
  const out: string[] = [];
  for (let i = 0; i + size <= chars.length; i++) out.push(chars.slice(i, i + size).join(''));
  return out;
}

/**
 * The pieces of `value` (`window` characters long) that some reading of `text` contains. Empty
 * when the value is nowhere to be found.
 *
 * @example
 * ```ts
 * expect(leakedPieces(JSON.stringify(record), token)).toEqual([]);
 * ```
 */
export function leakedPieces(text: string, value: string, window = 8): string[] {
  return foundPieces(text, piecesOf(value, window));
}
