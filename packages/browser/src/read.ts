/**
 * Reading a page's identifiers: cookies and click ids in the URL, unwrapped as the identifier table
 * says, and the click ids kept from earlier pages. Pure: the page's cookie string, URL and clock
 * come in, fields and the click ids to keep go out (the tag does the reading and writing).
 */
import { BROWSER_IDENTIFIERS, type CookieFormat, type StoragePurpose } from './identifiers.js';

/** Click ids seen in earlier URLs, by field: `[value, epoch ms first seen]`. */
export type StoredClicks = Record<string, [string, number]>;

/**
 * `document.cookie` as a map; a name given twice keeps its first value (the most specific path).
 *
 * @example
 * ```ts
 * parseCookies('_fbp=fb.1.1714816462000.42; a=b').get('_fbp'); // 'fb.1.1714816462000.42'
 * ```
 */
export function parseCookies(cookie: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of cookie.split(';')) {
    const text = part.trim();
    const eq = text.indexOf('=');
    if (eq < 1) continue;
    const name = text.slice(0, eq);
    if (!out.has(name)) out.set(name, decode(text.slice(eq + 1)));
  }
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A cookie's value as the identifier, or undefined when it is not in its format.
 *
 * @example
 * ```ts
 * unwrapCookie('gcl', 'GCL.1714816462.Cj0KCQ'); // 'Cj0KCQ'
 * ```
 */
export function unwrapCookie(format: CookieFormat, raw: string): string | undefined {
  let m: RegExpExecArray | null;
  switch (format) {
    case 'plain':
      return raw || undefined;
    case 'json-string':
      try {
        const parsed: unknown = JSON.parse(raw);
        return typeof parsed === 'string' ? parsed : undefined;
      } catch {
        return raw || undefined;
      }
    case 'ga':
      m = /^GA\d+\.\d+\.(\d+\.\d+)$/.exec(raw);
      return m?.[1];
    case 'gcl':
      m = /^GCL\.\d+\.(.+)$/.exec(raw);
      return m?.[1];
    case 'uet':
      return raw.length > 4 && raw.slice(0, 4) === '_uet' ? raw.slice(4) : undefined;
    case 'fb':
      return /^fb\.\d\.\d+\..+$/.test(raw) ? raw : undefined;
  }
}

export interface PageIdentifiers {
  /** Canonical fields to add to an event (`fbp`, `fbc`, `gclid`, ...). */
  fields: Record<string, string>;
  /** The click ids to keep for later pages: the stored ones still in their window, plus this URL's. */
  clicks: StoredClicks;
}

export interface ReadInput {
  /** `document.cookie`. */
  cookie: string;
  /** `location.href`. */
  url: string;
  /** Click ids kept from earlier pages. */
  stored: StoredClicks;
  now: number;
  /** Whether the consent state lets the tag read identifiers of this purpose. */
  allowed(purpose: StoragePurpose): boolean;
}

/**
 * The page's identifiers. For one field: a click id in this page's URL first, then one kept from an
 * earlier URL (within the table's window), then the platform's cookie. `fbclid` becomes
 * `fb.1.<ms>.<fbclid>` as Meta's pixel writes it, keeping the time of an `_fbc` or earlier visit
 * with the same click.
 *
 * @example
 * ```ts
 * readIdentifiers({ cookie: '_fbp=fb.1.1.2', url: 'https://shop.example/?gclid=Cj0', stored: {}, now, allowed: () => true });
 * // { fields: { fbp: 'fb.1.1.2', gclid: 'Cj0' }, clicks: { gclid: ['Cj0', now] } }
 * ```
 */
export function readIdentifiers(input: ReadInput): PageIdentifiers {
  const cookies = parseCookies(input.cookie);
  let query: URLSearchParams | undefined;
  try {
    query = new URL(input.url).searchParams;
  } catch {
    query = undefined;
  }
  const fields: Record<string, string> = {};
  const clicks: StoredClicks = {};
  for (const id of BROWSER_IDENTIFIERS) {
    if (!input.allowed(id.purpose)) continue;
    const kept = input.stored[id.field];
    const live = kept && input.now - kept[1] <= id.windowDays * 86_400_000 ? kept : undefined;
    let cookieValue: string | undefined;
    for (const c of id.cookies) {
      const raw = cookies.get(c.name);
      cookieValue = raw === undefined ? undefined : unwrapCookie(c.format, raw);
      if (cookieValue) break;
    }
    let fromUrl: string | undefined;
    for (const param of id.urlParams) fromUrl = fromUrl || query?.get(param)?.trim() || undefined;
    let click = live;
    if (fromUrl) {
      let value = fromUrl;
      if (id.field === 'fbc') {
        const same = [cookieValue, live?.[0]].find((v) => v?.endsWith(`.${fromUrl}`));
        value = same ?? `fb.1.${input.now}.${fromUrl}`;
      }
      click = live?.[0] === value ? live : [value, input.now];
    }
    if (click) clicks[id.field] = click;
    const value = fromUrl ? click?.[0] : (live?.[0] ?? cookieValue);
    if (value) fields[id.field] = value;
  }
  return { fields, clicks };
}
