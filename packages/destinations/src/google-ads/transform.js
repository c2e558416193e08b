function list(value) {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function transform({ events, profiles }) {
  return mappedEvents(
    events,
    SETTINGS.conversion_actions,
    (e, action) => {
      const p = e.event_payload;

      const identifiers = [];
      // The event's own values win; its stitched profile fills what it lacks (identity on).
      const emails = list(
        firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256_google')),
      );
      const phones = list(firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256')));
      for (const email of emails) identifiers.push({ hashedEmail: email });
      for (const phone of phones) identifiers.push({ hashedPhoneNumber: phone });
      hashInPlace(identifierFields(identifiers));
      const userIdentifiers = identifiers.filter((id) => Object.keys(id).length > 0).slice(0, 5);

      // The event's own signals win, one by one; default_consent fills what it does not say.
      const consent = compact(
        Object.assign({}, SETTINGS.default_consent || {}, googleConsent(p.consent) || {}),
      );
      return compact({
        gclid: firstDefined(p.gclid, fromProfile(profiles, e, 'gclid')),
        gbraid: firstDefined(p.gbraid, fromProfile(profiles, e, 'gbraid')),
        wbraid: firstDefined(p.wbraid, fromProfile(profiles, e, 'wbraid')),
        conversionAction: conversionActionName(action),
        conversionDateTime: googleDateTime(e.event_time),
        conversionValue: p.value !== undefined ? p.value : p.revenue,
        currencyCode: p.currency,
        // Google deduplicates conversions with the same order id.
        orderId: p.order_id || e.event_id,
        userIdentifiers: userIdentifiers.length > 0 ? userIdentifiers : undefined,
        consent:
          Object.keys(consent).length > 0
            ? compact({ adUserData: consent.ad_user_data, adPersonalization: consent.ad_personalization })
            : undefined,
      });
    },
    'no_conversion_action',
  );
}
