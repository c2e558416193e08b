/** Reddit's standard tracking types; any other mapped name is sent as CUSTOM with that name. */
const STANDARD_TYPES = [
  'PAGE_VISIT',
  'VIEW_CONTENT',
  'SEARCH',
  'ADD_TO_CART',
  'ADD_TO_WISHLIST',
  'PURCHASE',
  'LEAD',
  'SIGN_UP',
];

function transform({ events, profiles }) {
  return mappedEvents(events, SETTINGS.event_names, (e, name) => {
    const p = e.event_payload;
    const contents = Array.isArray(p.contents) ? p.contents : [];
    const value = p.value !== undefined ? p.value : p.revenue;

    const user = compact({
      // The event's own values win; its stitched profile fills what it lacks (identity on).
      email: firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256_reddit')),
      phone_number: firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256')),
      external_id: firstDefined(p.external_id, fromProfile(profiles, e, 'external_id', 'sha256')),
      ip_address: firstDefined(p.ip, profileAttribute(profiles, e, 'ip')),
      user_agent: firstDefined(p.user_agent, p.ua, profileAttribute(profiles, e, 'user_agent')),
      // The _rdt_uuid cookie: never hashed.
      uuid: firstDefined(p.rdt_uuid, fromProfile(profiles, e, 'rdt_uuid')),
      // Limited Data Use (US state privacy laws): a setting of the destination, not consent.
      data_processing_options: SETTINGS.limited_data_use ? { modes: ['LDU'] } : undefined,
    });
    // Email and phone may arrive as lists (canonical.ts); Reddit takes one of each.
    if (Array.isArray(user.email)) user.email = user.email[0];
    if (Array.isArray(user.phone_number)) user.phone_number = user.phone_number[0];
    hashInPlace(userFields([user]));

    const metadata = compact({
      // Reddit deduplicates against the pixel on conversion_id.
      conversion_id: e.event_id || p.order_id,
      currency: p.currency,
      value: typeof value === 'number' ? value : value !== undefined ? Number(value) : undefined,
      item_count: contents.length > 0 ? contents.reduce((n, c) => n + (c.quantity || 1), 0) : undefined,
      products:
        contents.length > 0
          ? contents.map((c) => compact({ id: String(c.id), name: c.name, category: c.category }))
          : undefined,
    });

    const standard = STANDARD_TYPES.includes(name);
    return compact({
      // Unix milliseconds (v3).
      event_at: toUnixMs(e.event_time),
      action_source: SETTINGS.action_source,
      event_source_url: p.page_url,
      // The rdt_cid URL parameter: never hashed.
      click_id: firstDefined(p.rdt_cid, fromProfile(profiles, e, 'rdt_cid')),
      type: standard ? { tracking_type: name } : { tracking_type: 'CUSTOM', custom_event_name: name },
      metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
      user: user,
    });
  });
}

/** Unix milliseconds from ISO 8601, Unix seconds or Unix milliseconds. */
function toUnixMs(value) {
  if (typeof value === 'number' && value > 1e11) return Math.floor(value);
  const seconds = toUnixSeconds(value);
  if (seconds === undefined) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? seconds * 1000 : ms;
}
