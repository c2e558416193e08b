/**
 * ISO 8601 with milliseconds and `Z` (X's `conversion_time`), from ISO text, Unix seconds or Unix
 * milliseconds; undefined when unreadable.
 */
function isoMillis(value) {
  const seconds = toUnixSeconds(value);
  if (seconds === undefined) return undefined;
  const ms = typeof value === 'string' && !/^\d+(\.\d+)?$/.test(value.trim()) ? Date.parse(value) : undefined;
  return new Date(ms !== undefined ? ms : seconds * 1000).toISOString();
}

function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_ids, (e, eventId) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];

    // Each identifier is its own object in the list, as X documents it.
    const email = firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256'));
    const phone = firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256'));
    const hashed = compact({ hashed_email: email, hashed_phone_number: phone });
    hashInPlace([
      [hashed, 'hashed_email', normalise.email],
      // E.164 WITH the '+' (X's rule; Meta's drops it).
      [hashed, 'hashed_phone_number', normalise.phoneE164],
    ]);
    const twclid = firstDefined(p.twclid, fromProfile(profiles, e, 'twclid'));
    const ip = firstDefined(p.ip, profileAttribute(profiles, e, 'ip'));
    const userAgent = firstDefined(p.user_agent, p.ua, profileAttribute(profiles, e, 'user_agent'));
    const identifiers = [];
    if (twclid) identifiers.push({ twclid: String(twclid) });
    if (hashed.hashed_email) identifiers.push({ hashed_email: hashed.hashed_email });
    if (hashed.hashed_phone_number) identifiers.push({ hashed_phone_number: hashed.hashed_phone_number });
    if (ip || userAgent) identifiers.push(compact({ ip_address: ip, user_agent: userAgent }));

    const value = p.value !== undefined ? p.value : p.revenue;
    return compact({
      conversion_time: isoMillis(e.event_time),
      event_id: eventId,
      identifiers: identifiers,
      value: value,
      price_currency: p.currency,
      number_items: contents.length > 0 ? contents.reduce((n, c) => n + (c.quantity || 1), 0) : undefined,
      // X deduplicates against the pixel on conversion_id (48 hours).
      conversion_id: e.event_id || p.order_id,
      contents:
        contents.length > 0
          ? contents.map((c) =>
              compact({
                content_id: String(c.id),
                content_name: c.name,
                content_price: c.price,
                num_items: c.quantity,
              }),
            )
          : undefined,
    });
  });
}
