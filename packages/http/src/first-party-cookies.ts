/**
 * First-party cookies (a source's `first_party_cookies`, docs/browser-tag.md): collect's answer sets
 * `_fbp`, `_fbc` and `op_anonymous_id` from the events it took, so they last as long as a server-set
 * cookie may (browsers cap cookies that scripts write to days: Safari, 7). Pure: the events, their
 * results and the request's origin in; `Set-Cookie` values out. Nothing is invented: a value is
 * refreshed only when an event carries it, and only when that event's consent grants `ad_storage`.
 */
import { type IngestEventResult, readConsent } from '@openpipes/core';

/**
 * Days each cookie lasts, renewed by every answer that sets it: `_fbp` and `_fbc` 90, as Meta's pixel
 * keeps them (and the identifier table's window for both); our anonymous id 390, under the 400 days
 * browsers allow any cookie.
 */
export const firstPartyCookieDays = { _fbp: 90, _fbc: 90, op_anonymous_id: 390 } as const;

/** Strict shapes: a value goes into a `Set-Cookie` header, so nothing else may pass. */
const shapes = {
  _fbp: /^fb\.\d\.\d{10,13}\.\d{1,30}$/,
  _fbc: /^fb\.\d\.\d{10,13}\.[\w-]{1,500}$/,
  op_anonymous_id: /^[\w-]{8,64}$/,
} as const;

type CookieName = keyof typeof shapes;

/** Where the cookies go: `Domain` (absent: the collect host only) and whether they are `Secure`. */
export interface CookieScope {
  domain?: string;
  secure: boolean;
}

const ipLiteral = /^[\d.]+$|:/;

/**
 * Whether the page that sent (its `Origin`) and the collect host are one site, and so which
 * `Domain` the cookies need for the page to read them: none on the same host, the longest common
 * parent for a first-party subdomain (`t.shop.example` serving `www.shop.example` sets
 * `Domain=shop.example`). Null, and no cookies, for a request without an Origin or from another site
 * (there the cookies would be third-party, which browsers refuse or cap).
 *
 * @example
 * ```ts
 * cookieScope('https://shop.example', new URL('http://t.shop.example/collect/web'));
 * // { domain: 'shop.example', secure: true }
 * ```
 */
export function cookieScope(origin: string | null, requestUrl: URL): CookieScope | null {
  if (!origin) return null;
  let page: URL;
  try {
    page = new URL(origin);
  } catch {
    return null;
  }
  // Behind a TLS proxy the request URL says http; the page's own scheme is what the browser sees.
  const secure = page.protocol === 'https:' || requestUrl.protocol === 'https:';
  const pageHost = page.hostname.toLowerCase();
  const ourHost = requestUrl.hostname.toLowerCase();
  if (pageHost === ourHost) return { secure };
  if (ipLiteral.test(pageHost) || ipLiteral.test(ourHost)) return null;
  const a = pageHost.split('.').reverse();
  const b = ourHost.split('.').reverse();
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  if (common < 2) return null;
  return { domain: a.slice(0, common).reverse().join('.'), secure };
}

function fbcFromUrl(pageUrl: unknown, now: number): string | undefined {
  if (typeof pageUrl !== 'string' || pageUrl.length > 8192) return undefined;
  try {
    const fbclid = new URL(pageUrl).searchParams.get('fbclid')?.trim();
    return fbclid ? `fb.1.${now}.${fbclid}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `Set-Cookie` values for one collect request: from the events that were taken (accepted or
 * duplicate) and whose consent grants `ad_storage`; a later event's value wins over an earlier one's.
 *
 * @example
 * ```ts
 * firstPartyCookies(events, result.results, { secure: true }, Date.now());
 * // ['_fbp=fb.1.1714816462000.42; Max-Age=7776000; Path=/; SameSite=Lax; Secure']
 * ```
 */
export function firstPartyCookies(
  events: readonly unknown[],
  results: readonly IngestEventResult[],
  scope: CookieScope,
  now: number,
): string[] {
  const values = new Map<CookieName, string>();
  for (const result of results) {
    if (result.status === 'rejected') continue;
    const payload = (events[result.index] as { event_payload?: Record<string, unknown> } | undefined)
      ?.event_payload;
    if (!payload || readConsent(payload).state('ad_storage') !== 'granted') continue;
    const found: Record<CookieName, unknown> = {
      _fbp: payload.fbp,
      _fbc: payload.fbc ?? fbcFromUrl(payload.page_url, now),
      op_anonymous_id: payload.anonymous_id ?? payload.anonymousId,
    };
    for (const name of Object.keys(shapes) as CookieName[]) {
      const value = found[name];
      if (typeof value === 'string' && shapes[name].test(value)) values.set(name, value);
    }
  }
  const attributes = (name: CookieName) =>
    [
      `Max-Age=${firstPartyCookieDays[name] * 86_400}`,
      'Path=/',
      'SameSite=Lax',
      ...(scope.domain ? [`Domain=${scope.domain}`] : []),
      ...(scope.secure ? ['Secure'] : []),
    ].join('; ');
  return [...values].map(([name, value]) => `${name}=${value}; ${attributes(name)}`);
}
