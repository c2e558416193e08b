function list(value) {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

/** RFC 3339 in UTC, as Google's JSON Timestamp takes it. */
function rfc3339(value) {
  const seconds = toUnixSeconds(value);
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function transform({ events, profiles }) {
  return mappedEvents(
    events,
    SETTINGS.conversion_actions,
    (e, action) => {
      const p = e.event_payload;

      // The event's own values win; its stitched profile fills what it lacks (identity on).
      const emails = list(
        firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256_google')),
      );
      const phones = list(firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256')));
      const identifiers = [];
      for (const email of emails) identifiers.push({ emailAddress: email });
      for (const phone of phones) identifiers.push({ phoneNumber: phone });
      if (p.first_name && p.last_name && p.country && p.zip) {
        identifiers.push({
          address: {
            givenName: p.first_name,
            familyName: p.last_name,
            regionCode: String(p.country).trim().toUpperCase(),
            postalCode: String(p.zip).trim(),
          },
        });
      }
      hashInPlace(identifierFields(identifiers));
      const userIdentifiers = completeIdentifiers(identifiers).slice(0, 10);

      // The event's own signals win, one by one; default_consent (sent for the whole request) fills the rest.
      const consent = dataManagerConsent(googleConsent(p.consent));
      const adIdentifiers = compact({
        gclid: firstDefined(p.gclid, fromProfile(profiles, e, 'gclid')),
        gbraid: firstDefined(p.gbraid, fromProfile(profiles, e, 'gbraid')),
        wbraid: firstDefined(p.wbraid, fromProfile(profiles, e, 'wbraid')),
      });
      return compact({
        // Which conversion action (Destination.productDestinationId) the event goes to; send()
        // groups events by it and takes it out of the Event.
        productDestinationId: action,
        // Google deduplicates events with the same transaction id.
        transactionId: p.order_id || e.event_id,
        eventTimestamp: rfc3339(e.event_time),
        eventSource: SETTINGS.event_source || undefined,
        conversionValue: p.value !== undefined ? Number(p.value) : p.revenue,
        currency: p.currency,
        adIdentifiers: Object.keys(adIdentifiers).length > 0 ? adIdentifiers : undefined,
        userData: userIdentifiers.length > 0 ? { userIdentifiers: userIdentifiers } : undefined,
        consent: consent,
      });
    },
    'no_conversion_action',
  );
}
