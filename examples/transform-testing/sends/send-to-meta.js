// The destination's send(): posts the transformed events to Meta's Conversions API and says what
// Meta's answer means for them. Secrets: META_PIXEL_ID, META_ACCESS_TOKEN (bound to the destination).
// biome-ignore lint/correctness/noUnusedVariables: OpenPipes calls send() by name
async function send({ events, secrets }) {
  const token = encodeURIComponent(secrets.META_ACCESS_TOKEN);
  const url = `https://graph.facebook.com/v21.0/${secrets.META_PIXEL_ID}/events?access_token=${token}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  const body = await res.json().catch(() => null);
  if (res.ok) return { outcome: 'delivered', events_received: body?.events_received };
  const error = body?.error ?? {};
  // Meta marks what is worth retrying (is_transient); throttling and outages are, too.
  const retry = res.status === 429 || res.status >= 500 || error.is_transient === true;
  return {
    outcome: retry ? 'retry' : 'failed',
    code: `META_${error.code ?? res.status}`,
    message: error.message ?? `HTTP ${res.status}`,
  };
}
