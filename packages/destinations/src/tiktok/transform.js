function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, eventName) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];

    const user = compact({
      // The event's own values win; its stitched profile fills what it lacks (identity on).
      email: firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256')),
      phone: firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256')),
      external_id: firstDefined(p.external_id, fromProfile(profiles, e, 'external_id', 'sha256')),
      ttp: firstDefined(p.ttp, fromProfile(profiles, e, 'ttp')),
      ttclid: firstDefined(p.ttclid, fromProfile(profiles, e, 'ttclid')),
      ip: firstDefined(p.ip, profileAttribute(profiles, e, 'ip')),
      user_agent: firstDefined(p.user_agent, p.ua, profileAttribute(profiles, e, 'user_agent')),
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

    return compact({
      event: eventName,
      event_time: toUnixSeconds(e.event_time),
      // TikTok deduplicates against the pixel on event + event_id (48 h).
      event_id: e.event_id || p.order_id,
      // TikTok's Limited Data Use flag, from the event's consent (docs/consent.md).
      limited_data_use: limitedDataUse(p.consent),
      user: user,
      properties: Object.keys(properties).length > 0 ? properties : undefined,
      page: p.page_url ? compact({ url: p.page_url, referrer: p.referrer_url }) : undefined,
    });
  });
}
