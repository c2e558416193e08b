/**
 * Replaces secret values with `[secret:KEY]` in anything OpenPipes records or logs. A value is
 * found in every form the platform's libraries give it (see {@link secretForms}), inside any string
 * of a JSON-like value; a number equal to a secret value is replaced too. Headers, query parameters
 * and body fields whose names say they hold credentials, and header values that start with `Basic `
 * or `Bearer `, are replaced whole even when their value is not a known secret, because a token
 * pasted into code is still a token.
 *
 * Text is cut only through {@link Redactor.cut}: the whole text is redacted first, and a piece of a
 * secret left at the end of the kept part (a prefix of any of its forms, {@link CUT_FLOOR}
 * characters or more) is replaced too. Every cut ends the kept text with {@link CUT_MARK}, and the
 * redactor treats any `…` in a text as a cut, so text cut elsewhere (an error message that quotes
 * the first 500 characters of a response) is covered as well.
 */
import { type SecretForm, secretForms } from './forms.js';

/** Replaces secret values in a JSON-like value; also redacts and cuts text. */
export interface Redactor {
  <T>(value: T): T;
  /** Redacts one text. */
  text(text: string): string;
  /**
   * Redacts `value` as the value of a field named `key`: a credential-named key masks a string whole,
   * and the values of an object under `headers` are read as header values (`Bearer …` masked). The
   * call form is `under(null, value)`.
   */
  under<T>(key: string | null, value: T): T;
  /**
   * Redacts `text`, then keeps at most `max` characters of it (a `[secret:KEY]` marker is never
   * split) followed by `… [truncated N chars]`; a prefix of a secret's form at the cut is replaced.
   */
  cut(text: string, max: number): string;
  /** Redacts text that was already cut (at its end) before it reached us, such as a capped body. */
  cutEnd(text: string): string;
  /**
   * Redacts `value` as {@link Redactor.under} does, but keeps every array and plain object that
   * needs no change as it is (the same object, not a copy): the same JSON, without copying what
   * holds no secret. For values nobody changes afterwards, such as what a record stores.
   */
  kept<T>(key: string | null, value: T): T;
  /**
   * The same redactor, remembering each text it redacted (up to {@link MEMO_ENTRIES} texts of at
   * most {@link MEMO_CHARS} characters) for as long as the caller keeps it: for one batch, whose
   * outputs and request carry the same texts. What it returns is what this redactor returns.
   */
  remembering(): Redactor;
}

/** Texts a {@link Redactor.remembering} redactor keeps at most (a batch's worth), and their length. */
const MEMO_ENTRIES = 16_384;
const MEMO_CHARS = 512;

/**
 * A prefix of a secret's form this long or longer, left at a cut, is replaced. Shorter ones are
 * kept: three characters of a value are not a credential, and replacing them would mangle ordinary
 * text that happens to end like the start of a pixel id.
 */
export const CUT_FLOOR = 4;
/** What every cut leaves after the kept text. */
export const CUT_MARK = '…';
/** At most this many `…` in one text are examined as cuts (each costs a short scan). */
const MAX_MARKS_PER_TEXT = 64;
/** Values shorter than this are replaced only where they stand alone (see the docs). */
const SHORT_VALUE = 16;
/**
 * Values shorter than this are replaced only where a whole string is exactly the value: not inside
 * text, not as a number, not in any encoding. A placeholder (`x`, `1`, `USD`) that was rotated stays
 * a retired value that every destination's redactor uses; searched for, it would blank every
 * quantity 1 and every `USD` of every record. Five characters are not a credential to find in text.
 */
export const MIN_SEARCHED_VALUE = 6;

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

/** Authorization schemes kept in front of a replaced credential, so a record still says which was used. */
const knownSchemes = new Set(['basic', 'bearer', 'digest', 'oauth', 'token', 'bot', 'apikey', 'dpop']);

/** True when a header, query parameter or field name is one that carries credentials. */
export function isSensitiveName(name: string): boolean {
  return sensitiveNames.has(name.toLowerCase());
}

/** A JSON number without leading zeros (`000123` is no number JSON writes). */
const jsonNumber = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const marker = /^\[secret:[A-Za-z0-9_]+\]$/;
const anyMarker = /\[secret:[A-Za-z0-9_]+\]/;
const credentialValue = /^(basic|bearer)\s/i;

