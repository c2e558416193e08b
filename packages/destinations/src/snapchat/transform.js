/** A value as a one-item list (Snap documents em and ph as lists); lists and undefined as they are. */
function asList(value) {
  return value === undefined || Array.isArray(value) ? value : [value];
}

function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, eventName) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];

    const shared = metaUserData(e, profiles);
    const user_data = compact({
      ...shared,
      // Overwriting keeps each key's place, so em and ph stay first.
      em: asList(shared.em),
      ph: asList(shared.ph),
      // The ScCid URL parameter and the _scid cookie: never hashed.
      sc_click_id: firstDefined(p.sc_click_id, fromProfile(profiles, e, 'sc_click_id')),
      sc_cookie1: firstDefined(p.sc_cookie1, fromProfile(profiles, e, 'sc_cookie1')),
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
      num_items: contents.length > 0 ? contents.reduce((n, c) => n + (c.quantity || 1), 0) : undefined,
      search_string: p.search_string,
    });

    return compact({
      event_name: eventName,
      event_time: toUnixSeconds(e.event_time),
      // Snap deduplicates against the Pixel on event_id.
      event_id: e.event_id || p.order_id,
      action_source: SETTINGS.action_source,
      event_source_url: p.page_url,
      user_data: user_data,
      custom_data: Object.keys(custom_data).length > 0 ? custom_data : undefined,
      // Limited Data Use (US state privacy laws): a setting of the destination, not consent.
      data_processing_options: SETTINGS.limited_data_use ? ['LMU'] : undefined,
    });
  });
}
