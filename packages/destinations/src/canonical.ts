/**
 * The canonical event the templates' default transforms read. Senders post it to `/collect/:slug`;
 * every template maps the same fields to its platform, so adding a platform never changes the
 * source. All fields are optional unless a platform needs them (see docs/destinations.md).
 */

/** Event types the default transforms know. Anything else is `filtered` unless mapped in settings. */
export type CanonicalEventType =
  | 'purchase'
  | 'add_to_cart'
  | 'lead'
  | 'page_view'
  | 'view_content'
  | 'begin_checkout'
  | 'add_payment_info'
  | 'complete_registration'
  | 'search'
  | 'subscribe'
  | 'add_to_wishlist'
  | 'contact';

/** One line item of a cart or order. */
export interface CanonicalContent {
  id: string;
  name?: string;
  category?: string;
  price?: number;
  quantity?: number;
}

/**
 * `event_payload` of a canonical event. Personal data may be sent raw (the transform normalises
 * and hashes it) or already hashed (64 hex SHA-256 passes through). The example transforms' field names
 * (`revenue`, `hashed_email`, `hashed_phone`, `ua`) are accepted as aliases.
 *
 * @example
 * ```ts
 * await pipes.ingest('web', {
 *   event_type: 'purchase',
 *   event_id: 'ord_70213',
 *   event_time: new Date().toISOString(),
 *   event_payload: {
 *     order_id: 'ord_70213', value: 129.9, currency: 'EUR',
 *     email: 'John_Smith@gmail.com', phone: '+1 (650) 555-1212',
 *     ip: '203.0.113.7', user_agent: 'Mozilla/5.0 ...', page_url: 'https://shop.example/thank-you',
 *     fbp: 'fb.1.1714816462.1234567890', gclid: 'Cj0KCQjw...', client_id: '1234567890.1714816462',
 *     contents: [{ id: 'SKU-1', quantity: 1, price: 129.9 }],
 *   } satisfies CanonicalEventPayload,
 * });
 * ```
 */
export interface CanonicalEventPayload {
  order_id?: string;
  value?: number;
  /** Alias of `value` (the example transforms' name). */
  revenue?: number;
  /** ISO 4217, e.g. `EUR`. */
  currency?: string;
  contents?: CanonicalContent[];
  search_string?: string;
  content_name?: string;

  email?: string | string[];
  /** Alias of `email` carrying a SHA-256 hex digest. */
  hashed_email?: string;
  phone?: string | string[];
  /** Alias of `phone` carrying a SHA-256 hex digest. */
  hashed_phone?: string;
  first_name?: string;
  last_name?: string;
  city?: string;
  state?: string;
  zip?: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
  gender?: string;
  /** `YYYY-MM-DD` or `YYYYMMDD`. */
  date_of_birth?: string;
  /** Your customer id (hashed before it leaves). */
  external_id?: string;

  ip?: string;
  user_agent?: string;
  /** Alias of `user_agent` (the example transforms' name). */
  ua?: string;
  page_url?: string;
  referrer_url?: string;

  /** Meta browser ids (`_fbp`, `_fbc` cookies). Never hashed. */
  fbp?: string;
  fbc?: string;
  /** TikTok browser ids (`_ttp` cookie, `ttclid` URL parameter). Never hashed. */
  ttp?: string;
  ttclid?: string;
  /** Google Ads click ids. */
  gclid?: string;
  gbraid?: string;
  wbraid?: string;
  /** Snapchat click id (the `ScCid` URL parameter) and browser id (the `_scid` cookie). Never hashed. */
  sc_click_id?: string;
  sc_cookie1?: string;
  /** Pinterest click id (the `epik` URL parameter or `_epik` cookie), sent as `click_id`. Never hashed. */
  epik?: string;
  /** Reddit click id (the `rdt_cid` URL parameter) and browser id (the `_rdt_uuid` cookie). Never hashed. */
  rdt_cid?: string;
  rdt_uuid?: string;
  /** Microsoft Advertising click id (`msclkid`). Never hashed. */
  msclkid?: string;
  /** GA4 client id (the `_ga` cookie's `1234567890.1714816462` part). */
  client_id?: string;
  /** GA4 session id, when the site knows it. */
  session_id?: string | number;
  /** Your signed-in user id for GA4 `user_id`. */
  user_id?: string;
  /**
   * The user's consent (docs/consent.md): Google's signals as `GRANTED` or `DENIED` (absent =
   * unknown, not denied), an IAB TCF v2 string, and TikTok's Limited Data Use flag. A pipe may
   * require some of them (`pipe.consent`); the templates pass them on as each platform takes them.
   */
  consent?: {
    ad_user_data?: 'GRANTED' | 'DENIED';
    ad_personalization?: 'GRANTED' | 'DENIED';
    ad_storage?: 'GRANTED' | 'DENIED';
    analytics_storage?: 'GRANTED' | 'DENIED';
    /** The TC string (`euconsent-v2`); `gdpr_consent` is read as an alias. */
    tcf_string?: string;
    /** TikTok `limited_data_use`; derived from `ad_personalization` when absent. */
    limited_data_use?: boolean;
  };
}
