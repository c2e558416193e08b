/**
 * Segment-spec messages to OpenPipes events (issue 18; the table is docs/segment.md). Pure: the
 * route reads the body and the write key, this says what each message becomes: an event to ingest,
 * identifiers to link (identify, alias, group: not delivered), or a refusal for the rejection log.
 */
import type { IncomingEvent } from '@openpipes/core';

export const segmentTypes = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type SegmentType = (typeof segmentTypes)[number];

/** The Segment e-commerce spec's names and our canonical event types (docs/destinations.md). */
export const defaultEventNames: Readonly<Record<string, string>> = {
  'Order Completed': 'purchase',
  'Product Added': 'add_to_cart',
  'Checkout Started': 'begin_checkout',
  'Payment Info Entered': 'add_payment_info',
  'Products Searched': 'search',
  'Product Viewed': 'view_content',
  'Product Added to Wishlist': 'add_to_wishlist',
  'Signed Up': 'complete_registration',
  'Lead Generated': 'lead',
  Subscribed: 'subscribe',
};

export type Mapped =
  | { kind: 'event'; event: IncomingEvent }
  | { kind: 'link'; item: { event_time: string; event_payload: Record<string, unknown> } }
  | { kind: 'rejected'; message: string; path: string };

/** A map's own entry: an event named `constructor` or `__proto__` must not find Object's members. */
const nameIn = (names: Readonly<Record<string, string>> | undefined, name: string) =>
  names && Object.hasOwn(names, name) ? names[name] : undefined;

export interface MapContext {
  /** When the request arrived (ms): `originalTimestamp` is corrected by the sender's clock skew. */
  receivedAt: number;
  /** Names over {@link defaultEventNames} (`{"Order Completed": "purchase", "page": "page_view"}`). */
  eventNames?: Readonly<Record<string, string>>;
  /** The sender's address, used when a message has no `context.ip`. */
  requestIp?: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};
const time = (v: unknown): number | undefined => {
  if (typeof v !== 'string' || v === '') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
};
/** A string id as Segment clients send them (numbers are accepted and kept as text). */
const id = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? String(v) : str(v);

