function transform({ events }) {
  return events.flatMap((e) => {
    const eventName = SETTINGS.event_names[e.event_type];
    if (!eventName) return []; // not mapped: recorded as "filtered"
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];

    const user = compact({
      email: p.email !== undefined ? p.email : p.hashed_email,
      phone: p.phone !== undefined ? p.phone : p.hashed_phone,
      external_id: p.external_id,
      ttp: p.ttp,
      ttclid: p.ttclid,
      ip: p.ip,
      user_agent: p.user_agent !== undefined ? p.user_agent : p.ua,
    });
    hashInPlace(userFields([user]));

    const properties = compact({
      currency: p.currency,
      value: p.value !== undefined ? p.value : p.revenue,
      order_id: p.order_id,
      content_type: contents.length > 0 ? 'product' : undefined,
      contents:
        contents.length > 0
          ? contents.map((c) =>
              compact({
                content_id: String(c.id),
                content_type: 'product',
                content_name: c.name,
                content_category: c.category,
                price: c.price,
                quantity: c.quantity,
              }),
            )
          : undefined,
      query: p.search_string,
    });

    return [
      {
        event_type: e.event_type,
        event_time: e.event_time,
        event_payload: compact({
          event: eventName,
          event_time: toUnixSeconds(e.event_time),
          // TikTok deduplicates against the pixel on event + event_id (48 h).
          event_id: e.event_id || p.order_id,
          user: user,
          properties: Object.keys(properties).length > 0 ? properties : undefined,
          page: p.page_url ? compact({ url: p.page_url, referrer: p.referrer_url }) : undefined,
        }),
      },
    ];
  });
}
