/**
 * Canonical event type -> each platform's event name, side by side: one row per canonical type,
 * one column per template, `null` where the platform has no such event (the template then does not
 * send it unless `eventNames` maps it). Each template exports its column as `<platform>EventNames`
 * (a frozen map in the row order below), which `eventNames` overrides per destination.
 */

/** The templates with an event-name map, in the table's column order. */
const platforms = ['meta', 'tiktok', 'ga4', 'pinterest', 'snapchat', 'reddit', 'microsoft'] as const;
type Platform = (typeof platforms)[number];

type Row = readonly [canonical: string, ...names: (string | null)[]];

// biome-ignore format: a table reads best in columns
const rows: readonly Row[] = [
  // canonical               meta                    tiktok                  ga4                 pinterest             snapchat            reddit             microsoft
  ['purchase',               'Purchase',             'CompletePayment',      'purchase',         'checkout',           'PURCHASE',         'PURCHASE',        'purchase'],
  ['add_to_cart',            'AddToCart',            'AddToCart',            'add_to_cart',      'add_to_cart',        'ADD_CART',         'ADD_TO_CART',     'add_to_cart'],
  ['lead',                   'Lead',                 'SubmitForm',           'generate_lead',    'lead',               null,               'LEAD',            'generate_lead'],
  ['page_view',              'PageView',             null,                   'page_view',        'page_visit',         'PAGE_VIEW',        'PAGE_VISIT',      'page_view'],
  ['view_content',           'ViewContent',          'ViewContent',          'view_item',        'view_content',       'VIEW_CONTENT',     'VIEW_CONTENT',    'view_item'],
  ['begin_checkout',         'InitiateCheckout',     'InitiateCheckout',     'begin_checkout',   'initiate_checkout',  'START_CHECKOUT',   null,              'begin_checkout'],
  ['add_payment_info',       'AddPaymentInfo',       'AddPaymentInfo',       'add_payment_info', 'add_payment_info',   'ADD_BILLING',      null,              'add_payment_info'],
  ['complete_registration',  'CompleteRegistration', 'CompleteRegistration', 'sign_up',          'signup',             'SIGN_UP',          'SIGN_UP',         'sign_up'],
  ['search',                 'Search',               'Search',               'search',           'search',             'SEARCH',           'SEARCH',          'search'],
  ['subscribe',              'Subscribe',            'Subscribe',            null,               'subscribe',          'SUBSCRIBE',        null,              'subscribe'],
  ['add_to_wishlist',        'AddToWishlist',        'AddToWishlist',        'add_to_wishlist',  'add_to_wishlist',    'ADD_TO_WISHLIST',  'ADD_TO_WISHLIST', 'add_to_wishlist'],
  ['contact',                'Contact',              'Contact',              null,               null,                 null,               null,              'contact'],
];

/**
 * One platform's column of the table as a frozen map (canonical type -> the platform's name).
 *
 * @example
 * ```ts
 * platformEventNames('pinterest').purchase; // 'checkout'
 * ```
 */
export function platformEventNames(platform: Platform): Readonly<Record<string, string>> {
  const column = platforms.indexOf(platform) + 1;
  const names: Record<string, string> = {};
  for (const row of rows) {
    const name = row[column];
    if (name !== null && name !== undefined) names[row[0]] = name;
  }
  return Object.freeze(names);
}
