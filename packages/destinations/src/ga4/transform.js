function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, name) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];
    const seconds = toUnixSeconds(e.event_time);
    return compact({
      // Request-level fields: send() groups events that share them into one request.
      // The event's own values win; its stitched profile fills what it lacks (identity on).
      client_id: firstDefined(p.client_id, fromProfile(profiles, e, 'ga_client_id')),
      user_id: firstDefined(p.user_id, fromProfile(profiles, e, 'user_id')),
      // GA4 takes only the two user-data signals, upper case; the event's other fields stay home.
      consent: googleConsent(p.consent),
      timestamp_micros: seconds === undefined ? undefined : seconds * 1000000,
      name: name,
      params: compact({
        transaction_id: p.order_id,
        value: p.value !== undefined ? p.value : p.revenue,
        currency: p.currency,
        items:
          contents.length > 0
            ? contents.map((c) =>
                compact({
                  item_id: String(c.id),
                  item_name: c.name,
                  item_category: c.category,
                  price: c.price,
                  quantity: c.quantity,
                }),
              )
            : undefined,
        search_term: p.search_string,
        page_location: p.page_url,
        session_id: p.session_id,
        // Without engagement time GA4 does not count the session as active.
        engagement_time_msec: 1,
      }),
    });
  });
}
