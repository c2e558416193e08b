function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, eventName) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];
    const value = p.value !== undefined ? p.value : p.revenue;

    const user_data = compact({
      ...metaUserData(e, profiles),
      // The epik URL parameter / _epik cookie: never hashed.
      click_id: firstDefined(p.epik, fromProfile(profiles, e, 'epik')),
    });
    hashInPlace(userDataFields([user_data]));

    // Pinterest takes money as strings ("Accepted as a string ... parsed into a double").
    const custom_data = compact({
      currency: p.currency,
      value: value !== undefined && value !== null ? String(value) : undefined,
      order_id: p.order_id,
      content_ids: contents.length > 0 ? contents.map((c) => String(c.id)) : undefined,
      contents:
        contents.length > 0
          ? contents.map((c) =>
              compact({
                id: String(c.id),
                item_price: c.price !== undefined ? String(c.price) : undefined,
                quantity: c.quantity,
                item_name: c.name,
                item_category: c.category,
              }),
            )
          : undefined,
      num_items: contents.length > 0 ? contents.reduce((n, c) => n + (c.quantity || 1), 0) : undefined,
      content_name: p.content_name,
      search_string: p.search_string,
      // Limited Data Processing (US state privacy laws): a setting of the destination.
      opt_out_type: SETTINGS.limited_data_processing ? 'LDP' : undefined,
    });

    // The event's own consent: personalised ads denied -> opted out; granted -> not; unknown: absent.
    const personalization = consentSignal(p.consent && p.consent.ad_personalization);

    return compact({
      event_name: eventName,
      action_source: SETTINGS.action_source,
      event_time: toUnixSeconds(e.event_time),
      // Pinterest deduplicates against the tag on event_id (required).
      event_id: e.event_id || p.order_id,
      event_source_url: p.page_url,
      opt_out: personalization === undefined ? undefined : personalization === 'DENIED',
      user_data: user_data,
      custom_data: Object.keys(custom_data).length > 0 ? custom_data : undefined,
    });
  });
}
