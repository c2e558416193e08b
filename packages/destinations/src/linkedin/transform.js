function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.conversion_rules, (e, rule) => {
    const p = e.event_payload;

    const hashed = compact({
      email: firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256')),
    });
    hashInPlace([[hashed, 'email', normalise.email]]);
    const liFatId = firstDefined(p.li_fat_id, fromProfile(profiles, e, 'li_fat_id'));
    const userIds = [];
    if (hashed.email) userIds.push({ idType: 'SHA256_EMAIL', idValue: hashed.email });
    // The li_fat_id cookie / URL parameter, as it is (never hashed).
    if (liFatId) userIds.push({ idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', idValue: String(liFatId) });
    // LinkedIn takes userInfo only with both names (plain text, not hashed).
    const userInfo =
      p.first_name && p.last_name
        ? compact({
            firstName: p.first_name,
            lastName: p.last_name,
            title: p.job_title,
            companyName: p.company,
            countryCode: p.country ? String(p.country).toUpperCase() : undefined,
          })
        : undefined;

    const value = p.value !== undefined ? p.value : p.revenue;
    const seconds = toUnixSeconds(e.event_time);
    return compact({
      conversion: /^urn:/.test(rule) ? rule : 'urn:lla:llaPartnerConversion:' + rule,
      conversionHappenedAt:
        typeof e.event_time === 'string' && Number.isFinite(Date.parse(e.event_time))
          ? Date.parse(e.event_time)
          : seconds !== undefined
            ? seconds * 1000
            : undefined,
      // The amount is a string, as Rest.li's BigDecimal.
      conversionValue:
        value !== undefined && p.currency ? { currencyCode: p.currency, amount: String(value) } : undefined,
      // LinkedIn deduplicates against the Insight Tag on eventId.
      eventId: e.event_id || p.order_id,
      user: compact({ userIds: userIds, userInfo: userInfo }),
    });
  });
}
