function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, eventName) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];
    const value = p.value !== undefined ? p.value : p.revenue;

    const userData = compact({
      // The event's own values win; its stitched profile fills what it lacks (identity on).
      msclkid: firstDefined(p.msclkid, fromProfile(profiles, e, 'msclkid')),
      em: firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256')),
      ph: firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256')),
      anonymousId: firstDefined(p.anonymous_id, fromProfile(profiles, e, 'anonymous_id')),
      externalId: p.external_id,
      clientIpAddress: firstDefined(p.ip, profileAttribute(profiles, e, 'ip')),
      clientUserAgent: firstDefined(p.user_agent, p.ua, profileAttribute(profiles, e, 'user_agent')),
    });
    // Email and phone may arrive as lists (canonical.ts); Microsoft takes one of each.
    if (Array.isArray(userData.em)) userData.em = userData.em[0];
    if (Array.isArray(userData.ph)) userData.ph = userData.ph[0];
    hashInPlace(userDataFields([userData]));

    const customData = compact({
      value: typeof value === 'number' ? value : value !== undefined ? Number(value) : undefined,
      currency: p.currency,
      transactionId: p.order_id,
      items:
        contents.length > 0
          ? contents.map((c) => compact({ id: String(c.id), quantity: c.quantity, price: c.price }))
          : undefined,
    });

    // The event's own ad storage consent as UET's 'G' (granted) / 'D' (denied); unknown: absent.
    const storage = consentSignal(p.consent && p.consent.ad_storage);
    const pageLoad = e.event_type === 'page_view';

    return compact({
      eventType: pageLoad ? 'pageLoad' : 'custom',
      // Microsoft deduplicates against the browser UET event on eventId.
      eventId: e.event_id || p.order_id,
      eventName: pageLoad ? undefined : eventName,
      eventTime: toUnixSeconds(e.event_time),
      eventSourceUrl: p.page_url,
      adStorageConsent: storage === 'GRANTED' ? 'G' : storage === 'DENIED' ? 'D' : undefined,
      userData: userData,
      customData: Object.keys(customData).length > 0 ? customData : undefined,
    });
  });
}
