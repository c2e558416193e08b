/**
 * The tag: one per page. `init` says where to send, `track` builds an event (the page's identifiers,
 * consent and anonymous id added), queues it and sends the queue with `navigator.sendBeacon`
 * (`fetch` with `keepalive` when the beacon is refused); what cannot go now goes when the page is
 * back online or on the next page load. Nothing here throws into the site's code.
 */
import { type ConsentInput, type ConsentState, mayStore, mergeConsent } from './consent.js';
import { ANONYMOUS_ID_KEY } from './identifiers.js';
import { batches, enqueue, parseQueue, type TagEvent } from './queue.js';
import { readIdentifiers, type StoredClicks } from './read.js';

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * Where OpenPipes is mounted (`https://shop.example/openpipes`, `https://t.shop.example`).
   * Default: where `openpipes.js` was loaded from.
   */
  endpoint?: string;
  /** The source's slug: events go to `<endpoint>/collect/<source>`. */
  source: string;
  /** The consent state to start with (see {@link consent}). */
  consent?: ConsentInput;
}

/** Options of one {@link track} call. */
export interface TrackOptions {
  /** The event id to use instead of a new UUID (an order id, or the id the pixel was given). */
  event_id?: string;
}

const QUEUE_KEY = 'op_queue';
const CLICKS_KEY = 'op_clicks';
/** Our anonymous id's cookie: 390 days, under the 400 browsers allow (Safari caps script-set cookies to 7). */
const COOKIE_SECONDS = 390 * 86_400;

let url: string | null = null;
let state: ConsentState = {};
const memory = new Map<string, string>();
const w: (Window & typeof globalThis) | undefined = typeof window === 'undefined' ? undefined : window;
/** The script's own directory when loaded as `<script src=".../openpipes.js">`. */
const scriptBase = (() => {
  const src = (typeof document === 'undefined' ? null : document.currentScript)?.getAttribute('src');
  return src ? new URL(src, location.href).href.replace(/\/[^/]*$/, '') : undefined;
})();

/** localStorage, or memory where it is unavailable (storage disabled, some private modes). */
function read(key: string): string | null {
  try {
    return w?.localStorage.getItem(key) ?? memory.get(key) ?? null;
  } catch {
    return memory.get(key) ?? null;
  }
}

function write(key: string, value: string | null): void {
  if (value === null) memory.delete(key);
  else memory.set(key, value);
  try {
    if (value === null) w?.localStorage.removeItem(key);
    else w?.localStorage.setItem(key, value);
  } catch {
    // Kept in memory: the queue still works for this page.
  }
}

function setCookie(name: string, value: string, seconds: number): void {
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is missing from Safari and Firefox.
  document.cookie = `${name}=${encodeURIComponent(value)}; Max-Age=${seconds}; Path=/; SameSite=Lax${secure}`;
}

/**
 * Our anonymous id: the `op_anonymous_id` cookie (which OpenPipes may refresh as a first-party
 * cookie), else localStorage, else a new UUID, written to both. None while analytics storage is
 * denied, and what was kept is removed then.
 */
function anonymousId(): string | undefined {
  if (!mayStore(state, 'analytics_storage')) {
    write(ANONYMOUS_ID_KEY, null);
    if (w) setCookie(ANONYMOUS_ID_KEY, '', 0);
    return undefined;
  }
  const fromCookie = w
    ? document.cookie.match(/(?:^|;\s*)op_anonymous_id=([\w-]{8,64})(?:;|$)/)?.[1]
    : undefined;
  const id = fromCookie ?? read(ANONYMOUS_ID_KEY) ?? uuid();
  write(ANONYMOUS_ID_KEY, id);
  if (w && !fromCookie) setCookie(ANONYMOUS_ID_KEY, id, COOKIE_SECONDS);
  return id;
}

/** A UUID v4: `crypto.randomUUID` (secure contexts), else from `crypto.getRandomValues`. */
export function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Starts the tag: where to send, and the consent state to start with. Sends what earlier pages left
 * in the queue.
 *
 * @example
 * ```ts
 * openpipes.init({ endpoint: 'https://shop.example/openpipes', source: 'web', consent: { ad_storage: 'denied' } });
 * ```
 */
export function init(options: InitOptions): void {
  const endpoint = (options.endpoint ?? scriptBase ?? '').replace(/\/+$/, '');
  url = `${endpoint}/collect/${encodeURIComponent(options.source)}`;
  state = mergeConsent({}, options.consent);
  if (w && !w.__openpipesListening) {
    w.__openpipesListening = true;
    w.addEventListener('online', flush);
    w.addEventListener('pagehide', flush);
  }
  flush();
}