interface Needle {
  form: SecretForm;
  key: string;
  /** Only where it stands alone (not inside a longer run of letters and digits). */
  bounded: boolean;
}

/** The secrets to look for: `{ KEY: value }`, or `[key, value]` pairs (one key may have several values). */
export type RedactorSecrets = Record<string, string> | ReadonlyArray<readonly [key: string, value: string]>;

/**
 * @example
 * ```ts
 * const redact = createRedactor({ META_ACCESS_TOKEN: 'EAAB...' });
 * redact({ url: 'https://x/?access_token=EAAB...' }); // { url: 'https://x/?access_token=[secret:META_ACCESS_TOKEN]' }
 * redact.cut(longText, 4096); // redacted, at most 4096 characters, then "… [truncated N chars]"
 * ```
 */
export function createRedactor(secrets: RedactorSecrets): Redactor {
  const pairs = Array.isArray(secrets)
    ? (secrets as ReadonlyArray<readonly [string, string]>)
    : Object.entries(secrets as Record<string, string>);
  const needles: Needle[] = [];
  const exactNumbers = new Map<string, string>();
  const exactStrings = new Map<string, string>();
  for (const [key, value] of pairs) {
    if (!value) continue;
    if (value.length < MIN_SEARCHED_VALUE) {
      if (!exactStrings.has(value)) exactStrings.set(value, `[secret:${key}]`);
      continue;
    }
    exactNumbers.set(value, `[secret:${key}]`);
    // A value written as a JSON number reads back as the nearest double: past 15 or so digits not
    // the digits written (9876543210987653 parses as 9876543210987652), still most of the secret.
    const parsed = jsonNumber.test(value) ? String(Number(value)) : value;
    if (parsed !== value && parsed.length >= MIN_SEARCHED_VALUE && !exactNumbers.has(parsed)) {
      exactNumbers.set(parsed, `[secret:${key}]`);
    }
    const short = value.length < SHORT_VALUE;
    for (const form of secretForms(value)) {
      // A base64 run sits inside longer base64 text by nature; it is long enough not to occur by chance.
      needles.push({ form, key, bounded: short && form.embedded !== true });
    }
  }
  // Longest first: at one position the first alternative that matches wins, so a secret that
  // contains another is replaced whole.
  needles.sort((a, b) => b.form.text.length - a.form.text.length);
  const pattern = needles.length > 0 ? new RegExp(needles.map(alternative).join('|'), 'g') : null;
  const replacer = (...args: unknown[]): string => {
    for (let i = 1; i <= needles.length; i++) {
      if (args[i] !== undefined) return `[secret:${needles[i - 1]!.key}]`;
    }
    return '[secret]';
  };
  const tails = tailIndex(needles);
  // Most strings of a record (currencies, event names, numbers as text) are shorter than any form.
  const shortest = needles.reduce((min, n) => Math.min(min, n.form.text.length), Number.POSITIVE_INFINITY);

  // Most texts hold no secret: the search without replacing finds that for less than a replace.
  const probe = pattern ? new RegExp(pattern.source) : null;
  const searched = (text: string): string => {
    let out = probe && text.length >= shortest && probe.test(text) ? text.replace(pattern!, replacer) : text;
    if (tails.size > 0 && out.includes(CUT_MARK)) out = redactAtMarks(out, tails);
    return maskQueryParams(out);
  };
  return redactorOf({ exactStrings, exactNumbers, searched, shortest, tails }, null);
}

/** What a redactor looks for, compiled once; shared by the redactors {@link Redactor.remembering} makes. */
interface Compiled {
  exactStrings: Map<string, string>;
  exactNumbers: Map<string, string>;
  /** A text's redaction past the exact strings: the forms' search, cuts, credential query parameters. */
  searched: (text: string) => string;
  shortest: number;
  tails: TailIndex;
}

/** A field's name as {@link redactorOf} reads it. */
interface Name {
  /** The name as a record writes it (redacted). */
  text: string;
  /** It carries credentials ({@link isSensitiveName}): a string under it is masked whole. */
  sensitive: boolean;
  /** It is `headers` (any case): its object's values are read as header values. */
  headers: boolean;
}

