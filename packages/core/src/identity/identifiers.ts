/**
 * The identifier table (docs/identifiers.md) as data: every identifier kind OpenPipes recognises, the
 * canonical field it arrives in, the URL parameter and cookie it is read from, how it is stored and how
 * long it is offered. Capture, profiles, the browser tag, the Segment mapping and the templates all read
 * this one table; `identifiers.test.ts` checks it against the doc.
 */

/** A hashing normalisation. The name is the key a profile stores the digest under. */
export type HashScheme = 'sha256' | 'sha256_google' | 'sha256_reddit' | 'sha256_digits';

export type IdentifierKind =
  | 'user_id'
  | 'anonymous_id'
  | 'ga_client_id'
  | 'external_id'
  | 'email'
  | 'phone'
  | 'fbp'
  | 'fbc'
  | 'ttp'
  | 'ttclid'
  | 'gclid'
  | 'gbraid'
  | 'wbraid'
  | 'msclkid'
  | 'sc_click_id'
  | 'sc_cookie1'
  | 'epik'
  | 'rdt_cid'
  | 'rdt_uuid'
  | 'li_fat_id'
  | 'twclid';

/** How a cookie's value becomes the identifier, and the first-seen time it carries, if any. */
export type CookieFormat =
  /** The value as is. */
  | 'plain'
  /** A JSON string (`"abc"`), as Segment's analytics.js writes its cookies. */
  | 'json-string'
  /** `GA1.1.<random>.<seconds>` → `<random>.<seconds>` (GA4's client id). */
  | 'ga'
  /** `GCL.<seconds>.<id>` (Google's conversion linker); the seconds are the click's time. */
  | 'gcl'
  /** `_uet<id>` (Microsoft UET). */
  | 'uet'
  /** `fb.1.<ms>.<id>`, kept whole (Meta wants the cookie as is); the ms are the click's time. */
  | 'fb';

export interface CookieSource {
  name: string;
  format: CookieFormat;
}

export interface IdentifierSpec {
  kind: IdentifierKind;
  /** The canonical field on `event_payload`. */
  field: string;
  /** Other field names accepted for the same value. */
  aliases: readonly string[];
  /** A field that carries the SHA-256 digest instead of the value (`hashed_email`). */
  hashedField?: string;
  /** Query parameters of `page_url` it is read from. */
  urlParams: readonly string[];
  cookies: readonly CookieSource[];
  /** `raw`: kept as given. Otherwise the digests kept, one per normalisation templates use. */
  stored: 'raw' | readonly HashScheme[];
  /** Days after first seen it is still offered; null = does not expire (profile retention applies). */
  windowDays: number | null;
}

const spec = (
  kind: IdentifierKind,
  parts: Partial<Omit<IdentifierSpec, 'kind'>> & Pick<IdentifierSpec, 'windowDays'>,
): IdentifierSpec => ({
  kind,
  field: parts.field ?? kind,
  aliases: parts.aliases ?? [],
  urlParams: parts.urlParams ?? [],
  cookies: parts.cookies ?? [],
  stored: parts.stored ?? 'raw',
  windowDays: parts.windowDays,
  ...(parts.hashedField ? { hashedField: parts.hashedField } : {}),
});

const clickId = (kind: IdentifierKind, windowDays: number, cookies: readonly CookieSource[] = []) =>
  spec(kind, { urlParams: [kind], cookies, windowDays });

/** Every identifier kind, in the order of docs/identifiers.md. */
export const IDENTIFIERS: readonly IdentifierSpec[] = [
  spec('user_id', {
    aliases: ['userId'],
    cookies: [{ name: 'ajs_user_id', format: 'json-string' }],
    windowDays: null,
  }),
  spec('anonymous_id', {
    aliases: ['anonymousId'],
    cookies: [
      { name: 'op_anonymous_id', format: 'plain' },
      { name: 'ajs_anonymous_id', format: 'json-string' },
    ],
    windowDays: null,
  }),
  spec('ga_client_id', { field: 'client_id', cookies: [{ name: '_ga', format: 'ga' }], windowDays: 400 }),
  spec('external_id', { stored: ['sha256'], windowDays: null }),
  spec('email', {
    hashedField: 'hashed_email',
    stored: ['sha256', 'sha256_google', 'sha256_reddit'],
    windowDays: null,
  }),
  spec('phone', { hashedField: 'hashed_phone', stored: ['sha256', 'sha256_digits'], windowDays: null }),
  spec('fbp', { cookies: [{ name: '_fbp', format: 'plain' }], windowDays: 90 }),
  spec('fbc', { urlParams: ['fbclid'], cookies: [{ name: '_fbc', format: 'fb' }], windowDays: 90 }),
  spec('ttp', { cookies: [{ name: '_ttp', format: 'plain' }], windowDays: 395 }),
  clickId('ttclid', 7, [{ name: 'ttclid', format: 'plain' }]),
  clickId('gclid', 90, [{ name: '_gcl_aw', format: 'gcl' }]),
  clickId('gbraid', 90, [{ name: '_gcl_gb', format: 'gcl' }]),
  clickId('wbraid', 90),
  clickId('msclkid', 90, [{ name: '_uetmsclkid', format: 'uet' }]),
  spec('sc_click_id', { urlParams: ['ScCid'], windowDays: 28 }),
  spec('sc_cookie1', { cookies: [{ name: '_scid', format: 'plain' }], windowDays: 395 }),
  clickId('epik', 30, [{ name: '_epik', format: 'plain' }]),
  clickId('rdt_cid', 28),
  spec('rdt_uuid', { cookies: [{ name: '_rdt_uuid', format: 'plain' }], windowDays: 90 }),
  clickId('li_fat_id', 30, [{ name: 'li_fat_id', format: 'plain' }]),
  clickId('twclid', 30, [{ name: '_twclid', format: 'plain' }]),
];

/** Last-seen attributes: kept per profile, latest only; they never link two profiles. */
export const ATTRIBUTES = {
  ip: { field: 'ip', aliases: ['client_ip_address'] },
  user_agent: { field: 'user_agent', aliases: ['ua', 'client_user_agent'] },
} as const;

export type AttributeName = keyof typeof ATTRIBUTES;

const byKind = new Map(IDENTIFIERS.map((s) => [s.kind, s]));

/** The table's row for one kind. */
export function identifierSpec(kind: IdentifierKind): IdentifierSpec {
  const found = byKind.get(kind);
  if (!found) throw new Error(`unknown identifier kind "${kind}"`);
  return found;
}

export function isIdentifierKind(value: string): value is IdentifierKind {
  return byKind.has(value as IdentifierKind);
}
