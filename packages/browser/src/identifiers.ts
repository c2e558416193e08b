/**
 * The rows of the identifier table (docs/identifiers.md) a browser can read: the click ids in the
 * landing page's URL and the cookies the ad platforms' own tags write. The tag carries no
 * dependency, so this is a copy of `@openpipes/core`'s table cut to what the page sees;
 * `identifiers.test.ts` checks that the two agree.
 */

/** How a cookie's value becomes the identifier (as core's `CookieFormat`). */
export type CookieFormat = 'plain' | 'json-string' | 'ga' | 'gcl' | 'uet' | 'fb';

/** Which consent signal governs reading (and keeping) an identifier on the device. */
export type StoragePurpose = 'ad_storage' | 'analytics_storage';

export interface BrowserIdentifier {
  /** The canonical field on `event_payload`. */
  field: string;
  /** Query parameters of the page URL it is read from (a click id). */
  urlParams: readonly string[];
  /** Cookies it is read from, in order. */
  cookies: readonly { name: string; format: CookieFormat }[];
  /** The table's window: days a click id seen in a URL is kept on the device and sent with later events. */
  windowDays: number;
  purpose: StoragePurpose;
}

const row = (
  field: string,
  urlParams: readonly string[],
  cookies: readonly { name: string; format: CookieFormat }[],
  windowDays: number,
  purpose: StoragePurpose = 'ad_storage',
): BrowserIdentifier => ({ field, urlParams, cookies, windowDays, purpose });

const plain = (name: string) => ({ name, format: 'plain' as const });

/**
 * Every identifier the tag reads, in the order of docs/identifiers.md. `user_id` and
 * `anonymous_id` are not here: the site gives the first, the tag keeps the second itself.
 */
export const BROWSER_IDENTIFIERS: readonly BrowserIdentifier[] = [
  row('client_id', [], [{ name: '_ga', format: 'ga' }], 400, 'analytics_storage'),
  row('fbp', [], [plain('_fbp')], 90),
  row('fbc', ['fbclid'], [{ name: '_fbc', format: 'fb' }], 90),
  row('ttp', [], [plain('_ttp')], 395),
  row('ttclid', ['ttclid'], [plain('ttclid')], 7),
  row('gclid', ['gclid'], [{ name: '_gcl_aw', format: 'gcl' }], 90),
  row('gbraid', ['gbraid'], [{ name: '_gcl_gb', format: 'gcl' }], 90),
  row('wbraid', ['wbraid'], [], 90),
  row('msclkid', ['msclkid'], [{ name: '_uetmsclkid', format: 'uet' }], 90),
  row('sc_click_id', ['ScCid'], [], 28),
  row('sc_cookie1', [], [plain('_scid')], 395),
  row('epik', ['epik'], [plain('_epik')], 30),
  row('rdt_cid', ['rdt_cid'], [], 28),
  row('rdt_uuid', [], [plain('_rdt_uuid')], 90),
  row('li_fat_id', ['li_fat_id'], [plain('li_fat_id')], 30),
  row('twclid', ['twclid'], [plain('_twclid')], 30),
];

/** Our own anonymous id's cookie and localStorage key (the table's `op_anonymous_id`). */
export const ANONYMOUS_ID_KEY = 'op_anonymous_id';