/**
 * Updates the consent state the site manages; later events carry it as `event_payload.consent`.
 * Denying `ad_storage` stops reading the ad platforms' cookies and click ids and forgets the kept
 * click ids; denying `analytics_storage` stops reading `_ga` and removes our anonymous id.
 *
 * @example
 * ```ts
 * openpipes.consent({ ad_storage: 'granted', ad_user_data: 'granted', analytics_storage: 'granted' });
 * ```
 */
export function consent(update: ConsentInput): void {
  state = mergeConsent(state, update);
  if (!mayStore(state, 'ad_storage')) write(CLICKS_KEY, null);
  if (!mayStore(state, 'analytics_storage')) anonymousId();
}

/**
 * Tracks one event and returns the `event_id` it carries: give the same id to the Meta pixel
 * (`eventID`) or TikTok pixel (`event_id`) so the platform counts the browser and server event once.
 *
 * @example
 * ```ts
 * const eventId = openpipes.track('purchase', { value: 42.5, currency: 'EUR', order_id: 'ord_1' });
 * fbq('track', 'Purchase', { value: 42.5, currency: 'EUR' }, { eventID: eventId });
 * ```
 */
export function track(eventType: string, payload: Record<string, unknown> = {}, options: TrackOptions = {}) {
  const eventId = options.event_id || uuid();
  try {
    const now = Date.now();
    let stored: StoredClicks = {};
    try {
      stored = JSON.parse(read(CLICKS_KEY) || '{}') as StoredClicks;
    } catch {
      // Another script's value: start again.
    }
    const page = readIdentifiers({
      cookie: w ? document.cookie : '',
      url: w ? location.href : '',
      stored,
      now,
      allowed: (purpose) => mayStore(state, purpose),
    });
    if (mayStore(state, 'ad_storage')) write(CLICKS_KEY, JSON.stringify(page.clicks));
    const anonymous = anonymousId();
    const added: Record<string, unknown> = {
      ...page.fields,
      ...(anonymous ? { anonymous_id: anonymous } : {}),
      ...(w ? { page_url: location.href, user_agent: navigator.userAgent } : {}),
      ...(w && document.referrer ? { referrer: document.referrer } : {}),
      ...(Object.keys(state).length ? { consent: state } : {}),
    };
    const event: TagEvent = {
      event_type: eventType,
      event_time: new Date(now).toISOString(),
      event_id: eventId,
      event_payload: { ...added, ...payload },
    };
    write(QUEUE_KEY, JSON.stringify(enqueue(parseQueue(read(QUEUE_KEY)), [event], now)));
    flush();
  } catch {
    // A tag must never break the page; the event is lost only if storage and sending both fail.
  }
  return eventId;
}

/** Removes sent events from the stored queue (re-read: another tab may have changed it). */
function forget(events: readonly TagEvent[]): void {
  const ids = new Set(events.map((e) => e.event_id));
  write(QUEUE_KEY, JSON.stringify(parseQueue(read(QUEUE_KEY)).filter((e) => !ids.has(e.event_id))));
}

/**
 * Sends the queue now: beacons first; a refused beacon goes by `fetch` with `keepalive`, and its
 * events stay queued until the fetch is answered. Nothing is sent before `init` or while offline.
 *
 * @example
 * ```ts
 * window.addEventListener('visibilitychange', openpipes.flush);
 * ```
 */
export function flush(): void {
  const target = url;
  if (!target || !w || navigator.onLine === false) return;
  const queue = enqueue(parseQueue(read(QUEUE_KEY)), [], Date.now());
  for (const batch of batches(queue)) {
    let sent = false;
    try {
      sent = navigator.sendBeacon(target, batch.body);
    } catch {
      sent = false;
    }
    if (sent) {
      forget(batch.events);
      continue;
    }
    fetch(target, {
      method: 'POST',
      body: batch.body,
      keepalive: true,
      credentials: 'include',
      headers: { 'content-type': 'text/plain' },
    }).then(
      // A 4xx other than 429 will not get better by sending again.
      (response) => {
        if (response.status < 500 && response.status !== 429) forget(batch.events);
      },
      () => {},
    );
  }
}

/**
 * The anonymous id events carry (undefined while analytics storage is denied).
 *
 * @example
 * ```ts
 * openpipes.getAnonymousId();
 * ```
 */
export function getAnonymousId(): string | undefined {
  return anonymousId();
}

declare global {
  interface Window {
    __openpipesListening?: boolean;
  }
}