/**
 * What a field's name decides: its redacted text, whether it names a credential, whether its
 * object's values are headers. A remembering redactor decides it once per name (a batch's
 * records repeat the same few names thousands of times) and keeps it as it keeps texts; one
 * without a memo, which may live long, keeps nothing.
 */
function nameReader(redactText: (text: string) => string, remember: boolean): (key: string) => Name {
  const names = remember ? new Map<string, Name>() : null;
  return (key) => {
    let name = names?.get(key);
    if (name === undefined) {
      const lower = key.toLowerCase();
      name = { text: redactText(key), sensitive: sensitiveNames.has(lower), headers: lower === 'headers' };
      if (names !== null && names.size < MEMO_ENTRIES && key.length <= MEMO_CHARS) names.set(key, name);
    }
    return name;
  };
}

function redactorOf(compiled: Compiled, memo: Map<string, string> | null): Redactor {
  const { exactStrings, exactNumbers, searched, shortest, tails } = compiled;
  const redactText = (text: string): string => {
    if (text === '') return text;
    const exact = exactStrings.size > 0 ? exactStrings.get(text) : undefined;
    if (exact !== undefined) return exact;
    if (memo === null || text.length < shortest || text.length > MEMO_CHARS) return searched(text);
    let out = memo.get(text);
    if (out === undefined) {
      out = searched(text);
      if (memo.size < MEMO_ENTRIES) memo.set(text, out);
    }
    return out;
  };

  const maskWhole = (value: string): string => {
    if (marker.test(value)) return value;
    const scheme = /^([A-Za-z][A-Za-z0-9._-]*)\s+\S/.exec(value)?.[1];
    const found = anyMarker.exec(redactText(value))?.[0] ?? '[redacted]';
    return scheme && knownSchemes.has(scheme.toLowerCase()) ? `${scheme} ${found}` : found;
  };

  const nameOf = nameReader(redactText, memo !== null);

  const walk = (value: unknown, key: Name | null, inHeaders: boolean): unknown => {
    if (typeof value === 'string') {
      if (key !== null && (key.sensitive || (inHeaders && credentialValue.test(value)))) {
        return maskWhole(value);
      }
      return redactText(value);
    }
    if (typeof value === 'number' || typeof value === 'bigint') {
      return exactNumbers.get(String(value)) ?? value;
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, null, false));
    if (value !== null && typeof value === 'object') {
      const headers = key?.headers === true;
      const out: Record<string, unknown> = {};
      // Own enumerable keys, as Object.entries reads them, without a [key, value] pair per key.
      for (const k of Object.keys(value)) {
        const name = nameOf(k);
        out[name.text] = walk((value as Record<string, unknown>)[k], name, headers);
      }
      return out;
    }
    return value;
  };

  /** {@link walk}, keeping arrays and plain objects that need no change (see {@link Redactor.kept}). */
  const keep = (value: unknown, key: Name | null, inHeaders: boolean): unknown => {
    if (value === null || typeof value !== 'object') return walk(value, key, inHeaders);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        const redacted = keep(item, null, false);
        if (redacted === item) continue;
        // The first change: the rest as walk() maps it (holes stay holes), the rows before as they are.
        const out = value.slice(0, i);
        out.length = value.length;
        out[i] = redacted;
        for (let j = i + 1; j < value.length; j++) if (j in value) out[j] = keep(value[j], null, false);
        return out;
      }
      return value;
    }
    // Anything but a plain object (a Date, a class's instance) is copied as walk() copies it.
    if (Object.getPrototypeOf(value) !== Object.prototype) return walk(value, key, inHeaders);
    const headers = key?.headers === true;
    const source = value as Record<string, unknown>;
    const keys = Object.keys(source);
    let out: Record<string, unknown> | null = null;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const item = source[k];
      const name = nameOf(k);
      const redacted = keep(item, name, headers);
      // `__proto__` as an own key is not copied as one by walk(): copied the same way here.
      if (out === null && (name.text !== k || redacted !== item || k === '__proto__')) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = source[keys[j]!];
      }
      if (out !== null) out[name.text] = redacted;
    }
    return out ?? value;
  };

  const redactor = (<T>(value: T): T => walk(value, null, false) as T) as Redactor;
  redactor.text = redactText;
  redactor.under = <T>(key: string | null, value: T): T =>
    walk(value, key === null ? null : nameOf(key), false) as T;
  redactor.kept = <T>(key: string | null, value: T): T =>
    keep(value, key === null ? null : nameOf(key), false) as T;
  redactor.remembering = () => redactorOf(compiled, new Map());
  redactor.cut = (text, max) => {
    const full = redactText(text);
    if (full.length <= max) return full;
    let end = Math.max(0, max);
    // Never split a marker or a surrogate pair.
    const open = full.lastIndexOf('[secret:', end);
    if (open >= 0) {
      const close = full.indexOf(']', open);
      if (close >= end && close - open <= 80) end = close + 1;
    }
    const code = full.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end--;
    if (end >= full.length) return full;
    const kept = redactTailAt(full.slice(0, end), end, tails);
    return `${kept}${CUT_MARK} [truncated ${full.length - end} chars]`;
  };
  redactor.cutEnd = (text) => {
    const full = redactText(text);
    // A body cut inside a multi-byte character ends with U+FFFD: the secret's prefix is before it.
    const end = full.endsWith('\ufffd') ? full.length - 1 : full.length;
    return redactTailAt(full.slice(0, end), end, tails) + full.slice(end);
  };
  return redactor;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** One alternative of the combined pattern, with exactly one capturing group. */
