function list(value) {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function transform({ events }) {
  return events.flatMap((e) => {
    const action = SETTINGS.conversion_actions[e.event_type];
    if (!action) return []; // no conversion action for this event type: recorded as "filtered"
    const p = e.event_payload;

    const identifiers = [];
    for (const email of list(p.email !== undefined ? p.email : p.hashed_email))
      identifiers.push({ hashedEmail: email });
    for (const phone of list(p.phone !== undefined ? p.phone : p.hashed_phone))
      identifiers.push({ hashedPhoneNumber: phone });
    hashInPlace(identifierFields(identifiers));
    const userIdentifiers = identifiers.filter((id) => Object.keys(id).length > 0).slice(0, 5);

    const consent = p.consent || SETTINGS.default_consent;
    return [
      {
        event_type: e.event_type,
        event_time: e.event_time,
        event_payload: compact({
          gclid: p.gclid,
          gbraid: p.gbraid,
          wbraid: p.wbraid,
          conversionAction: conversionActionName(action),
          conversionDateTime: googleDateTime(e.event_time),
          conversionValue: p.value !== undefined ? p.value : p.revenue,
          currencyCode: p.currency,
          // Google deduplicates conversions with the same order id.
          orderId: p.order_id || e.event_id,
          userIdentifiers: userIdentifiers.length > 0 ? userIdentifiers : undefined,
          consent: consent
            ? compact({ adUserData: consent.ad_user_data, adPersonalization: consent.ad_personalization })
            : undefined,
        }),
      },
    ];
  });
}
