/**
 * JavaScript helpers that templates paste INTO the generated transform and `send()` sources. They
 * run inside the QuickJS sandbox, so they are strings, not imports: the user who opens a destination
 * sees every line that touches their data and can edit it. Hashing and E.164 parsing cross to the
 * host (`openpipes.sha256Hex`, `openpipes.phoneE164`), where they are ~10x faster than guest JS.
 *
 * Each snippet is self-contained apart from the ones it names in its comment.
 */

/** `compact(obj)`: drops undefined, null and '' fields (platforms reject empty values). */
export const compactSource = `
/** Copies obj without undefined, null or '' fields. */
function compact(obj) {
  const out = {};
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value !== undefined && value !== null && value !== '') out[key] = value;
  }
  return out;
}
`;

/**
 * `isSha256Hex`, `hashInPlace(fields)`: normalise + SHA-256 many values with ONE host call.
 * Uses `openpipes.sha256Hex` (array form).
 */
export const hashSource = `
/** True when a value already is a SHA-256 hex digest: it passes through, never hashed twice. */
function isSha256Hex(value) {
  return typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value);
}

/**
 * Normalises and hashes fields in place. fields: [[object, key, normalise], ...]; a value may be a
 * string, a number or an array of them. Digests pass through (lowercased); values that normalise to
 * '' are dropped. All values of the call are hashed with one host call (openpipes.sha256Hex(array)).
 */
function hashInPlace(fields) {
  const todo = [];
  const assign = [];
  for (const [obj, key, normalise] of fields) {
    const value = obj[key];
    if (value === undefined || value === null) {
      delete obj[key];
      continue;
    }
    const many = Array.isArray(value);
    const out = [];
    for (const item of many ? value : [value]) {
      if (item === undefined || item === null) continue;
      const text = String(item);
      if (isSha256Hex(text)) {
        out.push(text.toLowerCase());
        continue;
      }
      const normalised = normalise(text);
      if (!normalised) continue;
      todo.push({ out: out, at: out.length, text: normalised });
      out.push(null);
    }
    if (out.length === 0) delete obj[key];
    else assign.push({ obj: obj, key: key, many: many, out: out });
  }
  const digests = todo.length > 0 ? openpipes.sha256Hex(todo.map((t) => t.text)) : [];
  todo.forEach((t, i) => {
    t.out[t.at] = digests[i];
  });
  for (const a of assign) a.obj[a.key] = a.many ? a.out : a.out[0];
}
`;

/**
 * `normalise.*`: the platforms' normalisation rules before hashing. Reads `SETTINGS.default_country`
 * (ISO alpha-2, for national phone numbers). Uses `openpipes.phoneE164`.
 */
export const normaliseSource = `
/** Normalisation before hashing, per field (the platforms' published rules). */
const normalise = {
  /** Trim, lowercase. */
  email: (s) => s.trim().toLowerCase(),
  /** E.164 with the '+' (TikTok, Google): '+16505551212'. */
  phoneE164: (s) => {
    const parsed = openpipes.phoneE164(s.trim(), SETTINGS.default_country || undefined);
    if (parsed) return parsed;
    // Not a valid number for libphonenumber: keep what can be trusted. '+...' and '00...' are
    // international; other digits not starting with 0 are taken to start with the country code;
    // a national number (leading 0) without SETTINGS.default_country cannot be completed: dropped.
    const text = s.trim();
    const digits = text.replace(/\\D/g, '');
    if (text.startsWith('+') || digits.startsWith('00')) {
      const international = digits.replace(/^0+/, '');
      return international ? '+' + international : '';
    }
    return /^[1-9]/.test(digits) ? '+' + digits : '';
  },
  /** Digits only, country code first, no leading zeros (Meta): '16505551212'. */
  phoneDigits: (s) => normalise.phoneE164(s).replace(/\\D/g, ''),
  /** Lowercase, no punctuation (first and last names). */
  name: (s) => s.toLowerCase().replace(/[\\p{P}\\p{S}]/gu, '').replace(/\\s+/g, ' ').trim(),
  /** Lowercase letters only: no digits, spaces or punctuation (city, state). */
  letters: (s) => s.toLowerCase().replace(/[^\\p{L}]/gu, ''),
  /** Lowercase, no spaces, the part before '-' (US ZIP+4 keeps the 5 digits). */
  zip: (s) => s.toLowerCase().replace(/\\s+/g, '').split('-')[0],
  /** ISO 3166-1 alpha-2, lowercase. */
  country: (s) => s.trim().toLowerCase().replace(/[^a-z]/g, ''),
  /** 'f' or 'm'. */
  gender: (s) => {
    const g = s.trim().toLowerCase().charAt(0);
    return g === 'f' || g === 'm' ? g : '';
  },
  /** YYYYMMDD. */
  dateOfBirth: (s) => {
    const digits = s.replace(/\\D/g, '');
    return digits.length === 8 ? digits : '';
  },
  /** Trimmed as given (ids). */
  trim: (s) => s.trim(),
};
`;

