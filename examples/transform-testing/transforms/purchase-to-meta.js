// The pipe transform under test: purchases to Meta's Conversions API (the Meta example), plus
// one rule of our own: orders without a value are not sent. This file is what the pipe runs; it
// is read as text, never imported (the sandbox calls `transform`).
// biome-ignore lint/correctness/noUnusedVariables: the sandbox calls it
function transform({ events }) {
  return events
    .filter((e) => e.event_type === 'purchase')
    .filter((e) => typeof e.event_payload.revenue === 'number' && e.event_payload.revenue > 0)
    .map((e) => ({
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
}
