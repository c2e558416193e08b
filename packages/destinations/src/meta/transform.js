function transform({ events, profiles }) {
  const dpo = SETTINGS.data_processing_options;
  return mappedEvents(events, SETTINGS.event_names, (e, eventName) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];

    const user_data = compact({
      ...metaUserData(e, profiles),
      fbc: firstDefined(p.fbc, fromProfile(profiles, e, 'fbc')),
      fbp: firstDefined(p.fbp, fromProfile(profiles, e, 'fbp')),
    });
    hashInPlace(userDataFields([user_data]));

    const custom_data = compact({
      value: p.value !== undefined ? p.value : p.revenue,
      currency: p.currency,
      order_id: p.order_id,
      content_ids: contents.length > 0 ? contents.map((c) => String(c.id)) : undefined,
      contents:
        contents.length > 0
          ? contents.map((c) => compact({ id: String(c.id), quantity: c.quantity, item_price: c.price }))
          : undefined,
      content_type: contents.length > 0 ? 'product' : undefined,
      num_items: contents.length > 0 ? contents.reduce((n, c) => n + (c.quantity || 1), 0) : undefined,
      content_name: p.content_name,
      search_string: p.search_string,
    });

    return compact({
      event_name: eventName,
      event_time: toUnixSeconds(e.event_time),
      // Meta deduplicates against the browser pixel on event_name + event_id (48 h).
      event_id: e.event_id || p.order_id,
      action_source: SETTINGS.action_source,
      event_source_url: p.page_url,
      user_data: user_data,
      // Limited Data Use (US state privacy laws): a setting of the destination, not consent.
      data_processing_options: dpo ? dpo.options : undefined,
      data_processing_options_country: dpo && dpo.options.length > 0 ? dpo.country : undefined,
      data_processing_options_state: dpo && dpo.options.length > 0 ? dpo.state : undefined,
      custom_data: Object.keys(custom_data).length > 0 ? custom_data : undefined,
    });
  });
}
