/**
 * The example transforms and `send()` our docs show, verbatim, so tests prove they run unchanged. Only the
 * Meta send's base URL is swapped for a local stand-in (`metaExampleSend(baseUrl)`).
 */

/** The Meta example transform (the one with `client_ip_address`). */
export const metaExampleTransform = `function transform({ events, profiles, secrets }) {
return events
.filter(e => e.event_type === 'purchase')
.map(e => ({
event_type: 'purchase',
event_time: e.event_time,
event_payload: {
event_name: 'Purchase',
event_time: Math.floor(new Date(e.event_time).getTime() / 1000),
user_data: {
em: e.event_payload.hashed_email,
ph: e.event_payload.hashed_phone,
fbp: e.event_payload.fbp,
fbc: e.event_payload.fbc,
client_ip_address: e.event_payload.ip,
client_user_agent: e.event_payload.ua,
},
custom_data: {
currency: e.event_payload.currency,
value: e.event_payload.revenue,
},
event_id: e.event_payload.order_id,
action_source: 'website',
},
}));
}`;

/** The TikTok example Events API v1.3 transform. */
export const tiktokExampleTransform = `// Verify against TikTok Events API v1.3 before going to production.
function transform({ events, profiles, secrets }) {
return events
.filter(e => e.event_type === 'purchase')
.map(e => ({
event_type: 'purchase',
event_time: e.event_time,
event_payload: {
event: 'CompletePayment',
event_time: Math.floor(new Date(e.event_time).getTime() / 1000),
event_id: e.event_payload.order_id,
user: {
email: e.event_payload.hashed_email,
phone_number: e.event_payload.hashed_phone,
ttp: e.event_payload.ttp,
ttclid: e.event_payload.ttclid,
ip: e.event_payload.ip,
user_agent: e.event_payload.ua,
},
properties: {
currency: e.event_payload.currency,
value: e.event_payload.revenue,
order_id: e.event_payload.order_id,
},
page: {
url: e.event_payload.page_url,
},
},
}));
}`;

/** The Google example Ads uploadClickConversions transform. */
export const googleExampleTransform = `// Verify against Google Ads API uploadClickConversions before going to production.
function transform({ events, profiles, secrets }) {
return events
.filter(e => e.event_type === 'purchase')
.map(e => ({
event_type: 'purchase',
event_time: e.event_time,
event_payload: {
conversion_action: secrets.GOOGLE_ADS_CONVERSION_ACTION,
conversion_date_time: new Date(e.event_time)
.toISOString()
.replace('T', ' ')
.replace('Z', '+00:00'),
conversion_value: e.event_payload.revenue,
currency_code: e.event_payload.currency,
order_id: e.event_payload.order_id,
gclid: e.event_payload.gclid,
user_identifiers: [
{ hashed_email: e.event_payload.hashed_email },
{ hashed_phone_number: e.event_payload.hashed_phone },
],
},
}));
}`;

/** The Meta example `send()`, with `https://graph.facebook.com` replaced by `baseUrl`. */
export function metaExampleSend(baseUrl = 'https://graph.facebook.com'): string {
  return `async function send({ events, secrets }) {
const res = await fetch(
\`${baseUrl}/v19.0/\${secrets.META_PIXEL_ID}/events\`,
{
method: 'POST',
headers: { 'Content-Type': 'application/json' },
body: JSON.stringify({
data: events.map(e => e.event_payload),
access_token: secrets.META_ACCESS_TOKEN,
}),
}
);
return res.json();
}`;
}

/** A purchase as a website would collect it, with the fields the example transforms read. */
export function purchaseEvent(orderId: string, overrides: Record<string, unknown> = {}) {
  return {
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_id: orderId,
    event_payload: {
      order_id: orderId,
      revenue: 129.9,
      currency: 'EUR',
      hashed_email: 'a'.repeat(64),
      hashed_phone: 'b'.repeat(64),
      fbp: 'fb.1.1714816462.1234567890',
      fbc: 'fb.1.1714816462.IwAR0abc',
      ip: '203.0.113.7',
      ua: 'Mozilla/5.0 (X11; Linux x86_64)',
      ttp: 'ttp-cookie',
      ttclid: 'E.C.P.abc',
      gclid: 'Cj0KCQjw-test',
      page_url: 'https://shop.example/checkout/thank-you',
      ...overrides,
    },
  };
}

/** A JSON Schema for the purchase payload above. */
export const purchaseSchema = {
  type: 'object',
  required: ['order_id', 'revenue', 'currency'],
  properties: {
    order_id: { type: 'string', minLength: 1 },
    revenue: { type: 'number', minimum: 0 },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    hashed_email: { type: 'string' },
  },
};