/** Drops undefined fields, so the payload holds only what the message said. */
function defined(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * `timestamp` when given; else `originalTimestamp` (the device's clock) moved by the difference
 * between the request's arrival and `sentAt` (the same device clock), as Segment does; else now.
 */
export function eventTime(message: Obj, receivedAt: number): string {
  const timestamp = time(message.timestamp);
  if (timestamp !== undefined) return new Date(timestamp).toISOString();
  const original = time(message.originalTimestamp);
  const sentAt = time(message.sentAt);
  if (original !== undefined) {
    return new Date(sentAt !== undefined ? original + (receivedAt - sentAt) : original).toISOString();
  }
  return new Date(receivedAt).toISOString();
}

/** `revenue` (Segment's: without shipping and tax, what ad platforms optimise on), else `total`, else `value`. */
function orderValue(properties: Obj): number | undefined {
  return num(properties.revenue) ?? num(properties.total) ?? num(properties.value);
}

function contentsOf(products: unknown) {
  if (!Array.isArray(products)) return undefined;
  const out = products.filter(isObj).map((p) =>
    defined({
      id: id(p.product_id) ?? id(p.sku) ?? id(p.id),
      name: str(p.name),
      category: str(p.category),
      price: num(p.price),
      quantity: num(p.quantity),
    }),
  );
  return out.length > 0 ? out : undefined;
}

/** `context.consent.categoryPreferences` entries named as Google's consent mode signals. */
function consentOf(context: Obj): Obj | undefined {
  const consent = isObj(context.consent) ? context.consent : undefined;
  const prefs = consent && isObj(consent.categoryPreferences) ? consent.categoryPreferences : undefined;
  if (!prefs) return undefined;
  const signals = ['ad_user_data', 'ad_personalization', 'ad_storage', 'analytics_storage'];
  const out = Object.fromEntries(
    signals.filter((s) => typeof prefs[s] === 'boolean').map((s) => [s, prefs[s] ? 'GRANTED' : 'DENIED']),
  );
  return Object.keys(out).length > 0 ? out : undefined;
}

function withoutWriteKey(message: Obj): Obj {
  if (!('writeKey' in message)) return message;
  const { writeKey: _dropped, ...rest } = message;
  return rest;
}

/** What one message becomes. `type` is the route's (`/v1/track`) or, in a batch, the message's own. */
export function mapSegmentMessage(message: unknown, type: string | undefined, ctx: MapContext): Mapped {
  if (!isObj(message)) return { kind: 'rejected', message: 'a message must be an object', path: '(message)' };
  const kind = type ?? message.type;
  if (typeof kind !== 'string' || !(segmentTypes as readonly string[]).includes(kind)) {
    return {
      kind: 'rejected',
      message: `type must be one of ${segmentTypes.join(', ')} (got ${JSON.stringify(kind ?? null).slice(0, 40)})`,
      path: 'type',
    };
  }
  const userId = id(message.userId);
  const anonymousId = id(message.anonymousId);
  if (userId === undefined && anonymousId === undefined) {
    return { kind: 'rejected', message: 'a message needs userId or anonymousId', path: 'userId' };
  }
  const context = isObj(message.context) ? message.context : {};
  const traits = isObj(message.traits) ? message.traits : {};
  const contextTraits = isObj(context.traits) ? context.traits : {};
  const properties = isObj(message.properties) ? message.properties : {};
  const page = isObj(context.page) ? context.page : {};
  const event_time = eventTime(message, ctx.receivedAt);

  if (kind === 'identify' || kind === 'alias' || kind === 'group') {
    // A group's traits describe the group, not the person: only identify's are the person's.
    const personal = kind === 'identify' ? traits : contextTraits;
    const item = defined({
      user_id: userId,
      anonymous_id: kind === 'alias' ? (id(message.previousId) ?? anonymousId) : anonymousId,
      email: str(personal.email),
      phone: str(personal.phone),
      ip: str(context.ip) ?? ctx.requestIp ?? undefined,
      user_agent: str(context.userAgent),
    });
    if (kind === 'alias' && (userId === undefined || item.anonymous_id === undefined)) {
      return { kind: 'rejected', message: 'an alias needs userId and previousId', path: 'previousId' };
    }
    return { kind: 'link', item: { event_time, event_payload: item } };
  }

  let eventType: string;
  if (kind === 'track') {
    const name = str(message.event);
    if (name === undefined)
      return { kind: 'rejected', message: 'a track message needs event', path: 'event' };
    eventType = nameIn(ctx.eventNames, name) ?? nameIn(defaultEventNames, name) ?? name;
  } else {
    eventType = nameIn(ctx.eventNames, kind) ?? (kind === 'page' ? 'page_view' : 'screen_view');
  }
  const payload = defined({
    order_id: id(properties.order_id),
    value: orderValue(properties),
    currency: str(properties.currency)?.toUpperCase(),
    contents: contentsOf(properties.products),
    search_string: str(properties.query),
    email: str(contextTraits.email) ?? str(traits.email),
    phone: str(contextTraits.phone) ?? str(traits.phone),
    ip: str(context.ip) ?? ctx.requestIp ?? undefined,
    user_agent: str(context.userAgent),
    page_url: str(page.url) ?? (kind === 'page' ? str(properties.url) : undefined),
    user_id: userId,
    anonymous_id: anonymousId,
    campaign: isObj(context.campaign) ? context.campaign : undefined,
    consent: consentOf(context),
    // The write key is a credential of sorts: it is never stored with the message.
    segment: withoutWriteKey(message),
  });
  const event: IncomingEvent = { event_type: eventType, event_time, event_payload: payload };
  const messageId = id(message.messageId);
  if (messageId !== undefined) event.event_id = messageId;
  return { kind: 'event', event };
}
