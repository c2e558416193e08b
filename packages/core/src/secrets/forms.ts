/**
 * The forms a secret value takes in what OpenPipes records: as written, and as the platform's own
 * libraries encode it without anyone asking — JSON string escapes, `encodeURIComponent`, its
 * RFC 3986-strict form (OAuth 1.0a), both encoded twice (an OAuth signature base string), `encodeURI`, `URLSearchParams` (form encoding, `+` for space), the WHATWG URL parser's path,
 * query, fragment and userinfo encodings (of the value, and of the value as JSON escapes it: JSON text
 * that was then URL-encoded), hex, and base64 / base64url at every alignment (so the
 * value is found inside `base64("user:" + value)` whatever the length of `user:`).
 *
 * Pure functions; {@link createRedactor} builds its patterns from them once per set of secrets.
 */

/** One way a value can appear in text. */
export interface SecretForm {
  /** The exact characters, for the patterns and for the prefix check at a cut. */
  text: string;
  /** Found inside longer text by nature (a base64 run): never required to stand alone. */
  embedded?: boolean;
  /**
   * Regex character classes for one character before / after `text` that carries some bits of the
   * value (a base64 character shared with the bytes around it); matched when present.
   */
  lead?: string;
  trail?: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64 runs shorter than this are not searched inside longer base64 text (too likely by chance). */
const MIN_BASE64_MIDDLE = 8;

/**
 * Every form of `value`, without duplicates, longest first.
 *
 * @example
 * ```ts
 * secretForms('a b').map((f) => f.text); // ['a%20b', 'a+b', 'YSBi', ..., 'a b']
 * ```
 */
export function secretForms(value: string): SecretForm[] {
  const texts = new Set<string>();
  const add = (text: string | undefined) => {
    if (text) texts.add(text);
  };
  add(value);
  if (value.length >= 16) add(value.toLowerCase()); // host names are lowercased by the URL parser
  for (const json of jsonForms(value)) add(json);
  // JSON text URL-encoded (`?data=` + encodeURIComponent(JSON.stringify(payload)), a form field
  // holding JSON): a value with `"`, `\` or a control character is JSON-escaped first.
  const inJson = JSON.stringify(value).slice(1, -1);
  const encoded = inJson === value ? [value] : [value, inJson];
  for (const text of encoded.flatMap(percentForms)) {
    add(text);
    // Some encoders write %2f rather than %2F.
    add(text?.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  // A URL or form body written into a JSON text (a log line of JSON.stringify({ url })).
  for (const text of [...texts]) add(JSON.stringify(text).slice(1, -1));
  const bytes = Buffer.from(value, 'utf8');
  for (const text of encoded) {
    const hex = Buffer.from(text, 'utf8').toString('hex');
    add(hex);
    add(hex.toUpperCase());
  }
  // Standing alone with its padding (a Basic credential of the value itself).
  add(bytes.toString('base64'));

  const embedded = new Map<string, SecretForm>();
  for (const alphabet of [BASE64, BASE64URL]) {
    for (const form of base64Forms(bytes, alphabet)) {
      if (form.text.length < MIN_BASE64_MIDDLE) continue;
      embedded.set(`${form.lead}\u0000${form.text}\u0000${form.trail}`, form);
      texts.delete(form.text); // the same characters as a form that must stand alone: this one covers it
    }
  }
  const forms: SecretForm[] = [...[...texts].map((text) => ({ text })), ...embedded.values()];
  return forms.sort((a, b) => b.text.length - a.text.length);
}

/** What the URL encoders the platform has make of `value`. */
function percentForms(value: string): Array<string | undefined> {
  const component = safe(() => encodeURIComponent(value));
  const strict = component && rfc3986(component);
  return [
    component,
    // RFC 3986 as OAuth 1.0a (RFC 5849 §3.6) and AWS signing write it: `!'()*` encoded too.
    strict,
    // Encoded twice: an OAuth signature base string holds each already-encoded parameter encoded again.
    component && safe(() => encodeURIComponent(component)),
    strict && rfc3986(encodeURIComponent(strict)),
    safe(() => encodeURI(value)),
    new URLSearchParams([['', value]]).toString().slice(1),
    ...urlParserForms(value),
  ];
}

/** encodeURIComponent's output made RFC 3986-strict: only A-Z a-z 0-9 - . _ ~ stay as they are. */
function rfc3986(encoded: string): string {
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safe(fn: () => string): string | undefined {
  try {
    return fn();
  } catch {
    return undefined; // a lone surrogate cannot be URI-encoded
  }
}

/** The value inside a JSON string, as JSON.stringify, PHP (`\/`), Python (`\u00e9`) and Go (`\u003c`) write it. */
function jsonForms(value: string): string[] {
  const plain = JSON.stringify(value).slice(1, -1);
  const ascii = plain.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const html = plain.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  const twice = JSON.stringify(plain).slice(1, -1); // JSON text inside a JSON string
  const thrice = JSON.stringify(twice).slice(1, -1);
  const asciiUpper = ascii.replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`);
  return [plain, plain.replace(/\//g, '\\/'), ascii, asciiUpper, html, twice, thrice];
}

/** What the WHATWG URL parser makes of the value in a path, query, fragment or userinfo. */
function urlParserForms(value: string): Array<string | undefined> {
  return [
    safe(() => {
      const url = new URL('http://h/');
      url.pathname = `/${value}`;
      return url.pathname.slice(1);
    }),
    // Written into a URL as text: the path encoding up to a `?`, the query's after it, and so on.
    safe(() => new URL(`http://h/p/${value}`).href.slice('http://h/p/'.length)),
    safe(() => new URL(`http://h/?${value}`).href.slice('http://h/?'.length)),
    safe(() => {
      const url = new URL('http://h/');
      url.search = `?${value}`;
      return url.search.slice(1);
    }),
    safe(() => {
      const url = new URL('http://h/');
      url.hash = `#${value}`;
      return url.hash.slice(1);
    }),
    safe(() => {
      const url = new URL('http://h/');
      url.password = value;
      return url.password;
    }),
  ];
}

/**
 * The value's bytes in base64 at each of the three alignments a longer text can put them at. Only
 * the characters made of the value's bits alone are fixed; the one before and the one after also
 * carry bits of the neighbouring bytes, so they become character classes.
 */
function base64Forms(bytes: Buffer, alphabet: string): SecretForm[] {
  const out: SecretForm[] = [];
  for (let align = 0; align < 3; align++) {
    const padded = Buffer.concat([Buffer.alloc(align), bytes]);
    const encoded = padded.toString('base64').replace(/=+$/, '');
    const start = 8 * align;
    const end = 8 * padded.length;
    let text = '';
    let lead: string | undefined;
    let trail: string | undefined;
    for (let i = 0; i < encoded.length; i++) {
      const lo = 6 * i;
      const hi = lo + 6;
      const v = BASE64.indexOf(encoded[i]!);
      if (lo >= start && hi <= end) text += alphabet[v];
      else if (lo < start && hi > start) {
        const known = hi - start; // low bits of this character come from the value
        lead = charClass(alphabet, (c) => (c & ((1 << known) - 1)) === (v & ((1 << known) - 1)));
      } else if (lo < end && hi > end) {
        const known = end - lo; // high bits of this character come from the value
        trail = charClass(alphabet, (c) => c >> (6 - known) === v >> (6 - known));
      }
    }
    if (text === '') continue;
    const form: SecretForm = { text, embedded: true };
    if (lead) form.lead = lead;
    if (trail) form.trail = trail;
    out.push(form);
  }
  return out;
}

function charClass(alphabet: string, keep: (value: number) => boolean): string {
  let chars = '';
  for (let c = 0; c < 64; c++) if (keep(c)) chars += alphabet[c];
  return `[${chars.replace(/[-\\\]^/]/g, '\\$&')}]`;
}
