/**
 * `metaUserData(e, profiles)`: the `user_data` fields Meta's Conversions API and the APIs modelled
 * on it (Snapchat's v3, Pinterest's) share, in their order: em, ph, fn, ln, ct, st, zp, country, ge, db,
 * external_id, client_ip_address, client_user_agent. The event's own values win; its stitched
 * profile fills what it lacks (identity on). Raw and not compacted: the template adds its own
 * fields (Meta fbc/fbp, Snap sc_click_id/sc_cookie1, Pinterest click_id), then compacts and hashes them
 * (`userDataFields`, meta/hashed-fields.js). Uses `firstDefined`, `fromProfile`, `profileAttribute`
 * (profile).
 *
 * @param {{ event_id?: string, event_payload: Record<string, any> }} e
 * @param {Record<string, any> | undefined} profiles
 * @returns {Record<string, any>}
 */
function metaUserData(e, profiles) {
  const p = e.event_payload;
  return {
    em: firstDefined(p.email, p.hashed_email, fromProfile(profiles, e, 'email', 'sha256')),
    ph: firstDefined(p.phone, p.hashed_phone, fromProfile(profiles, e, 'phone', 'sha256_digits')),
    fn: p.first_name,
    ln: p.last_name,
    ct: p.city,
    st: p.state,
    zp: p.zip,
    country: p.country,
    ge: p.gender,
    db: p.date_of_birth,
    external_id: firstDefined(p.external_id, fromProfile(profiles, e, 'external_id', 'sha256')),
    client_ip_address: firstDefined(p.ip, profileAttribute(profiles, e, 'ip')),
    client_user_agent: firstDefined(p.user_agent, p.ua, profileAttribute(profiles, e, 'user_agent')),
  };
}