function alternative({ form, bounded }: Needle): string {
  const body = `${form.lead ? `${form.lead}?` : ''}${escapeRegex(form.text)}${form.trail ? `${form.trail}?` : ''}`;
  return bounded ? `(?<![A-Za-z0-9])(${body})(?![A-Za-z0-9])` : `(${body})`;
}

/** Needles by their first {@link CUT_FLOOR} characters, for the prefix check at a cut. */
type TailIndex = Map<string, Needle[]> & { maxLength?: number };

function tailIndex(needles: Needle[]): TailIndex {
  const index: TailIndex = new Map();
  let maxLength = 0;
  for (const needle of needles) {
    const text = needle.form.text;
    if (text.length < CUT_FLOOR) continue;
    const head = text.slice(0, CUT_FLOOR);
    const list = index.get(head) ?? [];
    list.push(needle);
    index.set(head, list);
    maxLength = Math.max(maxLength, text.length);
  }
  index.maxLength = maxLength;
  return index;
}

const isAlnum = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);

/**
 * Replaces the longest piece of `text` ending at `end` that is a prefix of a secret's form
 * ({@link CUT_FLOOR} characters or more). `text` ends at `end` (the caller appends what follows).
 */
function redactTailAt(text: string, end: number, index: TailIndex): string {
  if (index.size === 0 || end < CUT_FLOOR) return text;
  const from = Math.max(0, end - (index.maxLength ?? 0));
  for (let start = from; start <= end - CUT_FLOOR; start++) {
    const candidates = index.get(text.slice(start, start + CUT_FLOOR));
    if (!candidates) continue;
    const piece = text.slice(start, end);
    for (const needle of candidates) {
      if (!needle.form.text.startsWith(piece)) continue;
      if (needle.bounded && start > 0 && isAlnum(text.charCodeAt(start - 1))) continue;
      return `${text.slice(0, start)}[secret:${needle.key}]${text.slice(end)}`;
    }
  }
  return text;
}

/** Treats every `…` in `text` as a cut: a secret's prefix just before it is replaced. */
function redactAtMarks(text: string, index: TailIndex): string {
  const marks: number[] = [];
  for (let at = text.indexOf(CUT_MARK); at >= 0 && marks.length < MAX_MARKS_PER_TEXT; ) {
    marks.push(at);
    at = text.indexOf(CUT_MARK, at + 1);
  }
  // From the last to the first, so that a replacement does not move the marks still to examine.
  let out = text;
  for (let i = marks.length - 1; i >= 0; i--) {
    const at = marks[i]!;
    out = redactTailAt(out.slice(0, at), at, index) + out.slice(at);
  }
  return out;
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