/** `toUnixSeconds(value)`: ISO 8601, Unix seconds or Unix milliseconds -> integer Unix seconds. */
export const timeSource = `
/** ISO 8601 text, Unix seconds or Unix milliseconds -> whole Unix seconds (undefined when unreadable). */
function toUnixSeconds(value) {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Math.floor(value > 1e11 ? value / 1000 : value);
  }
  if (typeof value === 'string' && value.trim() !== '') {
    if (/^\\d+(\\.\\d+)?$/.test(value.trim())) return toUnixSeconds(Number(value));
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  return undefined;
}
`;

/**
 * `googleDateTime(value)`: Google Ads' `yyyy-mm-dd hh:mm:ss+hh:mm`. Keeps the sender's offset when
 * there is one, drops fractions of a second, and writes UTC otherwise. Uses `toUnixSeconds`.
 */
export const googleDateTimeSource = `
/**
 * Google Ads wants 'yyyy-mm-dd hh:mm:ss+hh:mm' (no fractions, offset required). A time with its own
 * offset keeps it; anything else (ISO with Z, Unix seconds or ms) is written in UTC.
 */
function googleDateTime(value) {
  if (typeof value === 'string') {
    const m = /^(\\d{4}-\\d{2}-\\d{2})[ T](\\d{2}:\\d{2}:\\d{2})(?:\\.\\d+)?\\s*([+-]\\d{2}):?(\\d{2})$/.exec(value.trim());
    if (m) return m[1] + ' ' + m[2] + m[3] + ':' + m[4];
  }
  const seconds = toUnixSeconds(value);
  if (seconds === undefined) return value;
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '+00:00';
}
`;

/**
 * `readJson(res)`, `chunks(list, size)`, `finish(outcomes, testMode)`: HTTP and result plumbing
 * every `send()` uses.
 */
export const sendPlumbingSource = `
/** The response body as JSON, or null when it is empty or not JSON (a proxy's HTML error page). */
async function readJson(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch (e) {
    return null;
  }
}

/** Splits a list into runs of at most size items. */
function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Folds one outcome per event ({ outcome: 'delivered' | 'failed' | 'retry', code?, message? }) into
 * the structured result OpenPipes records: one shared outcome when all agree, else 'partial'.
 */
function finish(outcomes, testMode) {
  const first = outcomes[0] || { outcome: 'delivered' };
  const same = outcomes.every(
    (o) => o.outcome === first.outcome && o.code === first.code && o.message === first.message,
  );
  const result = same ? Object.assign({}, first) : { outcome: 'partial', events: outcomes };
  result.test_mode = testMode;
  return result;
}
`;

/** Renders the settings a template bakes into its sources, as an editable constant. */
export function settingsSource(settings: Record<string, unknown>): string {
  return `const SETTINGS = ${JSON.stringify(settings, null, 2)};\n`;
}
